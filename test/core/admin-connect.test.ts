import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { OutboxNotifier } from '../../functions/adapters/outbox-notifier.ts';
import type { System } from '../../functions/adapters/system.ts';
import type { Operator } from '../../functions/core/admin.ts';
import { LINK_MAX_SECONDS, LINK_MIN_SECONDS, linkHash } from '../../functions/core/connect.ts';
import { openApiDocument } from '../../functions/core/openapi.ts';
import { ManualClock } from '../helpers/clock.ts';
import type { MemoryLog } from '../helpers/memory-log.ts';
import { tempSystem } from '../helpers/system.ts';
import { OPERATOR } from './admin-fixtures.ts';

/**
 * `POST /v1/admin/tenants/{tenant}/credentials/{credential}/connect-links`: the console's
 * way to create a connect link, over a real encrypted store and the local state store.
 * The URL (its token inside) is in the 201 answer and nowhere else.
 */
const NOW = Date.parse('2026-06-01T08:00:00Z');
const PUBLIC = 'https://sesame.integrator.example';
const PATH = (tenant: string, credential: string) => `/v1/admin/tenants/${tenant}/credentials/${credential}/connect-links`;

let system: System;
let log: MemoryLog;
let cleanup: () => Promise<void>;
/** Every URL handed out, to look for in the logs. */
const urls: string[] = [];

const doc = openApiDocument('test') as any;
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema({ ...doc, $id: 'sesame' });
const schemaOf = (status: string) => ajv.getSchema(`sesame#/paths/${encodeURIComponent(PATH('{tenant}', '{credential}').replace(/\//g, '~1'))}/post/responses/${status}/content/${encodeURIComponent(status === '201' ? 'application~1json' : 'application~1problem+json')}/schema`);

async function call(path: string, body?: unknown, operator: Operator | null = OPERATOR) {
  const res = await system.admin.handle({ method: 'POST', path, query: {}, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), ...(operator ? { operator } : { operator: undefined }) });
  const json = JSON.parse(res.body);
  if (res.statusCode === 201) urls.push(json.url);
  return { status: res.statusCode, json };
}

beforeAll(async () => {
  const clock = new ManualClock(NOW);
  const base = await tempSystem({ clock });
  ({ system, log } = await tempSystem({ clock, store: base.system.store, state: new LocalStateStore(base.home, clock), notifier: new OutboxNotifier(base.home, clock, base.log), publicUrl: PUBLIC, integrator: { name: 'Intégrateur Démo' } }));
  cleanup = base.cleanup;
  await system.tenants.add({ id: 'acme', name: 'ACME Formation', alert_emails: ['ops@acme.example'] });
  await system.credentials.set({ tenant: 'acme', credential: 'opco-akto', fields: { cfa_key: 'S3CRET-akto-current-key', expires_at: '2026-06-11' } });
  await system.credentials.set({ tenant: 'acme', credential: 'opco-ocapiat', fields: { cfa_key: 'S3CRET-ocapiat-current-key', lifetime_months: 6, issued_at: '2026-01-01' } });
});
afterAll(() => cleanup?.());

describe('creating a connect link from the admin API', () => {
  it('answers 201 with the URL and its end only, and records the operator\'s sub as its creator', async () => {
    const { status, json } = await call(PATH('acme', 'opco-akto'));
    expect(status).toBe(201);
    expect(Object.keys(json).sort()).toEqual(['expires_at', 'url']);
    expect(json.expires_at).toBe(new Date(NOW + 7 * 86_400_000).toISOString());
    expect(schemaOf('201')?.(json)).toBe(true);
    const m = /^https:\/\/sesame\.integrator\.example\/connect\/([A-Za-z0-9_-]{43})$/.exec(json.url);
    expect(m).not.toBeNull();
    const token = (m as RegExpExecArray)[1] as string;
    // Stored under the token's hash only, with who made it.
    const item = await system.state?.get(`link#${linkHash(token)}`, 'link');
    expect(item?.data).toMatchObject({ tenant: 'acme', credential: 'opco-akto', kind: 'opco-akto', fields: ['cfa_key'], created_by: OPERATOR.sub, status: 'open' });
    expect(JSON.stringify(item)).not.toContain(token);
    // The link opens: the page's view names the tenant.
    expect((await system.connect?.view(token))?.tenant).toEqual({ id: 'acme', name: 'ACME Formation' });
  });

  it('takes the fields to ask and a validity from 5 minutes to 30 days', async () => {
    expect(LINK_MIN_SECONDS).toBe(5 * 60);
    expect(LINK_MAX_SECONDS).toBe(30 * 86_400);
    expect(doc.components.schemas.ConnectLinkInput.properties.valid.description).toContain('from 5 minutes to 30 days');
    for (const [valid, seconds] of [['5m', 300], ['1d', 86_400], ['14d', 14 * 86_400], ['30d', 30 * 86_400], ['720h', 30 * 86_400]] as const) {
      const { status, json } = await call(PATH('acme', 'opco-akto'), { valid });
      expect(status, valid).toBe(201);
      expect(json.expires_at, valid).toBe(new Date(NOW + seconds * 1000).toISOString());
    }
    const asked = await call(PATH('acme', 'opco-ocapiat'), { fields: ['cfa_key'], valid: '3d' });
    expect(asked.status).toBe(201);
    const token = (asked.json.url as string).split('/').pop() as string;
    expect((await system.state?.get(`link#${linkHash(token)}`, 'link'))?.data.fields).toEqual(['cfa_key']);
  });

  it.each([
    ['a validity over 30 days', { valid: '31d' }, 'valid'],
    ['a validity under 5 minutes', { valid: '4m' }, 'valid'],
    ['a zero validity', { valid: '0d' }, 'valid'],
    ['a validity that is no duration', { valid: 'next week' }, 'valid'],
    ['a validity as a number', { valid: 7 }, 'valid'],
    ['a field the platform never asks', { fields: ['editeur'] }, 'fields'],
    ['fields that are not a list', { fields: 'cfa_key' }, 'fields'],
    ['an unknown parameter', { lifetime: '7d' }, undefined],
    ['an email that is not an address', { email: true }, 'email'],
    ['an address that is not one of the tenant\'s alert addresses', { email: 'stranger@elsewhere.example' }, 'email'],
  ])('refuses %s with 400, creating nothing', async (_what, body, field) => {
    const before = urls.length;
    const { status, json } = await call(PATH('acme', 'opco-akto'), body);
    expect(status).toBe(400);
    expect(json.code).toBe('invalid_request');
    if (field) expect(json.field).toBe(field);
    expect(schemaOf('400')?.(json)).toBe(true);
    expect(urls.length).toBe(before);
  });

  it('sends the link to one of the tenant\'s alert addresses when asked, and says so', async () => {
    const { status, json } = await call(PATH('acme', 'opco-akto'), { email: 'OPS@acme.example' });
    expect(status, JSON.stringify(json)).toBe(201);
    expect(json).toEqual({ url: expect.any(String), expires_at: expect.any(String), sent_to: 'ops@acme.example' });
    expect(schemaOf('201')?.(json)).toBe(true);
  });

  it('refuses a body that is not a JSON object, and no operator at all', async () => {
    expect((await call(PATH('acme', 'opco-akto'), '[]')).status).toBe(400);
    expect((await call(PATH('acme', 'opco-akto'), 'not json')).status).toBe(400);
    expect((await call(PATH('acme', 'opco-akto'), {}, null)).status).toBe(401);
  });

  it('makes a link for a credential the tenant does not have yet, in the environment and with the settings given', async () => {
    const { status, json } = await call(PATH('acme', 'fla-new'), { environment: 'acceptance', settings: { quality: 'employer' } });
    expect(status, JSON.stringify(json)).toBe(201);
    expect(schemaOf('201')?.(json)).toBe(true);
    const token = (json as { url: string }).url.split('/connect/')[1] as string;
    const item = await system.state?.get(`link#${linkHash(token)}`, 'link');
    expect(item?.data).toMatchObject({ credential: 'fla-new', kind: 'fla', environment: 'acceptance', settings: { quality: 'employer' } });
    expect(await call(PATH('acme', 'fla-new'), { environment: 'sandbox' })).toMatchObject({ status: 400, json: { code: 'invalid_request', field: 'environment' } });
    expect(await call(PATH('acme', 'fla-new'), { settings: { private_key: 'x' } })).toMatchObject({ status: 400, json: { code: 'invalid_request' } });
  });

  it('answers 404 for an unknown tenant, 400 for a malformed credential', async () => {
    const noTenant = await call(PATH('nobody', 'opco-akto'));
    expect(noTenant).toMatchObject({ status: 404, json: { code: 'unknown_tenant' } });
    expect(schemaOf('404')?.(noTenant.json)).toBe(true);
    expect(await call(PATH('acme', 'no-such-kind'))).toMatchObject({ status: 400, json: { code: 'invalid_request' } });
    expect(await call(PATH('acme', 'Opco-Akto'))).toMatchObject({ status: 400 });
  });

  it('writes no URL nor token to the logs, and names the operator and the link\'s hash prefix only', () => {
    expect(urls.length).toBeGreaterThan(5);
    const lines = log.lines.join('\n');
    for (const url of urls) {
      const token = url.split('/').pop() as string;
      expect(lines).not.toContain(token);
      expect(lines).not.toContain(token.slice(0, 16));
      expect(lines).not.toContain(linkHash(token)); // the whole hash is the store's key: only a prefix is logged
    }
    const created = log.lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'connect link created');
    expect(created.length).toBe(urls.length);
    expect(created.every((l) => l.created_by === OPERATOR.sub && /^[0-9a-f]{12}$/.test(l.link))).toBe(true);
    const requests = log.lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'admin request' && l.status === 201);
    expect(requests.every((l) => l.route === PATH('{tenant}', '{credential}') && l.operator === OPERATOR.sub)).toBe(true);
  });

  it('is refused with 400 where the system has no state store', async () => {
    const bare = await tempSystem();
    try {
      await bare.system.tenants.add({ id: 'acme', name: 'ACME Formation' });
      await bare.system.credentials.set({ tenant: 'acme', credential: 'opco-akto', fields: { cfa_key: 'S3CRET-akto-current-key' } });
      const res = await bare.system.admin.handle({ method: 'POST', path: PATH('acme', 'opco-akto'), query: {}, body: '{}', operator: OPERATOR });
      expect(res.statusCode).toBe(400);
      expect(JSON.parse(res.body).detail).toMatch(/state store/);
    } finally {
      await bare.cleanup();
    }
  });
});
