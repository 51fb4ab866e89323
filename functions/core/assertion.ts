import { randomUUID, webcrypto, type KeyObject } from 'node:crypto';

export type AssertionAlg = 'RS256' | 'PS256' | 'ES384' | 'ES512';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const DEFAULT_ASSERTION_TTL = 300;
export const MAX_ASSERTION_TTL = 600;

/** The algorithm a key calls for; RSA keys default to RS256 as the portal's own sample does. */
export function algorithmFor(key: KeyObject, requested?: AssertionAlg): AssertionAlg | undefined {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const natural: AssertionAlg | undefined =
    type === 'rsa' ? 'RS256' : type === 'ec' && curve === 'secp384r1' ? 'ES384' : type === 'ec' && curve === 'secp521r1' ? 'ES512' : undefined;
  if (!natural) return undefined;
  if (!requested) return natural;
  if (type === 'rsa') return requested === 'RS256' || requested === 'PS256' ? requested : undefined;
  return requested === natural ? requested : undefined;
}

export interface AssertionInput {
  key: KeyObject;
  alg: AssertionAlg;
  clientId: string;
  audience: string;
  now: Date;
  ttlSeconds?: number;
  kid?: string;
}

const WEBCRYPTO: Record<AssertionAlg, { importAs: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams; signWith: webcrypto.AlgorithmIdentifier | webcrypto.RsaPssParams | webcrypto.EcdsaParams }> = {
  RS256: { importAs: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signWith: 'RSASSA-PKCS1-v1_5' },
  // RFC 7518 §3.5: the salt is as long as the hash.
  PS256: { importAs: { name: 'RSA-PSS', hash: 'SHA-256' }, signWith: { name: 'RSA-PSS', saltLength: 32 } },
  // WebCrypto's ECDSA signature is R || S, each the curve's size: the JWS form (RFC 7518 §3.4).
  ES384: { importAs: { name: 'ECDSA', namedCurve: 'P-384' }, signWith: { name: 'ECDSA', hash: 'SHA-384' } },
  ES512: { importAs: { name: 'ECDSA', namedCurve: 'P-521' }, signWith: { name: 'ECDSA', hash: 'SHA-512' } },
};

/** The WebCrypto key of a KeyObject, imported once per key and algorithm. */
const cryptoKeys = new WeakMap<KeyObject, Map<AssertionAlg, Promise<webcrypto.CryptoKey>>>();

function cryptoKeyOf(key: KeyObject, alg: AssertionAlg): Promise<webcrypto.CryptoKey> {
  let byAlg = cryptoKeys.get(key);
  if (!byAlg) cryptoKeys.set(key, (byAlg = new Map()));
  let got = byAlg.get(alg);
  if (!got) {
    const imported = webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), WEBCRYPTO[alg].importAs, false, ['sign']);
    // A failed import is not kept: the next assertion tries again and says why.
    imported.catch(() => byAlg.delete(alg));
    byAlg.set(alg, imported);
    got = imported;
  }
  return got;
}

const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/**
 * RFC 7523 client assertion: iss = sub = client id, aud = the token endpoint,
 * a fresh jti per assertion, exp at most 600 s after iat.
 *
 * The compact JWS is written here (RFC 7515 §7.1: two base64url JSON parts and the
 * WebCrypto signature of them) rather than by jose's SignJWT: for the one shape Sesame
 * signs, jose's generic path (claims builder, header checks, its base64 on Node 20) cost
 * a tenth of an RS256 assertion on the token path. What is hard about JWTs, reading and
 * verifying them, stays with jose (the authorizer, and every test of these assertions).
 */
export async function signClientAssertion(input: AssertionInput): Promise<{ jwt: string; expiresAt: Date }> {
  const ttl = Math.min(input.ttlSeconds ?? DEFAULT_ASSERTION_TTL, MAX_ASSERTION_TTL);
  const iat = Math.floor(input.now.getTime() / 1000);
  const key = await cryptoKeyOf(input.key, input.alg);
  const header = b64url(JSON.stringify({ alg: input.alg, typ: 'JWT', ...(input.kid ? { kid: input.kid } : {}) }));
  const claims = b64url(JSON.stringify({ iss: input.clientId, sub: input.clientId, aud: input.audience, iat, exp: iat + ttl, jti: randomUUID() }));
  const signingInput = `${header}.${claims}`;
  const signature = await webcrypto.subtle.sign(WEBCRYPTO[input.alg].signWith, key, Buffer.from(signingInput, 'ascii'));
  return { jwt: `${signingInput}.${Buffer.from(signature).toString('base64url')}`, expiresAt: new Date((iat + ttl) * 1000) };
}
