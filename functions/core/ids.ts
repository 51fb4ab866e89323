import { SesameError } from './errors.ts';

/** Tenant and app ids: what DESIGN.md fixes, so they are safe in secret names and paths. */
export const ID_PATTERN = /^[a-z0-9-]{1,64}$/;
/** A credential id is a kind plus an optional suffix of lowercase words. */
export const CREDENTIAL_ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export function parseTenantId(value: unknown, label = 'tenant'): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw new SesameError('invalid_request', `${label} id must be 1 to 64 characters among a-z, 0-9 and "-"`, {
      details: { field: label },
    });
  }
  return value;
}

export const parseAppId = (value: unknown): string => parseTenantId(value, 'app');

/**
 * Splits a credential id into its kind and suffix: the longest known kind that the
 * id starts with, followed by the end or "-". `fla-training-provider-acc` → `fla`.
 */
export function parseCredentialId(value: unknown, kinds: readonly string[]): { id: string; kind: string } {
  if (typeof value !== 'string' || value.length > 128 || !CREDENTIAL_ID_PATTERN.test(value)) {
    throw new SesameError(
      'invalid_request',
      'credential id must be a kind plus an optional suffix, lowercase words joined by "-" (e.g. fla-employer)',
      { details: { field: 'credential' } },
    );
  }
  let kind: string | undefined;
  for (const k of kinds) {
    // `k` or `k-…` (45 is "-"), compared in place: this runs for every token request.
    if (value.startsWith(k) && (value.length === k.length || value.charCodeAt(k.length) === 45) && (kind === undefined || k.length > kind.length)) kind = k;
  }
  if (!kind) {
    throw new SesameError('invalid_request', `credential id "${value}" does not start with a known kind`, {
      details: { field: 'credential' },
    });
  }
  return { id: value, kind };
}

/** Luhn over a string of digits: the rightmost digit is the check digit. */
function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** La Poste's SIREN: its establishments' SIRETs do not follow Luhn (INSEE's exception). */
export const LA_POSTE_SIREN = '356000000';

/** A French SIREN (9 digits, Luhn check digit). */
export const isValidSiren = (v: string): boolean => /^\d{9}$/.test(v) && luhn(v);

/**
 * A French SIRET (14 digits: SIREN + NIC). Luhn, except La Poste's establishments,
 * whose digits add up to a multiple of 5 (its head office, 35600000000048, passes Luhn).
 */
export function isValidSiret(v: string): boolean {
  if (!/^\d{14}$/.test(v)) return false;
  if (luhn(v)) return true;
  return v.startsWith(LA_POSTE_SIREN) && [...v].reduce((s, c) => s + Number(c), 0) % 5 === 0;
}

/** A Belgian company number (BCE/KBO, 10 digits starting with 0 or 1): the last two are 97 − (the first eight mod 97). */
export function isValidBce(v: string): boolean {
  if (!/^[01]\d{9}$/.test(v)) return false;
  return (Number(v.slice(0, 8)) + Number(v.slice(8))) % 97 === 0;
}
