import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import type { System } from '../../functions/adapters/system.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import { startOAuthServer, type OAuthServer } from '../../functions/local/oauth-server.ts';
import { keyPair } from '../helpers/keys.ts';
import { tempSystem } from '../helpers/system.ts';
import type { MemoryLog } from '../helpers/memory-log.ts';

/**
 * The local broker over HTTP, in front of a real OAuth2 server (oidc-provider) that
 * checks every client assertion and client secret itself.
 */
const EMPLOYER_SCOPE = 'scope:sigedis:gestion:careerpro-federal-learning-account:employer';
const rsa = keyPair('rsa2048');
const ec = keyPair('ec384');
const secrets = {
  pisteSecret: `piste-${randomBytes(12).toString('hex')}`,
  password: `pw-${randomBytes(12).toString('hex')}`,
  cfaKey: `cfa-${randomBytes(12).toString('hex')}`,
  cegidSecret: `cegid-${randomBytes(12).toString('hex')}`,
};
const pemBody = (pem: string) => pem.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'));

let system: System;
let log: MemoryLog;
let cleanup: () => Promise<void>;
let home: string;
let oauth: OAuthServer;
let server: LocalServer;
const keys: Record<string, string> = {};
const captured: { label: string; text: string }[] = [];
const vended: string[] = [];

async function call(method: string, path: string, key?: string, body?: string) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  // A 200 from the token endpoint is the one place a credential's own material may travel.
  if (res.status === 200 && path.endsWith('/token')) vended.push(text);
  else captured.push({ label: `${method} ${path} → ${res.status}`, text });
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

const writes: string[] = [];
beforeAll(async () => {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      writes.push(String(chunk));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write);
  }
  oauth = await startOAuthServer({
    clients: [
      { client_id: 'self_service_chaman_rsa', auth: 'private_key_jwt', publicKey: rsa.publicKey, scope: EMPLOYER_SCOPE },
      { client_id: 'self_service_chaman_ec', auth: 'private_key_jwt', publicKey: ec.publicKey },
      { client_id: 'piste-client', auth: 'client_secret_post', client_secret: secrets.pisteSecret, scope: 'openid' },
    ],
  });
  ({ system, log, cleanup, home } = await tempSystem({ broker: { retry: { timeoutMs: 2_000, attempts: 3, minDelayMs: 1, maxDelayMs: 5 } } }));
  for (const id of ['acme', 'beta']) await system.tenants.put({ id, name: id.toUpperCase() });
  for (const t of ['acme', 'beta']) {
    await system.credentials.set({ tenant: t, credential: 'fla-employer', environment: 'acceptance', fields: { client_id: 'self_service_chaman_rsa', private_key: rsa.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint, scope: EMPLOYER_SCOPE } });
    await system.credentials.set({ tenant: t, credential: 'fla-provider', fields: { client_id: 'self_service_chaman_ec', private_key: ec.pem, quality: 'provider', token_endpoint: oauth.tokenEndpoint } });
    await system.credentials.set({ tenant: t, credential: 'chorus-piste', environment: 'sandbox', fields: { client_id: 'piste-client', client_secret: secrets.pisteSecret, account_login: 'TECH', account_password: secrets.password, token_endpoint: oauth.tokenEndpoint } });
    await system.credentials.set({ tenant: t, credential: 'opco-atlas', fields: { cfa_key: secrets.cfaKey, editeur: 'Sesame' } });
    await system.credentials.set({ tenant: t, credential: 'cegid-cfe', fields: { api_key_id: 'kid', api_key_secret: secrets.cegidSecret } });
  }
  keys.a = (await system.apps.add({ app: 'app-a', tenants: ['acme'] })).key;
  keys.b = (await system.apps.add({ app: 'app-b', tenants: ['beta'] })).key;
  keys.ab = (await system.apps.add({ app: 'app-ab', tenants: ['acme', 'beta'] })).key;
  keys.flaOnly = (await system.apps.add({ app: 'app-fla', tenants: ['acme'], kinds: ['fla'] })).key;
  keys.revoked = (await system.apps.add({ app: 'app-old', tenants: ['acme', 'beta'] })).key;
  // A tenant removed after an app was scoped to it: the app may ask, and learns it is gone.
  await system.tenants.put({ id: 'gone', name: 'Gone' });
  keys.gone = (await system.apps.add({ app: 'app-gone', tenants: ['acme', 'gone'] })).key;
  await (system.store as LocalSecretStore).delete('sesame-tenants/gone');
  await system.apps.revoke('app-old');
  server = await startLocalServer(system);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await server.close();
  await oauth.close();
  await cleanup();
});

describe('real tokens from a real OAuth2 server', () => {
  it('obtains an FLA token with an RS256 assertion that the server verified', async () => {
    const res = await call('POST', '/v1/tenants/acme/credentials/fla-employer/token', keys.a);
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ tenant: 'acme', credential: 'fla-employer', kind: 'fla', environment: 'acceptance', token_type: 'Bearer', scope: EMPLOYER_SCOPE, cached: false });
    expect(body.headers).toEqual({ Authorization: `Bearer ${body.access_token}` });
    expect(body.base_url).toBe('https://services-acpt.socialsecurity.be/REST');
    expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now() + 500_000);
  });

  it('obtains an FLA token with an ES384 assertion', async () => {
    const res = await call('POST', '/v1/tenants/acme/credentials/fla-provider/token', keys.a);
    expect(res.status).toBe(200);
    expect(res.json().access_token).toMatch(/\S{20,}/);
  });

  it('obtains a PISTE token with the client secret, and the cpro-account header', async () => {
    const body = (await call('POST', '/v1/tenants/acme/credentials/chorus-piste/token', keys.a)).json();
    expect(body.scope).toBe('openid');
    expect(body.headers['cpro-account']).toBe(Buffer.from(`TECH:${secrets.password}`).toString('base64'));
  });

  it('serves the second request from cache', async () => {
    const body = (await call('POST', '/v1/tenants/acme/credentials/chorus-piste/token', keys.a)).json();
    expect(body.cached).toBe(true);
  });

  it('hands out a signed assertion that the OAuth2 server accepts as is', async () => {
    const a = (await call('POST', '/v1/tenants/acme/credentials/fla-employer/assertion', keys.a)).json();
    expect(a).toMatchObject({ client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', token_endpoint: oauth.tokenEndpoint });
    const res = await fetch(a.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: a.client_assertion_type, client_assertion: a.client_assertion }),
    });
    expect(res.status).toBe(200);
  });

  it('is refused by the server with the wrong key, and says so as upstream_rejected', async () => {
    await system.credentials.set({ tenant: 'acme', credential: 'fla-wrongkey', fields: { client_id: 'self_service_chaman_rsa', private_key: keyPair('ec521').pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint } });
    const res = await call('POST', '/v1/tenants/acme/credentials/fla-wrongkey/token', keys.a);
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'upstream_rejected', upstream_error: 'invalid_client' });
  });

  it('returns the static headers of OPCO and Cegid credentials', async () => {
    expect((await call('POST', '/v1/tenants/acme/credentials/opco-atlas/token', keys.a)).json().headers).toEqual({ 'X-API-KEY': secrets.cfaKey, EDITEUR: 'Sesame' });
    expect((await call('POST', '/v1/tenants/acme/credentials/cegid-cfe/token', keys.a)).json().headers).toEqual({ 'x-apikey': `kid:${secrets.cegidSecret}` });
  });
});

describe('single flight', () => {
  it('makes exactly one upstream call for 500 concurrent requests on a cold FLA credential', async () => {
    await system.credentials.set({ tenant: 'acme', credential: 'fla-cold', fields: { client_id: 'self_service_chaman_rsa', private_key: rsa.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint } });
    const before = oauth.tokenRequests();
    const results = await Promise.all(Array.from({ length: 500 }, () => call('POST', '/v1/tenants/acme/credentials/fla-cold/token', keys.a)));
    expect(oauth.tokenRequests() - before).toBe(1);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.json().access_token)).size).toBe(1);
  });
});

describe('tenant isolation', () => {
  const tenants = ['acme', 'beta', 'ghost'];
  const credentials = ['fla-employer', 'chorus-piste', 'opco-atlas', 'cegid-cfe'];
  const endpoints = ['token', 'assertion'];
  const scope: Record<string, string[]> = { a: ['acme'], b: ['beta'], ab: ['acme', 'beta'], flaOnly: ['acme'] };

  it('refuses every request outside an app scope with 403, whether or not the tenant exists', async () => {
    let checked = 0;
    for (const app of Object.keys(scope)) {
      for (const t of tenants) {
        for (const c of credentials) {
          for (const e of endpoints) {
            const res = await call('POST', `/v1/tenants/${t}/credentials/${c}/${e}`, keys[app]);
            const allowed = scope[app]!.includes(t) && (app !== 'flaOnly' || c.startsWith('fla'));
            if (!allowed) {
              expect(res.status, `${app} → ${t}/${c}/${e}`).toBe(403);
              expect(res.json().code).toBe('forbidden');
            } else {
              expect(res.status, `${app} → ${t}/${c}/${e}`).not.toBe(403);
            }
            checked += 1;
          }
        }
      }
    }
    expect(checked).toBe(4 * 3 * 4 * 2);
  });

  it.each([
    ['no key', undefined],
    ['an unknown key', `sesame_app-a_${randomBytes(32).toString('base64url')}`],
    ['a malformed key', 'not-a-key'],
    ['a revoked key', 'revoked'],
    ['a key of another app name', 'renamed'],
  ])('answers 401 to %s', async (_label, k) => {
    const key = k === 'revoked' ? keys.revoked : k === 'renamed' ? keys.a!.replace('sesame_app-a_', 'sesame_app-b_') : k;
    const res = await call('POST', '/v1/tenants/acme/credentials/opco-atlas/token', key);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.json().code).toBe('unauthorized');
  });
});

describe('bad input gets a 4xx problem, never a 500', () => {
  it.each([
    ['POST', '/v1/tenants/gone/credentials/fla/token', 'gone', undefined, 404, 'unknown_tenant'],
    ['POST', '/v1/tenants/acme/credentials/fla-nothing/token', 'a', undefined, 404, 'unknown_credential'],
    ['POST', '/v1/tenants/ACME/credentials/fla/token', 'a', undefined, 400, 'invalid_request'],
    ['POST', '/v1/tenants/acme/credentials/bogus-kind/token', 'a', undefined, 400, 'invalid_request'],
    ['POST', '/v1/tenants/acme/credentials/fla%2F..%2Fx/token', 'a', undefined, 400, 'invalid_request'],
    ['POST', '/v1/tenants/acme/credentials/opco-atlas/token', 'a', 'x'.repeat(17 * 1024), 413, 'payload_too_large'],
    ['POST', '/v1/tenants/acme/credentials/opco-atlas/token', 'a', '{not json', 400, 'invalid_request'],
    ['POST', '/v1/tenants/acme/credentials/opco-atlas/token', 'a', '{"scope":"x"}', 400, 'invalid_request'],
    ['GET', '/v1/tenants/acme/credentials/opco-atlas/token', 'a', undefined, 405, 'method_not_allowed'],
    ['DELETE', '/v1/health', undefined, undefined, 405, 'method_not_allowed'],
    ['POST', '/v1/nothing', 'a', undefined, 404, 'not_found'],
    ['POST', '/v1/tenants/acme/credentials/chorus-edi/token', 'a', undefined, 404, 'unknown_credential'],
  ])('%s %s (app %s, body %#) answers with a problem', async (method, path, app, body, status, code) => {
    const res = await call(method, path, app ? keys[app] : undefined, body);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.json()).toMatchObject({ status, code, type: `urn:sesame:problem:${code}` });
  });

  it('accepts an empty body and {} alike', async () => {
    expect((await call('POST', '/v1/tenants/acme/credentials/opco-atlas/token', keys.a, '')).status).toBe(200);
    expect((await call('POST', '/v1/tenants/acme/credentials/opco-atlas/token', keys.a, '{}')).status).toBe(200);
  });

  it('answers chorus-edi with invalid_request: nothing to vend', async () => {
    await system.credentials.set({ tenant: 'acme', credential: 'chorus-edi', fields: {} });
    const res = await call('POST', '/v1/tenants/acme/credentials/chorus-edi/token', keys.a);
    expect(res.status).toBe(400);
    expect(res.json().detail).toMatch(/nothing to vend/);
  });

  it('answers health without a key', async () => {
    expect((await call('GET', '/v1/health')).json()).toEqual({ status: 'ok', version: 'test' });
  });
});

describe('secret hygiene', () => {
  it('never puts a secret in a log line, an error or any other response body', () => {
    const values = [
      ...pemBody(rsa.pem),
      ...pemBody(ec.pem),
      ...pemBody(keyPair('ec521').pem),
      secrets.pisteSecret,
      secrets.password,
      secrets.cfaKey,
      secrets.cegidSecret,
      ...Object.values(keys),
      ...Object.values(keys).map((k) => k.replace(/^sesame_[a-z0-9-]+_/, '')),
    ];
    const haystacks = [
      ...log.lines.map((text) => ({ label: 'log', text })),
      ...writes.map((text) => ({ label: 'stdout/stderr', text })),
      ...captured,
    ];
    expect(log.lines.length).toBeGreaterThan(10);
    expect(captured.length).toBeGreaterThan(90);
    for (const { label, text } of haystacks) {
      for (const v of values) expect(text.includes(v), `${label} holds a secret: ${text.slice(0, 300)} / ${v.slice(0, 12)}`).toBe(false);
    }
    // The vending answers carry their own credential's material, and nothing else secret.
    for (const text of vended) {
      for (const v of [...pemBody(rsa.pem), ...pemBody(ec.pem), secrets.pisteSecret, ...Object.values(keys)]) expect(text.includes(v)).toBe(false);
    }
  });
});
