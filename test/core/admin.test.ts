import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ROUTES } from '../../functions/core/admin-api.ts';
import { credentialSecretName } from '../../functions/core/credentials.ts';
import { ALERT_TAG } from '../../functions/core/expiry.ts';
import { CERTIFICATE_TAG } from '../../functions/core/intake.ts';
import { chorusChain, EKU, issue, p7b } from '../helpers/pki.ts';
import { adminFixture, OPERATOR, secretStrings, type AdminFixture } from './admin-fixtures.ts';

let f: AdminFixture;
beforeAll(async () => {
  f = await adminFixture();
});
afterAll(() => f.cleanup());

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');
const ls = async (...p: string[]) => readdir(join(f.home, ...p)).catch(() => [] as string[]);
const statusOf = (page: { items: { tenant: string; credential: string; status: string }[] }) => Object.fromEntries(page.items.map((i) => [`${i.tenant}/${i.credential}`, i.status]));
const samplePath = (path: string) => path.replace('{tenant}', 'acme').replace('{credential}', 'opco-atlas').replace('{app}', 'billing');

describe('the admin API without an operator', () => {
  it.each(ADMIN_ROUTES.map((r) => [r.method, r.path] as const))('refuses %s %s with 401 unauthorized, saying nothing else', async (method, path) => {
    const r = await f.call(method, samplePath(path), { operator: null, body: method === 'GET' ? undefined : {} });
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('unauthorized');
    expect(r.res.headers['content-type']).toBe('application/problem+json');
    expect(r.res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('refuses an unknown admin path the same way, without telling whether it exists', async () => {
    expect((await f.call('GET', '/v1/admin/nothing', { operator: null })).json.code).toBe('unauthorized');
    expect((await f.call('GET', '/v1/admin/me', { operator: { sub: '' } })).json.code).toBe('unauthorized');
  });
});

describe('routing and bodies', () => {
  it.each([
    ['an unknown path', 'GET', '/v1/admin/nothing', undefined, 404, 'not_found'],
    ['a method the path does not take', 'DELETE', '/v1/admin/tenants', undefined, 405, 'method_not_allowed'],
    ['a body on a GET', 'GET', '/v1/admin/tenants', '{}', 400, 'invalid_request'],
    ['a body that is not JSON', 'POST', '/v1/admin/tenants', '{nope', 400, 'invalid_request'],
    ['a JSON array', 'POST', '/v1/admin/tenants', '[]', 400, 'invalid_request'],
    ['no body where one is required', 'POST', '/v1/admin/apps', undefined, 400, 'invalid_request'],
    ['a body over 16 KiB', 'POST', '/v1/admin/tenants', JSON.stringify({ id: 'x', name: 'x'.repeat(17 * 1024) }), 413, 'payload_too_large'],
    ['an upload body over 256 KiB', 'POST', '/v1/admin/tenants/acme/credentials/chorus-edi/certificate', JSON.stringify({ file_name: 'a.pem', content_base64: 'A'.repeat(257 * 1024) }), 413, 'payload_too_large'],
  ])('refuses %s', async (_what, method, path, body, status, code) => {
    const r = await f.call(method, path, { body });
    expect(r.status).toBe(status);
    expect(r.json.code).toBe(code);
  });

  it('says which methods a path takes', async () => {
    const r = await f.call('PUT', '/v1/admin/tenants/acme');
    expect(r.res.headers.allow).toBe('GET, PATCH');
  });
});

describe('GET /v1/admin/me', () => {
  it('answers the operator from the token', async () => {
    const r = await f.call('GET', '/v1/admin/me');
    expect(r.status).toBe(200);
    expect(r.json).toEqual(OPERATOR);
    expect((await f.call('GET', '/v1/admin/me', { operator: { sub: 'only-sub' } })).json).toEqual({ sub: 'only-sub' });
  });
});

describe('GET /v1/admin/credentials (the overview)', () => {
  it('gives every credential one status from its tags, with counts', async () => {
    const r = await f.call('GET', '/v1/admin/credentials');
    expect(r.status).toBe(200);
    expect(statusOf(r.json)).toEqual({
      'acme/chorus-edi': 'incomplete',
      'acme/chorus-edi-declared': 'incomplete',
      'acme/chorus-piste': 'ok',
      'acme/opco-akto': 'expiring',
      'acme/opco-atlas': 'ok',
      'acme/opco-sante': 'expired',
      'bxl/fla-employer': 'ok',
      'bxl/fla-provider': 'ok',
      'cfa-paris/cegid-cfe': 'ok',
      'cfa-paris/chorus-edi': 'incomplete',
    });
    expect(r.json.counts).toEqual({ total: 10, ok: 5, expiring: 1, expired: 1, incomplete: 3, refused: 0 });
    expect(r.json.matching).toBe(10);
    expect(r.json.next_cursor).toBeNull();
    expect(r.json.at).toBe('2026-06-01T08:00:00.000Z');
  });

  it('says the days left, the threshold crossed and what expires, in both languages', async () => {
    const r = await f.call('GET', '/v1/admin/credentials', { query: { q: 'akto' } });
    expect(r.json.items).toEqual([
      {
        tenant: 'acme',
        tenant_name: 'ACME Formation',
        credential: 'opco-akto',
        kind: 'opco-akto',
        platform: 'opco',
        platform_title: { fr: expect.any(String), en: expect.any(String) },
        environment: 'production',
        status: 'expiring',
        expires_at: '2026-06-11T00:00:00.000Z',
        days_left: 10,
        threshold: 14,
        what: { fr: expect.any(String), en: expect.any(String) },
      },
    ]);
    const expired = (await f.call('GET', '/v1/admin/credentials', { query: { status: 'expired' } })).json.items[0];
    expect(expired).toMatchObject({ credential: 'opco-sante', days_left: -31, threshold: null });
    const placeholder = (await f.call('GET', '/v1/admin/credentials', { query: { q: 'declared' } })).json.items[0];
    expect(placeholder).toMatchObject({ status: 'incomplete', environment: 'sandbox', expires_at: null, days_left: null, what: null });
  });

  it.each([
    ['tenant id', { q: 'cfa-par' }, ['cfa-paris/cegid-cfe', 'cfa-paris/chorus-edi']],
    ['tenant name, without accents or case', { q: 'secretariat' }, ['bxl/fla-employer', 'bxl/fla-provider']],
    ['credential id', { q: 'piste' }, ['acme/chorus-piste']],
    ['kind', { q: 'OPCO-AT' }, ['acme/opco-atlas']],
    ['tenant', { tenant: 'bxl' }, ['bxl/fla-employer', 'bxl/fla-provider']],
    ['platform family', { platform: 'opco' }, ['acme/opco-akto', 'acme/opco-atlas', 'acme/opco-sante']],
    ['platform kind', { platform: 'chorus-edi' }, ['acme/chorus-edi', 'acme/chorus-edi-declared', 'cfa-paris/chorus-edi']],
    ['status', { status: 'expiring,expired' }, ['acme/opco-akto', 'acme/opco-sante']],
    ['several at once', { tenant: 'acme', platform: 'opco', status: 'ok' }, ['acme/opco-atlas']],
  ])('finds by %s', async (_what, query, expected) => {
    const r = await f.call('GET', '/v1/admin/credentials', { query: query as Record<string, string> });
    expect(r.json.items.map((i: { tenant: string; credential: string }) => `${i.tenant}/${i.credential}`)).toEqual(expected);
  });

  it('counts over the search and filters but not the status, so that the status tabs keep their numbers', async () => {
    const r = await f.call('GET', '/v1/admin/credentials', { query: { tenant: 'acme', status: 'ok' } });
    expect(r.json.counts).toEqual({ total: 6, ok: 2, expiring: 1, expired: 1, incomplete: 2, refused: 0 });
    expect(r.json.matching).toBe(2);
  });

  it('pages with an opaque cursor, every credential once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: Record<string, string> = { limit: '3', ...(cursor ? { cursor } : {}) };
      const r = await f.call('GET', '/v1/admin/credentials', { query });
      expect(r.json.items.length).toBeLessThanOrEqual(3);
      expect(r.json.matching).toBe(10);
      seen.push(...r.json.items.map((i: { tenant: string; credential: string }) => `${i.tenant}/${i.credential}`));
      cursor = r.json.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(4);
    expect(seen).toEqual([...new Set(seen)]);
    expect(seen).toHaveLength(10);
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '501' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ cursor: 'not-a-cursor' }, 'cursor'],
    [{ status: 'fine' }, 'status'],
    [{ platform: 'irs' }, 'platform'],
    [{ tenant: 'Not An Id' }, 'tenant'],
    [{ q: 'x'.repeat(201) }, 'q'],
  ])('refuses %j, naming the parameter', async (query, field) => {
    const r = await f.call('GET', '/v1/admin/credentials', { query });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'invalid_request', field });
  });
});

describe('GET /v1/admin/timeline', () => {
  it('lists what ends within the months asked, soonest first, with what has expired', async () => {
    const r = await f.call('GET', '/v1/admin/timeline');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ today: '2026-06-01', from: '2026-06-01', to: '2027-06-01' });
    expect(r.json.items.map((i: { credential: string; status: string }) => `${i.credential}:${i.status}`)).toEqual(['opco-sante:expired', 'opco-akto:expiring', 'chorus-piste:ok']);
    expect((await f.call('GET', '/v1/admin/timeline', { query: { months: '1' } })).json.items.map((i: { credential: string }) => i.credential)).toEqual(['opco-sante', 'opco-akto']);
    const far = await f.call('GET', '/v1/admin/timeline', { query: { months: '60' } });
    expect(far.json.items.map((i: { credential: string }) => i.credential)).toEqual(['opco-sante', 'opco-akto', 'chorus-piste', 'opco-atlas']);
  });

  it.each(['0', '61', 'x'])('refuses months=%s', async (months) => {
    const r = await f.call('GET', '/v1/admin/timeline', { query: { months } });
    expect(r.json).toMatchObject({ code: 'invalid_request', field: 'months' });
  });
});

describe('tenants', () => {
  it('lists them with their number of credentials', async () => {
    const r = await f.call('GET', '/v1/admin/tenants');
    expect(r.status).toBe(200);
    expect(r.json.items.map((t: { id: string; credentials: number }) => [t.id, t.credentials])).toEqual([
      ['acme', 6],
      ['bxl', 2],
      ['cfa-paris', 2],
    ]);
    expect(r.json.items[0]).toEqual({ id: 'acme', name: 'ACME Formation', siret: '73282932000074', alert_emails: ['ops@acme.example'], created_at: '2026-06-01T08:00:00.000Z', updated_at: '2026-06-01T08:00:00.000Z', credentials: 6 });
  });

  it('adds one (201), refuses it twice (409 conflict), and names a bad field', async () => {
    const r = await f.call('POST', '/v1/admin/tenants', { body: { id: 'new-client', name: 'Nouveau client', alert_emails: ['a@new.example'] } });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ id: 'new-client', name: 'Nouveau client', alert_emails: ['a@new.example'], credentials: 0 });
    expect((await f.call('POST', '/v1/admin/tenants', { body: { id: 'new-client', name: 'Again' } })).json.code).toBe('conflict');
    expect((await f.call('POST', '/v1/admin/tenants', { body: { id: 'new-client', name: 'Again' } })).status).toBe(409);
    for (const [body, field] of [
      [{ id: 'x2', name: 'X', alert_emails: ['not-an-email'] }, 'alert_emails.0'],
      [{ id: 'x3', name: 'X', siret: '12345678901234' }, 'siret'],
      [{ id: 'Bad Id', name: 'X' }, 'tenant'],
      [{ id: 'x4' }, 'name'],
      [{ id: 'x5', name: 'X', created_at: 'now' }, 'created_at'],
    ] as const) {
      const bad = await f.call('POST', '/v1/admin/tenants', { body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.json, JSON.stringify(body)).toMatchObject({ code: 'invalid_request', field });
    }
  });

  it('shows one, or 404 unknown_tenant', async () => {
    expect((await f.call('GET', '/v1/admin/tenants/bxl')).json).toMatchObject({ id: 'bxl', bce: '0123456749', credentials: 2 });
    const r = await f.call('GET', '/v1/admin/tenants/nobody');
    expect(r.status).toBe(404);
    expect(r.json.code).toBe('unknown_tenant');
  });

  it('changes only the fields given and says which changed', async () => {
    f.clock.advance(60_000);
    const r = await f.call('PATCH', '/v1/admin/tenants/cfa-paris', { body: { name: 'CFA Paris', alert_emails: ['alertes@cfa.example'] } });
    expect(r.status).toBe(200);
    expect(r.json.changed).toEqual(['name', 'alert_emails']);
    expect(r.json.tenant).toMatchObject({ id: 'cfa-paris', name: 'CFA Paris', alert_emails: ['alertes@cfa.example'], updated_at: '2026-06-01T08:01:00.000Z', credentials: 2 });
    expect((await f.call('PATCH', '/v1/admin/tenants/cfa-paris', { body: { name: 'CFA Paris' } })).json.changed).toEqual([]);
    expect((await f.call('PATCH', '/v1/admin/tenants/cfa-paris', { body: { colour: 'red' } })).json).toMatchObject({ code: 'invalid_request', field: 'colour' });
    expect((await f.call('PATCH', '/v1/admin/tenants/nobody', { body: { name: 'x' } })).json.code).toBe('unknown_tenant');
    // The overview reads the new name.
    expect((await f.call('GET', '/v1/admin/credentials', { query: { tenant: 'cfa-paris' } })).json.items[0].tenant_name).toBe('CFA Paris');
  });
});

describe('GET /v1/admin/tenants/{tenant}/credentials/{credential}', () => {
  it('shows a credential with its secret fields redacted, versions, expiries, renewal steps', async () => {
    f.clock.advance(60_000);
    await f.system.credentials.set({ tenant: 'acme', credential: 'opco-atlas', fields: { cfa_key: f.secrets.atlasKey, expires_at: '2030-01-01', editeur: 'Sesame' } });
    const r = await f.call('GET', '/v1/admin/tenants/acme/credentials/opco-atlas');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ tenant: 'acme', tenant_name: 'ACME Formation', credential: 'opco-atlas', kind: 'opco-atlas', platform: 'opco', status: 'ok', secret_fields: ['cfa_key'] });
    expect(r.json.fields).toMatchObject({ cfa_key: '[redacted]', editeur: 'Sesame' });
    expect(r.json.versions.map((v: { stage: string }) => v.stage)).toEqual(['current', 'previous']);
    expect(r.json.versions[0].created_at).toBe('2026-06-01T08:02:00.000Z');
    expect(r.json.versions[1].created_at).toBe('2026-06-01T08:00:00.000Z');
    expect(r.json.expiries).toEqual([{ what: { fr: expect.any(String), en: expect.any(String) }, at: '2030-01-01T00:00:00.000Z' }]);
    expect(r.json.certificate).toEqual({ accepts: false, report: null });
    expect(r.json.alerts).toEqual([]);
    expect(r.json.renewal.fr.length).toBeGreaterThan(0);
    expect(r.json.renewal.en.length).toBe(r.json.renewal.fr.length);
  });

  it('redacts every secret field of every platform', async () => {
    const piste = await f.call('GET', '/v1/admin/tenants/acme/credentials/chorus-piste');
    expect(piste.json.fields).toMatchObject({ client_id: 'cid', client_secret: '[redacted]', account_password: '[redacted]' });
    const fla = await f.call('GET', '/v1/admin/tenants/bxl/credentials/fla-employer');
    expect(fla.json.fields).toMatchObject({ client_id: 'self_service_chaman_1', private_key: '[redacted]' });
    expect(fla.json.environment).toBe('acceptance');
    const cegid = await f.call('GET', '/v1/admin/tenants/cfa-paris/credentials/cegid-cfe');
    expect(cegid.json.fields).toMatchObject({ api_key_secret: '[redacted]' });
  });

  it('says incomplete for what cannot vend yet, and shows a placeholder with no fields', async () => {
    const fla = await f.call('GET', '/v1/admin/tenants/bxl/credentials/fla-provider');
    expect(fla.json).toMatchObject({ status: 'incomplete', fields: { private_key: '[redacted]', quality: 'provider' } });
    const declared = await f.call('GET', '/v1/admin/tenants/acme/credentials/chorus-edi-declared');
    expect(declared.status).toBe(200);
    expect(declared.json).toMatchObject({ status: 'incomplete', environment: 'sandbox', fields: {}, expiries: [], certificate: { accepts: true, report: null } });
  });

  it('shows the last alert sent, from the alert tags', async () => {
    await f.system.store.tag(credentialSecretName('acme', 'opco-akto'), { [ALERT_TAG.level]: '14', [ALERT_TAG.for]: '2026-06-11T00:00:00.000Z', [ALERT_TAG.at]: '2026-05-28T06:00:00.000Z' });
    const r = await f.call('GET', '/v1/admin/tenants/acme/credentials/opco-akto');
    expect(r.json.alerts).toEqual([{ level: '14', at: '2026-05-28T06:00:00.000Z' }]);
  });

  it.each([
    ['/v1/admin/tenants/nobody/credentials/opco-atlas', 404, 'unknown_tenant'],
    ['/v1/admin/tenants/acme/credentials/opco-atlas-2', 404, 'unknown_credential'],
    ['/v1/admin/tenants/acme/credentials/nokind', 400, 'invalid_request'],
    ['/v1/admin/tenants/ACME/credentials/opco-atlas', 400, 'invalid_request'],
  ])('answers %s with %i %s', async (path, status, code) => {
    const r = await f.call('GET', path);
    expect(r.status).toBe(status);
    expect(r.json.code).toBe(code);
  });
});

describe('POST …/certificate (upload from the console)', () => {
  const upload = (tenant: string, credential: string, file_name: string, bytes: Uint8Array | string) =>
    f.call('POST', `/v1/admin/tenants/${tenant}/credentials/${credential}/certificate`, { body: { file_name, content_base64: b64(bytes) } });

  it('accepts a good chain: a new version, the file in accepted/, the report in reports/, the status follows', async () => {
    f.clock.advance(60_000);
    const c = await chorusChain({ notAfter: new Date('2027-09-30T00:00:00Z') });
    const r = await upload('cfa-paris', 'chorus-edi', 'edi.p7b', p7b([c.leaf, c.inter, c.root]));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ outcome: 'accepted', file: 'edi.p7b', processed_at: '2026-06-01T08:03:00.000Z', version: expect.any(String), report: { valid: true, profile: 'chorus-client' } });
    expect(await ls('accepted', 'cfa-paris', 'chorus-edi')).toEqual(['edi.p7b']);
    expect(await ls('reports', 'cfa-paris', 'chorus-edi')).toEqual(['edi.p7b.json']);
    expect(await ls('uploads')).toEqual([]);
    const detail = (await f.call('GET', '/v1/admin/tenants/cfa-paris/credentials/chorus-edi')).json;
    expect(detail).toMatchObject({ status: 'ok', expires_at: '2027-09-30T00:00:00.000Z', certificate: { accepts: true, report: { outcome: 'accepted', file: 'edi.p7b' } } });
    expect(detail.versions[0].version).toBe(r.json.version);
    const tags = await f.system.store.tags(credentialSecretName('cfa-paris', 'chorus-edi'));
    expect(tags).toMatchObject({ [CERTIFICATE_TAG.verdict]: 'accepted', [CERTIFICATE_TAG.at]: '2026-06-01T08:03:00.000Z', [CERTIFICATE_TAG.for]: '2027-09-30T00:00:00.000Z' });
  });

  it('refuses a bad certificate with its reasons in both languages: nothing changes, the overview says refused, an alert goes out', async () => {
    f.clock.advance(60_000);
    const before = await f.system.store.get(credentialSecretName('cfa-paris', 'chorus-edi'));
    const c = await chorusChain({ eku: [EKU.serverAuth] });
    const r = await upload('cfa-paris', 'chorus-edi', 'server.p7b', p7b([c.leaf, c.inter, c.root]));
    expect(r.status).toBe(200);
    expect(r.json.outcome).toBe('rejected');
    expect(r.json.report.errors.map((e: { code: string }) => e.code)).toEqual(['extended_key_usage']);
    expect(r.json.report.errors[0].message).toEqual({ fr: expect.any(String), en: expect.any(String) });
    expect(r.json.version).toBeUndefined();
    expect((await f.system.store.get(credentialSecretName('cfa-paris', 'chorus-edi')))?.version).toBe(before?.version);
    expect(await ls('rejected', 'cfa-paris', 'chorus-edi')).toEqual(['server.p7b']);
    const overview = await f.call('GET', '/v1/admin/credentials', { query: { status: 'refused' } });
    expect(statusOf(overview.json)).toEqual({ 'cfa-paris/chorus-edi': 'refused' });
    expect(overview.json.counts.refused).toBe(1);
    const detail = (await f.call('GET', '/v1/admin/tenants/cfa-paris/credentials/chorus-edi')).json;
    expect(detail.certificate.report).toMatchObject({ outcome: 'rejected', file: 'server.p7b', report: { valid: false } });
    const outbox = await ls('outbox');
    const last = JSON.parse(await readFile(join(f.home, 'outbox', outbox.sort().at(-1) as string), 'utf8'));
    expect(last.subject).toBe('[Sesame] Certificate refused for cfa-paris/chorus-edi');
    expect(last.message).toContain('console');
  });

  it('no longer says refused once a good certificate is accepted after the refusal', async () => {
    f.clock.advance(60_000);
    const c = await chorusChain({ notAfter: new Date('2027-10-31T00:00:00Z') });
    expect((await upload('cfa-paris', 'chorus-edi', 'edi-2.p7b', p7b([c.leaf, c.inter, c.root]))).json.outcome).toBe('accepted');
    expect(statusOf((await f.call('GET', '/v1/admin/credentials', { query: { tenant: 'cfa-paris' } })).json)['cfa-paris/chorus-edi']).toBe('ok');
  });

  it('writes a file holding a private key nowhere, and says so', async () => {
    f.clock.advance(60_000);
    const cert = await issue({ subject: 'CN=x, C=FR' });
    const r = await upload('acme', 'chorus-edi', 'bundle.pem', `${cert.pem}${cert.privatePem}`);
    expect(r.json.outcome).toBe('deleted');
    expect(await ls('rejected', 'acme', 'chorus-edi')).toEqual([]);
    expect(await ls('accepted', 'acme', 'chorus-edi')).toEqual([]);
    const report = await readFile(join(f.home, 'reports', 'acme', 'chorus-edi', 'bundle.pem.json'), 'utf8');
    expect(report).not.toContain('PRIVATE KEY');
    expect(r.res.body).not.toContain('PRIVATE KEY');
    const keyBody = cert.privatePem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    expect(r.res.body).not.toContain(keyBody.slice(40, 100));
    expect(statusOf((await f.call('GET', '/v1/admin/credentials', { query: { q: 'acme' } })).json)['acme/chorus-edi']).toBe('refused');
  });

  it('refuses, with the intake\'s reason, a credential that takes no certificate', async () => {
    const r = await upload('acme', 'opco-atlas', 'cert.pem', 'whatever');
    expect(r.json).toMatchObject({ outcome: 'rejected', reason: { fr: expect.any(String), en: 'opco-atlas credentials take no certificate.' } });
  });

  it.each([
    ['an unknown tenant', 'nobody', 'chorus-edi', { file_name: 'a.pem', content_base64: 'QUJD' }, 404, 'unknown_tenant', undefined],
    ['an unknown credential', 'acme', 'chorus-edi-none', { file_name: 'a.pem', content_base64: 'QUJD' }, 404, 'unknown_credential', undefined],
    ['a file name with a slash', 'acme', 'chorus-edi', { file_name: '../a.pem', content_base64: 'QUJD' }, 400, 'invalid_request', 'file_name'],
    ['a file name of dots', 'acme', 'chorus-edi', { file_name: '..', content_base64: 'QUJD' }, 400, 'invalid_request', 'file_name'],
    ['content that is not base64', 'acme', 'chorus-edi', { file_name: 'a.pem', content_base64: 'not base64!' }, 400, 'invalid_request', 'content_base64'],
    ['empty content', 'acme', 'chorus-edi', { file_name: 'a.pem', content_base64: '' }, 400, 'invalid_request', 'content_base64'],
    ['a missing field', 'acme', 'chorus-edi', { file_name: 'a.pem' }, 400, 'invalid_request', 'content_base64'],
    ['an unknown field', 'acme', 'chorus-edi', { file_name: 'a.pem', content_base64: 'QUJD', path: 'x' }, 400, 'invalid_request', 'path'],
  ])('refuses %s', async (_what, tenant, credential, body, status, code, field) => {
    const r = await f.call('POST', `/v1/admin/tenants/${tenant}/credentials/${credential}/certificate`, { body });
    expect(r.status).toBe(status);
    expect(r.json.code).toBe(code);
    if (field) expect(r.json.field).toBe(field);
  });

  it('judges an oversized file as the intake does, within the body limit', async () => {
    const r = await upload('acme', 'chorus-edi', 'big.pem', new Uint8Array(70 * 1024).fill(65));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ outcome: 'rejected', report: { errors: [{ code: 'too_large' }] } });
  });
});

describe('apps', () => {
  let key = '';
  it('creates one (201) and shows its key this once', async () => {
    const r = await f.call('POST', '/v1/admin/apps', { body: { app: 'billing', tenants: ['acme', 'bxl'], kinds: ['opco-atlas'] } });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ app: 'billing', key: expect.stringMatching(/^sesame_billing_/), tenants: ['acme', 'bxl'] });
    key = r.json.key;
    expect((await f.call('POST', '/v1/admin/apps', { body: { app: 'billing', tenants: ['acme'] } })).status).toBe(409);
  });

  it('lists apps without a key or a hash', async () => {
    const r = await f.call('GET', '/v1/admin/apps');
    expect(r.json.items).toEqual([{ app: 'billing', tenants: ['acme', 'bxl'], kinds: ['opco-atlas'], created_at: expect.any(String) }]);
    expect(r.res.body).not.toContain(key);
    expect(r.res.body).not.toMatch(/sha256|[0-9a-f]{64}/);
  });

  it('rotates a key, with the previous one kept for the overlap asked', async () => {
    const r = await f.call('POST', '/v1/admin/apps/billing/rotate', { body: { overlap: '1h' } });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ app: 'billing', key: expect.stringMatching(/^sesame_billing_/), previous_key_expires_at: new Date(f.clock.now().getTime() + 3_600_000).toISOString() });
    expect(r.json.key).not.toBe(key);
    const listed = (await f.call('GET', '/v1/admin/apps')).json.items[0];
    expect(listed.previous_key_expires_at).toBe(r.json.previous_key_expires_at);
    expect((await f.call('POST', '/v1/admin/apps/billing/rotate')).status).toBe(200);
    expect((await f.call('POST', '/v1/admin/apps/billing/rotate', { body: { overlap: 'forever' } })).json).toMatchObject({ code: 'invalid_request', field: 'overlap' });
  });

  it('revokes one, and says which fields are refused', async () => {
    expect((await f.call('POST', '/v1/admin/apps/billing/revoke', { body: { force: true } })).json).toMatchObject({ code: 'invalid_request', field: 'force' });
    const r = await f.call('POST', '/v1/admin/apps/billing/revoke');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ app: 'billing', revoked_at: f.clock.now().toISOString() });
    expect(r.json.previous_key_expires_at).toBeUndefined();
    expect(Object.keys(r.json)).not.toContain('key_sha256');
    expect((await f.call('POST', '/v1/admin/apps/billing/revoke', { body: {} })).status).toBe(200);
    expect((await f.call('POST', '/v1/admin/apps/billing/rotate')).json.code).toBe('conflict');
  });

  it.each([
    ['POST', '/v1/admin/apps/nothing/revoke', 404, 'not_found'],
    ['POST', '/v1/admin/apps/nothing/rotate', 404, 'not_found'],
    ['POST', '/v1/admin/apps/Bad/rotate', 400, 'invalid_request'],
  ])('answers %s %s with %i %s', async (method, path, status, code) => {
    const r = await f.call(method, path);
    expect(r.status).toBe(status);
    expect(r.json.code).toBe(code);
  });

  it.each([
    [{ app: 'x', tenants: [] }, 'tenants'],
    [{ app: 'x', tenants: ['nobody'] }, undefined],
    [{ app: 'x', tenants: ['acme'], kinds: ['nope'] }, 'kinds'],
    [{ app: 'x' }, 'tenants'],
    [{ app: 'x', tenants: 'acme' }, 'tenants'],
  ])('refuses to create %j', async (body, field) => {
    const r = await f.call('POST', '/v1/admin/apps', { body });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    if (field) expect(r.json.field).toBe(field);
  });
});

describe('secret hygiene', () => {
  it('never put a secret value, a key hash or private key material in any admin answer', () => {
    expect(f.answers.length).toBeGreaterThan(50);
    const secrets = secretStrings(f.secrets);
    for (const { route, res } of f.answers) {
      for (const s of secrets) expect(res.body, `${route} answered a secret value`).not.toContain(s);
      expect(res.body, route).not.toContain('PRIVATE KEY');
      expect(res.body, route).not.toMatch(/"key_sha256"/);
    }
  });

  it('showed app keys only in the answers that create them', () => {
    const keys = f.answers.filter(({ route, res }) => res.statusCode < 300 && (route === 'POST /v1/admin/apps' || route.endsWith('/rotate'))).map(({ res }) => JSON.parse(res.body).key as string);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const { route, res } of f.answers) {
      if (route === 'POST /v1/admin/apps' || route.endsWith('/rotate')) continue;
      for (const k of keys) expect(res.body, route).not.toContain(k);
    }
  });

  it('logs no secret value either', () => {
    const lines = (f.system.log as unknown as { lines: string[] }).lines.join('\n');
    for (const s of secretStrings(f.secrets)) expect(lines).not.toContain(s);
  });
});
