import type { z } from 'zod';
import { SesameError, type ErrorCode } from './errors.ts';

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  bigint: 'an integer',
  array: 'an array',
  tuple: 'an array',
  object: 'an object',
  record: 'an object',
  map: 'an object',
  date: 'a date',
  null: 'null',
};

/** Whether the input holds something at this path (zod 4 issues no longer carry the input). */
function present(input: unknown, path: readonly PropertyKey[]): boolean {
  let v: unknown = input;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return false;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v !== undefined;
}

/**
 * Parses with a zod schema and turns the first issue into a SesameError naming the
 * field. Zod messages describe the expectation, never the input value, so they are
 * safe for secret fields. A missing field "is required"; a field of the wrong type
 * "must be a string" (or the type expected).
 */
export function validate<T>(schema: z.ZodType<T>, input: unknown, label: string, code: ErrorCode = 'invalid_request'): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  const keys = issue && 'keys' in issue && Array.isArray(issue.keys) ? (issue.keys as string[]) : [];
  // Unknown keys are the caller's words, of any length and number: a few of them, shortened, are said back.
  const shown = keys.slice(0, 5).map((k) => (k.length > 40 ? `${k.slice(0, 40)}…` : k));
  const field = (keys.length > 0 ? shown.join(', ') : path).slice(0, 200);
  let message: string;
  if (issue?.code === 'unrecognized_keys') {
    message = `unknown field${keys.length > 1 ? 's' : ''} ${shown.map((k) => `"${k}"`).join(', ')}${keys.length > shown.length ? ` and ${keys.length - shown.length} more` : ''}`;
  } else if (issue?.code === 'invalid_type') {
    const expected = EXPECTED[issue.expected] ?? `of type ${issue.expected}`;
    const what = path === '' ? 'must be' : `field "${path}" must be`;
    message = path !== '' && !present(input, issue.path) ? `field "${path}" is required` : `${what} ${expected}`;
  } else {
    message = path === '' ? (issue?.message ?? 'invalid') : `field "${path}" ${issue?.message ?? 'is invalid'}`;
  }
  throw new SesameError(code, `${label}: ${message}`, { details: { field } });
}
