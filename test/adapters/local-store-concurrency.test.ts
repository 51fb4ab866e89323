import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { child, race } from './local-store-procs.ts';

const home = () => mkdtemp(join(tmpdir(), 'sesame-conc-'));
const NAME = 'sesame/acme/fla';

describe('the local store under writers in several processes', () => {
  it('loses no field when five processes each add theirs by read-modify-write, twenty times', async () => {
    const h = await home();
    const key = randomBytes(32);
    const results = await race(Array.from({ length: 5 }, (_, id) => child(h, key, ['merge', String(id), '20'])));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0, json: { done: true } });
    const value = (await new LocalSecretStore(h, key).get(NAME))?.value as Record<string, boolean>;
    const expected = Array.from({ length: 5 }, (_, id) => Array.from({ length: 20 }, (_, j) => `p${id}_${j}`)).flat();
    expect(Object.keys(value).sort()).toEqual(expected.sort());
  }, 60_000);

  it('never rolls a put back when tag writes race it (what the expiry check and the intake do)', async () => {
    const h = await home();
    const key = randomBytes(32);
    const done = join(h, 'puts-done');
    await new LocalSecretStore(h, key).put(NAME, { n: -1 }, { 'sesame:put': 'none' });
    const [puts, ...taggers] = await race([child(h, key, ['puts', '150', done]), child(h, key, ['tags', done]), child(h, key, ['tags', done])]);
    expect(puts, puts?.stderr).toMatchObject({ code: 0 });
    for (const t of taggers) expect(t, t.stderr).toMatchObject({ code: 0 });
    expect(taggers.every((t) => t.json.tagged > 0)).toBe(true);
    expect(puts?.json.rolledBack).toBe(0);
    const store = new LocalSecretStore(h, key);
    expect(await store.get(NAME)).toMatchObject({ value: { n: 149 }, version: puts?.json.last });
    expect((await store.getPrevious(NAME))?.value).toEqual({ n: 148 });
    expect(await store.tags(NAME)).toEqual({ 'sesame:put': '149', 'sesame:alerted': 'last' });
  }, 60_000);
});

describe('update(): a read-modify-write under the store lock', () => {
  it('is atomic against puts and updates of the same process', async () => {
    const store = new LocalSecretStore(await home(), randomBytes(32));
    await store.put(NAME, { n: 0 }, { 'sesame:kind': 'fla' });
    await Promise.all(Array.from({ length: 30 }, () => store.update(NAME, (cur) => ({ value: { n: (cur?.value as { n: number }).n + 1 } }))));
    expect((await store.get(NAME))?.value).toEqual({ n: 30 });
  });

  it('hands fn the current version and tags, merges the tags it returns, and writes nothing when fn returns undefined', async () => {
    const store = new LocalSecretStore(await home(), randomBytes(32));
    expect(await store.update(NAME, (cur, tags) => {
      expect(cur).toBeUndefined();
      expect(tags).toBeUndefined();
      return undefined;
    })).toBeUndefined();
    expect(await store.get(NAME)).toBeUndefined();
    const v1 = await store.put(NAME, { a: 1 }, { 'sesame:kind': 'fla', 'sesame:environment': 'production' });
    const v2 = await store.update(NAME, async (cur, tags) => {
      expect(cur).toMatchObject({ value: { a: 1 }, version: v1.version });
      expect(tags).toEqual({ 'sesame:kind': 'fla', 'sesame:environment': 'production' });
      // fn may read the store (here, another secret) while the lock is held.
      expect(await store.get('sesame/acme/other')).toBeUndefined();
      return { value: { a: 1, b: 2 }, tags: { 'sesame:environment': 'acceptance' } };
    });
    expect(await store.get(NAME)).toMatchObject({ value: { a: 1, b: 2 }, version: v2?.version });
    expect(await store.getPrevious(NAME)).toMatchObject({ version: v1.version });
    expect(await store.tags(NAME)).toEqual({ 'sesame:kind': 'fla', 'sesame:environment': 'acceptance' });
    expect(await store.update(NAME, () => undefined)).toBeUndefined();
    expect((await store.get(NAME))?.version).toBe(v2?.version);
  });

  it('writes nothing when fn throws, and releases the lock', async () => {
    const h = await home();
    const store = new LocalSecretStore(h, randomBytes(32));
    await store.put(NAME, { a: 1 });
    await expect(store.update(NAME, () => {
      throw new Error('refused');
    })).rejects.toThrow('refused');
    expect((await store.get(NAME))?.value).toEqual({ a: 1 });
    await store.put(NAME, { a: 2 });
    expect((await store.get(NAME))?.value).toEqual({ a: 2 });
    expect(await readdir(join(h, 'secrets'))).not.toContain('.lock');
  });
});
