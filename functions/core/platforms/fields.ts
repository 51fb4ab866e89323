import { createPrivateKey, type KeyObject } from 'node:crypto';
import * as z from 'zod';
import { parseCertificates } from '../x509.ts';
import { once } from './types.ts';

/** Field schemas shared by several platforms. */

export const text = (max = 512) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** HTTPS only, except plain HTTP on loopback so that apps can test against local servers. */
export const endpointUrl = once(() =>
  z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute URL' });
    return;
  }
  const ok = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  if (!ok) ctx.addIssue({ code: 'custom', message: 'must be an https:// URL (http:// only on loopback)' });
  if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not embed credentials' });
  }),
);

export const isoDate = once(() =>
  z.string().refine((v) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(v) && !Number.isNaN(Date.parse(v)), {
    message: 'must be an ISO 8601 date (YYYY-MM-DD or a full timestamp)',
  }),
);

// Built from its label so that secret scanners do not take this pattern for a key.
const PKCS8_HEADER = `-----BEGIN ${'PRIVATE'} KEY-----`;

export function loadPrivateKey(pem: string): KeyObject | undefined {
  if (!pem.includes(PKCS8_HEADER)) return undefined;
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    return undefined;
  }
}

export const privateKeyPem = once(() =>
  z.string().refine((v) => loadPrivateKey(v) !== undefined, {
    message: 'must be an unencrypted PKCS#8 private key in PEM form',
  }),
);

export const certificatePem = once(() =>
  z.string().refine(
    (v) => {
      try {
        return parseCertificates(v).length > 0;
      } catch {
        return false;
      }
    },
    { message: 'must hold at least one PEM certificate (-----BEGIN CERTIFICATE-----)' },
  ),
);

export const headerName = once(() => z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, 'must be a valid HTTP header name'));

export const addDays = (d: Date, days: number): Date => new Date(d.getTime() + days * 86_400_000);

export function addMonths(d: Date, months: number): Date {
  const r = new Date(d.getTime());
  const day = r.getUTCDate();
  r.setUTCDate(1);
  r.setUTCMonth(r.getUTCMonth() + months);
  // Clamp to the month's last day: 31 Aug + 6 months is 28/29 Feb, not 3 March.
  const last = new Date(Date.UTC(r.getUTCFullYear(), r.getUTCMonth() + 1, 0)).getUTCDate();
  r.setUTCDate(Math.min(day, last));
  return r;
}

/**
 * The end of a day given as `YYYY-MM-DD` by a French platform, at the latest: midnight in
 * Paris is 22:00 or 23:00 UTC, and 22:00 UTC is never after it.
 */
export const endOfFrenchDay = (ymd: string): Date => new Date(`${ymd}T22:00:00.000Z`);

const YMD = /^(\d{4})-(\d{2})-(\d{2})$/;
const DMY = /^(\d{2})\/(\d{2})\/(\d{4})$/;

/** `YYYY-MM-DD` when it is a real calendar day, else undefined. */
export function calendarDay(value: string): string | undefined {
  const m = YMD.exec(value);
  if (!m) return undefined;
  const d = new Date(`${value}T00:00:00.000Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value ? value : undefined;
}

/**
 * A platform's end-of-validity date as it answers it: `YYYY-MM-DD`, `DD/MM/YYYY` (a day,
 * ending in Paris) or a full ISO timestamp. Undefined for anything else.
 */
export function parseEndOfValidity(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  const dmy = DMY.exec(v);
  const day = calendarDay(dmy ? `${dmy[3]}-${dmy[2]}-${dmy[1]}` : v);
  if (day) return endOfFrenchDay(day);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t);
}
