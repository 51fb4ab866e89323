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
    if ((value === k || value.startsWith(`${k}-`)) && (kind === undefined || k.length > kind.length)) kind = k;
  }
  if (!kind) {
    throw new SesameError('invalid_request', `credential id "${value}" does not start with a known kind`, {
      details: { field: 'credential' },
    });
  }
  return { id: value, kind };
}
