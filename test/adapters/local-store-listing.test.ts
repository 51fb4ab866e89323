import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';

/**
 * Listing must cost in proportion to what it lists. Not timed (that would flake):
 * every file-system call the store makes is counted, with the bytes it reads and the
 * folder entries it scans, and the counts for ten times the secrets must be at most
 * ten times the counts.
 */
const cost = vi.hoisted(() => ({ calls: 0, bytes: 0, entries: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const size = (v: unknown) => (typeof v === 'string' ? Buffer.byteLength(v) : v instanceof Uint8Array ? v.length : 0);
  const handle = (fh: import('node:fs/promises').FileHandle) =>
    new Proxy(fh, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        return async (...args: unknown[]) => {
          cost.calls += 1;
          const r = await v.apply(target, args);
          if (prop === 'read') cost.bytes += (r as { bytesRead: number }).bytesRead;
          if (prop === 'readFile') cost.bytes += size(r);
          return r;
        };
      },
    });
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(fsp)) {
    if (typeof fn !== 'function' || name === 'default') {
      wrapped[name] = fn;
      continue;
    }
    wrapped[name] = async (...args: unknown[]) => {
      cost.calls += 1;
      const r = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      if (name === 'readFile') cost.bytes += size(r);
      if (name === 'readdir') cost.entries += (r as unknown[]).length;
      if (name === 'open') return handle(r as import('node:fs/promises').FileHandle);
      return r;
    };
  }
  return { ...wrapped, default: wrapped };
});

async function seeded(n: number): Promise<{ home: string; key: Buffer }> {
  const home = await mkdtemp(join(tmpdir(), 'sesame-listing-'));
  const key = randomBytes(32);
  const store = new LocalSecretStore(home, key);
  for (let i = 0; i < n; i += 1) {
    const t = String(i).padStart(5, '0');
    await store.put(`sesame/t${t}/fla`, { i: t }, { 'sesame:tenant': `t${t}`, 'sesame:kind': 'fla' });
  }
  await store.put('sesame-apps/billing', {}, { 'sesame:app': 'billing' });
  return { home, key };
}

async function listAll(store: LocalSecretStore): Promise<{ names: string[]; pages: number; cost: typeof cost }> {
  Object.assign(cost, { calls: 0, bytes: 0, entries: 0 });
  const names: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await store.list({ prefix: 'sesame/', pageSize: 10, ...(nextToken ? { nextToken } : {}) });
    names.push(...page.items.map((i) => i.name));
    nextToken = page.nextToken;
    pages += 1;
  } while (nextToken);
  return { names, pages, cost: { ...cost } };
}

describe('listing the local store', () => {
  it('costs ten times as much for ten times the secrets, from a fresh process and from a warm one', async () => {
    const small = await seeded(100);
    const large = await seeded(1000);
    for (const warm of [false, true]) {
      const s = new LocalSecretStore(small.home, small.key);
      const l = new LocalSecretStore(large.home, large.key);
      if (warm) {
        await s.get('sesame-apps/billing');
        await l.get('sesame-apps/billing');
      }
      const a = await listAll(s);
      const b = await listAll(l);
      expect(a.names).toHaveLength(100);
      expect(b.names).toHaveLength(1000);
      expect(new Set(b.names).size).toBe(1000);
      expect([a.pages, b.pages]).toEqual([10, 100]);
      expect(b.cost.calls, `calls, warm=${warm}`).toBeLessThanOrEqual(10 * a.cost.calls);
      expect(b.cost.bytes, `bytes, warm=${warm}`).toBeLessThanOrEqual(10 * a.cost.bytes);
      expect(b.cost.entries, `folder entries, warm=${warm}`).toBeLessThanOrEqual(10 * a.cost.entries);
    }
  }, 120_000);

  it('sees what another process wrote since its last page, reading only that', async () => {
    const { home, key } = await seeded(20);
    const reader = new LocalSecretStore(home, key);
    const writer = new LocalSecretStore(home, key);
    const first = await reader.list({ prefix: 'sesame/', pageSize: 10 });
    await writer.put('sesame/t00005/extra', { x: 1 }, { 'sesame:kind': 'extra' });
    await writer.tag('sesame/t00015/fla', { 'sesame:alerted': '30' });
    Object.assign(cost, { calls: 0, bytes: 0, entries: 0 });
    const second = await reader.list({ prefix: 'sesame/', pageSize: 10, nextToken: first.nextToken as string });
    expect(cost.entries).toBe(0);
    expect(second.items.find((i) => i.name === 'sesame/t00015/fla')?.tags).toMatchObject({ 'sesame:alerted': '30' });
    const all = await reader.list({ prefix: 'sesame/t00005/' });
    expect(all.items.map((i) => i.name)).toEqual(['sesame/t00005/extra', 'sesame/t00005/fla']);
  }, 30_000);
});
