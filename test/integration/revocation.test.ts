import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { type System } from '../../functions/adapters/system.ts';
import { localAppStamp, localSystem } from '../../functions/adapters/local-system.ts';
import { Apps } from '../../functions/core/apps.ts';
import { readConfig } from '../../functions/core/config.ts';
import { Tenants } from '../../functions/core/tenants.ts';
import { startLocalServer, type LocalServer } from '../../functions/local/server.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

/**
 * The local broker and `app revoke` / `app rotate` made elsewhere: the next request
 * after the change returns is answered by the new record. "Elsewhere" is first a second
 * store over the same folder (what another process does), then real `sesame` processes.
 */
const PATH = '/v1/tenants/acme/credentials/opco-atlas/token';
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sesame.js');

async function status(server: LocalServer, authorization: string): Promise<number> {
  const res = await fetch(`${server.url}${PATH}`, { method: 'POST', headers: { authorization } });
  await res.arrayBuffer();
  return res.status;
}

describe('the local broker, with app records changed by another writer', () => {
  let home: string;
  let system: System;
  let server: LocalServer;
  /** Another writer over the same folder and key, as `sesame app …` in another process. */
  let other: Apps;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'sesame-revocation-'));
    system = await localSystem(readConfig({ SESAME_HOME: home }), new MemoryLog(), {});
    // The same folder and key (local.key), through a store of its own.
    const store = await LocalSecretStore.open(home, system.clock);
    const tenants = new Tenants(store, system.clock);
    other = new Apps(store, tenants, system.clock);
    await system.tenants.put({ id: 'acme', name: 'Acme' });
    await system.credentials.set({ tenant: 'acme', credential: 'opco-atlas', fields: { cfa_key: 'K', expires_at: '2099-01-01' } });
    server = await startLocalServer(system);
  });
  afterAll(async () => {
    await server?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('refuses a revoked key at the next request, whatever the case of "Bearer", with no wait', async () => {
    const { key } = await other.add({ app: 'billing', tenants: ['acme'] });
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) expect(await status(server, `${scheme} ${key}`)).toBe(200);
    await other.revoke('billing');
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'Bearer ']) expect(await status(server, `${scheme} ${key}  `)).toBe(401);
  });

  it('serves a rotated key at once, the old one during the overlap, and stops the old one at once with --overlap 0', async () => {
    const { key: first } = await other.add({ app: 'reports', tenants: ['acme'] });
    expect(await status(server, `Bearer ${first}`)).toBe(200);
    const { key: second } = await other.rotate('reports', { overlap: '24h' });
    expect(await status(server, `Bearer ${second}`)).toBe(200);
    expect(await status(server, `Bearer ${first}`)).toBe(200);
    const { key: third } = await other.rotate('reports', { overlap: '0' });
    expect(await status(server, `Bearer ${third}`)).toBe(200);
    expect(await status(server, `Bearer ${second}`)).toBe(401);
    expect(await status(server, `Bearer ${first}`)).toBe(401);
  });

  it('reads an unchanged record from cache (one stat per request, no decryption), and a changed one again', async () => {
    const { key } = await other.add({ app: 'cached', tenants: ['acme'] });
    expect(await status(server, `Bearer ${key}`)).toBe(200);
    const get = system.store.get.bind(system.store);
    const names: string[] = [];
    system.store.get = (name) => {
      names.push(name);
      return get(name);
    };
    const appReads = () => names.filter((n) => n.startsWith('sesame-apps/'));
    try {
      for (let i = 0; i < 5; i++) expect(await status(server, `Bearer ${key}`)).toBe(200);
      expect(appReads()).toEqual([]);
      await other.revoke('cached');
      expect(await status(server, `Bearer ${key}`)).toBe(401);
      expect(appReads()).toEqual(['sesame-apps/cached']);
    } finally {
      system.store.get = get;
    }
  });

  it("fingerprints the store's own file of the record, which every write changes", async () => {
    const stamp = localAppStamp(home);
    await other.add({ app: 'stamped', tenants: ['acme'] });
    const before = stamp('stamped');
    expect(before).toBeDefined();
    await other.rotate('stamped', { overlap: '0' });
    const after = stamp('stamped');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(stamp('nobody')).toBeUndefined();
    expect(stamp('..')).toBeUndefined();
  });

  it('keeps no entry for junk keys sent by unauthenticated clients', async () => {
    const { key } = await other.add({ app: 'steady', tenants: ['acme'] });
    expect(await status(server, `Bearer ${key}`)).toBe(200);
    const size = system.appCache.size;
    const junk = (i: number) =>
      [`Bearer ${'j'.repeat(4_000)}${i}`, `bearer sesame_junk-${i}_${randomBytes(32).toString('base64url')}`, `Bearer sesame_steady_${randomBytes(32).toString('base64url')}`][i % 3] as string;
    for (let i = 0; i < 600; i += 20) {
      const statuses = await Promise.all(Array.from({ length: 20 }, (_v, j) => status(server, junk(i + j))));
      expect(statuses.every((s) => s === 401)).toBe(true);
    }
    expect(system.appCache.size).toBe(size);
    expect(await status(server, `Bearer ${key}`)).toBe(200);
  });
});

describe('sesame dev, with `sesame app revoke` and `sesame app rotate` run in other processes', () => {
  let home: string;
  let dev: ChildProcessWithoutNullStreams | undefined;
  let server: LocalServer;
  const env = () => ({ ...process.env, SESAME_HOME: home, POWERTOOLS_LOG_LEVEL: 'WARN' });
  const sesame = (args: string[], stdin = '') =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [BIN, ...args], { env: env() }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
      child.stdin?.end(stdin);
    });
  const addApp = async (app: string) => {
    const r = await sesame(['app', 'add', app, '--tenants', 'acme', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { key: string }).key;
  };

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'sesame-revocation-dev-'));
    expect((await sesame(['tenant', 'add', 'acme'])).code).toBe(0);
    expect((await sesame(['credential', 'set', 'acme', 'opco-atlas', '--kind', 'opco-atlas'], JSON.stringify({ cfa_key: 'K', expires_at: '2099-01-01' }))).code).toBe(0);
    const child = spawn(process.execPath, [BIN, 'dev', '--no-demo', '--port', '0', '--json'], { env: env() });
    dev = child;
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { url: string }).url);
      });
      child.on('exit', (code) => reject(new Error(`sesame dev exited ${code}`)));
    });
    server = { url } as LocalServer;
  });
  afterAll(async () => {
    // Gone before its folder is: `sesame dev` writes its audit trail as it stops.
    if (dev && dev.exitCode === null && dev.signalCode === null) {
      const exited = new Promise((resolve) => dev?.once('exit', resolve));
      dev.kill('SIGTERM');
      await exited;
    }
    await rm(home, { recursive: true, force: true });
  });

  it('refuses the revoked key at the first request after `app revoke` returns', async () => {
    const key = await addApp('billing');
    expect(await status(server, `Bearer ${key}`)).toBe(200);
    expect(await status(server, `bearer ${key}`)).toBe(200);
    expect((await sesame(['app', 'revoke', 'billing'])).code).toBe(0);
    expect(await status(server, `Bearer ${key}`)).toBe(401);
    expect(await status(server, `bearer ${key}`)).toBe(401);
  });

  it('serves a key from `app rotate` at once, and the old one until the overlap ends', async () => {
    const key = await addApp('reports');
    expect(await status(server, `Bearer ${key}`)).toBe(200);
    const rotated = await sesame(['app', 'rotate', 'reports', '--overlap', '30m', '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const { key: next } = JSON.parse(rotated.stdout) as { key: string };
    expect(await status(server, `Bearer ${next}`)).toBe(200);
    expect(await status(server, `Bearer ${key}`)).toBe(200);
    expect((await sesame(['app', 'rotate', 'reports', '--overlap', '0'])).code).toBe(0);
    expect(await status(server, `Bearer ${next}`)).toBe(401);
    expect(await status(server, `Bearer ${key}`)).toBe(401);
  });
});
