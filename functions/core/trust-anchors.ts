import { readFileSync } from 'node:fs';
import type { TrustAnchors } from './certificates/profile.ts';
import { loadTrustAnchors } from './certificates/validator.ts';
import { SesameError } from './errors.ts';

/** The trust anchor bundle named by SESAME_CHORUS_TRUST_ANCHORS, read and checked once at start. */
export function trustAnchorsFrom(path: string | undefined, variable = 'SESAME_CHORUS_TRUST_ANCHORS'): TrustAnchors | undefined {
  if (path === undefined || path === '') return undefined;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new SesameError('invalid_request', `${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return loadTrustAnchors(bytes, `${variable} (${path})`);
}
