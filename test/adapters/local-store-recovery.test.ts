import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { child } from './local-store-procs.ts';

const home = () => mkdtemp(join(tmpdir(), 'sesame-recovery-'));
const CRED = 'sesame/acme/fla';
const temps = async (h: string) => (await readdir(join(h, 'secrets'), { recursive: true })).filter((f) => /\.\d+\.[0-9a-f]{12}\.tmp$/.test(f));
// The killed writer held the store's lock: the next writer takes it over once it is stale (2 s here, 10 s by default).
const open = (h: string, key: Buffer) => new LocalSecretStore(h, key, undefined, { lockStaleMs: 2_000 });

describe('a writer killed half-way', () => {
  it('before its rename: leaves the previous value, and its temporary file is removed by the next write', async () => {
    const h = await home();
    const key = randomBytes(32);
    await open(h, key).put(CRED, { n: 1 });
    const killed = await child(h, key, ['die', 'before', CRED]).done;
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(await temps(h)).toHaveLength(1);
    const store = open(h, key);
    expect((await store.get(CRED))?.value).toEqual({ n: 1 });
    await store.put('sesame/beta/other', { other: true });
    expect(await temps(h)).toEqual([]);
    expect((await store.get(CRED))?.value).toEqual({ n: 1 });
  }, 30_000);

  it('after its rename: what it wrote is served, in a fresh process too, and the next writes build on it', async () => {
    const h = await home();
    const key = randomBytes(32);
    await open(h, key).put(CRED, { n: 1 }, { 'sesame:kind': 'fla' });
    const killed = await child(h, key, ['die', 'after', CRED]).done;
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const got = (await child(h, key, ['get', CRED]).done).json;
    expect(got[CRED]).toEqual({ value: { killed: true } });
    const store = open(h, key);
    expect((await store.getPrevious(CRED))?.value).toEqual({ n: 1 });
    await store.put(CRED, { n: 2 });
    const fresh = open(h, key);
    expect((await fresh.get(CRED))?.value).toEqual({ n: 2 });
    expect((await fresh.getPrevious(CRED))?.value).toEqual({ killed: true });
    expect((await fresh.list({ prefix: 'sesame/' })).items).toEqual([{ name: CRED, tags: { 'sesame:kind': 'fla' } }]);
    expect(await temps(h)).toEqual([]);
  }, 30_000);

  it('that wrote a first record: the record is served, and listed once written again', async () => {
    const h = await home();
    const key = randomBytes(32);
    await open(h, key).put('sesame/acme/seed', {});
    expect((await child(h, key, ['die', 'after', CRED]).done).signal).toBe('SIGKILL');
    const store = open(h, key);
    expect((await store.get(CRED))?.value).toEqual({ killed: true });
    await store.tag(CRED, { 'sesame:kind': 'fla' });
    expect((await open(h, key).list({ prefix: 'sesame/acme/' })).items.map((i) => i.name)).toEqual([CRED, 'sesame/acme/seed']);
  }, 30_000);

  it('in the previous format: its temporary file beside the record is removed when the store is upgraded', async () => {
    const h = await home();
    const key = randomBytes(32);
    const store = open(h, key);
    await store.put(CRED, { n: 1 });
    // What the previous writeFileAtomic left when killed: <target>.<pid>.<random>.tmp beside the target.
    await rm(join(h, 'secrets', '.journal'));
    await rm(join(h, 'secrets', 'sesame'), { recursive: true });
    await writeFile(join(h, 'secrets', 'fla.json.4194999.0123456789ab.tmp'), 'half');
    await writeFile(join(h, 'secrets', 'live.json.' + process.pid + '.0123456789ab.tmp'), 'half');
    await open(h, key).put(CRED, { n: 2 });
    expect(await temps(h)).toEqual([]);
    expect((await stat(join(h, 'secrets', '.journal'))).mode & 0o777).toBe(0o600);
  });
});

describe('the journal', () => {
  it('is compacted as it grows, and a reader that had read it before keeps up', async () => {
    const h = await home();
    const key = randomBytes(32);
    const writer = new LocalSecretStore(h, key);
    const reader = new LocalSecretStore(h, key);
    await writer.put('sesame/acme/other', { other: true });
    expect((await reader.get('sesame/acme/other'))?.value).toEqual({ other: true });
    for (let i = 0; i < 300; i += 1) await writer.put(CRED, { i });
    const lines = (await readFile(join(h, 'secrets', '.journal'), 'utf8')).trimEnd().split('\n');
    expect(lines.length).toBeLessThan(60);
    expect((await reader.get(CRED))?.value).toEqual({ i: 299 });
    expect((await reader.getPrevious(CRED))?.value).toEqual({ i: 298 });
    expect((await reader.list({ prefix: 'sesame/acme/' })).items.map((i) => i.name)).toEqual([CRED, 'sesame/acme/other']);
    expect((await new LocalSecretStore(h, key).get(CRED))?.value).toEqual({ i: 299 });
  }, 30_000);

  it('shorter than when a running process last read it (lines cut off) is refused by that process', async () => {
    const h = await home();
    const key = randomBytes(32);
    const store = new LocalSecretStore(h, key);
    await store.put('sesame/acme/other', { other: true });
    await store.put(CRED, { n: 1 });
    const journal = join(h, 'secrets', '.journal');
    const text = await readFile(journal, 'utf8');
    await writeFile(journal, `${text.trimEnd().split('\n').slice(0, -1).join('\n')}\n`);
    await expect(store.get('sesame/acme/other')).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringMatching(/truncated/) });
  });
});
