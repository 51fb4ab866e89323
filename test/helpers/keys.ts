import { generateKeyPairSync, type KeyObject } from 'node:crypto';

/** Test keys generated at run time, cached per shape: no key material is committed. */
const cache = new Map<string, { privateKey: KeyObject; publicKey: KeyObject }>();

export function keyPair(shape: 'rsa2048' | 'rsa1024' | 'ec384' | 'ec521' | 'ec256' | 'ed25519') {
  let kp = cache.get(shape);
  if (!kp) {
    kp =
      shape === 'rsa2048' ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : shape === 'rsa1024' ? generateKeyPairSync('rsa', { modulusLength: 1024 })
      : shape === 'ec384' ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
      : shape === 'ec521' ? generateKeyPairSync('ec', { namedCurve: 'P-521' })
      : shape === 'ec256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('ed25519');
    cache.set(shape, kp);
  }
  return { ...kp, pem: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
