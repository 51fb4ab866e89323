import { createPublicKey, type KeyObject } from 'node:crypto';
import { compactVerify } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { System } from '../../functions/adapters/system.ts';
import { Admin } from '../../functions/core/admin.ts';
import { checkAuditRecord, type AuditEntry } from '../../functions/core/audit.ts';
import { selfSignedCertificate } from '../../functions/core/certificates/self-signed.ts';
import { isSesameError, SesameError } from '../../functions/core/errors.ts';
import { fetchToken, withoutFallback, type RetryPolicy } from '../../functions/core/oauth.ts';
import { platformOf } from '../../functions/core/platforms/index.ts';
import type { OAuthMaterial, PlatformContext } from '../../functions/core/platforms/types.ts';
import { FlaRotation } from '../../functions/core/rotation.ts';
import { startOAuthServer, type OAuthServer } from '../../functions/local/oauth-server.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { startScriptedServer, tokenBody, type ScriptedServer } from '../helpers/scripted-token-server.ts';
import { tempSystem } from '../helpers/system.ts';
import { FetchHttpClient } from '../../functions/adapters/fetch-http-client.ts';

/**
 * FLA key rotation without downtime: the fallback of the FLA material and fetchToken
 * (against a scripted token endpoint, so that the refusals come when the test says),
 * and the rotation steps (against the loopback OAuth server, which checks every
 * assertion's signature against the keys registered on the client).
 */

const FAST: RetryPolicy = { timeoutMs: 2_000, attempts: 2, minDelayMs: 1, maxDelayMs: 2 };
const fla = platformOf('fla');

/** A key pair with its self-signed certificate, valid `days` from `from`. */
async function keyWithCertificate(from: Date, days = 365) {
  const made = await selfSignedCertificate({ type: 'ec', curve: 'P-384' }, { CN: 'CFA Rotation', O: 'CFA Rotation', C: 'BE' }, { from, days });
  return { pem: made.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certificate: made.pem, publicKey: createPublicKey(made.privateKey) };
}
type Key = Awaited<ReturnType<typeof keyWithCertificate>>;

/** Which of the named keys signed this assertion (undefined: none of them). */
async function signer(jwt: string | null, keys: Record<string, KeyObject>): Promise<string | undefined> {
  if (!jwt) return undefined;
  for (const [name, key] of Object.entries(keys)) {
    try {
      await compactVerify(jwt, key);
      return name;
    } catch {
      // another key
    }
  }
  return undefined;
}

/** Every string a log or an error could leak: the PEM bodies of the private keys. */
const keyBodies = (...keys: Key[]) => keys.map((k) => k.pem.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'))[1] as string);

describe('the FLA material falls back on the other keys of a rotation', () => {
  const clock = new ManualClock();
  const ctx: PlatformContext = { tenant: 'cfa-rot', credential: 'fla-employer', environment: 'acceptance', clock };
  let server: ScriptedServer;
  let active: Key;
  let previous: Key;
  let next: Key;
  let log: MemoryLog;

  beforeAll(async () => {
    server = await startScriptedServer();
    const from = new Date(clock.now().getTime() - 60_000);
    [active, previous, next] = await Promise.all([keyWithCertificate(from), keyWithCertificate(from, 1), keyWithCertificate(from)]);
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
    log = new MemoryLog();
  });

  const fields = (extra: Record<string, unknown> = {}) =>
    fla.schema.parse({
      client_id: 'self_service_chaman_rot',
      private_key: active.pem,
      certificate: active.certificate,
      quality: 'employer',
      token_endpoint: server.url,
      ...extra,
    });
  const withPrevious = () => ({ previous: { private_key: previous.pem, certificate: previous.certificate, replaced_at: '2026-05-31T08:00:00.000Z' } });
  const withNext = () => ({ next: { private_key: next.pem, certificate: next.certificate, created_at: '2026-05-31T08:00:00.000Z' } });
  const material = (f: unknown) => fla.material(f, ctx) as OAuthMaterial;
  const signers = () => Promise.all(server.requests.map((r) => signer(r.form.get('client_assertion'), { active: active.publicKey, previous: previous.publicKey, next: next.publicKey })));

  it('gives a credential without rotation keys no fallback, as before', () => {
    const m = material(fields());
    expect(m.fallback).toBeUndefined();
    expect(m.logFields).toBeUndefined();
  });

  it('obtains the token with the previous key when the endpoint refuses the active one, and says so without a secret', async () => {
    server.script([{ status: 401, body: { error: 'invalid_client' } }, { status: 200, body: tokenBody('from-previous', 600) }]);
    const token = await fetchToken(new FetchHttpClient(), material(fields(withPrevious())), FAST, log);
    expect(token.accessToken).toBe('from-previous');
    expect(await signers()).toEqual(['active', 'previous']);
    const warned = log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === 'WARN');
    expect(warned).toEqual([
      expect.objectContaining({ message: 'the token endpoint refused the key, trying the fallback key', tenant: 'cfa-rot', credential: 'fla-employer', key: 'active', fallback_key: 'previous', upstream_status: 401, upstream_error: 'invalid_client' }),
      expect.objectContaining({ message: 'access token obtained with the fallback key', key: 'previous' }),
    ]);
    const printed = log.lines.join('\n');
    for (const body of keyBodies(active, previous)) expect(printed).not.toContain(body);
    expect(printed).not.toContain(server.requests[0]?.form.get('client_assertion') as string);
  });

  it('tries the previous key, then the next one, and throws the active key\'s refusal when all are refused', async () => {
    server.script([{ status: 400, body: { error: 'invalid_client' } }]);
    const err = await fetchToken(new FetchHttpClient(), material(fields({ ...withPrevious(), ...withNext() })), FAST, log).catch((e: unknown) => e);
    expect(isSesameError(err, 'upstream_rejected')).toBe(true);
    expect((err as SesameError).details).toEqual({ upstream_status: 400, upstream_error: 'invalid_client' });
    expect(await signers()).toEqual(['active', 'previous', 'next']);
  });

  it('obtains the token with the next key when its certificate replaced the old one in Chaman', async () => {
    server.script([{ status: 401, body: { error: 'invalid_client' } }, { status: 200, body: tokenBody('from-next', 600) }]);
    expect((await fetchToken(new FetchHttpClient(), material(fields(withNext())), FAST, log)).accessToken).toBe('from-next');
    expect(await signers()).toEqual(['active', 'next']);
  });

  it('does not try another key when the endpoint is down: that is no refusal of the key', async () => {
    server.script([{ status: 503 }]);
    const err = await fetchToken(new FetchHttpClient(), material(fields(withPrevious())), FAST, log).catch((e: unknown) => e);
    expect(isSesameError(err, 'upstream_unavailable')).toBe(true);
    expect(await signers()).toEqual(['active', 'active']);
  });

  it('leaves out a key whose certificate has lapsed: Chaman would refuse it', async () => {
    clock.advance(2 * 86_400_000);
    try {
      const m = material(fields({ ...withPrevious(), ...withNext() }));
      expect(m.fallback?.logFields?.key).toBe('next');
      expect(m.fallback?.fallback).toBeUndefined();
    } finally {
      clock.advance(-2 * 86_400_000);
    }
  });

  it('withoutFallback keeps the key alone, for checks', async () => {
    server.script([{ status: 401, body: { error: 'invalid_client' } }, { status: 200, body: tokenBody('never', 600) }]);
    const alone = withoutFallback(material(fields(withPrevious())));
    expect(alone.fallback).toBeUndefined();
    await expect(fetchToken(new FetchHttpClient(), alone, FAST, log)).rejects.toMatchObject({ code: 'upstream_rejected' });
    expect(server.requests).toHaveLength(1);
  });

  it('counts only the active certificate for expiry, whatever the next and previous ones say', () => {
    const at = fla.expiries(fields({ ...withPrevious(), ...withNext() }), ctx).map((e) => e.at.toISOString());
    expect(at).toEqual(fla.expiries(fields(), ctx).map((e) => e.at.toISOString()));
  });

  it('refuses a next key that is the active key, or whose certificate is another key\'s, naming the field', () => {
    const same = fla.schema.safeParse({ ...(fields() as object), next: { private_key: active.pem, certificate: active.certificate, created_at: '2026-05-31T08:00:00.000Z' } });
    expect(same.success).toBe(false);
    expect(same.error?.issues.map((i) => i.path.join('.'))).toEqual(['next.private_key']);
    const mismatched = fla.schema.safeParse({ ...(fields() as object), previous: { private_key: previous.pem, certificate: next.certificate, replaced_at: '2026-05-31T08:00:00.000Z' } });
    expect(mismatched.error?.issues.map((i) => `${i.path.join('.')} ${i.message}`)).toEqual(['previous.certificate does not match previous.private_key (another key pair)']);
  });
});

describe('the loopback OAuth server holds several keys per private_key_jwt client, as a Chaman account holds several certificates', () => {
  it('accepts an assertion signed by any registered key, and follows keys added and removed', async () => {
    const clock = new ManualClock(Date.now());
    const from = new Date(clock.now().getTime() - 60_000);
    const [a, b, c] = await Promise.all([keyWithCertificate(from), keyWithCertificate(from), keyWithCertificate(from)]);
    const oauth = await startOAuthServer({ clients: [{ client_id: 'multi', auth: 'private_key_jwt', publicKey: [a.publicKey, b.publicKey] }] });
    try {
      const ctx: PlatformContext = { tenant: 'cfa-rot', credential: 'fla-employer', environment: 'acceptance', clock };
      const tokenWith = (k: Key) =>
        fetchToken(new FetchHttpClient(), fla.material(fla.schema.parse({ client_id: 'multi', private_key: k.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint }), ctx) as OAuthMaterial, FAST).then(
          () => 'ok',
          (e: SesameError) => e.details.upstream_error,
        );
      expect([await tokenWith(a), await tokenWith(b), await tokenWith(c)]).toEqual(['ok', 'ok', 'invalid_client']);
      await oauth.addClientKey('multi', c.publicKey);
      await oauth.addClientKey('multi', c.publicKey);
      await oauth.removeClientKey('multi', a.publicKey);
      expect([await tokenWith(a), await tokenWith(b), await tokenWith(c)]).toEqual(['invalid_client', 'ok', 'ok']);
      await oauth.removeClientKey('multi', b.publicKey);
      await expect(oauth.removeClientKey('multi', c.publicKey)).rejects.toThrow(/keeps at least one key/);
      expect(await tokenWith(c)).toBe('ok');
    } finally {
      await oauth.close();
    }
  });
});

describe('FlaRotation against the loopback OAuth server', () => {
  const CLIENT = 'self_service_chaman_rotation';
  let oauth: OAuthServer;
  let system: System;
  let log: MemoryLog;
  let cleanup: () => Promise<void>;
  let clock: ManualClock;
  let rotation: FlaRotation;
  let first: Key;
  const records: AuditEntry[] = [];

  const fields = async () => (await system.credentials.get('cfa-rot', 'fla-employer')).fields as Record<string, any>;
  const version = async () => (await system.credentials.get('cfa-rot', 'fla-employer')).version;
  /** A token as the broker would obtain it now, over a fresh read of the credential. */
  const token = async () => {
    const c = await system.credentials.get('cfa-rot', 'fla-employer');
    return fetchToken(new FetchHttpClient(), fla.material(c.fields, { tenant: c.tenant, credential: c.credential, environment: c.environment, clock }) as OAuthMaterial, FAST, log);
  };

  beforeEach(async () => {
    // The OAuth server checks assertion times against the real clock: start the manual one there.
    clock = new ManualClock(Date.now());
    first = await keyWithCertificate(new Date(clock.now().getTime() - 60_000));
    oauth = await startOAuthServer({ clients: [{ client_id: CLIENT, auth: 'private_key_jwt', publicKey: first.publicKey }] });
    ({ system, log, cleanup } = await tempSystem({ clock }));
    await system.tenants.put({ id: 'cfa-rot', name: 'CFA Rotation', bce: '0123456749' });
    await system.credentials.set({
      tenant: 'cfa-rot',
      credential: 'fla-employer',
      environment: 'acceptance',
      fields: { client_id: CLIENT, private_key: first.pem, certificate: first.certificate, quality: 'employer', token_endpoint: oauth.tokenEndpoint, alg: 'ES384' },
    });
    records.length = 0;
    rotation = new FlaRotation({ credentials: system.credentials, tenants: system.tenants, http: new FetchHttpClient(), clock, log, retry: FAST, audit: { record: (e) => (records.push(e), true) } });
  });
  afterEach(async () => {
    await oauth.close();
    await cleanup();
  });

  /** Registers the next key's certificate on the same client, as the operator does in Chaman. */
  const addNextToChaman = async () => oauth.addClientKey(CLIENT, createPublicKey((await fields()).next.certificate));

  it('runs a whole rotation: next key stored, refused until Chaman has it, activated, retired', async () => {
    const stored = await rotation.keygenNext('cfa-rot', 'fla-employer', { actor: { type: 'operator', id: 'op-1' } });
    expect(stored.next).toMatchObject({ key: 'EC P-384', alg: 'ES384', certificate_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(stored.steps.en.join(' ')).toMatch(/Add a certificate.*Do not delete the old certificate.*sesame fla activate cfa-rot fla-employer/);
    expect(stored.steps.en.join(' ')).toContain(`Client ID ${CLIENT}`);
    expect(Buffer.from(stored.certificate_der).toString('latin1')).not.toContain('PRIVATE KEY');
    const withNext = await fields();
    expect(withNext.private_key).toBe(first.pem);
    expect(withNext.next).toMatchObject({ certificate_sha256: stored.next.certificate_sha256, alg: 'ES384', created_at: clock.now().toISOString() });
    // The active key keeps signing: the next one is not on the client yet.
    expect((await token()).accessToken).toBeTruthy();

    const before = await version();
    await expect(rotation.activate('cfa-rot', 'fla-employer')).rejects.toMatchObject({
      code: 'upstream_rejected',
      message: expect.stringMatching(/refused the next key of cfa-rot\/fla-employer \(40\d invalid_client\): nothing was changed; add its certificate sha256 [0-9a-f]{16}… to the Chaman account/),
      details: expect.objectContaining({ upstream_error: 'invalid_client' }),
    });
    expect(await version()).toBe(before);

    await addNextToChaman();
    const activated = await rotation.activate('cfa-rot', 'fla-employer');
    expect(activated).toMatchObject({ check: { status: 'ok' }, active: { certificate_sha256: stored.next.certificate_sha256 }, dropped: null });
    const after = await fields();
    expect(after.private_key).toBe(withNext.next.private_key);
    expect(after.certificate).toBe(withNext.next.certificate);
    expect(after.next).toBeUndefined();
    expect(after.previous).toMatchObject({ private_key: first.pem, certificate: first.certificate, alg: 'ES384', replaced_at: clock.now().toISOString() });
    expect((await rotation.status('cfa-rot', 'fla-employer')).previous?.certificate_sha256).toBe(activated.previous.certificate_sha256);

    const retired = await rotation.retire('cfa-rot', 'fla-employer');
    expect(retired.retired.certificate_sha256).toBe(activated.previous.certificate_sha256);
    expect(retired.steps.en[0]).toContain(`delete the old certificate (SHA-256 ${retired.retired.certificate_sha256})`);
    const state = await rotation.status('cfa-rot', 'fla-employer');
    expect(state).toMatchObject({ next: null, previous: null, active: { certificate_sha256: stored.next.certificate_sha256 } });

    expect(records.map((r) => [r.type, r.details?.step, r.outcome, r.code ?? null])).toEqual([
      ['rotation', 'next_stored', 'ok', null],
      ['rotation', 'activated', 'error', 'upstream_rejected'],
      ['rotation', 'activated', 'ok', null],
      ['rotation', 'retired', 'ok', null],
    ]);
    expect(records[0]?.actor).toEqual({ type: 'operator', id: 'op-1' });
    expect(records[1]?.actor).toEqual({ type: 'cli', id: 'cli' });
    // Every record passes the trail's guard, fingerprints included.
    for (const r of records) expect(checkAuditRecord({ ...r, id: '0123456789abcdef', time: '2026-06-01T08:00:00.000Z' }).ok).toBe(true);
  });

  it('keeps tokens coming from the previous key when the active one is refused, and will not retire it then', async () => {
    await rotation.keygenNext('cfa-rot', 'fla-employer');
    await addNextToChaman();
    await rotation.activate('cfa-rot', 'fla-employer');
    const activeKey = createPublicKey((await fields()).certificate);
    // Chaman loses the new certificate: the active key is refused, the previous one still works.
    await oauth.removeClientKey(CLIENT, activeKey);
    log.lines.length = 0;
    expect((await token()).accessToken).toBeTruthy();
    expect(log.lines.some((l) => l.includes('access token obtained with the fallback key') && l.includes('"key":"previous"'))).toBe(true);

    const before = await version();
    await expect(rotation.retire('cfa-rot', 'fla-employer')).rejects.toMatchObject({ code: 'upstream_rejected', message: expect.stringMatching(/refused the active key .*nothing was changed; the previous key may be what still obtains tokens/) });
    expect(await version()).toBe(before);
    // Forced, it goes; then nothing backs the refused active key up.
    await rotation.retire('cfa-rot', 'fla-employer', { force: true });
    await expect(token()).rejects.toMatchObject({ code: 'upstream_rejected' });
  });

  it('refuses, with nothing changed: a second next key without replace, an activation without next key, a retirement without previous key', async () => {
    const before = await version();
    await expect(rotation.activate('cfa-rot', 'fla-employer')).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('has no next key to activate: make one with `sesame fla keygen --next cfa-rot fla-employer`') });
    await expect(rotation.retire('cfa-rot', 'fla-employer')).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('has no previous key to retire') });
    expect(await version()).toBe(before);

    const stored = await rotation.keygenNext('cfa-rot', 'fla-employer');
    const withNext = await version();
    await expect(rotation.keygenNext('cfa-rot', 'fla-employer')).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/already has a next key .*add --replace/) });
    expect(await version()).toBe(withNext);
    const replaced = await rotation.keygenNext('cfa-rot', 'fla-employer', { replace: true });
    expect(replaced.next.certificate_sha256).not.toBe(stored.next.certificate_sha256);
    await expect(rotation.activate('cfa-rot', 'opco-atlas')).rejects.toMatchObject({ code: 'invalid_request' });
    expect(oauth.tokenRequests()).toBe(0);
  });

  it('refuses to activate a next key whose certificate has lapsed, before any call upstream', async () => {
    await rotation.keygenNext('cfa-rot', 'fla-employer', { days: 1 });
    await addNextToChaman();
    clock.advance(2 * 86_400_000);
    const before = await version();
    await expect(rotation.activate('cfa-rot', 'fla-employer')).rejects.toMatchObject({ code: 'credential_expired', message: expect.stringContaining("the next key's Chaman certificate") });
    expect(await version()).toBe(before);
    expect(oauth.tokenRequests()).toBe(0);
  });

  it('makes the next key like the active one unless told otherwise: same algorithm, and the tenant in the certificate', async () => {
    const stored = await rotation.keygenNext('cfa-rot', 'fla-employer');
    expect(stored.next).toMatchObject({ key: 'EC P-384', alg: 'ES384' });
    const { X509Certificate } = await import('node:crypto');
    expect(new X509Certificate(stored.certificate_der).subject).toContain('organizationIdentifier=NTRBE-0123456749');
    await expect(rotation.generateNext('cfa-rot', 'fla-employer', { replace: true, alg: 'ES512', bits: 2048 })).rejects.toMatchObject({ code: 'invalid_request', details: { field: 'bits' } });
    const rsa = await rotation.generateNext('cfa-rot', 'fla-employer', { replace: true, alg: 'PS256', bits: 2048 });
    expect(rsa.view).toMatchObject({ key: 'RSA 2048', alg: 'PS256' });
  });

  it('never shows a rotation key: credential show and the console redact next and previous whole', async () => {
    await rotation.keygenNext('cfa-rot', 'fla-employer');
    await addNextToChaman();
    await rotation.activate('cfa-rot', 'fla-employer');
    await rotation.keygenNext('cfa-rot', 'fla-employer');
    const f = await fields();
    const bodies = [f.private_key, f.next.private_key, f.previous.private_key].map((pem: string) => pem.split('\n')[2] as string);
    const shown = await system.credentials.show('cfa-rot', 'fla-employer');
    expect(shown.fields).toMatchObject({ private_key: '[redacted]', next: '[redacted]', previous: '[redacted]' });
    const admin = new Admin({ store: system.store, tenants: system.tenants, credentials: system.credentials, apps: system.apps, clock, log });
    const detail = await admin.credential('cfa-rot', 'fla-employer');
    expect(detail.fields).toMatchObject({ private_key: '[redacted]', next: '[redacted]', previous: '[redacted]' });
    const printed = JSON.stringify([shown, detail, await rotation.status('cfa-rot', 'fla-employer'), log.lines]);
    for (const body of bodies) expect(printed).not.toContain(body);
    expect(printed).not.toContain('PRIVATE KEY');
  });
});

