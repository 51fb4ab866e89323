import { SesameError } from '../core/errors.ts';
import type { StateCondition, StateItem } from '../core/ports.ts';

/**
 * Checks shared by the StateStore adapters, so that both refuse the same inputs and
 * read the same cursors. Limits follow DynamoDB's: a key attribute of at most 1024
 * bytes (the sort key's limit, applied to both), an item of at most 400 KB (data is
 * capped well below it, leaving room for the keys and attributes).
 */
export const MAX_KEY_BYTES = 1024;
export const MAX_DATA_BYTES = 256 * 1024;
export const DEFAULT_QUERY_LIMIT = 100;
export const MAX_QUERY_LIMIT = 1000;

/** Strings DynamoDB (UTF-8) cannot store. */
const LONE_SURROGATE = /\p{Cs}/u;

export function checkKey(what: 'pk' | 'sk' | 'prefix', value: unknown, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw new SesameError('invalid_request', `state ${what} must be a non-empty string`);
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_KEY_BYTES) throw new SesameError('invalid_request', `state ${what} is longer than ${MAX_KEY_BYTES} bytes`);
  if (LONE_SURROGATE.test(value)) throw new SesameError('invalid_request', `state ${what} is not well-formed Unicode`);
  return value;
}

export function checkExpiresAt(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SesameError('invalid_request', 'state expiresAt must be a whole number of epoch seconds');
  }
  return value;
}

/** The data serialised as JSON (what both adapters store), checked for shape and size. */
export function serialiseData(data: unknown): string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new SesameError('invalid_request', 'state data must be an object');
  const json = JSON.stringify(data);
  if (Buffer.byteLength(json, 'utf8') > MAX_DATA_BYTES) throw new SesameError('payload_too_large', `state data is larger than ${MAX_DATA_BYTES} bytes`);
  return json;
}

export function checkLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_QUERY_LIMIT;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) {
    throw new SesameError('invalid_request', `state query limit must be a whole number from 1 to ${MAX_QUERY_LIMIT}`);
  }
  return limit;
}

/**
 * The cursor: base64url of `{"pk","sk"}`, the key of the last item a page evaluated (in
 * DynamoDB, its LastEvaluatedKey). On the way in it must name the queried partition
 * and a sort key within the prefix: anything else is `invalid_request`, never passed on.
 */
export function encodeCursor(pk: string, sk: string): string {
  return Buffer.from(JSON.stringify({ pk, sk }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: unknown, pk: string, prefix: string): string {
  const invalid = () => new SesameError('invalid_request', 'the state query cursor is not valid');
  if (typeof cursor !== 'string' || cursor === '' || cursor.length > 4 * MAX_KEY_BYTES || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  // Node's decoder ignores trailing characters that make no whole byte: only the canonical
  // encoding is a cursor, so that a cursor with a character added is refused, whatever its length.
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.toString('base64url') !== cursor) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid();
  const keys = Object.keys(parsed);
  const { pk: cpk, sk } = parsed as Record<string, unknown>;
  if (keys.length !== 2 || cpk !== pk || typeof sk !== 'string' || sk === '' || !sk.startsWith(prefix)) throw invalid();
  if (Buffer.byteLength(sk, 'utf8') > MAX_KEY_BYTES || LONE_SURROGATE.test(sk)) throw invalid();
  return sk;
}

/** Epoch seconds of a clock reading; an item with expiresAt <= this is gone. */
export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

export const isLive = (item: Pick<StateItem, 'expiresAt'>, now: number): boolean => item.expiresAt === undefined || item.expiresAt > now;

/** DynamoDB orders string sort keys by their UTF-8 bytes; the local adapter does the same. */
export const compareUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

export function checkCondition(condition: StateCondition): void {
  if (condition === undefined) return;
  if ('ifAbsent' in condition && condition.ifAbsent === true) return;
  if ('ifVersion' in condition && Number.isSafeInteger(condition.ifVersion) && condition.ifVersion >= 1) return;
  throw new SesameError('invalid_request', 'a state condition is { ifAbsent: true } or { ifVersion: <whole number from 1> }');
}
