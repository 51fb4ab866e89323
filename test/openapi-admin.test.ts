import { X509Certificate } from 'node:crypto';
import { startOAuthServer, type OAuthServer } from '../functions/local/oauth-server.ts';
import { keyPair } from './helpers/keys.ts';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ROUTES } from '../functions/core/admin-api.ts';
import { routeMatcher } from '../functions/core/api.ts';
import { openApiDocument } from '../functions/core/openapi.ts';
import { chorusChain, EKU, issue, p7b } from './helpers/pki.ts';
import { adminFixture, type AdminFixture } from './core/admin-fixtures.ts';

/**
 * Every admin route, called for real over the local store: each answer's status is
 * one its operation documents, and its body validates against the documented schema
 * (problem+json against Problem).
 */
let f: AdminFixture;
let oauth: OAuthServer | undefined;
const doc = openApiDocument('test') as any;
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema({ ...doc, $id: 'sesame' });
const match = routeMatcher(ADMIN_ROUTES);
const pointer = (...parts: string[]) => parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

beforeAll(async () => {
  f = await adminFixture();
  const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');
  const good = await chorusChain({ notAfter: new Date('2027-09-30T00:00:00Z') });
  const bad = await chorusChain({ eku: [EKU.serverAuth] });
  const keyed = await issue({ subject: 'CN=x, C=FR' });
  const calls: [string, string, unknown?, Record<string, string>?][] = [
    ['GET', '/v1/admin/me'],
    ['GET', '/v1/admin/credentials'],
    ['GET', '/v1/admin/credentials', undefined, { status: 'expiring', limit: '1' }],
    ['GET', '/v1/admin/credentials', undefined, { limit: '0' }],
    ['GET', '/v1/admin/timeline'],
    ['GET', '/v1/admin/timeline', undefined, { months: '0' }],
    ['GET', '/v1/admin/tenants'],
    ['POST', '/v1/admin/tenants', { id: 'new-one', name: 'New', alert_emails: ['a@b.example'] }],
    ['POST', '/v1/admin/tenants', { id: 'new-one', name: 'New' }],
    ['POST', '/v1/admin/tenants', { id: 'x', name: 'x'.repeat(20_000) }],
    ['GET', '/v1/admin/tenants/acme'],
    ['GET', '/v1/admin/tenants/nobody'],
    ['PATCH', '/v1/admin/tenants/acme', { add_alert_emails: ['b@acme.example'], siret: null }],
    ['PATCH', '/v1/admin/tenants/acme', { colour: 'red' }],
    ['POST', '/v1/admin/tenants/cfa-paris/credentials/chorus-edi/certificate', { file_name: 'good.p7b', content_base64: b64(p7b([good.leaf, good.inter, good.root])) }],
    ['POST', '/v1/admin/tenants/cfa-paris/credentials/chorus-edi/certificate', { file_name: 'bad.p7b', content_base64: b64(p7b([bad.leaf, bad.inter, bad.root])) }],
    ['POST', '/v1/admin/tenants/acme/credentials/chorus-edi/certificate', { file_name: 'key.pem', content_base64: b64(`${keyed.pem}${keyed.privatePem}`) }],
    ['POST', '/v1/admin/tenants/acme/credentials/opco-atlas/certificate', { file_name: 'x.pem', content_base64: b64('x') }],
    ['POST', '/v1/admin/tenants/acme/credentials/nothing-here/certificate', { file_name: 'x.pem', content_base64: b64('x') }],
    ['GET', '/v1/admin/tenants/cfa-paris/credentials/chorus-edi'],
    ['GET', '/v1/admin/tenants/acme/credentials/chorus-edi'],
    ['GET', '/v1/admin/tenants/acme/credentials/chorus-edi-declared'],
    ['GET', '/v1/admin/tenants/bxl/credentials/fla-employer'],
    ['GET', '/v1/admin/tenants/acme/credentials/opco-sante'],
    ['GET', '/v1/admin/tenants/acme/credentials/opco-nothing'],
    ['POST', '/v1/admin/tenants/acme/credentials/opco-akto/connect-links'],
    ['POST', '/v1/admin/tenants/acme/credentials/opco-akto/connect-links', { fields: ['cfa_key'], valid: '14d' }],
    ['POST', '/v1/admin/tenants/acme/credentials/opco-akto/connect-links', { valid: '31d' }],
    ['POST', '/v1/admin/tenants/acme/credentials/opco-nothing/connect-links', {}],
    ['GET', '/v1/admin/apps'],
    ['POST', '/v1/admin/apps', { app: 'billing', tenants: ['acme'] }],
    ['POST', '/v1/admin/apps', { app: 'billing', tenants: ['acme'] }],
    ['POST', '/v1/admin/apps', { app: 'other', tenants: ['nobody'] }],
    ['POST', '/v1/admin/apps/billing/rotate', { overlap: '2h' }],
    ['GET', '/v1/admin/apps'],
    ['POST', '/v1/admin/apps/billing/revoke'],
    ['POST', '/v1/admin/apps/billing/rotate'],
    ['POST', '/v1/admin/apps/nobody/revoke', {}],
  ];
  for (const [method, path, body, query] of calls) await f.call(method, path, { ...(body !== undefined ? { body } : {}), ...(query ? { query } : {}) });
  await f.system.audit?.flush();
  for (const query of [{}, { tenant: 'acme', since: '400d' }, { since: 'soon' }] as Record<string, string>[]) await f.call('GET', '/v1/admin/audit', { query });
  await f.call('POST', '/v1/admin/tenants/acme/credentials/opco-atlas/test');
  await f.call('POST', '/v1/admin/tenants/acme/credentials/opco-atlas/test', { body: { now: true } });
  // An FLA key rotation against a loopback "Chaman", on the real clock (the server checks the assertions' times).
  f.clock.set(new Date().toISOString());
  const first = keyPair('rsa2048');
  oauth = await startOAuthServer({ clients: [{ client_id: 'self_service_chaman_rot', auth: 'private_key_jwt', publicKey: first.publicKey }] });
  await f.system.credentials.set({ tenant: 'bxl', credential: 'fla-rot', environment: 'acceptance', fields: { client_id: 'self_service_chaman_rot', private_key: first.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint } });
  const rot = '/v1/admin/tenants/bxl/credentials/fla-rot/rotation';
  await f.call('GET', rot);
  await f.call('POST', `${rot}/activate`);
  await f.call('POST', `${rot}/retire`);
  const next = await f.call('POST', `${rot}/next`);
  await f.call('POST', `${rot}/activate`);
  await oauth.addClientKey('self_service_chaman_rot', new X509Certificate((next.json as { next_certificate_pem: string }).next_certificate_pem).publicKey);
  await f.call('POST', `${rot}/activate`);
  await f.call('POST', `${rot}/retire`, { body: { force: 'yes' } });
  await f.call('POST', `${rot}/retire`);
  await f.call('GET', rot);
  for (const r of ADMIN_ROUTES) await f.call(r.method, r.path.replace('{tenant}', 'acme').replace('{credential}', 'opco-atlas').replace('{app}', 'billing'), { operator: null });
});
afterAll(async () => {
  await oauth?.close();
  await f.cleanup();
});

describe('the admin API against its OpenAPI document', () => {
  it('answers every documented admin operation with a status it documents and a body its schema accepts', () => {
    const seen = new Set<string>();
    for (const { route, res } of f.answers) {
      const [method = '', path = ''] = route.split(' ');
      const { route: r } = match(method, path);
      const op = doc.paths[r.path][r.method.toLowerCase()];
      const status = String(res.statusCode);
      expect(op.responses[status], `${route} answered ${status}, which its operation does not document`).toBeDefined();
      const type = res.statusCode < 300 ? 'application/json' : 'application/problem+json';
      expect(res.headers['content-type']).toBe(type);
      const ok = ajv.validate({ $ref: `sesame#/${pointer('paths', r.path, r.method.toLowerCase(), 'responses', status, 'content', type, 'schema')}` }, JSON.parse(res.body));
      expect(ok, `${route} ${status}: ${ajv.errorsText()}`).toBe(true);
      if (res.statusCode < 300) seen.add(`${r.method} ${r.path}`);
    }
    expect([...seen].sort()).toEqual(ADMIN_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('documents each route\'s success status, and a summary and the operator scheme on every operation', () => {
    expect(doc.components.securitySchemes.operator).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }));
    expect(doc.servers.length).toBeGreaterThan(0);
    for (const r of ADMIN_ROUTES) {
      const op = doc.paths[r.path][r.method.toLowerCase()];
      expect(op.summary, r.path).toBeTruthy();
      expect(Object.keys(op.responses).filter((s) => s.startsWith('2')), r.path).toEqual([String(r.status)]);
      expect(op.security, r.path).toEqual([{ operator: [] }]);
      expect(op.responses['401'], r.path).toBeDefined();
      if (r.body === 'none') expect(op.requestBody, r.path).toBeUndefined();
      else expect(op.requestBody.required, r.path).toBe(r.body === 'required');
    }
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { summary?: string }>>)) {
      for (const [method, op] of Object.entries(ops)) expect(op.summary, `${method} ${path}`).toBeTruthy();
    }
  });

  it('rejects what the schemas must refuse', () => {
    expect(ajv.validate('sesame#/components/schemas/CredentialStatus', { tenant: 'x' })).toBe(false);
    expect(ajv.validate('sesame#/components/schemas/App', { app: 'a', tenants: [], created_at: 'x', key_sha256: 'ab' })).toBe(false);
  });
});
