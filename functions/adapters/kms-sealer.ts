import { DecryptCommand, GenerateDataKeyCommand, InvalidCiphertextException, KMSClient } from '@aws-sdk/client-kms';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { SingleFlight, TtlCache } from '../core/cache.ts';
import { systemClock, type Clock, type Sealer } from '../core/ports.ts';
import type { Config } from '../core/config.ts';
import type { Log, StateStore } from '../core/ports.ts';
import { SharedTokenCache, TOKEN_CACHE_PURPOSE } from '../core/shared-tokens.ts';
import { gcmOpen, gcmSeal, refused, sealedParts } from './aes-gcm.ts';

/**
 * Envelope encryption with KMS: a data key from GenerateDataKey (AES_256) encrypts
 * values locally with AES-256-GCM, and the data key's KMS-encrypted blob travels with
 * each value (`k1.<blob>.<iv>.<ciphertext>.<tag>`). One KMS call per data key, not per
 * value: the plaintext key is reused for `dataKeyMaxAgeMs` or `dataKeyMaxUses` seals,
 * and keys decrypted for reading are kept by their blob (bounded, LRU).
 *
 * Every KMS call carries the fixed encryption context (`{"sesame:purpose": "token-cache"}`
 * by default): the IAM grant is conditioned on it, so this key use cannot decrypt
 * anything else the key protects (secrets, the state table), nor be used for anything
 * else. The value's own context (item key, secret version) is the GCM AAD.
 */

export interface KmsSealerOptions {
  encryptionContext?: Record<string, string>;
  /** How long one data key seals new values. Default 5 minutes. */
  dataKeyMaxAgeMs?: number;
  /** How many values one data key seals at most. Default 10,000 (GCM with random IVs is safe far beyond). */
  dataKeyMaxUses?: number;
  /** Decrypted data keys kept for reading. Default 64. */
  decryptedKeys?: number;
  /** How long a decrypted data key is kept. Default 15 minutes. */
  decryptedKeyTtlMs?: number;
  clock?: Clock;
}

interface DataKey {
  key: KeyObject;
  blob: string;
  created: number;
  uses: number;
}

export class KmsSealer implements Sealer {
  private current: DataKey | undefined;
  private readonly generating = new SingleFlight<DataKey>();
  private readonly decrypted: TtlCache<KeyObject>;
  private readonly decrypting = new SingleFlight<KeyObject>();
  private readonly context: Record<string, string>;
  private readonly clock: Clock;
  private readonly maxAgeMs: number;
  private readonly maxUses: number;
  private readonly decryptedTtlMs: number;
  /** KMS calls made, for tests and metrics. */
  readonly calls = { generateDataKey: 0, decrypt: 0 };

  constructor(
    private readonly keyId: string,
    private readonly client: KMSClient = new KMSClient({}),
    options: KmsSealerOptions = {},
  ) {
    this.context = { ...(options.encryptionContext ?? TOKEN_CACHE_PURPOSE) };
    this.clock = options.clock ?? systemClock;
    this.maxAgeMs = options.dataKeyMaxAgeMs ?? 5 * 60_000;
    this.maxUses = options.dataKeyMaxUses ?? 10_000;
    this.decryptedTtlMs = options.decryptedKeyTtlMs ?? 15 * 60_000;
    this.decrypted = new TtlCache(this.clock, options.decryptedKeys ?? 64);
  }

  async seal(plaintext: string, context: string): Promise<string> {
    const dk = await this.dataKey();
    dk.uses += 1;
    return ['k1', dk.blob, ...gcmSeal(dk.key, plaintext, context)].join('.');
  }

  async unseal(sealed: string, context: string): Promise<string> {
    const [blob, iv, ct, tag] = sealedParts(sealed, 'k1', 4) as [string, string, string, string];
    if (blob === '') throw refused();
    const key = await this.keyFor(blob);
    return gcmOpen(key, { iv, ct, tag }, context);
  }

  /** The data key for new values: the current one while young and little used, else a new one (one KMS call however many ask at once). */
  private async dataKey(): Promise<DataKey> {
    const now = this.clock.now().getTime();
    const dk = this.current;
    if (dk && now - dk.created < this.maxAgeMs && dk.uses < this.maxUses) return dk;
    return this.generating.run('current', async () => {
      this.calls.generateDataKey += 1;
      const out = await this.client.send(new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: this.context }));
      if (!out.Plaintext || out.Plaintext.length !== 32 || !out.CiphertextBlob) throw new Error('KMS GenerateDataKey answered without a 256-bit key');
      const plain = Buffer.from(out.Plaintext.buffer, out.Plaintext.byteOffset, out.Plaintext.byteLength);
      const key = createSecretKey(plain);
      // The KeyObject holds its own copy: the SDK's buffer need not keep the key.
      plain.fill(0);
      const blob = Buffer.from(out.CiphertextBlob).toString('base64url');
      const next = { key, blob, created: this.clock.now().getTime(), uses: 0 };
      this.current = next;
      // Values this instance seals, it may read back without asking KMS.
      this.decrypted.set(blob, key, this.decryptedTtlMs);
      return next;
    });
  }

  private async keyFor(blob: string): Promise<KeyObject> {
    const hit = this.decrypted.get(blob);
    if (hit) return hit;
    return this.decrypting.run(blob, async () => {
      this.calls.decrypt += 1;
      let out;
      try {
        out = await this.client.send(new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: Buffer.from(blob, 'base64url'), EncryptionContext: this.context }));
      } catch (err) {
        // An altered blob, another key's, or another context: the value is refused. Anything else (network, throttling, access) is KMS unavailable.
        if (err instanceof InvalidCiphertextException) throw refused();
        throw err;
      }
      if (!out.Plaintext || out.Plaintext.length !== 32) throw refused();
      const plain = Buffer.from(out.Plaintext.buffer, out.Plaintext.byteOffset, out.Plaintext.byteLength);
      const key = createSecretKey(plain);
      plain.fill(0);
      this.decrypted.set(blob, key, this.decryptedTtlMs);
      return key;
    });
  }
}

/**
 * The token function's second-level cache, sealed with the stack's key: only where the
 * stack gives that key (SESAME_TOKEN_CACHE_KEY) and the cache is not turned off.
 */
export function kmsSharedTokens(config: Pick<Config, 'sharedTokens' | 'broker'>, state: StateStore, log: Log, clock: Clock = systemClock): SharedTokenCache | undefined {
  const shared = config.sharedTokens;
  if (!shared?.enabled || !shared.kmsKeyId) return undefined;
  return new SharedTokenCache({ state, sealer: new KmsSealer(shared.kmsKeyId, undefined, { clock }), clock, log }, { leaseSeconds: shared.leaseSeconds, refreshMarginSeconds: config.broker.refreshMarginSeconds });
}
