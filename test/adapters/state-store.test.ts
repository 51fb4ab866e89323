import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { isSesameError } from '../../functions/core/errors.ts';
import { ManualClock, stateStoreContract } from './state-store.contract.ts';

const home = () => mkdtemp(join(tmpdir(), 'sesame-state-'));

// One home per test file run: several stores on it share its files, as processes would.
const shared = await home();
stateStoreContract('LocalStateStore', async (clock) => new LocalStateStore(shared, clock));
// DynamoStateStore runs the same contract against the AWS emulator: test/aws/state-store.test.ts.

/** A real node process making one conditional put (see state-store-child.ts). */
function child(h: string, pk: string, id: number, condition: string) {
  const p = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'state-store-child.ts'), h, pk, String(id), condition], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  p.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('ready\n')) markReady();
  });
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stderr: string; outcome: string | undefined }>((resolve) =>
    p.on('close', (code) => {
      markReady();
      const last = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      resolve({ code, stderr, outcome: last ? (JSON.parse(last) as { outcome: string }).outcome : undefined });
    }),
  );
  return { ready, go: () => p.stdin.end('go\n'), done };
}

describe('the local state store', () => {
  it('lets exactly one of eight processes win a conditional put made at the same moment', async () => {
    const h = await home();
    const store = new LocalStateStore(h);
    const pk = 'link#0123abcd';
    await store.put({ pk, sk: 'link', data: { by: -1 } });
    for (const condition of ['ifVersion=1', 'ifAbsent']) {
      const key = condition === 'ifAbsent' ? `${pk}/fresh` : pk;
      const children = Array.from({ length: 8 }, (_, i) => child(h, key, i, condition));
      await Promise.all(children.map((c) => c.ready));
      for (const c of children) c.go();
      const results = await Promise.all(children.map((c) => c.done));
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const outcomes = results.map((r) => r.outcome);
      expect(outcomes.filter((o) => o === 'ok'), condition).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'conflict'), condition).toHaveLength(7);
      expect(await store.get(key, 'link')).toMatchObject({ version: condition === 'ifAbsent' ? 1 : 2, data: { by: outcomes.indexOf('ok') } });
    }
  }, 60_000);

  it('keeps one private file per partition, named by a hash, so that no key reaches a file name', async () => {
    const h = await home();
    const store = new LocalStateStore(h);
    await store.put({ pk: 'link#../../secret/a', sk: 'x/y', data: {} });
    await store.put({ pk: 'link#../../secret/a', sk: 'z', data: {} });
    await store.put({ pk: 'tenant#acme', sk: 'link#1', data: {} });
    const files = await readdir(join(h, 'state'));
    expect(files.sort()).toHaveLength(2);
    for (const f of files) expect(f).toMatch(/^[0-9a-f]{64}\.json$/);
    expect(await readdir(h)).toEqual(['state']);
  });

  it('purges expired items from the file when a read meets them, and removes a partition left empty', async () => {
    const h = await home();
    const clock = new ManualClock();
    const store = new LocalStateStore(h, clock);
    await store.put({ pk: 'link#a', sk: 'link', expiresAt: clock.seconds + 5, data: { n: 1 } });
    await store.put({ pk: 'link#b', sk: 'one', expiresAt: clock.seconds + 5, data: { n: 1 } });
    await store.put({ pk: 'link#b', sk: 'two', data: { n: 2 } });
    expect(await readdir(join(h, 'state'))).toHaveLength(2);
    clock.advance(5);
    expect(await store.get('link#a', 'link')).toBeUndefined();
    expect(await readdir(join(h, 'state'))).toHaveLength(1);
    expect((await store.query('link#b')).items.map((i) => i.sk)).toEqual(['two']);
    const [file] = await readdir(join(h, 'state'));
    const stored = JSON.parse(await readFile(join(h, 'state', file!), 'utf8')) as { items: { sk: string }[] };
    expect(stored.items.map((i) => i.sk)).toEqual(['two']);
  });

  it('refuses a damaged partition file as store_corrupt, naming no key', async () => {
    const h = await home();
    const store = new LocalStateStore(h);
    await store.put({ pk: 'link#secretish', sk: 'link', data: {} });
    const [file] = await readdir(join(h, 'state'));
    await writeFile(join(h, 'state', file!), '{"format":"sesame-local-state/1","pk":');
    const err = await store.get('link#secretish', 'link').catch((e: unknown) => e);
    expect(isSesameError(err, 'store_corrupt')).toBe(true);
    expect((err as Error).message).not.toContain('secretish');
  });
});
