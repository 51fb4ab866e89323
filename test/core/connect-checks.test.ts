import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FetchHttpClient } from '../../functions/adapters/fetch-http-client.ts';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { storedPage } from '../../functions/connect/page.ts';
import { linkHash } from '../../functions/core/connect.ts';
import { parseEndOfValidity } from '../../functions/core/platforms/fields.ts';
import { platformOf } from '../../functions/core/platforms/index.ts';
import { probeCredential } from '../../functions/core/probe.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-token-server.ts';

/**
 * What a connect link checks before storing, and what an operator may set on it: an
 * OPCO's key-information endpoint (a loopback server answering as the OPCO would), the
 * end date a client types, non-secret settings, a new credential's environment, and one
 * open link per credential.
 */
const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
const RETRY = { timeoutMs: 2_000, attempts: 1, minDelayMs: 1, maxDelayMs: 2 };
let home: string;
let log: MemoryLog;
let system: System;
let state: LocalStateStore;
let opco: ScriptedServer;
let base: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-connect-checks-'));
  log = new MemoryLog();
  state = new LocalStateStore(home, clock);
  opco = await startScriptedServer();
  base = opco.url.replace(/\/token$/, '/convergence');
  system = buildSystem({
    store: new LocalSecretStore(home, randomBytes(32), clock),
    state,
    log,
    clock,
    version: 'test',
    broker: { retry: RETRY },
    publicUrl: 'https://sesame.example',
    integrator: { name: 'LFSA', editeur: 'LFSA', logiciel: 'Formatio', version: '4.2' },
  });
  // A valid SIREN (Luhn) and its SIRET.
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris', siret: '73282932000074' });
  await system.tenants.put({ id: 'cfa-nosiren', name: 'CFA sans SIREN' });
});
afterAll(async () => {
  await opco.close();
  await rm(home, { recursive: true, force: true });
});
beforeEach(() => {
  opco.requests.length = 0;
});

const connect = () => system.connect as NonNullable<System['connect']>;
const tokenOf = (url: string) => url.split('/connect/')[1] as string;
const fieldsOf = async (tenant: string, credential: string) => (await system.credentials.get(tenant, credential)).fields as Record<string, unknown>;

describe('the end of validity an OPCO answers', () => {
  it.each([
    ['a day', '2027-03-31', '2027-03-31T22:00:00.000Z'],
    ['a French day', '31/03/2027', '2027-03-31T22:00:00.000Z'],
    ['a timestamp', '2027-03-31T12:30:00Z', '2027-03-31T12:30:00.000Z'],
    ['a timestamp with an offset', '2027-03-31T23:59:59+02:00', '2027-03-31T21:59:59.000Z'],
  ])('reads %s (%s)', (_what, value, iso) => {
    expect(parseEndOfValidity(value)?.toISOString()).toBe(iso);
  });

  it.each([['not a date', 'bientôt'], ['an impossible day', '2027-02-30'], ['a number', 20270331], ['nothing', undefined], ['a local time without zone', '2027-03-31T12:00:00']])(
    'refuses %s',
    (_what, value) => {
      expect(parseEndOfValidity(value)).toBeUndefined();
    },
  );
});

describe("an OPCO's key-information check", () => {
  const probe = (fields: Record<string, unknown>, ids: { siren?: string; siret?: string } = { siren: '732829320' }) =>
    probeCredential(platformOf('opco-akto'), fields, { tenant: 'cfa-paris', credential: 'opco-akto', environment: 'production', clock, http: new FetchHttpClient(), retry: RETRY, tenantIds: ids }, log);

  it('asks GET <base_url>/v2/cfakeyinfo?siren=… with the key and the integrator headers, and learns the end of validity', async () => {
    opco.script([{ status: 200, body: { siren: '732829320', dateFinValidite: '2027-05-31' } }]);
    const r = await probe({ cfa_key: 'k-123', editeur: 'LFSA', logiciel: 'Formatio', version: '4.2', base_url: `${base}/` });
    expect(r).toMatchObject({ status: 'ok', expires_at: '2027-05-31T22:00:00.000Z', checked_at: '2026-11-22T08:00:00.000Z' });
    expect(opco.requests).toHaveLength(1);
    expect(opco.requests[0]).toMatchObject({ method: 'GET', url: '/convergence/v2/cfakeyinfo?siren=732829320' });
    expect(opco.requests[0]?.headers).toMatchObject({ 'x-api-key': 'k-123', editeur: 'LFSA', logiciel: 'Formatio', version: '4.2' });
  });

  it('finds the date inside a list or a wrapper, and takes the SIREN from the SIRET', async () => {
    opco.script([{ status: 200, body: { data: [{ cle: { dateFinValidite: '30/06/2027' } }] } }]);
    expect(await probe({ cfa_key: 'k', base_url: base }, { siret: '73282932000074' })).toMatchObject({ status: 'ok', expires_at: '2027-06-30T22:00:00.000Z' });
    expect(opco.requests[0]?.url).toBe('/convergence/v2/cfakeyinfo?siren=732829320');
  });

  it.each([
    ['a 401', { status: 401 }, { status: 'failed', code: 'upstream_rejected', upstream_status: 401 }],
    ['a 403', { status: 403 }, { status: 'failed', code: 'upstream_rejected', upstream_status: 403 }],
    ['a 400', { status: 400 }, { status: 'failed', code: 'upstream_rejected', upstream_status: 400 }],
    ['a 503', { status: 503 }, { status: 'failed', code: 'upstream_unavailable', upstream_status: 503 }],
    ['a 429', { status: 429 }, { status: 'failed', code: 'upstream_unavailable', upstream_status: 429 }],
    ['a 404 (no such endpoint at this OPCO)', { status: 404 }, { status: 'not_testable' }],
    ['a 200 without a date', { status: 200, body: { siren: '732829320' } }, { status: 'ok' }],
    ['a 200 that is not JSON', { status: 200, body: '<html>ok</html>' }, { status: 'ok' }],
    ['a 200 whose end of validity has passed', { status: 200, body: { dateFinValidite: '2026-01-01' } }, { status: 'failed', code: 'upstream_rejected', upstream_error: 'key_expired' }],
    ['a 200 with an end far beyond any key\'s life', { status: 200, body: { dateFinValidite: '9999-12-31' } }, { status: 'ok' }],
  ])('answers %s as %j', async (_what, step, expected) => {
    opco.script([step]);
    const r = await probe({ cfa_key: 'k', base_url: base });
    expect(r).toMatchObject(expected);
    if (r.status === 'ok') expect(r.expires_at).toBeUndefined();
  });

  it('says plainly why a key cannot be checked without a base URL or a SIREN, and calls nothing', async () => {
    const noBase = await probe({ cfa_key: 'k' });
    expect(noBase).toMatchObject({ status: 'not_testable', reason: { en: expect.stringContaining('base_url') } });
    const noSiren = await probe({ cfa_key: 'k', base_url: base }, {});
    expect(noSiren).toMatchObject({ status: 'not_testable', reason: { en: expect.stringContaining('SIREN') } });
    expect(opco.requests).toHaveLength(0);
  });

  it('an unreachable OPCO is unavailable, not refused', async () => {
    opco.script([{ destroy: true }]);
    expect(await probe({ cfa_key: 'k', base_url: base })).toMatchObject({ status: 'failed', code: 'upstream_unavailable' });
  });
});

describe('a connect link that checks an OPCO key before storing it', () => {
  it('stores the key with the end of validity the OPCO gives, and says so on the confirmation', async () => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'opco-akto', createdBy: 'cli', settings: { base_url: base } });
    opco.script([{ status: 200, body: { dateFinValidite: '2027-08-31' } }]);
    const key = `akto-${randomBytes(8).toString('hex')}`;
    const r = await connect().submit(tokenOf(link.url), { fields: { cfa_key: key, expires_at: '2027-12-31' } });
    expect(r).toMatchObject({ status: 'stored', checked: true, check: { status: 'ok', expires_at: '2027-08-31T22:00:00.000Z' } });
    // The OPCO's date wins over the one typed; the setting and the integrator headers are stored with the key.
    expect(await fieldsOf('cfa-paris', 'opco-akto')).toMatchObject({ cfa_key: key, expires_at: '2027-08-31T22:00:00.000Z', base_url: base, editeur: 'LFSA' });
    if (r.status !== 'stored') throw new Error('not stored');
    const page = storedPage(r.view, 'en', r.check);
    expect(page).toContain('AKTO recognises the key.');
    expect(page).toContain('valid until 31 August 2027');
    expect(page).not.toContain(key);
  });

  it('refuses a key the OPCO refuses, stores nothing, and leaves the link usable', async () => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'opco-opcoep', createdBy: 'cli', settings: { base_url: base } });
    opco.script([{ status: 401 }]);
    const r = await connect().submit(tokenOf(link.url), { fields: { cfa_key: 'wrong' } });
    expect(r).toMatchObject({ status: 'check_failed', message: { en: expect.stringContaining('refused these credentials (401)') } });
    expect(await system.credentials.findForUpdate('cfa-paris', 'opco-opcoep')).toBeUndefined();
    opco.script([{ status: 200, body: { dateFinValidite: '2027-08-31' } }]);
    expect(await connect().submit(tokenOf(link.url), { fields: { cfa_key: 'right' } })).toMatchObject({ status: 'stored', checked: true });
  });

  it('without a base URL, stores the date the client typed (the end of that day in Paris) and says the key was not checked', async () => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'opco-sante', createdBy: 'op' });
    const view = await connect().view(tokenOf(link.url));
    expect(view?.fields.map((f) => [f.name, f.type, f.optional ?? false])).toEqual([
      ['cfa_key', 'secret', false],
      ['expires_at', 'date', true],
    ]);
    const r = await connect().submit(tokenOf(link.url), { fields: { cfa_key: 'k', expires_at: '2027-04-30' } });
    expect(r).toMatchObject({ status: 'stored', checked: false, check: { status: 'not_testable' } });
    expect(await fieldsOf('cfa-paris', 'opco-sante')).toMatchObject({ expires_at: '2027-04-30T22:00:00.000Z' });
    if (r.status === 'stored') expect(storedPage(r.view, 'fr', r.check)).toContain('n’ont pas pu être vérifiés');
    expect(opco.requests).toHaveLength(0);
  });

  it.each([
    ['not a date', '31 avril', 'must be a date'],
    ['an impossible day', '2027-02-30', 'must be a date'],
    ['a day already past', '2026-11-21', 'in the past'],
  ])('refuses an end date that is %s', async (_what, value, message) => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'opco-uniformation', createdBy: 'op' });
    const r = await connect().submit(tokenOf(link.url), { fields: { cfa_key: 'k', expires_at: value } });
    expect(r).toMatchObject({ status: 'invalid', message: { en: expect.stringContaining(message) } });
  });
});

describe("an operator's settings and a new credential's environment", () => {
  it.each([
    ['a secret field', 'chorus-piste', { client_secret: 's' }, 'settings'],
    ['a field the platform does not let an operator set', 'opco-atlas', { cfa_key: 'k' }, 'settings'],
    ['an unknown field', 'opco-atlas', { colour: 'blue' }, 'settings'],
    ['a base URL that is not https', 'opco-atlas', { base_url: 'http://api.example' }, 'settings.base_url'],
    ['where secrets are sent, from an operator (not the CLI)', 'opco-atlas', { base_url: 'https://api.example' }, 'settings'],
    ['a token endpoint, from an operator (not the CLI)', 'fla', { token_endpoint: 'https://evil.example/token' }, 'settings'],
    ['a capacity FLA does not know', 'fla', { quality: 'king' }, 'settings.quality'],
  ])('refuses %s, before any link is made', async (_what, credential, settings, field) => {
    await expect(connect().create({ tenant: 'cfa-paris', credential, createdBy: 'op', settings })).rejects.toMatchObject({ code: 'invalid_request', details: { field } });
  });

  it('refuses a setting for a field the client is asked on the same link', async () => {
    await expect(connect().create({ tenant: 'cfa-paris', credential: 'chorus-piste', fields: ['client_id', 'client_secret'], settings: { client_id: 'c' }, createdBy: 'op' })).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('client_id'),
    });
  });

  it.each([
    ['an environment the platform lacks', 'chorus-piste', 'acceptance'],
    ['no environment at all', 'fla', 'staging'],
  ])('refuses %s', async (_what, credential, environment) => {
    await expect(connect().create({ tenant: 'cfa-paris', credential, environment, createdBy: 'op' })).rejects.toMatchObject({ code: 'invalid_request', details: { field: 'environment' } });
  });

  it('makes a new PISTE credential in sandbox, with the client id the operator set, checked against the sandbox token endpoint given', async () => {
    const piste = await startScriptedServer([{ status: 200, body: { access_token: 'at', token_type: 'Bearer', expires_in: 3600 } }]);
    try {
      const link = await connect().create({
        tenant: 'cfa-paris',
        credential: 'chorus-piste-sbx',
        fields: ['client_secret', 'account_login', 'account_password'],
        environment: 'sandbox',
        settings: { client_id: 'piste-app', token_endpoint: piste.url },
        createdBy: 'cli',
      });
      expect((await connect().view(tokenOf(link.url)))?.environment).toBe('sandbox');
      const r = await connect().submit(tokenOf(link.url), { fields: { client_secret: 'cs', account_login: 'TECH', account_password: 'pw' } });
      expect(r).toMatchObject({ status: 'stored', checked: true });
      expect(piste.requests[0]?.form.get('client_id')).toBe('piste-app');
      const cred = await system.credentials.get('cfa-paris', 'chorus-piste-sbx');
      expect(cred.environment).toBe('sandbox');
      expect(cred.fields).toMatchObject({ client_id: 'piste-app', token_endpoint: piste.url, account_login: 'TECH' });
    } finally {
      await piste.close();
    }
  });

  it('never lets a link send a stored credential\'s secrets elsewhere, even from the CLI', async () => {
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-piste-kept', environment: 'sandbox', fields: { client_id: 'c', client_secret: 'stored-secret', account_login: 'l', account_password: 'p', token_endpoint: 'https://sandbox-oauth.piste.gouv.fr/api/oauth/token' } });
    await expect(
      connect().create({ tenant: 'cfa-paris', credential: 'chorus-piste-kept', fields: ['account_password'], settings: { token_endpoint: 'https://evil.example/token' }, createdBy: 'cli' }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('cannot change it') });
    // The same value, said again, changes nothing and is accepted.
    await expect(connect().create({ tenant: 'cfa-paris', credential: 'chorus-piste-kept', settings: { token_endpoint: 'https://sandbox-oauth.piste.gouv.fr/api/oauth/token' }, createdBy: 'cli' })).resolves.toMatchObject({ kind: 'chorus-piste' });
  });

  it('refuses to move an existing credential to another environment', async () => {
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-piste', environment: 'production', fields: { client_id: 'c', client_secret: 's', account_login: 'l', account_password: 'p' } });
    await expect(connect().create({ tenant: 'cfa-paris', credential: 'chorus-piste', environment: 'sandbox', createdBy: 'op' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('is in production') });
    // The same environment, said again, is fine.
    await expect(connect().create({ tenant: 'cfa-paris', credential: 'chorus-piste', environment: 'production', createdBy: 'op' })).resolves.toMatchObject({ kind: 'chorus-piste' });
  });

  it('does not ask the FLA capacity when the operator set it', async () => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'fla-training', environment: 'acceptance', settings: { quality: 'training-provider' }, createdBy: 'op' });
    const view = await connect().view(tokenOf(link.url));
    expect(view?.environment).toBe('acceptance');
    expect(view?.fields.map((f) => f.name)).toEqual(['client_id']);
  });
});

describe('one open link per credential', () => {
  it('a new link replaces the earlier open one, which then answers like an unknown link, and destroys its FLA key pair', async () => {
    const first = await connect().create({ tenant: 'cfa-nosiren', credential: 'fla', environment: 'acceptance', settings: { quality: 'employer' }, createdBy: 'op' });
    const firstHash = linkHash(tokenOf(first.url));
    expect((await connect().view(tokenOf(first.url)))?.fla).toBeDefined();
    expect(await system.store.get(`sesame-connect/${firstHash}`)).toMatchObject({ value: { private_key: expect.any(String) } });

    const second = await connect().create({ tenant: 'cfa-nosiren', credential: 'fla', createdBy: 'op' });
    expect(await connect().view(tokenOf(first.url))).toBeUndefined();
    expect(await connect().submit(tokenOf(first.url), { fields: { client_id: 'x' } })).toEqual({ status: 'gone' });
    expect((await state.get(`link#${firstHash}`, 'link'))?.data).toMatchObject({ status: 'replaced', replaced_at: '2026-11-22T08:00:00.000Z' });
    expect(await system.store.get(`sesame-connect/${firstHash}`)).toBeUndefined();
    expect(await connect().view(tokenOf(second.url))).toBeDefined();
    expect(log.lines.join('\n')).toContain(`"replaced":"${firstHash.slice(0, 12)}"`);
  });

  it('links of other credentials stay open', async () => {
    const a = await connect().create({ tenant: 'cfa-nosiren', credential: 'opco-atlas', createdBy: 'op' });
    await connect().create({ tenant: 'cfa-nosiren', credential: 'opco-akto', createdBy: 'op' });
    await connect().create({ tenant: 'cfa-paris', credential: 'opco-atlas', createdBy: 'op' });
    expect(await connect().view(tokenOf(a.url))).toBeDefined();
  });

  it('a used link is not touched by a newer one', async () => {
    const a = await connect().create({ tenant: 'cfa-nosiren', credential: 'cegid-cfe', createdBy: 'op' });
    expect(await connect().submit(tokenOf(a.url), { fields: { api_key_id: 'id', api_key_secret: 'secret' } })).toMatchObject({ status: 'stored' });
    await connect().create({ tenant: 'cfa-nosiren', credential: 'cegid-cfe', createdBy: 'op' });
    expect((await state.get(`link#${linkHash(tokenOf(a.url))}`, 'link'))?.data).toMatchObject({ status: 'used' });
  });
});

describe('pending FLA key pairs of links no longer usable', () => {
  it('are destroyed by the sweep the expiry run makes, and those of open links kept', async () => {
    const open = await connect().create({ tenant: 'cfa-paris', credential: 'fla-sweep-open', environment: 'acceptance', settings: { quality: 'employer' }, createdBy: 'op' });
    const lapsing = await connect().create({ tenant: 'cfa-paris', credential: 'fla-sweep-lapsing', environment: 'acceptance', settings: { quality: 'employer' }, createdBy: 'op', valid: '1h' });
    await connect().view(tokenOf(open.url));
    await connect().view(tokenOf(lapsing.url));
    const name = (url: string) => `sesame-connect/${linkHash(tokenOf(url))}`;
    expect(await system.store.get(name(lapsing.url))).toMatchObject({ value: { private_key: expect.any(String) } });
    clock.advance(2 * 3600_000);
    const swept = await connect().sweepPendingKeys();
    expect(swept.removed).toBeGreaterThanOrEqual(1);
    expect(await system.store.get(name(lapsing.url))).toBeUndefined();
    expect(await system.store.get(name(open.url))).toMatchObject({ value: { private_key: expect.any(String) } });
    expect((await connect().sweepPendingKeys()).removed).toBe(0);
  });
});

describe('what an upstream says in its error', () => {
  it.each([
    ['a standard OAuth code, repeated', { error: 'invalid_client' }, 'invalid_client'],
    ['anything else, never repeated (an endpoint could echo what it was sent)', { error: 'piste-secret-echoed-back' }, 'unrecognised_error'],
  ])('%s', async (_what, body, expected) => {
    const { fetchToken } = await import('../../functions/core/oauth.ts');
    opco.script([{ status: 401, body }]);
    const material = { type: 'oauth' as const, tokenEndpoint: opco.url, baseUrl: null, form: async () => ({ grant_type: 'client_credentials' }), headers: () => ({}) };
    await expect(fetchToken(new FetchHttpClient(), material, RETRY)).rejects.toMatchObject({ code: 'upstream_rejected', details: { upstream_error: expected } });
  });
});
