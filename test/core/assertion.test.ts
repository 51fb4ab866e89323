import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { algorithmFor, signClientAssertion } from '../../functions/core/assertion.ts';
import { keyPair } from '../helpers/keys.ts';

const AUD = 'https://services.socialsecurity.be/REST/oauth/v5/token';
const NOW = new Date('2026-06-01T08:00:00Z');

describe('client assertions', () => {
  it.each([
    ['rsa2048', undefined, 'RS256'],
    ['rsa2048', 'PS256', 'PS256'],
    ['ec384', undefined, 'ES384'],
    ['ec521', undefined, 'ES512'],
  ] as const)('a %s key with alg %s signs %s with the exact claims', async (shape, requested, expected) => {
    const kp = keyPair(shape);
    const alg = algorithmFor(kp.privateKey, requested);
    expect(alg).toBe(expected);
    const { jwt, expiresAt } = await signClientAssertion({ key: kp.privateKey, alg: alg!, clientId: 'self_service_chaman_1', audience: AUD, now: NOW });
    const { payload, protectedHeader } = await jwtVerify(jwt, kp.publicKey, { currentDate: NOW, audience: AUD, issuer: 'self_service_chaman_1' });
    expect(protectedHeader).toEqual({ alg: expected, typ: 'JWT' });
    expect(payload.sub).toBe('self_service_chaman_1');
    expect(payload.iat).toBe(NOW.getTime() / 1000);
    expect(payload.exp).toBe(NOW.getTime() / 1000 + 300);
    expect(expiresAt.toISOString()).toBe('2026-06-01T08:05:00.000Z');
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never lets exp exceed iat + 600 s and carries a kid when given', async () => {
    const kp = keyPair('rsa2048');
    const { jwt } = await signClientAssertion({ key: kp.privateKey, alg: 'RS256', clientId: 'c', audience: AUD, now: NOW, ttlSeconds: 3600, kid: 'k1' });
    const { payload } = await jwtVerify(jwt, kp.publicKey, { currentDate: NOW });
    expect((payload.exp as number) - (payload.iat as number)).toBe(600);
    expect(decodeProtectedHeader(jwt).kid).toBe('k1');
  });

  it('signs with one RSA key as RS256 and as PS256 in turn, each verifying under its own algorithm only', async () => {
    const kp = keyPair('rsa2048');
    for (const alg of ['RS256', 'PS256', 'RS256'] as const) {
      const { jwt } = await signClientAssertion({ key: kp.privateKey, alg, clientId: 'c', audience: AUD, now: NOW });
      await expect(jwtVerify(jwt, kp.publicKey, { currentDate: NOW, algorithms: [alg] })).resolves.toMatchObject({ protectedHeader: { alg } });
      await expect(jwtVerify(jwt, kp.publicKey, { currentDate: NOW, algorithms: [alg === 'RS256' ? 'PS256' : 'RS256'] })).rejects.toThrow();
    }
  });

  it('writes exactly the RFC 7523 claims, in the order SignJWT wrote them', async () => {
    const kp = keyPair('ec384');
    const { jwt } = await signClientAssertion({ key: kp.privateKey, alg: 'ES384', clientId: 'self_service_chaman_1', audience: AUD, now: NOW });
    const [header, claims] = jwt.split('.').map((p) => Buffer.from(p, 'base64url').toString('utf8'));
    expect(header).toBe('{"alg":"ES384","typ":"JWT"}');
    expect(Object.keys(JSON.parse(claims as string))).toEqual(['iss', 'sub', 'aud', 'iat', 'exp', 'jti']);
  });

  it('uses a fresh jti for every assertion', async () => {
    const kp = keyPair('ec384');
    const jtis = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { jwt } = await signClientAssertion({ key: kp.privateKey, alg: 'ES384', clientId: 'c', audience: AUD, now: NOW });
      jtis.add((await jwtVerify(jwt, kp.publicKey, { currentDate: NOW })).payload.jti as string);
    }
    expect(jtis.size).toBe(50);
  });

  it.each([
    ['rsa2048', 'ES384'],
    ['ec384', 'RS256'],
    ['ec384', 'ES512'],
    ['ec256', undefined],
    ['ed25519', undefined],
  ] as const)('refuses a %s key with alg %s', (shape, requested) => {
    expect(algorithmFor(keyPair(shape).privateKey, requested)).toBeUndefined();
  });
});
