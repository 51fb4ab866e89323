import { describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
useEmulator();
import { CreateKeyCommand, DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { KmsSealer } from '../../functions/adapters/kms-sealer.ts';
import { isSesameError } from '../../functions/core/errors.ts';
import { TOKEN_CACHE_PURPOSE } from '../../functions/core/shared-tokens.ts';
import { ManualClock } from '../helpers/clock.ts';

/** Envelope encryption for the shared token cache, against the emulator's KMS. */
const kms = new KMSClient({});
const newKey = async () => (await kms.send(new CreateKeyCommand({ Description: 'Sesame test key' }))).KeyMetadata?.Arn as string;
const SECRET = `at-${'9f'.repeat(16)}`;
const CONTEXT = 'token#acme/fla-employer\nv#3f1c';

const refused = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSesameError(err, 'store_corrupt'), String(err)).toBe(true);
  expect((err as Error).message).not.toContain(SECRET);
};

/** Changes one byte of one base64url part of a sealed value. */
function alter(sealed: string, part: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part] as string, 'base64url');
  bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x20;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('the KMS sealer', () => {
  it('unseals what it sealed, in another instance too, and the sealed form holds nothing of the value', async () => {
    const key = await newKey();
    const sealed = await new KmsSealer(key, kms).seal(SECRET, CONTEXT);
    expect(sealed).toMatch(/^k1(\.[A-Za-z0-9_-]+){4}$/);
    expect(sealed).not.toContain(SECRET);
    expect(Buffer.from(sealed.replace(/\./g, ''), 'base64url').toString('latin1')).not.toContain(SECRET);
    expect(await new KmsSealer(key, kms).unseal(sealed, CONTEXT)).toBe(SECRET);
  });

  it('refuses an altered ciphertext, tag, IV or data key, and a value moved to another item (other AAD)', async () => {
    const key = await newKey();
    const sealer = new KmsSealer(key, kms);
    const sealed = await sealer.seal(SECRET, CONTEXT);
    const reader = new KmsSealer(key, kms);
    await refused(reader.unseal(alter(sealed, 3), CONTEXT));
    await refused(reader.unseal(alter(sealed, 4), CONTEXT));
    await refused(reader.unseal(alter(sealed, 2), CONTEXT));
    await refused(reader.unseal(sealed, 'token#acme/fla-employer\nv#other'));
    await refused(reader.unseal(sealed.replace(/^k1/, 'k2'), CONTEXT));
    await refused(reader.unseal(sealed.split('.').slice(0, 4).join('.'), CONTEXT));
    // The data key's blob altered: KMS itself refuses it.
    await refused(new KmsSealer(key, kms).unseal(alter(sealed, 1), CONTEXT));
    expect(await reader.unseal(sealed, CONTEXT)).toBe(SECRET);
  });

  it('binds every data key to the token-cache encryption context, so KMS decrypts it under that context only', async () => {
    const key = await newKey();
    const sealed = await new KmsSealer(key, kms).seal(SECRET, CONTEXT);
    const blob = Buffer.from(sealed.split('.')[1] as string, 'base64url');
    const without = await kms.send(new DecryptCommand({ CiphertextBlob: blob })).catch((e: unknown) => e);
    expect((without as Error).name).toBe('InvalidCiphertextException');
    const other = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { 'sesame:purpose': 'something-else' } })).catch((e: unknown) => e);
    expect((other as Error).name).toBe('InvalidCiphertextException');
    const withIt = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { ...TOKEN_CACHE_PURPOSE } }));
    expect(withIt.Plaintext?.length).toBe(32);
    // A sealer with another context cannot read it either.
    await refused(new KmsSealer(key, kms, { encryptionContext: { 'sesame:purpose': 'audit' } }).unseal(sealed, CONTEXT));
  });

  it('reuses one data key for many values, and decrypts each data key once to read them', async () => {
    const key = await newKey();
    const writer = new KmsSealer(key, kms);
    const sealed = await Promise.all(Array.from({ length: 100 }, (_, i) => writer.seal(`${SECRET}-${i}`, `${CONTEXT}-${i}`)));
    expect(writer.calls).toEqual({ generateDataKey: 1, decrypt: 0 });
    expect(new Set(sealed.map((s) => s.split('.')[1])).size).toBe(1);
    // Its own values it reads without KMS.
    expect(await writer.unseal(sealed[7] as string, `${CONTEXT}-7`)).toBe(`${SECRET}-7`);
    expect(writer.calls.decrypt).toBe(0);
    const reader = new KmsSealer(key, kms);
    const opened = await Promise.all(sealed.map((s, i) => reader.unseal(s, `${CONTEXT}-${i}`)));
    expect(opened).toEqual(sealed.map((_, i) => `${SECRET}-${i}`));
    expect(reader.calls).toEqual({ generateDataKey: 0, decrypt: 1 });
  });

  it('takes a new data key when the current one is too old or sealed its quota', async () => {
    const key = await newKey();
    const clock = new ManualClock();
    const sealer = new KmsSealer(key, kms, { clock, dataKeyMaxAgeMs: 60_000, dataKeyMaxUses: 3 });
    const blobOf = async () => (await sealer.seal(SECRET, CONTEXT)).split('.')[1];
    const first = await blobOf();
    expect(await blobOf()).toBe(first);
    clock.advance(60_000);
    const second = await blobOf();
    expect(second).not.toBe(first);
    await blobOf();
    await blobOf();
    expect(await blobOf()).not.toBe(second);
    expect(sealer.calls.generateDataKey).toBe(3);
  });

  it('keeps a bounded number of decrypted data keys', async () => {
    const key = await newKey();
    const values = await Promise.all([1, 2, 3].map((i) => new KmsSealer(key, kms).seal(`${SECRET}-${i}`, CONTEXT)));
    const reader = new KmsSealer(key, kms, { decryptedKeys: 2 });
    for (const v of values) await reader.unseal(v, CONTEXT);
    await reader.unseal(values[2] as string, CONTEXT);
    expect(reader.calls.decrypt).toBe(3);
    // The first one was pushed out: reading it again asks KMS again.
    await reader.unseal(values[0] as string, CONTEXT);
    expect(reader.calls.decrypt).toBe(4);
  });

  it('fails with something other than store_corrupt when KMS cannot be reached, so that the cache calls upstream instead', async () => {
    const key = await newKey();
    const sealed = await new KmsSealer(key, kms).seal(SECRET, CONTEXT);
    const down = new KMSClient({ endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
    const err = await new KmsSealer(key, down).unseal(sealed, CONTEXT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(isSesameError(err, 'store_corrupt')).toBe(false);
    const sealErr = await new KmsSealer(key, down).seal(SECRET, CONTEXT).catch((e: unknown) => e);
    expect(sealErr).toBeInstanceOf(Error);
    expect(isSesameError(sealErr, 'store_corrupt')).toBe(false);
  });
});
