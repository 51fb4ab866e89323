import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';
import { SesameError } from '../core/errors.ts';

/**
 * AES-256-GCM as both sealers use it: a fresh 96-bit IV per value, the caller's context
 * as additional authenticated data, the 128-bit tag checked before any plaintext is
 * returned. Parts are base64url, joined by dots after a prefix naming the format.
 */
export function gcmSeal(key: KeyObject, plaintext: string, context: string): string[] {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [iv, ct, cipher.getAuthTag()].map((b) => b.toString('base64url'));
}

export function gcmOpen(key: KeyObject, parts: { iv: string; ct: string; tag: string }, context: string): string {
  const iv = Buffer.from(parts.iv, 'base64url');
  const tag = Buffer.from(parts.tag, 'base64url');
  if (iv.length !== 12 || tag.length !== 16) throw refused();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(parts.ct, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw refused();
  }
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** The parts after `prefix`, each base64url, exactly `count` of them; anything else is refused. */
export function sealedParts(sealed: string, prefix: string, count: number): string[] {
  const parts = sealed.split('.');
  if (parts[0] !== prefix || parts.length !== count + 1 || !parts.slice(1).every((p) => B64URL.test(p))) throw refused();
  return parts.slice(1);
}

/** Never says which check failed, nor anything of the value. */
export const refused = () => new SesameError('store_corrupt', 'a sealed value failed authentication (altered, or sealed for another item)');
