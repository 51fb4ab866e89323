import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FetchHttpClient } from '../../functions/adapters/fetch-http-client.ts';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { HEALTH_TAG, healthAlertDue, healthSubject, lastCheckFromTags, readHealthConfig, runHealthCheck, tagValue, testCredential, type HealthCheckDeps } from '../../functions/core/health.ts';
import { platformOf } from '../../functions/core/platforms/index.ts';
import type { HttpClient, Notification, Notifier, SecretStore } from '../../functions/core/ports.ts';
import { startOAuthServer, type OAuthServer } from '../../functions/local/oauth-server.ts';
import { ManualClock } from '../helpers/clock.ts';
import { keyPair } from '../helpers/keys.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { MemorySecretStore } from '../helpers/memory-secret-store.ts';
import { startScriptedServer, tokenBody, type ScriptedServer } from '../helpers/scripted-token-server.ts';

/**
 * Health checks against real upstreams on loopback: a real OAuth2 server (oidc-provider)
 * for FLA and PISTE, a scripted server answering an OPCO's key information, and a
 * scripted token endpoint for the failures a real server will not produce on demand.
 */
const RETRY = { timeoutMs: 2_000, attempts: 1, minDelayMs: 1, maxDelayMs: 2 };
const DAY = 86_400_000;
const rsa = keyPair('rsa2048');
const secrets = {
  cfaKey: `cfa-${randomBytes(12).toString('hex')}`,
  akto: `akto-${randomBytes(12).toString('hex')}`,
  pisteSecret: `piste-${randomBytes(12).toString('hex')}`,
  password: `pw-${randomBytes(12).toString('hex')}`,
  cegid: `cegid-${randomBytes(12).toString('hex')}`,
};
/** Every secret value, and lines of the private key: none may appear in an alert, a log line or a tag. */
const secretTexts = () => [...Object.values(secrets), ...rsa.pem.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'))];
const TAG_VALUE = /^[\p{L}\p{N} _.:/=+\-@]{1,256}$/u;

class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async publish(n: Notification) {
    this.sent.push(n);
  }
}

/** Which secrets were decrypted: a kind that cannot be checked must not be. */
class ReadCountingStore extends MemorySecretStore {
  readonly reads: string[] = [];
  override async get(name: string) {
    this.reads.push(name);
    return super.get(name);
  }
}

let oauth: OAuthServer;
let opco: ScriptedServer;
let piste: ScriptedServer;
let opcoBase: string;

beforeAll(async () => {
  oauth = await startOAuthServer({
    clients: [
      { client_id: 'self_service_chaman_rsa', auth: 'private_key_jwt', publicKey: rsa.publicKey },
      { client_id: 'piste-client', auth: 'client_secret_post', client_secret: secrets.pisteSecret, scope: 'openid' },
    ],
  });
  opco = await startScriptedServer([{ status: 200, body: { dateFinValidite: '2027-05-31' } }]);
  piste = await startScriptedServer([{ status: 200, body: tokenBody('t-1', 3600) }]);
  opcoBase = opco.url.replace(/\/token$/, '/convergence');
});
afterAll(async () => {
  await oauth.close();
  await opco.close();
  await piste.close();
});

interface World {
  system: System;
  store: SecretStore;
  log: MemoryLog;
  notifier: RecordingNotifier;
  clock: ManualClock;
  deps: (over?: Partial<HealthCheckDeps>) => HealthCheckDeps;
}

async function world(clock: ManualClock, store: SecretStore, http: HttpClient = new FetchHttpClient()): Promise<World> {
  const log = new MemoryLog();
  const notifier = new RecordingNotifier();
  const system = buildSystem({ store, log, clock, version: 'test', notifier, broker: { retry: RETRY } });
  // A valid SIREN (Luhn) through its SIRET: the OPCO's key information asks for it.
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris', siret: '73282932000074' });
  const deps = (over: Partial<HealthCheckDeps> = {}): HealthCheckDeps => ({
    store,
    credentials: system.credentials,
    tenants: system.tenants,
    http,
    retry: RETRY,
    clock,
    log,
    notifier,
    sleep: async () => {},
    ...over,
  });
  return { system, store, log, notifier, clock, deps };
}

describe('testing one credential', () => {
  let home: string;
  let w: World;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'sesame-health-'));
    // The real OAuth server checks an FLA assertion's iat and exp against its own clock.
    const clock = new ManualClock(Date.now());
    w = await world(clock, new LocalSecretStore(home, randomBytes(32), clock));
    const set = (credential: string, fields: Record<string, unknown>, environment?: string) => w.system.credentials.set({ tenant: 'cfa-paris', credential, fields, ...(environment ? { environment } : {}) });
    await set('opco-atlas', { cfa_key: secrets.cfaKey, expires_at: '2027-04-01', base_url: opcoBase });
    await set('opco-akto', { cfa_key: secrets.akto });
    await set('chorus-piste', { client_id: 'piste-client', client_secret: secrets.pisteSecret, account_login: 'TECH', account_password: secrets.password, token_endpoint: oauth.tokenEndpoint }, 'sandbox');
    await set('chorus-piste-old', { client_id: 'piste-client', client_secret: 'not-the-secret', account_login: 'TECH', account_password: secrets.password, token_endpoint: oauth.tokenEndpoint }, 'sandbox');
    await set('fla-employer', { client_id: 'self_service_chaman_rsa', private_key: rsa.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint });
    await set('fla-unregistered', { client_id: 'self_service_chaman_unknown', private_key: rsa.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint });
    await set('fla-pending', { private_key: rsa.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint });
    await set('cegid-cfe', { api_key_id: 'kid', api_key_secret: secrets.cegid });
  });
  afterAll(() => rm(home, { recursive: true, force: true }));
  beforeEach(() => {
    opco.script([{ status: 200, body: { dateFinValidite: '2027-05-31' } }]);
    opco.requests.length = 0;
  });

  it.each([
    ['an OPCO whose key-information endpoint recognises the key', 'opco-atlas', { status: 'ok', expires_at: '2027-05-31T22:00:00.000Z' }, 1, 0],
    ['an OPCO without a base URL', 'opco-akto', { status: 'not_testable' }, 0, 0],
    ['PISTE with the right client secret', 'chorus-piste', { status: 'ok', environment: 'sandbox' }, 0, 1],
    ['PISTE with a client secret changed by someone else', 'chorus-piste-old', { status: 'failed', code: 'upstream_rejected', upstream_status: 401, upstream_error: 'invalid_client' }, 0, 1],
    ['FLA whose assertion the server verifies', 'fla-employer', { status: 'ok' }, 0, 1],
    ['FLA with a client id the server does not know', 'fla-unregistered', { status: 'failed', code: 'upstream_rejected', upstream_error: 'invalid_client' }, 0, 1],
    ['FLA awaiting its Chaman client id', 'fla-pending', { status: 'not_testable' }, 0, 0],
    ['Cegid File Exchange', 'cegid-cfe', { status: 'not_testable' }, 0, 0],
  ])('checks %s (%s) and records the result as tags', async (_what, credential, expected, opcoCalls, tokenCalls) => {
    const tokensBefore = oauth.tokenRequests();
    const r = await testCredential(w.deps(), 'cfa-paris', credential);
    expect(r).toMatchObject({ tenant: 'cfa-paris', credential, checked_at: w.clock.now().toISOString(), ...expected });
    expect(opco.requests).toHaveLength(opcoCalls);
    expect(oauth.tokenRequests() - tokensBefore).toBe(tokenCalls);
    if (r.status !== 'ok') expect(r.reason).toMatch(/\w/);
    expect(r.message.fr).toMatch(/\w/);
    const tags = (await w.store.tags(`sesame/cfa-paris/${credential}`)) ?? {};
    expect(tags[HEALTH_TAG.status]).toBe(expected.status);
    expect(tags[HEALTH_TAG.at]).toBe(r.checked_at);
    expect(tags[HEALTH_TAG.code]).toBe(r.code ?? 'none');
    for (const k of [HEALTH_TAG.status, HEALTH_TAG.at, HEALTH_TAG.reason, HEALTH_TAG.code, HEALTH_TAG.version]) expect(tags[k]).toMatch(TAG_VALUE);
    expect(lastCheckFromTags(tags, r.version)).toMatchObject({ status: expected.status, at: r.checked_at, stale: false });
  });

  it('says plainly why Cegid cannot be checked, without decrypting it', async () => {
    const r = await testCredential(w.deps(), 'cfa-paris', 'cegid-cfe');
    expect(r.status).toBe('not_testable');
    expect(r.reason).toContain('Cegid File Exchange: the platform offers no call that checks this credential without side effects');
    expect(r.version).toBeUndefined();
  });

  it("records the OPCO's end of validity on the expiry tags when it differs, without a new secret version", async () => {
    const name = 'sesame/cfa-paris/opco-atlas';
    await w.system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: secrets.cfaKey, expires_at: '2027-04-01', base_url: opcoBase } });
    const before = await w.store.get(name);
    const previous = await w.store.getPrevious(name);
    expect((await w.store.tags(name))?.['sesame:expires-at']).toBe('2027-04-01T00:00:00.000Z');

    const r = await testCredential(w.deps(), 'cfa-paris', 'opco-atlas');
    expect(r).toMatchObject({ status: 'ok', expires_at: '2027-05-31T22:00:00.000Z', expiry_updated: true, previous_expires_at: '2027-04-01T00:00:00.000Z' });
    const tags = (await w.store.tags(name)) ?? {};
    expect(tags['sesame:expires-at']).toBe('2027-05-31T22:00:00.000Z');
    expect(tags['sesame:expires-what']).toBe('cfa-key');
    // The same version, and the previous one is still the credential that came before.
    expect((await w.store.get(name))?.version).toBe(before?.version);
    expect((await w.store.getPrevious(name))?.version).toBe(previous?.version);

    const again = await testCredential(w.deps(), 'cfa-paris', 'opco-atlas');
    expect(again.expiry_updated).toBeUndefined();
  });

  it('leaves the end date alone when a new version was stored while the platform was being asked', async () => {
    const name = 'sesame/cfa-paris/opco-atlas';
    await w.system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: secrets.cfaKey, expires_at: '2027-04-01', base_url: opcoBase } });
    const renewing: HttpClient = {
      async request(req) {
        await w.system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: `${secrets.cfaKey}-new`, expires_at: '2027-09-30', base_url: opcoBase } });
        return new FetchHttpClient().request(req);
      },
    };
    const r = await testCredential(w.deps({ http: renewing }), 'cfa-paris', 'opco-atlas');
    expect(r).toMatchObject({ status: 'ok', expires_at: '2027-05-31T22:00:00.000Z' });
    expect(r.expiry_updated).toBeUndefined();
    expect((await w.store.tags(name))?.['sesame:expires-at']).toBe('2027-09-30T00:00:00.000Z');
    // The result concerns the version checked, which is no longer the current one.
    expect(lastCheckFromTags((await w.store.tags(name)) ?? {}, (await w.store.get(name))?.version)?.stale).toBe(true);
  });

  it('writes nothing when asked not to record', async () => {
    const name = 'sesame/cfa-paris/chorus-piste-old';
    const before = await w.store.tags(name);
    w.clock.advance(1000);
    const r = await testCredential(w.deps(), 'cfa-paris', 'chorus-piste-old', { record: false });
    expect(r.status).toBe('failed');
    expect(await w.store.tags(name)).toEqual(before);
  });

  it.each([
    ['a tenant that does not exist', 'cfa-nowhere', 'opco-atlas', 'unknown_tenant'],
    ['a credential the tenant does not have', 'cfa-paris', 'opco-ocapiat', 'unknown_credential'],
    ['a credential of a kind that cannot be checked, which the tenant does not have', 'cfa-paris', 'cegid-cfe-2', 'unknown_credential'],
    ['a malformed credential id', 'cfa-paris', 'Not An Id', 'invalid_request'],
  ])('refuses %s', async (_what, tenant, credential, code) => {
    await expect(testCredential(w.deps(), tenant, credential)).rejects.toMatchObject({ code });
  });
});

describe('tag values and subjects', () => {
  it('keeps only what Secrets Manager accepts in a tag value, within 256 characters', () => {
    expect(tagValue("L'Opcommerce refused the key (401 invalid_client); see https://x.example/a?b=c")).toBe('L Opcommerce refused the key 401 invalid_client see https://x.example/a b=c');
    expect(tagValue('é'.repeat(300))).toHaveLength(256);
    expect(tagValue('()')).toBe('none');
  });

  it('writes subjects of at most 100 ASCII characters that end with what happened', () => {
    const long = 'centre-de-formation-des-apprentis-de-la-region-auvergne-rhone-alp';
    const cases: [string, string][] = [['cfa-paris', 'opco-sante'], [long, 'opco-sante-etablissement-secondaire-de-lyon-part-dieu-batiment-b'], [long, 'fla']];
    for (const [tenant, credential] of cases) {
      for (const type of ['failing', 'reminder', 'recovered'] as const) {
        const s = healthSubject({ platform: platformOf(credential.startsWith('fla') ? 'fla' : 'opco-sante'), tenant, credential, type });
        expect(s.length).toBeLessThanOrEqual(100);
        expect(s).toMatch(/^[\x20-\x7e]+$/);
        expect(s.endsWith(type === 'recovered' ? 'works again' : 'fails its health check')).toBe(true);
      }
    }
    expect(healthSubject({ platform: platformOf('opco-sante'), tenant: 'cfa-paris', credential: 'opco-sante', type: 'failing' })).toBe('[Sesame] OPCO Sante credential cfa-paris/opco-sante fails its health check');
  });

  it('says nothing for a credential that was never checked', () => {
    expect(lastCheckFromTags({ 'sesame:kind': 'fla' })).toBeNull();
  });
});

describe('when a check alerts', () => {
  const now = new Date('2026-06-10T04:00:00Z');
  const failedBefore = { [HEALTH_TAG.status]: 'failed', [HEALTH_TAG.code]: 'upstream_unavailable' };
  it.each([
    ['a first refusal', {}, { status: 'failed', code: 'upstream_rejected' }, 'failing'],
    ['a first time the platform does not answer', {}, { status: 'failed', code: 'upstream_unavailable' }, undefined],
    ['a second check in a row that does not answer', failedBefore, { status: 'failed', code: 'upstream_unavailable' }, 'failing'],
    ['a refusal already alerted yesterday', { [HEALTH_TAG.alert]: 'failed', [HEALTH_TAG.alertedAt]: '2026-06-09T04:00:00Z' }, { status: 'failed', code: 'upstream_rejected' }, undefined],
    ['a refusal alerted 7 days ago', { [HEALTH_TAG.alert]: 'failed', [HEALTH_TAG.alertedAt]: '2026-06-03T04:00:00Z' }, { status: 'failed', code: 'upstream_rejected' }, 'reminder'],
    ['a success after an alert', { [HEALTH_TAG.alert]: 'failed', [HEALTH_TAG.alertedAt]: '2026-06-09T04:00:00Z' }, { status: 'ok' }, 'recovered'],
    ['a success after a recovery', { [HEALTH_TAG.alert]: 'recovered' }, { status: 'ok' }, undefined],
    ['a credential that cannot be checked', {}, { status: 'not_testable' }, undefined],
    ['a refusal of a credential past its end (the expiry watch says it)', { 'sesame:expires-at': '2026-06-01T00:00:00.000Z' }, { status: 'failed', code: 'upstream_rejected' }, undefined],
  ] as const)('%s: %s', (_what, before, result, type) => {
    expect(healthAlertDue(before, result, now)?.type).toBe(type);
  });

  it('sends no reminder when reminders are off', () => {
    expect(healthAlertDue({ [HEALTH_TAG.alert]: 'failed', [HEALTH_TAG.alertedAt]: '2026-01-01T00:00:00Z' }, { status: 'failed', code: 'upstream_rejected' }, now, 0)).toBeUndefined();
  });
});

describe('the scheduled health check', () => {
  let w: World;
  let store: ReadCountingStore;
  const check = (dryRun = false) => runHealthCheck(w.deps(), { dryRun });
  const tagsOf = async (credential: string) => (await store.tags(`sesame/cfa-paris/${credential}`)) ?? {};
  const subjects = () => w.notifier.sent.map((n) => n.subject);

  beforeEach(async () => {
    // 06:00 in Paris, after the expiry check.
    store = new ReadCountingStore();
    w = await world(new ManualClock(Date.parse('2026-06-01T04:00:00Z')), store);
    opco.script([{ status: 200, body: { dateFinValidite: '2027-05-31' } }]);
    piste.script([{ status: 200, body: tokenBody('t-1', 3600) }]);
    const set = (credential: string, fields: Record<string, unknown>) => w.system.credentials.set({ tenant: 'cfa-paris', credential, fields });
    await set('opco-atlas', { cfa_key: secrets.cfaKey, expires_at: '2027-05-31', base_url: opcoBase });
    await set('chorus-piste', { client_id: 'piste-client', client_secret: secrets.pisteSecret, account_login: 'TECH', account_password: secrets.password, token_endpoint: piste.url });
    await set('cegid-cfe', { api_key_id: 'kid', api_key_secret: secrets.cegid });
  });

  it('checks every credential that can be checked and counts each one once', async () => {
    const s = await check();
    expect(s).toMatchObject({ dry_run: false, checked: 3, ok: 2, failed: 0, not_testable: 1, errors: 0, hosts: 2, alerts: [], failing: [] });
    expect((await tagsOf('opco-atlas'))[HEALTH_TAG.status]).toBe('ok');
    expect((await tagsOf('chorus-piste'))[HEALTH_TAG.status]).toBe('ok');
    expect((await tagsOf('cegid-cfe'))[HEALTH_TAG.status]).toBe('not_testable');
  });

  it('alerts once when a credential starts failing, not while it keeps failing, a reminder a week later, and once when it recovers', async () => {
    const days: Record<string, string[]> = {};
    const run = async (day: number) => {
      w.notifier.sent.length = 0;
      await check();
      days[day] = subjects();
      w.clock.advance(DAY);
    };
    await run(0);
    piste.script([{ status: 401, body: { error: 'invalid_client' } }]);
    for (let day = 1; day <= 8; day++) await run(day);
    piste.script([{ status: 200, body: tokenBody('t-2', 3600) }]);
    await run(9);
    await run(10);
    expect(days).toEqual({
      0: [],
      1: ['[Sesame] Chorus PISTE credential cfa-paris/chorus-piste fails its health check'],
      2: [], 3: [], 4: [], 5: [], 6: [], 7: [],
      8: ['[Sesame] Chorus PISTE credential cfa-paris/chorus-piste still fails its health check'],
      9: ['[Sesame] Chorus PISTE credential cfa-paris/chorus-piste works again'],
      10: [],
    });
  });

  it('sends the failure alert in French then English, as a warning for the tenant, with the reason and the renewal steps', async () => {
    await check();
    piste.script([{ status: 401, body: { error: 'invalid_client' } }]);
    w.clock.advance(DAY);
    const s = await check();
    expect(s.failing).toEqual([expect.objectContaining({ tenant: 'cfa-paris', credential: 'chorus-piste', kind: 'chorus-piste', code: 'upstream_rejected' })]);
    const [n] = w.notifier.sent;
    expect(n?.attributes).toEqual({ tenant: 'cfa-paris', kind: 'chorus-piste', severity: 'warning' });
    const message = n?.message ?? '';
    expect(message.indexOf('Client : cfa-paris (CFA Paris)')).toBeLessThan(message.indexOf('Client: cfa-paris (CFA Paris)'));
    expect(message).toContain('La plateforme a refusé ces identifiants (401 invalid_client).');
    expect(message).toContain('The platform refused these credentials (401 invalid_client).');
    expect(message).toContain('Change the technical account password');
    expect((await tagsOf('chorus-piste'))[HEALTH_TAG.alert]).toBe('failed');

    piste.script([{ status: 200, body: tokenBody('t-3', 3600) }]);
    w.clock.advance(DAY);
    w.notifier.sent.length = 0;
    await check();
    expect(w.notifier.sent.map((x) => x.attributes.severity)).toEqual(['info']);
    expect((await tagsOf('chorus-piste'))[HEALTH_TAG.alert]).toBe('recovered');
  });

  it('alerts for a platform that does not answer only at the second check in a row', async () => {
    piste.script([{ status: 503 }]);
    await check();
    expect(w.notifier.sent).toEqual([]);
    expect((await tagsOf('chorus-piste'))[HEALTH_TAG.code]).toBe('upstream_unavailable');
    w.clock.advance(DAY);
    await check();
    expect(subjects()).toEqual(['[Sesame] Chorus PISTE credential cfa-paris/chorus-piste fails its health check']);
    expect(w.notifier.sent[0]?.message).toContain('The platform has not answered for at least two checks.');
  });

  it('never alerts for a credential that cannot be checked, and never decrypts it', async () => {
    store.reads.length = 0;
    for (let day = 0; day < 3; day++) {
      await check();
      w.clock.advance(DAY);
    }
    expect(w.notifier.sent).toEqual([]);
    expect(store.reads.filter((n) => n.endsWith('/cegid-cfe'))).toEqual([]);
    // Tagged once: its answer does not change from day to day.
    expect((await tagsOf('cegid-cfe'))[HEALTH_TAG.at]).toBe('2026-06-01T04:00:00.000Z');
  });

  it('corrects an OPCO end date the platform answers differently', async () => {
    opco.script([{ status: 200, body: { dateFinValidite: '2027-08-31' } }]);
    const s = await check();
    expect(s.expiry_updated).toBe(1);
    expect((await tagsOf('opco-atlas'))['sesame:expires-at']).toBe('2027-08-31T22:00:00.000Z');
  });

  it('in a dry run, checks and says what it would send, but publishes and records nothing', async () => {
    await check();
    piste.script([{ status: 401, body: { error: 'invalid_client' } }]);
    w.clock.advance(DAY);
    const before = await tagsOf('chorus-piste');
    const s = await check(true);
    expect(s).toMatchObject({ dry_run: true, failed: 1, alerts: [expect.objectContaining({ credential: 'chorus-piste', type: 'failing', severity: 'warning' })] });
    expect(w.notifier.sent).toEqual([]);
    expect(await tagsOf('chorus-piste')).toEqual(before);
  });

  it('refuses to run for real without a notifier', async () => {
    await expect(runHealthCheck(w.deps({ notifier: undefined }))).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await runHealthCheck(w.deps({ notifier: undefined }), { dryRun: true })).checked).toBe(3);
  });

  it('names a credential it could not read, and checks the others', async () => {
    // A placeholder (no body yet): not testable. A secret that holds another credential: an error, named.
    await store.put('sesame/cfa-paris/fla-employer', { not: 'a credential' }, { 'sesame:kind': 'fla' });
    await store.put('sesame/cfa-paris/opco-akto', { tenant: 'cfa-paris', credential: 'opco-atlas', kind: 'opco-atlas', environment: 'production', fields: {}, updated_at: '2026-01-01' }, { 'sesame:kind': 'opco-akto' });
    const s = await check();
    expect(s).toMatchObject({ checked: 5, ok: 2, not_testable: 2, errors: 1 });
    expect(s.failures).toEqual([expect.objectContaining({ secret: 'sesame/cfa-paris/opco-akto', code: 'store_corrupt' })]);
  });

  it('never puts a secret in an alert, a log line, a tag or the summary', async () => {
    await check();
    piste.script([{ status: 401, body: { error: 'invalid_client' } }]);
    opco.script([{ status: 403, body: { message: 'bad key' } }]);
    w.clock.advance(DAY);
    const s = await check();
    expect(w.notifier.sent).toHaveLength(2);
    piste.script([{ status: 200, body: tokenBody('t-4', 3600) }]);
    opco.script([{ status: 200, body: { dateFinValidite: '2027-05-31' } }]);
    w.clock.advance(DAY);
    await check();
    expect(w.notifier.sent).toHaveLength(4);
    const tags = await Promise.all(['opco-atlas', 'chorus-piste', 'cegid-cfe'].map(tagsOf));
    const everything = JSON.stringify([w.notifier.sent, w.log.lines, tags, s]);
    for (const secret of secretTexts()) expect(everything).not.toContain(secret);
    expect(everything).not.toContain(Buffer.from(`TECH:${secrets.password}`).toString('base64'));
  });
});

/**
 * Loopback upstreams that log when a request arrives and when it is answered. With a
 * barrier, each holds its answer until `need` requests arrived across them (or 2 s
 * passed, logged as `alone`): requests that were in flight together all arrive first.
 */
async function upstreams(names: string[], events: string[], need: number): Promise<{ urls: Record<string, string>; close: () => Promise<void> }> {
  let arrived = 0;
  const waiting: (() => void)[] = [];
  const servers: Server[] = [];
  const urls: Record<string, string> = {};
  for (const name of names) {
    const server = createServer((req, res) => {
      const label = `${name}${new URL(req.url ?? '/', 'http://x').pathname.replace('/v2/cfakeyinfo', '')}`;
      events.push(`arrive ${label}`);
      arrived += 1;
      const answer = () => {
        events.push(`answer ${label}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ dateFinValidite: '2027-05-31' }));
      };
      if (arrived >= need) {
        for (const w of waiting.splice(0)) w();
        answer();
        return;
      }
      const timer = setTimeout(() => {
        events.push(`alone ${label}`);
        answer();
      }, 2_000);
      waiting.push(() => {
        clearTimeout(timer);
        answer();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    urls[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  return {
    urls,
    close: async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}

describe('spreading the checks over upstream hosts', () => {
  let w: World;
  let events: string[];
  let close: () => Promise<void>;
  const sleep = async (ms: number) => {
    events.push(`sleep ${ms}`);
  };
  const opcoAt = (credential: string, base: string) => w.system.credentials.set({ tenant: 'cfa-paris', credential, fields: { cfa_key: `${secrets.cfaKey}-${credential}`, base_url: base } });

  beforeEach(async () => {
    events = [];
    w = await world(new ManualClock(Date.parse('2026-06-01T04:00:00Z')), new MemorySecretStore());
  });
  afterAll(async () => close?.());

  it('calls one host one credential after the other, with the gap between them', async () => {
    const up = await upstreams(['a'], events, 1);
    close = up.close;
    await opcoAt('opco-atlas', `${up.urls.a}/atlas`);
    await opcoAt('opco-akto', `${up.urls.a}/akto`);
    const s = await runHealthCheck(w.deps({ sleep, hostGapMs: 500, concurrency: 4 }));
    expect(s).toMatchObject({ ok: 2, hosts: 1 });
    expect(events).toEqual(['arrive a/akto', 'answer a/akto', 'sleep 500', 'arrive a/atlas', 'answer a/atlas']);
    await up.close();
  });

  it('calls different hosts at the same time', async () => {
    const up = await upstreams(['a', 'b'], events, 2);
    close = up.close;
    await opcoAt('opco-atlas', `${up.urls.a}/atlas`);
    await opcoAt('opco-akto', `${up.urls.b}/akto`);
    const s = await runHealthCheck(w.deps({ sleep, hostGapMs: 500, concurrency: 4 }));
    expect(s).toMatchObject({ ok: 2, hosts: 2 });
    expect(events.slice(0, 2).sort()).toEqual(['arrive a/atlas', 'arrive b/akto']);
    expect(events.filter((e) => e.startsWith('alone') || e.startsWith('sleep'))).toEqual([]);
    await up.close();
  });

  it('checks no more hosts at once than its concurrency, the busiest host first', async () => {
    const up = await upstreams(['a', 'b'], events, 1);
    close = up.close;
    await opcoAt('opco-atlas', `${up.urls.a}/atlas`);
    await opcoAt('opco-akto', `${up.urls.b}/akto`);
    await opcoAt('opco-afdas', `${up.urls.b}/afdas`);
    await runHealthCheck(w.deps({ sleep, hostGapMs: 250, concurrency: 1 }));
    expect(events).toEqual(['arrive b/afdas', 'answer b/afdas', 'sleep 250', 'arrive b/akto', 'answer b/akto', 'arrive a/atlas', 'answer a/atlas']);
    await up.close();
  });
});

describe('the health check settings', () => {
  it('reads the gap, the concurrency, the reminders and the switch from the environment, with defaults', () => {
    expect(readHealthConfig({})).toEqual({ enabled: true, hostGapMs: 500, concurrency: 4, reminderDays: 7 });
    expect(readHealthConfig({ SESAME_HEALTH_CHECK: 'off', SESAME_HEALTH_HOST_GAP_MS: '0', SESAME_HEALTH_CONCURRENCY: '8', SESAME_HEALTH_REMINDER_DAYS: '0' })).toEqual({ enabled: false, hostGapMs: 0, concurrency: 8, reminderDays: 0 });
  });

  it.each([
    [{ SESAME_HEALTH_CHECK: 'maybe' }, 'SESAME_HEALTH_CHECK must be on or off'],
    [{ SESAME_HEALTH_HOST_GAP_MS: '-1' }, 'SESAME_HEALTH_HOST_GAP_MS must be a whole number from 0 to 60000'],
    [{ SESAME_HEALTH_CONCURRENCY: '0' }, 'SESAME_HEALTH_CONCURRENCY must be a whole number from 1 to 64'],
    [{ SESAME_HEALTH_REMINDER_DAYS: '1.5' }, 'SESAME_HEALTH_REMINDER_DAYS must be a whole number from 0 to 365'],
  ])('refuses %j', (env, words) => {
    expect(() => readHealthConfig(env)).toThrow(words);
  });
});
