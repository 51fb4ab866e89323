import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../functions/adapters/system.ts';
import type { Principal } from '../../functions/core/apps.ts';
import { ManualClock } from '../helpers/clock.ts';
import { startScriptedServer, tokenBody, type ScriptedServer } from '../helpers/scripted-token-server.ts';
import { tempSystem } from '../helpers/system.ts';

const clock = new ManualClock();
const me: Principal = { app: 'billing', tenants: new Set(['acme']), kinds: undefined };
let upstream: ScriptedServer;
let system: System;
let cleanup: () => Promise<void>;

const piste = (url: string) => ({ client_id: 'cid', client_secret: 'csecret', account_login: 'TECH', account_password: 'pw', token_endpoint: url });

beforeAll(async () => {
  upstream = await startScriptedServer();
  ({ system, cleanup } = await tempSystem({
    clock,
    broker: { retry: { timeoutMs: 150, attempts: 3, minDelayMs: 1, maxDelayMs: 5 }, defaultTokenTtlSeconds: 120, secretTtlSeconds: 30 },
  }));
  await system.tenants.put({ id: 'acme', name: 'ACME' });
});
afterAll(async () => {
  await upstream.close();
  await cleanup();
});

let n = 0;
/** A fresh credential per test, so caches never carry over. */
async function fresh(fields: Record<string, unknown> = {}) {
  const credential = `chorus-piste-${++n}`;
  await system.credentials.set({ tenant: 'acme', credential, environment: 'sandbox', fields: { ...piste(upstream.url), ...fields } });
  upstream.requests.length = 0;
  return credential;
}
afterEach(() => upstream.script([{ status: 200, body: tokenBody('t-1', 3600) }]));

describe('token caching', () => {
  it('serves a cached token until 60 s before it expires, then fetches a new one', async () => {
    const c = await fresh();
    upstream.script([{ status: 200, body: tokenBody('first', 600) }, { status: 200, body: tokenBody('second', 600) }]);
    const a = await system.broker.token(me, 'acme', c);
    expect(a).toMatchObject({ access_token: 'first', cached: false, expires_at: new Date(clock.now().getTime() + 600_000).toISOString() });
    clock.advance(539_000);
    expect(await system.broker.token(me, 'acme', c)).toMatchObject({ access_token: 'first', cached: true });
    clock.advance(1_000);
    expect(await system.broker.token(me, 'acme', c)).toMatchObject({ access_token: 'second', cached: false });
    expect(upstream.requests).toHaveLength(2);
  });

  it('serves every cache hit of one token the same frozen answer, and the API one serialisation of it', async () => {
    const c = await fresh();
    upstream.script([{ status: 200, body: tokenBody('once', 600) }, { status: 200, body: tokenBody('renewed', 600) }]);
    const first = await system.broker.token(me, 'acme', c);
    const hit = await system.broker.token(me, 'acme', c);
    expect(first).not.toBe(hit);
    expect(first.cached).toBe(false);
    expect(hit).toMatchObject({ access_token: 'once', cached: true });
    expect(Object.isFrozen(hit)).toBe(true);
    expect(await system.broker.token(me, 'acme', c)).toBe(hit);
    // Through the API: the same body as a fresh serialisation of the answer.
    const res = await system.api.handle({ method: 'POST', path: `/v1/tenants/acme/credentials/${c}/token`, body: undefined, principal: me });
    expect(res).toMatchObject({ statusCode: 200, headers: { 'cache-control': 'no-store' } });
    expect(res.body).toBe(JSON.stringify(hit));
    // Its renewal is another answer: nothing of the old token is served again.
    clock.advance(541_000);
    const renewed = await system.broker.token(me, 'acme', c);
    expect(renewed).toMatchObject({ access_token: 'renewed', cached: false });
    const renewedHit = await system.broker.token(me, 'acme', c);
    expect(renewedHit).not.toBe(hit);
    expect(JSON.stringify(renewedHit)).not.toContain('once');
  });

  it('gives a token without expires_in the configured short lifetime, never forever', async () => {
    const c = await fresh();
    upstream.script([{ status: 200, body: tokenBody('no-exp') }, { status: 200, body: tokenBody('next') }]);
    const a = await system.broker.token(me, 'acme', c);
    expect(a.expires_at).toBe(new Date(clock.now().getTime() + 120_000).toISOString());
    clock.advance(61_000);
    expect((await system.broker.token(me, 'acme', c)).access_token).toBe('next');
  });

  it('drops the cached token when the credential gets a new version', async () => {
    const c = await fresh();
    upstream.script([{ status: 200, body: tokenBody('old', 3600) }, { status: 200, body: tokenBody('new', 3600) }]);
    await system.broker.token(me, 'acme', c);
    await system.credentials.set({ tenant: 'acme', credential: c, environment: 'sandbox', fields: { ...piste(upstream.url), client_secret: 'rotated' } });
    clock.advance(31_000); // past the secret cache
    expect((await system.broker.token(me, 'acme', c)).access_token).toBe('new');
    expect(upstream.requests[1]?.form.get('client_secret')).toBe('rotated');
  });

  it('keeps a decrypted credential in memory for its TTL only', async () => {
    const c = await fresh();
    upstream.script([{ status: 200, body: tokenBody('a', 5) }]);
    await system.broker.token(me, 'acme', c);
    // The upstream token lives 5 s (no caching past the margin), so every call goes upstream
    // and shows which client_secret the broker holds.
    await system.credentials.set({ tenant: 'acme', credential: c, environment: 'sandbox', fields: { ...piste(upstream.url), client_secret: 'second' } });
    await system.broker.token(me, 'acme', c);
    expect(upstream.requests.at(-1)?.form.get('client_secret')).toBe('csecret');
    clock.advance(30_000);
    await system.broker.token(me, 'acme', c);
    expect(upstream.requests.at(-1)?.form.get('client_secret')).toBe('second');
  });
});

describe('upstream faults', () => {
  it('retries 503s and succeeds on the third attempt', async () => {
    const c = await fresh();
    upstream.script([{ status: 503 }, { status: 503 }, { status: 200, body: tokenBody('after-503', 3600) }]);
    expect((await system.broker.token(me, 'acme', c)).access_token).toBe('after-503');
    expect(upstream.requests).toHaveLength(3);
  });

  it('retries 429 and dropped connections too', async () => {
    const c = await fresh();
    upstream.script([{ status: 429 }, { destroy: true }, { status: 200, body: tokenBody('ok', 3600) }]);
    expect((await system.broker.token(me, 'acme', c)).access_token).toBe('ok');
  });

  it('answers upstream_unavailable with Retry-After after three timeouts', async () => {
    const c = await fresh();
    upstream.script([{ hang: true }]);
    const err = await system.broker.token(me, 'acme', c).catch((e) => e);
    expect(err).toMatchObject({ code: 'upstream_unavailable', retryAfter: 5 });
    expect(err.message).toMatch(/timed out after 150 ms/);
    expect(upstream.requests).toHaveLength(3);
  });

  it('does not retry a 400 invalid_client and carries the upstream error code', async () => {
    const c = await fresh();
    upstream.script([{ status: 400, body: { error: 'invalid_client', error_description: 'client authentication failed' } }]);
    const err = await system.broker.token(me, 'acme', c).catch((e) => e);
    expect(err).toMatchObject({ code: 'upstream_rejected', status: 502, details: { upstream_error: 'invalid_client', upstream_status: 400 } });
    expect(upstream.requests).toHaveLength(1);
  });

  it('serves the cached token during an outage while it is still valid', async () => {
    const c = await fresh();
    upstream.script([{ status: 200, body: tokenBody('kept', 600) }, { status: 503 }]);
    await system.broker.token(me, 'acme', c);
    clock.advance(560_000); // inside the refresh margin, not expired
    expect(await system.broker.token(me, 'acme', c)).toMatchObject({ access_token: 'kept', cached: true });
    clock.advance(40_000); // now expired: nothing valid remains
    await expect(system.broker.token(me, 'acme', c)).rejects.toMatchObject({ code: 'upstream_unavailable' });
  });

  it.each([
    ['a body that is not JSON', 'oops'],
    ['no access_token', { token_type: 'Bearer' }],
    ['a DPoP token type', { access_token: 'x', token_type: 'DPoP' }],
  ])('refuses a 200 with %s as upstream_rejected', async (_label, body) => {
    const c = await fresh();
    upstream.script([{ status: 200, body }]);
    await expect(system.broker.token(me, 'acme', c)).rejects.toMatchObject({ code: 'upstream_rejected', details: { upstream_error: 'invalid_token_response' } });
  });
});

describe('refusals before any upstream call', () => {
  it('refuses an expired OPCO key as credential_expired', async () => {
    await system.credentials.set({ tenant: 'acme', credential: 'opco-atlas', fields: { cfa_key: 'k', expires_at: '2026-06-10' } });
    expect((await system.broker.token(me, 'acme', 'opco-atlas')).headers['X-API-KEY']).toBe('k');
    clock.set('2026-06-10T00:00:01Z');
    await expect(system.broker.token(me, 'acme', 'opco-atlas')).rejects.toMatchObject({ code: 'credential_expired' });
  });

  it('refuses a tenant outside the app scope the same way whether it exists or not', async () => {
    await system.tenants.put({ id: 'other', name: 'Other' });
    const a = await system.broker.token(me, 'other', 'fla').catch((e) => e);
    const b = await system.broker.token(me, 'ghost', 'fla').catch((e) => e);
    expect(a.code).toBe('forbidden');
    expect(b.code).toBe('forbidden');
  });

  it('refuses a kind outside the app scope', async () => {
    const limited: Principal = { app: 'x', tenants: new Set(['acme']), kinds: new Set(['fla']) };
    await expect(system.broker.token(limited, 'acme', 'opco-atlas')).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('tells an unknown credential from an unknown tenant, inside the scope', async () => {
    const wide: Principal = { app: 'x', tenants: new Set(['acme', 'gone']), kinds: undefined };
    await expect(system.broker.token(wide, 'acme', 'fla-nothing')).rejects.toMatchObject({ code: 'unknown_credential' });
    await expect(system.broker.token(wide, 'gone', 'fla')).rejects.toMatchObject({ code: 'unknown_tenant' });
  });

  it('refuses a placeholder body as credential_incomplete', async () => {
    await system.store.put('sesame/acme/cegid-cfe', { placeholder: true });
    await expect(system.broker.token(me, 'acme', 'cegid-cfe')).rejects.toMatchObject({ code: 'credential_incomplete' });
  });

  it('refuses the assertion endpoint for kinds that do not sign one', async () => {
    const c = await fresh();
    await expect(system.broker.assertion(me, 'acme', c)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
