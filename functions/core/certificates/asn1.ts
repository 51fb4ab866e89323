/**
 * A strict DER reader: definite minimal lengths, every element inside its parent. It
 * walks bytes and hands out positions; it decodes only the few primitive types X.509
 * needs (OIDs, integers, strings, times, bit strings). asn1js reads BER and builds an
 * object per node, which made parsing 80 % of a chain's validation time; what this reads
 * is what OpenSSL reads, and anything else is refused.
 */

export interface Tlv {
  tag: number;
  /** First byte of the element (its tag). */
  start: number;
  /** First byte of its content. */
  content: number;
  /** One past its last byte. */
  end: number;
}

export class DerError extends Error {}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

/** The element at `pos`, which must end by `limit`. */
export function readTlv(b: Uint8Array, pos: number, limit = b.length): Tlv {
  let i = pos;
  if (i >= limit) throw new DerError('a truncated element');
  const tag = b[i++] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError('a high tag number');
  if (i >= limit) throw new DerError('a truncated length');
  let len = b[i++] as number;
  if (len === 0x80) throw new DerError('an indefinite length');
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n > 4 || i + n > limit) throw new DerError('a length that cannot be read');
    if (b[i] === 0) throw new DerError('a non-minimal length');
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + (b[i++] as number);
    if (len < 0x80) throw new DerError('a non-minimal length');
  }
  if (i + len > limit) throw new DerError('a length overrunning its parent');
  return { tag, start: pos, content: i, end: i + len };
}

/** The elements inside a constructed element. */
export function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let i = parent.content; i < parent.end; ) {
    const t = readTlv(b, i, parent.end);
    out.push(t);
    i = t.end;
  }
  return out;
}

/** One element spanning exactly these bytes. */
export function single(b: Uint8Array, start = 0, end = b.length): Tlv {
  const t = readTlv(b, start, end);
  if (t.end !== end) throw new DerError('bytes after the end');
  return t;
}

export function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`${what} is missing or of the wrong type`);
  return t;
}

export const bytesOf = (b: Uint8Array, t: Tlv) => b.subarray(t.start, t.end);
export const contentOf = (b: Uint8Array, t: Tlv) => b.subarray(t.content, t.end);

/** Why these bytes are not strict DER, walking every constructed element; undefined when they are. */
export function derProblem(b: Uint8Array): string | undefined {
  const walk = (parent: Tlv, depth: number) => {
    if (depth > 32) throw new DerError('nested too deep');
    for (const c of children(b, parent)) if (c.tag & 0x20) walk(c, depth + 1);
  };
  try {
    const top = single(b);
    if (top.tag & 0x20) walk(top, 0);
    return undefined;
  } catch (err) {
    if (err instanceof DerError) return err.message;
    throw err;
  }
}

export function oid(b: Uint8Array, t: Tlv): string {
  if (t.tag !== TAG.OID || t.end === t.content) throw new DerError('an object identifier is missing');
  const parts: number[] = [];
  let v = 0;
  for (let i = t.content; i < t.end; i++) {
    const byte = b[i] as number;
    if (v === 0 && byte === 0x80) throw new DerError('a non-minimal object identifier');
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  if (((b[t.end - 1] as number) & 0x80) !== 0) throw new DerError('a truncated object identifier');
  return parts.join('.');
}

/** A small non-negative INTEGER (path lengths, versions); larger ones read as Infinity. */
export function smallInt(b: Uint8Array, t: Tlv): number {
  if (t.tag !== TAG.INTEGER || t.end === t.content) throw new DerError('an integer is missing');
  if ((b[t.content] as number) & 0x80) throw new DerError('a negative integer');
  if (t.end - t.content > 6) return Number.POSITIVE_INFINITY;
  let v = 0;
  for (let i = t.content; i < t.end; i++) v = v * 256 + (b[i] as number);
  return v;
}

export function boolean(b: Uint8Array, t: Tlv): boolean {
  if (t.tag !== TAG.BOOLEAN || t.end - t.content !== 1) throw new DerError('a boolean is malformed');
  const v = b[t.content] as number;
  if (v !== 0 && v !== 0xff) throw new DerError('a boolean is not DER');
  return v === 0xff;
}

/** A BIT STRING's bits, with its count of unused bits checked. */
export function bitString(b: Uint8Array, t: Tlv): Uint8Array {
  if (t.tag !== TAG.BIT_STRING || t.end === t.content) throw new DerError('a bit string is missing');
  const unused = b[t.content] as number;
  if (unused > 7 || (unused > 0 && t.end - t.content === 1)) throw new DerError('a bit string is malformed');
  return b.subarray(t.content + 1, t.end);
}

const utf16be = new TextDecoder('utf-16be');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of a directory string; undefined for a value that is not a string. */
export function text(b: Uint8Array, t: Tlv): string | undefined {
  const c = b.subarray(t.content, t.end);
  switch (t.tag) {
    case 0x0c: // UTF8String
      try {
        return utf8.decode(c);
      } catch {
        throw new DerError('a UTF-8 string is not UTF-8');
      }
    case 0x12: // NumericString
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x1a: // VisibleString
    case 0x14: // TeletexString, read as Latin-1 as OpenSSL does
      return Buffer.from(c).toString('latin1');
    case 0x1e: // BMPString
      return utf16be.decode(c);
    case 0x1c: {
      // UniversalString
      let s = '';
      for (let i = 0; i + 3 < c.length; i += 4) s += String.fromCodePoint(((c[i] as number) << 24) | ((c[i + 1] as number) << 16) | ((c[i + 2] as number) << 8) | (c[i + 3] as number));
      return s;
    }
    default:
      return undefined;
  }
}

/** UTCTime or GeneralizedTime, in the forms RFC 5280 allows (seconds, Z). */
export function time(b: Uint8Array, t: Tlv): Date {
  const s = Buffer.from(b.subarray(t.content, t.end)).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    year = Number(m[1]);
    year += year < 50 ? 2000 : 1900;
  } else if (t.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s))) {
    year = Number(m[1]);
  } else {
    throw new DerError('validity dates cannot be read');
  }
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, se));
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) throw new DerError('validity dates cannot be read');
  return date;
}
