import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import type { Sealer } from '../core/ports.ts';
import { gcmOpen, gcmSeal, sealedParts } from './aes-gcm.ts';
import { loadLocalKey } from './local-secret-store.ts';

/**
 * The sealer of `sesame dev`: AES-256-GCM under a key derived (HKDF) from the local
 * secret store's key (SESAME_LOCAL_KEY, else `$SESAME_HOME/local.key`, 0600), so the
 * shared token cache under `$SESAME_HOME/state/` is readable by exactly the processes
 * that can read the secrets it was obtained with, and no other key file is needed.
 * Format: `l1.<iv>.<ciphertext>.<tag>`.
 */
export class LocalSealer implements Sealer {
  private readonly key: KeyObject;

  constructor(masterKey: Buffer) {
    this.key = createSecretKey(Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sesame local token cache', 32)));
  }

  static async open(home: string, env: NodeJS.ProcessEnv = process.env): Promise<LocalSealer> {
    return new LocalSealer(await loadLocalKey(home, env));
  }

  async seal(plaintext: string, context: string): Promise<string> {
    return ['l1', ...gcmSeal(this.key, plaintext, context)].join('.');
  }

  async unseal(sealed: string, context: string): Promise<string> {
    const [iv, ct, tag] = sealedParts(sealed, 'l1', 3) as [string, string, string];
    return gcmOpen(this.key, { iv, ct, tag }, context);
  }
}
