import { randomUUID, type KeyObject } from 'node:crypto';

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

/**
 * RFC 7523 client assertion: iss = sub = client id, aud = the token endpoint,
 * a fresh jti per assertion, exp at most 600 s after iat.
 */
/**
 * jose, loaded by the first assertion signed (most credentials and functions never sign
 * one), then kept: an import() per call would resolve the module again every time.
 */
let jose: Promise<typeof import('jose')> | undefined;

export async function signClientAssertion(input: AssertionInput): Promise<{ jwt: string; expiresAt: Date }> {
  const ttl = Math.min(input.ttlSeconds ?? DEFAULT_ASSERTION_TTL, MAX_ASSERTION_TTL);
  const iat = Math.floor(input.now.getTime() / 1000);
  const { SignJWT } = await (jose ??= import('jose'));
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: input.alg, typ: 'JWT', ...(input.kid ? { kid: input.kid } : {}) })
    .setIssuer(input.clientId)
    .setSubject(input.clientId)
    .setAudience(input.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .setJti(randomUUID())
    .sign(input.key);
  return { jwt, expiresAt: new Date((iat + ttl) * 1000) };
}
