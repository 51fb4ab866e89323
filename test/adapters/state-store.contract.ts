import { describe, expect, it } from 'vitest';
import { isSesameError } from '../../functions/core/errors.ts';
import type { Clock, StateItem, StateStore } from '../../functions/core/ports.ts';

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(private ms = Date.UTC(2026, 0, 15, 12, 0, 0)) {}
  now(): Date {
    return new Date(this.ms);
  }
  get seconds(): number {
    return Math.floor(this.ms / 1000);
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isSesameError(err)) return err.code;
    throw err;
  }
}

/** Every page of a query, until the cursor runs out. */
async function allPages(store: StateStore, pk: string, options: { prefix?: string; limit?: number }): Promise<StateItem[][]> {
  const pages: StateItem[][] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query(pk, { ...options, ...(cursor === undefined ? {} : { cursor }) });
    pages.push(page.items);
    cursor = page.cursor;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

/**
 * What every StateStore must do, run against each adapter. `make` gives a store reading
 * the clock it is given; every store made within one test must share one table (as
 * processes or function instances do). Each test takes partition keys of its own, so
 * the table need not be empty.
 */
export function stateStoreContract(name: string, make: (clock: Clock) => Promise<StateStore>) {
  let n = 0;
  /** A partition key no other test of this run uses, with the characters real keys hold. */
  const fresh = (what: string) => `${what}#${process.pid}-${Date.now()}-${(n += 1)}`;

  describe(`${name} honours the StateStore contract`, () => {
    it('returns undefined for an item that does not exist', async () => {
      const store = await make(new ManualClock());
      expect(await store.get(fresh('link'), 'link')).toBeUndefined();
      expect(await store.query(fresh('link'))).toEqual({ items: [], cursor: undefined });
    });

    it('stores an item with version 1, reads it back, and bumps the version at every write', async () => {
      const store = await make(new ManualClock());
      const pk = fresh('link');
      const first = await store.put({ pk, sk: 'link', data: { tenant: 'acme', fields: ['cfa_key'], n: 1.5, ok: true, none: null } });
      expect(first).toEqual({ pk, sk: 'link', version: 1, data: { tenant: 'acme', fields: ['cfa_key'], n: 1.5, ok: true, none: null } });
      expect(await store.get(pk, 'link')).toEqual(first);
      const second = await store.put({ pk, sk: 'link', data: { tenant: 'acme', used: true } });
      expect(second.version).toBe(2);
      expect(await store.get(pk, 'link')).toEqual({ pk, sk: 'link', version: 2, data: { tenant: 'acme', used: true } });
    });

    it('refuses a second put ifAbsent with conflict, and keeps the first', async () => {
      const store = await make(new ManualClock());
      const pk = fresh('link');
      await store.put({ pk, sk: 'link', data: { who: 'first' } }, { ifAbsent: true });
      expect(await codeOf(store.put({ pk, sk: 'link', data: { who: 'second' } }, { ifAbsent: true }))).toBe('conflict');
      expect(await store.get(pk, 'link')).toMatchObject({ version: 1, data: { who: 'first' } });
    });

    it('writes ifVersion when the version is the current one, and refuses a stale or absent one', async () => {
      const store = await make(new ManualClock());
      const pk = fresh('link');
      const v1 = await store.put({ pk, sk: 'link', data: { step: 1 } });
      const v2 = await store.put({ pk, sk: 'link', data: { step: 2 } }, { ifVersion: v1.version });
      expect(v2.version).toBe(2);
      expect(await codeOf(store.put({ pk, sk: 'link', data: { step: 'stale' } }, { ifVersion: v1.version }))).toBe('conflict');
      expect(await codeOf(store.put({ pk, sk: 'other', data: {} }, { ifVersion: 1 }))).toBe('conflict');
      expect(await store.get(pk, 'link')).toMatchObject({ version: 2, data: { step: 2 } });
      expect(await store.get(pk, 'other')).toBeUndefined();
    });

    it('lets exactly one of twenty simultaneous conditional puts win', async () => {
      const clock = new ManualClock();
      const stores = await Promise.all(Array.from({ length: 4 }, () => make(clock)));
      const pk = fresh('link');
      await stores[0]!.put({ pk, sk: 'link', data: { used: false } });
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => codeOf(stores[i % stores.length]!.put({ pk, sk: 'link', data: { used: true, by: i } }, { ifVersion: 1 }))),
      );
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'conflict')).toHaveLength(19);
      const winner = outcomes.indexOf('ok');
      expect(await stores[0]!.get(pk, 'link')).toMatchObject({ version: 2, data: { used: true, by: winner } });

      const pk2 = fresh('link');
      const created = await Promise.all(Array.from({ length: 20 }, (_, i) => codeOf(stores[i % stores.length]!.put({ pk: pk2, sk: 'link', data: { by: i } }, { ifAbsent: true }))));
      expect(created.filter((o) => o === 'ok')).toHaveLength(1);
      expect(await stores[0]!.get(pk2, 'link')).toMatchObject({ version: 1, data: { by: created.indexOf('ok') } });
    });

    it('hides an item once its expiry has passed, from get and query, and treats it as absent for writes', async () => {
      const clock = new ManualClock();
      const store = await make(clock);
      const pk = fresh('link');
      await store.put({ pk, sk: 'a', expiresAt: clock.seconds + 60, data: { n: 1 } });
      await store.put({ pk, sk: 'b', expiresAt: clock.seconds + 3600, data: { n: 2 } });
      await store.put({ pk, sk: 'c', data: { n: 3 } });
      clock.advance(59);
      expect(await store.get(pk, 'a')).toMatchObject({ expiresAt: clock.seconds + 1, data: { n: 1 } });
      clock.advance(1);
      expect(await store.get(pk, 'a')).toBeUndefined();
      expect((await store.query(pk)).items.map((i) => i.sk)).toEqual(['b', 'c']);
      expect(await codeOf(store.put({ pk, sk: 'a', data: { n: 'x' } }, { ifVersion: 1 }))).toBe('conflict');
      // Expired counts as absent: a new item starts again at version 1.
      expect(await store.put({ pk, sk: 'a', data: { n: 'again' } }, { ifAbsent: true })).toMatchObject({ version: 1, data: { n: 'again' } });
      clock.advance(3600);
      expect((await store.query(pk)).items.map((i) => i.sk)).toEqual(['a', 'c']);
    });

    it('queries one partition by sort key order and prefix, leaving other partitions out', async () => {
      const store = await make(new ManualClock());
      const pk = fresh('tenant');
      const other = fresh('tenant');
      for (const sk of ['link#b', 'link#a', 'audit#1', 'link#c', 'linka']) await store.put({ pk, sk, data: { sk } });
      await store.put({ pk: other, sk: 'link#z', data: {} });
      const all = await store.query(pk);
      expect(all.items.map((i) => i.sk)).toEqual(['audit#1', 'link#a', 'link#b', 'link#c', 'linka']);
      expect(all.cursor).toBeUndefined();
      expect(all.items[1]).toEqual({ pk, sk: 'link#a', version: 1, data: { sk: 'link#a' } });
      expect((await store.query(pk, { prefix: 'link#' })).items.map((i) => i.sk)).toEqual(['link#a', 'link#b', 'link#c']);
      expect((await store.query(pk, { prefix: 'nothing' })).items).toEqual([]);
    });

    it('pages through a partition without loss or repeats, skipping expired items', async () => {
      const clock = new ManualClock();
      const store = await make(clock);
      const pk = fresh('tenant');
      const sks = Array.from({ length: 23 }, (_, i) => `link#${String(i).padStart(2, '0')}`);
      for (const [i, sk] of sks.entries()) await store.put({ pk, sk, data: { i }, ...(i % 5 === 0 ? { expiresAt: clock.seconds + 10 } : {}) });
      await store.put({ pk, sk: 'zzz', data: {} });
      const pages = await allPages(store, pk, { prefix: 'link#', limit: 10 });
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(10);
      expect(pages.length).toBeLessThanOrEqual(4);
      expect(pages.flat().map((i) => i.sk)).toEqual(sks);

      clock.advance(10);
      const live = sks.filter((_, i) => i % 5 !== 0);
      const after = await allPages(store, pk, { prefix: 'link#', limit: 7 });
      for (const page of after) expect(page.length).toBeLessThanOrEqual(7);
      expect(after.flat().map((i) => i.sk)).toEqual(live);
      expect(after[0]).toHaveLength(7);
    });

    it('refuses a tampered cursor, a cursor of another partition and a bad limit as invalid requests', async () => {
      const store = await make(new ManualClock());
      const pk = fresh('tenant');
      for (const sk of ['a', 'b', 'c']) await store.put({ pk, sk, data: {} });
      const { cursor } = await store.query(pk, { limit: 1 });
      expect(cursor).toBeTypeOf('string');
      expect((await store.query(pk, { limit: 1, cursor: cursor! })).items.map((i) => i.sk)).toEqual(['b']);
      const forged = Buffer.from(JSON.stringify({ pk: 'other', sk: 'a' })).toString('base64url');
      const extra = Buffer.from(JSON.stringify({ pk, sk: 'a', x: { S: '1' } })).toString('base64url');
      for (const bad of ['not a cursor!', `${cursor}x`, 'e30', forged, extra, Buffer.from('[1]').toString('base64url')]) {
        expect(await codeOf(store.query(pk, { cursor: bad })), bad).toBe('invalid_request');
      }
      expect(await codeOf(store.query(pk, { prefix: 'b', cursor: cursor! })), 'a cursor before the prefix').toBe('invalid_request');
      for (const limit of [0, -1, 1.5, 100_000]) expect(await codeOf(store.query(pk, { limit })), String(limit)).toBe('invalid_request');
    });

    it('deletes an item, under a condition when one is given', async () => {
      const store = await make(new ManualClock());
      const pk = fresh('link');
      await store.put({ pk, sk: 'link', data: {} });
      await store.put({ pk, sk: 'link', data: { v: 2 } });
      expect(await codeOf(store.delete(pk, 'link', { ifVersion: 1 }))).toBe('conflict');
      expect(await codeOf(store.delete(pk, 'link', { ifAbsent: true }))).toBe('conflict');
      expect(await store.get(pk, 'link')).toMatchObject({ version: 2 });
      await store.delete(pk, 'link', { ifVersion: 2 });
      expect(await store.get(pk, 'link')).toBeUndefined();
      expect(await codeOf(store.delete(pk, 'link', { ifVersion: 2 }))).toBe('conflict');
      await store.delete(pk, 'link');
      await store.put({ pk, sk: 'other', data: {} });
      await store.delete(pk, 'other');
      expect(await store.query(pk)).toEqual({ items: [], cursor: undefined });
    });

    it('keeps keys with odd characters apart and intact', async () => {
      const store = await make(new ManualClock());
      const base = fresh('link');
      const pks = [`${base}#a/b`, `${base}#a%2Fb`, `${base}#../../etc/passwd`, `${base}#é 漢字 😀`, `${base}#a\\b`, `${base}#.`, `${base}#a:b*?"<>|`];
      for (const [i, pk] of pks.entries()) await store.put({ pk, sk: `sk#/${i}/😀`, data: { i } });
      for (const [i, pk] of pks.entries()) {
        expect(await store.get(pk, `sk#/${i}/😀`)).toEqual({ pk, sk: `sk#/${i}/😀`, version: 1, data: { i } });
        expect((await store.query(pk)).items).toHaveLength(1);
      }
      const long = `${base}#${'x'.repeat(900)}`;
      await store.put({ pk: long, sk: 'y'.repeat(1000), data: {} });
      expect(await store.get(long, 'y'.repeat(1000))).toMatchObject({ version: 1 });
      for (const bad of ['', 'z'.repeat(1025), 'lone \ud800 surrogate']) {
        expect(await codeOf(store.put({ pk: bad, sk: 'a', data: {} })), `pk ${bad.slice(0, 20)}`).toBe('invalid_request');
        expect(await codeOf(store.put({ pk: base, sk: bad, data: {} })), `sk ${bad.slice(0, 20)}`).toBe('invalid_request');
      }
    });

    it('round-trips large and nested data (64 KB)', async () => {
      const store = await make(new ManualClock());
      const pk = fresh('link');
      const data = {
        blob: 'é'.repeat(16 * 1024) + 'a'.repeat(32 * 1024),
        list: Array.from({ length: 200 }, (_, i) => ({ i, s: `${i}`, f: i / 7, empty: '', deep: { arr: [[], {}, [null]] } })),
        big: Number.MAX_SAFE_INTEGER,
        neg: -0.000123,
        unicode: '\u0000\u001f"\\😀',
      };
      expect(Buffer.byteLength(JSON.stringify(data))).toBeGreaterThan(64 * 1024);
      await store.put({ pk, sk: 'link', data });
      expect((await store.get(pk, 'link'))?.data).toEqual(data);
      expect((await store.query(pk)).items[0]?.data).toEqual(data);
    });

    it('refuses data that is not an object, or too large, and a bad expiry or condition', async () => {
      const store = await make(new ManualClock());
      const pk = fresh('link');
      expect(await codeOf(store.put({ pk, sk: 'a', data: [] as unknown as Record<string, unknown> }))).toBe('invalid_request');
      expect(await codeOf(store.put({ pk, sk: 'a', data: { blob: 'a'.repeat(300 * 1024) } }))).toBe('payload_too_large');
      expect(await codeOf(store.put({ pk, sk: 'a', expiresAt: 1.5, data: {} }))).toBe('invalid_request');
      expect(await codeOf(store.put({ pk, sk: 'a', data: {} }, { ifVersion: 0 }))).toBe('invalid_request');
      expect(await store.get(pk, 'a')).toBeUndefined();
    });
  });
}
