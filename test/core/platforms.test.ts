import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { System } from '../../functions/adapters/system.ts';
import { REDACTED } from '../../functions/core/credentials.ts';
import { platformOf } from '../../functions/core/platforms/index.ts';
import { ManualClock } from '../helpers/clock.ts';
import { selfSigned } from '../helpers/certs.ts';
import { keyPair } from '../helpers/keys.ts';
import { tempSystem } from '../helpers/system.ts';

const clock = new ManualClock(Date.parse('2026-06-01T08:00:00Z'));
let system: System;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ system, cleanup } = await tempSystem({ clock }));
  await system.tenants.put({ id: 'acme', name: 'ACME', alert_emails: ['ops@acme.example'] });
});
afterAll(() => cleanup());

const rsa = keyPair('rsa2048');
const fla = { client_id: 'self_service_chaman_1', private_key: rsa.pem, quality: 'employer' };
const piste = { client_id: 'cid', client_secret: 'csecret', account_login: 'TECH@x.fr', account_password: 'pw' };

async function setError(credential: string, fields: unknown, extra: { kind?: string; environment?: string } = {}) {
  try {
    await system.credentials.set({ tenant: 'acme', credential, fields, ...extra });
  } catch (err) {
    return err as { code: string; message: string; details: { field?: string } };
  }
  throw new Error('expected a refusal');
}

describe('credential fields are validated by the platform, naming the field', () => {
  it.each([
    ['fla', { ...fla, client_id: '' }, 'client_id'],
    ['fla', { ...fla, private_key: 'not a key' }, 'private_key'],
    ['fla', { ...fla, private_key: keyPair('rsa1024').pem }, 'private_key'],
    ['fla', { ...fla, private_key: keyPair('ec256').pem }, 'private_key'],
    ['fla', { ...fla, quality: 'boss' }, 'quality'],
    ['fla', { ...fla, alg: 'ES384' }, 'alg'],
    ['fla', { ...fla, token_endpoint: 'http://example.com/token' }, 'token_endpoint'],
    ['fla', { ...fla, token_endpoint: 'https://user:pw@example.com/token' }, 'token_endpoint'],
    ['fla', { ...fla, clientid: 'typo' }, 'clientid'],
    ['fla', { client_id: 'x', quality: 'employer' }, 'private_key'],
    ['chorus-piste', { ...piste, client_secret: undefined }, 'client_secret'],
    ['chorus-piste', { ...piste, password_changed_at: 'yesterday' }, 'password_changed_at'],
    ['opco-atlas', { cfa_key: '' }, 'cfa_key'],
    ['opco-atlas', { cfa_key: 'k', lifetime_months: 3 }, 'lifetime_months'],
    ['opco-ocapiat', { cfa_key: 'k', lifetime_months: 7 }, 'lifetime_months'],
    ['opco-ocapiat', { cfa_key: 'k', issued_at: '2026-06-01', expires_at: '2027-01-01' }, 'expires_at'],
    ['cegid-cfe', { api_key_id: 'id' }, 'api_key_secret'],
    ['cegid-cfe', { api_key_id: 'id', api_key_secret: 's', headers: { 'bad header': '{id}' } }, 'headers.bad header'],
  ])('%s with %j is refused on %s', async (credential, fields, field) => {
    const err = await setError(credential, fields);
    expect(err.code).toBe('invalid_request');
    expect(err.details.field).toBe(field);
    expect(err.message).toContain(field.split('.')[0]);
  });

  it('refuses a body that is not an object', async () => {
    expect((await setError('fla', 'just text')).code).toBe('invalid_request');
  });

  it('never quotes a secret value in a refusal', async () => {
    const err = await setError('chorus-piste', { ...piste, client_secret: 42, account_password: 'sup3r-s3cret' });
    expect(err.message).not.toContain('sup3r-s3cret');
    expect(err.message).not.toContain('42');
  });

  it('refuses a certificate that belongs to another key', async () => {
    const other = await selfSigned(keyPair('ec384'));
    const err = await setError('fla', { ...fla, certificate: other });
    expect(err.details.field).toBe('certificate');
  });

  it.each([
    ['fla-employer', 'opco-atlas', {}],
    ['fla-employer', undefined, { environment: 'sandbox' }],
    ['opco-atlas', undefined, { environment: 'acceptance' }],
  ])('refuses %s with kind %s and %j', async (credential, kind, extra) => {
    const err = await setError(credential, fla, { ...(kind ? { kind } : {}), ...extra });
    expect(err.code).toBe('invalid_request');
  });

  it('refuses a credential for a tenant that does not exist', async () => {
    await expect(system.credentials.set({ tenant: 'nobody', credential: 'fla', fields: fla })).rejects.toMatchObject({ code: 'unknown_tenant' });
  });
});

describe('expiry facts per kind', () => {
  it('computes the PISTE technical password end as changed_at + 424 days', async () => {
    const s = await system.credentials.set({ tenant: 'acme', credential: 'chorus-piste', environment: 'sandbox', fields: { ...piste, password_changed_at: '2026-01-01' } });
    expect(s.expires_at).toBe('2027-03-01T00:00:00.000Z');
  });

  it('computes an Ocapiat key end from its lifetime in months, from today by default', async () => {
    const s = await system.credentials.set({ tenant: 'acme', credential: 'opco-ocapiat', fields: { cfa_key: 'k', lifetime_months: 6 } });
    expect(s.expires_at).toBe('2026-12-01T08:00:00.000Z');
  });

  it('clamps month ends (31 August + 6 months is the end of February)', async () => {
    const s = await system.credentials.set({ tenant: 'acme', credential: 'opco-ocapiat-b', fields: { cfa_key: 'k', issued_at: '2026-08-31T00:00:00Z', lifetime_months: 6 } });
    expect(s.expires_at).toBe('2027-02-28T00:00:00.000Z');
  });

  it('takes the FLA certificate end, and the tag follows it', async () => {
    const cert = await selfSigned(rsa, { notAfter: new Date('2027-03-15T00:00:00Z') });
    const s = await system.credentials.set({ tenant: 'acme', credential: 'fla-employer', environment: 'production', fields: { ...fla, certificate: cert } });
    expect(s.expires_at).toBe('2027-03-15T00:00:00.000Z');
    const listed = await system.credentials.list('acme');
    expect(listed.find((c) => c.credential === 'fla-employer')).toMatchObject({ kind: 'fla', environment: 'production', expires_at: '2027-03-15T00:00:00.000Z' });
  });

  it('takes the earliest end of a chain when an issuer lapses before the leaf', async () => {
    const leaf = await selfSigned(keyPair('ec384'), { notAfter: new Date('2028-01-01T00:00:00Z') });
    const issuer = await selfSigned(rsa, { notAfter: new Date('2027-06-30T00:00:00Z'), name: 'CN=Issuing CA' });
    const s = await system.credentials.set({ tenant: 'acme', credential: 'chorus-edi', fields: { certificate: leaf + issuer } });
    expect(s.expires_at).toBe('2027-06-30T00:00:00.000Z');
    const shown = await system.credentials.show('acme', 'chorus-edi');
    expect(shown.expiries).toEqual([
      { what: 'Chorus Pro certificate', at: '2028-01-01T00:00:00.000Z' },
      { what: 'Chorus Pro certificate chain', at: '2027-06-30T00:00:00.000Z' },
    ]);
  });

  it('takes a Cegid review date when one is given, and nothing otherwise', async () => {
    expect((await system.credentials.set({ tenant: 'acme', credential: 'cegid-cfe', fields: { api_key_id: 'i', api_key_secret: 's', review_at: '2027-01-01' } })).expires_at).toBe('2027-01-01T00:00:00.000Z');
    expect((await system.credentials.set({ tenant: 'acme', credential: 'cegid-cfe-2', fields: { api_key_id: 'i', api_key_secret: 's' } })).expires_at).toBeNull();
  });
});

describe('material per kind', () => {
  const ctx = { tenant: 'acme', credential: 'x', environment: 'production' as const, clock };

  it('OPCO: X-API-KEY plus the configured fixed headers', () => {
    const m = platformOf('opco-atlas').material({ cfa_key: 'KEY', editeur: 'Ed', logiciel: 'Soft', version: '2.1' }, ctx);
    expect(m).toEqual({ type: 'static', headers: { 'X-API-KEY': 'KEY', EDITEUR: 'Ed', LOGICIEL: 'Soft', VERSION: '2.1' }, baseUrl: null, expiresAt: null });
  });

  it('OPCO: header names can be changed per credential', () => {
    const m = platformOf('opco-akto').material({ cfa_key: 'KEY', editeur: 'Ed', header_names: { api_key: 'x-api-key', editeur: 'x-editeur' } }, ctx);
    expect(m.type === 'static' && m.headers).toEqual({ 'x-api-key': 'KEY', 'x-editeur': 'Ed' });
  });

  it('Cegid: x-apikey id:secret by default, or the configured header map', () => {
    const p = platformOf('cegid-cfe');
    expect(p.material({ api_key_id: 'ID', api_key_secret: 'SEC' }, ctx)).toMatchObject({ headers: { 'x-apikey': 'ID:SEC' } });
    expect(p.material({ api_key_id: 'ID', api_key_secret: 'SEC', headers: { Authorization: 'ApiKey {id}', 'X-Secret': '{secret}' } }, ctx)).toMatchObject({
      headers: { Authorization: 'ApiKey ID', 'X-Secret': 'SEC' },
    });
  });

  it('PISTE: form with client_secret_post and scope openid, cpro-account as base64(login:password)', async () => {
    const m = platformOf('chorus-piste').material(piste, { ...ctx, environment: 'sandbox' });
    if (m.type !== 'oauth') throw new Error('expected oauth');
    expect(m.tokenEndpoint).toBe('https://sandbox-oauth.piste.gouv.fr/api/oauth/token');
    expect(m.baseUrl).toBe('https://sandbox-api.piste.gouv.fr/cpro');
    expect(await m.form()).toEqual({ grant_type: 'client_credentials', client_id: 'cid', client_secret: 'csecret', scope: 'openid' });
    expect(m.headers('T')).toEqual({ Authorization: 'Bearer T', 'cpro-account': Buffer.from('TECH@x.fr:pw').toString('base64') });
  });

  it('FLA: the token endpoint by environment, overridable per credential', () => {
    const p = platformOf('fla');
    const parsed = p.schema.parse(fla);
    expect(p.material(parsed, ctx)).toMatchObject({ tokenEndpoint: 'https://services.socialsecurity.be/REST/oauth/v5/token' });
    expect(p.material(parsed, { ...ctx, environment: 'acceptance' })).toMatchObject({ tokenEndpoint: 'https://services-acpt.socialsecurity.be/REST/oauth/v5/token' });
    expect(p.material(p.schema.parse({ ...fla, token_endpoint: 'https://idp.example/token' }), ctx)).toMatchObject({ tokenEndpoint: 'https://idp.example/token' });
  });

  it('Chorus EDI has nothing to vend', () => {
    expect(() => platformOf('chorus-edi').material({}, ctx)).toThrowError(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('every platform has renewal steps in French and English', () => {
    for (const kind of ['fla', 'chorus-piste', 'chorus-edi', 'cegid-cfe', 'opco-atlas', 'opco-ocapiat', 'opco-opcommerce', 'opco-afdas']) {
      const r = platformOf(kind).renewal;
      expect(r.fr.length).toBeGreaterThan(0);
      expect(r.en.length).toBe(r.fr.length);
    }
    expect(platformOf('opco-ocapiat').renewal.fr.join(' ')).toMatch(/écrase/);
    expect(platformOf('opco-ocapiat').renewal.en.join(' ')).toMatch(/6 at most/);
  });
});

describe('showing a credential', () => {
  it('redacts every secret field', async () => {
    await system.credentials.set({ tenant: 'acme', credential: 'chorus-piste-show', environment: 'sandbox', fields: piste });
    const shown = await system.credentials.show('acme', 'chorus-piste-show');
    expect(shown.fields).toMatchObject({ client_id: 'cid', client_secret: REDACTED, account_password: REDACTED, account_login: 'TECH@x.fr' });
    expect(JSON.stringify(shown)).not.toContain('csecret');
  });
});
