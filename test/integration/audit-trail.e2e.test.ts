import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../functions/adapters/local-object-store.ts';
import { LocalAuditLog } from '../../functions/adapters/local-audit-log.ts';
import { type System } from '../../functions/adapters/system.ts';
import { localSystem } from '../../functions/adapters/local-system.ts';
import type { AuditRecord } from '../../functions/core/audit.ts';
import { readConfig } from '../../functions/core/config.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { chorusChain, p7b } from '../helpers/pki.ts';

/**
 * The audit trail as the local broker fills it: every token vended or refused, every
 * operator change through the admin API, every connect link made and used, every
 * certificate verdict, each one record in the hash-chained log, never a secret value.
 */
const CFA_KEY = `atlas-${randomBytes(12).toString('hex')}`;
const NEW_KEY = `cegid-${randomBytes(12).toString('hex')}`;
const OPERATOR = { sub: 'op-7f3a', name: 'Opératrice' };

let home: string;
let system: System;
let server: LocalServer;
let appKey: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-audit-e2e-'));
  system = await localSystem(readConfig({ SESAME_HOME: home }), new MemoryLog(), { publicUrl: 'https://sesame.example' });
  await system.tenants.put({ id: 'acme', name: 'Acme' });
  await system.credentials.set({ tenant: 'acme', credential: 'opco-atlas', fields: { cfa_key: CFA_KEY, expires_at: '2099-01-01' } });
  appKey = (await system.apps.add({ app: 'billing', tenants: ['acme'] })).key;
  server = await startLocalServer(system);
});
afterAll(async () => {
  await server?.close();
  await rm(home, { recursive: true, force: true });
});

async function records(query: Record<string, string> = {}): Promise<AuditRecord[]> {
  await system.audit?.flush();
  const res = await system.admin.handle({ method: 'GET', path: '/v1/admin/audit', query, body: undefined, operator: OPERATOR });
  expect(res.statusCode, res.body).toBe(200);
  return (JSON.parse(res.body) as { items: AuditRecord[] }).items;
}

const token = (tenant: string, credential: string) => fetch(`${server.url}/v1/tenants/${tenant}/credentials/${credential}/token`, { method: 'POST', headers: { authorization: `Bearer ${appKey}` } });

describe('the audit trail of the local broker', () => {
  it('records each token vended, from upstream or the cache, and each refused, with the app, never the key', async () => {
    expect((await token('acme', 'opco-atlas')).status).toBe(200);
    expect((await token('acme', 'opco-akto')).status).toBe(404);
    expect((await token('other', 'opco-atlas')).status).toBe(403);
    const tokens = (await records({ app: 'billing' })).filter((r) => r.type === 'token');
    expect(tokens.map((r) => [r.tenant, r.credential, r.outcome, r.code ?? null])).toEqual([
      ['other', 'opco-atlas', 'refused', 'forbidden'],
      ['acme', 'opco-akto', 'refused', 'unknown_credential'],
      ['acme', 'opco-atlas', 'ok', null],
    ]);
    expect(tokens[2]).toMatchObject({ actor: { type: 'app', id: 'billing' }, app: 'billing', details: { kind: 'opco-atlas' } });
  });

  it('records an operator\'s changes through the admin API with their subject, and a revocation', async () => {
    const add = await system.admin.handle({ method: 'POST', path: '/v1/admin/tenants', query: {}, body: JSON.stringify({ id: 'globex', name: 'Globex' }), operator: OPERATOR });
    expect(add.statusCode, add.body).toBe(201);
    const revoke = await system.admin.handle({ method: 'POST', path: '/v1/admin/apps/billing/revoke', query: {}, body: undefined, operator: OPERATOR });
    expect(revoke.statusCode, revoke.body).toBe(200);
    const refused = await system.admin.handle({ method: 'POST', path: '/v1/admin/tenants', query: {}, body: JSON.stringify({ id: 'globex', name: 'Again' }), operator: OPERATOR });
    expect(refused.statusCode).toBe(409);
    const mine = (await records()).filter((r) => r.actor.type === 'operator');
    expect(mine.map((r) => [r.type, r.details?.operation ?? null, r.tenant ?? r.app, r.outcome])).toEqual([
      ['admin_change', 'tenants.add', 'globex', 'refused'],
      ['app_revoked', null, 'billing', 'ok'],
      ['admin_change', 'tenants.add', 'globex', 'ok'],
    ]);
    expect(mine.every((r) => r.actor.id === OPERATOR.sub)).toBe(true);
    // The revoked key: refused by the authorizer, before any app is known, so not in the trail.
    expect((await token('acme', 'opco-atlas')).status).toBe(401);
  });

  it('records a connect link made and used, naming the link by its hash prefix only', async () => {
    const link = await system.connect!.create({ tenant: 'acme', credential: 'cegid-cfe', createdBy: OPERATOR.sub });
    const tokenOfLink = link.url.split('/connect/')[1] as string;
    expect(await system.connect!.submit(tokenOfLink, { fields: { api_key_id: 'id-1' } })).toMatchObject({ status: 'invalid' });
    expect(await system.connect!.submit(tokenOfLink, { fields: { api_key_id: 'id-1', api_key_secret: NEW_KEY } })).toMatchObject({ status: 'stored' });
    const linked = (await records({ tenant: 'acme' })).filter((r) => r.type.startsWith('link_'));
    expect(linked.map((r) => [r.type, r.actor.type, r.outcome, r.details?.reason ?? null])).toEqual([
      ['link_used', 'link', 'ok', null],
      ['link_used', 'link', 'refused', 'invalid'],
      ['link_created', 'operator', 'ok', null],
    ]);
    expect(linked[2]?.details).toMatchObject({ fields: 'api_key_id,api_key_secret', link: expect.stringMatching(/^[0-9a-f]{12}$/) });
  });

  it('records the verdict of a certificate dropped in the intake, with its codes', async () => {
    await system.credentials.set({ tenant: 'acme', credential: 'chorus-edi', fields: { usage: 'client' } });
    const chain = await chorusChain();
    await new LocalObjectStore(home).put('incoming/acme/chorus-edi/edi.p7b', p7b([chain.leaf, chain.inter, chain.root]));
    const result = await system.intake!('incoming/acme/chorus-edi/edi.p7b');
    const [verdict] = (await records({ tenant: 'acme' })).filter((r) => r.type === 'certificate_verdict');
    expect(verdict).toMatchObject({ actor: { type: 'system', id: 'intake' }, credential: 'chorus-edi', details: { verdict: result.outcome, source: 's3' } });
  });

  it('keeps a chain that verifies, holding no secret value', async () => {
    await system.audit?.flush();
    const log = await LocalAuditLog.open(home);
    expect(await log.verify()).toMatchObject({ ok: true });
    const files = await readdir(join(home, 'audit'));
    const text = (await Promise.all(files.map((f) => readFile(join(home, 'audit', f), 'utf8')))).join('\n');
    for (const secret of [CFA_KEY, NEW_KEY, appKey]) expect(text).not.toContain(secret);
    expect(text).not.toContain('/connect/');
  });
});
