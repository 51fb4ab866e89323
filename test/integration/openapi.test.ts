import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/core/api.ts';
import { ADMIN_ROUTES } from '../../functions/core/admin-api.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import type { System } from '../../functions/adapters/system.ts';
import { tempSystem } from '../helpers/system.ts';

let server: LocalServer;
let system: System;
let cleanup: () => Promise<void>;
let doc: any;
let key: string;

beforeAll(async () => {
  ({ system, cleanup } = await tempSystem());
  await system.tenants.put({ id: 'acme', name: 'ACME' });
  await system.credentials.set({ tenant: 'acme', credential: 'opco-atlas', fields: { cfa_key: 'k', expires_at: '2030-01-01' } });
  key = (await system.apps.add({ app: 'docs', tenants: ['acme'] })).key;
  server = await startLocalServer(system);
  doc = await (await fetch(`${server.url}/v1/openapi.json`)).json();
});
afterAll(async () => {
  await server.close();
  await cleanup();
});

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and describes exactly the routes the API serves', () => {
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual([...ROUTES, ...ADMIN_ROUTES].map((r) => `${r.method} ${r.path}`).sort());
  });

  it('marks exactly the authenticated routes as needing an app key', () => {
    for (const r of ROUTES) {
      const op = doc.paths[r.path][r.method.toLowerCase()];
      expect(op.security.length > 0, r.path).toBe(r.auth);
    }
    // The admin routes need an operator token, never an app key.
    for (const r of ADMIN_ROUTES) expect(doc.paths[r.path][r.method.toLowerCase()].security, r.path).toEqual([{ operator: [] }]);
  });

  it('matches what the endpoints really answer', async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ ...doc, $id: 'sesame' });
    const token = await fetch(`${server.url}/v1/tenants/acme/credentials/opco-atlas/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    expect(ajv.validate('sesame#/components/schemas/Token', await token.json()), ajv.errorsText()).toBe(true);
    const problem = await fetch(`${server.url}/v1/tenants/acme/credentials/fla/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    expect(problem.status).toBe(404);
    expect(doc.paths['/v1/tenants/{tenant}/credentials/{credential}/token'].post.responses['404']).toBeDefined();
    expect(ajv.validate('sesame#/components/schemas/Problem', await problem.json()), ajv.errorsText()).toBe(true);
    expect(ajv.validate('sesame#/components/schemas/Token', { tenant: 'x' })).toBe(false);
  });
});
