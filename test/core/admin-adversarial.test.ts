import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { issue } from '../helpers/pki.ts';
import { adminFixture, type AdminFixture } from './admin-fixtures.ts';

/** What an attacker holding an operator token, or a careless operator, sends to the admin API. */
let f: AdminFixture;
beforeAll(async () => {
  f = await adminFixture();
});
afterAll(() => f.cleanup());

const ls = async (...p: string[]) => readdir(join(f.home, ...p)).catch(() => [] as string[]);
const upload = (tenant: string, credential: string, file_name: string, content: string) =>
  f.call('POST', `/v1/admin/tenants/${tenant}/credentials/${credential}/certificate`, { body: { file_name, content_base64: Buffer.from(content).toString('base64') } });

describe('console uploads the certificate rules never read are written nowhere', () => {
  it('an oversized file (which may hold a private key) is refused and not kept in rejected/', async () => {
    const cert = await issue({ subject: 'CN=x, C=FR' });
    const r = await upload('acme', 'chorus-edi', 'big-key.pem', `${'# padding\n'.repeat(7000)}${cert.pem}${cert.privatePem}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ outcome: 'rejected', report: { errors: [{ code: 'too_large' }] } });
    expect(await ls('rejected', 'acme', 'chorus-edi')).toEqual([]);
    expect(r.res.body).not.toContain('PRIVATE KEY');
  });

  it('a file for a credential that takes no certificate is refused and not kept in rejected/', async () => {
    const cert = await issue({ subject: 'CN=x, C=FR' });
    const r = await upload('acme', 'opco-atlas', 'key.pem', cert.privatePem);
    expect(r.json).toMatchObject({ outcome: 'rejected', reason: { en: 'opco-atlas credentials take no certificate.' } });
    expect(await ls('rejected', 'acme', 'opco-atlas')).toEqual([]);
  });
});

describe('errors do not echo long input', () => {
  const long = 'k'.repeat(12_000);
  it.each([
    ['an unknown field of a new tenant', 'POST', '/v1/admin/tenants', { id: 'x', name: 'y', [long]: 1 }],
    ['an unknown field of a tenant change', 'PATCH', '/v1/admin/tenants/acme', { [long]: 1 }],
    ['many unknown fields', 'PATCH', '/v1/admin/tenants/acme', Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`field-${i}`, 1]))],
    ['an unknown kind of a new app', 'POST', '/v1/admin/apps', { app: 'zz', tenants: ['acme'], kinds: [long] }],
    ['an alert email to remove that is not there', 'PATCH', '/v1/admin/tenants/acme', { remove_alert_emails: [long] }],
  ])('%s: 400, a short answer', async (_what, method, path, body) => {
    const r = await f.call(method, path, { body });
    expect(r.status).toBe(400);
    expect(r.res.body.length).toBeLessThan(1200);
    expect(r.res.body).not.toContain('k'.repeat(300));
  });
});

it('reads each tenant of a new app once, however often the request repeats it', async () => {
  const spy = vi.spyOn(f.system.store, 'get');
  try {
    const r = await f.call('POST', '/v1/admin/apps', { body: { app: 'amp', tenants: Array(2000).fill('acme') } });
    expect(r.status).toBe(201);
    expect(r.json.tenants).toEqual(['acme']);
    expect(spy.mock.calls.length).toBeLessThan(10);
  } finally {
    spy.mockRestore();
  }
});

describe('hostile bodies are 400s, never 500s', () => {
  const deep = `${'['.repeat(7000)}${']'.repeat(7000)}`;
  it.each([
    ['a deeply nested value', 'POST', '/v1/admin/tenants', `{"id":"deep","name":"d","alert_emails":${deep}}`],
    ['a deeply nested unknown field', 'PATCH', '/v1/admin/tenants/acme', `{"x":${deep}}`],
    ['a __proto__ key', 'PATCH', '/v1/admin/tenants/acme', '{"__proto__":{"name":"pwned"}}'],
    ['a constructor key', 'POST', '/v1/admin/apps', '{"app":"p","tenants":["acme"],"constructor":{"prototype":{"x":1}}}'],
    ['an enormous number', 'POST', '/v1/admin/apps/billing/rotate', '{"overlap":1e999999}'],
    ['a cursor that is not one', 'GET', '/v1/admin/credentials?', undefined],
  ])('%s', async (_what, method, path, body) => {
    const r = path.endsWith('?')
      ? await f.call(method, path.slice(0, -1), { query: { cursor: Buffer.from('{"a":1}').toString('base64url') } })
      : await f.call(method, path, { body });
    expect(r.status).toBe(400);
    expect(r.json.code).toBe('invalid_request');
    expect(({} as Record<string, unknown>).name).toBeUndefined();
  });
});
