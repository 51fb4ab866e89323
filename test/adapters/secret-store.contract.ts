import { describe, expect, it } from 'vitest';
import type { SecretStore } from '../../functions/core/ports.ts';

/** What every SecretStore must do, run against each adapter. */
export function secretStoreContract(name: string, make: () => Promise<SecretStore>) {
  describe(`${name} honours the SecretStore contract`, () => {
    it('returns undefined for a secret that does not exist', async () => {
      const store = await make();
      expect(await store.get('sesame/acme/none')).toBeUndefined();
      expect(await store.getPrevious('sesame/acme/none')).toBeUndefined();
    });

    it('stores a JSON body and reads it back', async () => {
      const store = await make();
      const body = { a: 1, nested: { b: ['x', 'é'] } };
      const { version } = await store.put('sesame/acme/fla', body, { 'sesame:kind': 'fla' });
      const got = await store.get('sesame/acme/fla');
      expect(got?.value).toEqual(body);
      expect(got?.version).toBe(version);
    });

    it('makes every write a new version and keeps the previous one', async () => {
      const store = await make();
      const v1 = await store.put('sesame/acme/opco-atlas', { n: 1 });
      const v2 = await store.put('sesame/acme/opco-atlas', { n: 2 });
      expect(v2.version).not.toBe(v1.version);
      expect((await store.get('sesame/acme/opco-atlas'))?.value).toEqual({ n: 2 });
      expect(await store.getPrevious('sesame/acme/opco-atlas')).toMatchObject({ value: { n: 1 }, version: v1.version });
    });

    it('lists names with their tags by prefix, without other prefixes', async () => {
      const store = await make();
      await store.put('sesame/acme/fla', {}, { 'sesame:tenant': 'acme', 'sesame:kind': 'fla' });
      await store.put('sesame/beta/fla', {}, { 'sesame:tenant': 'beta' });
      await store.put('sesame-apps/billing', {}, { 'sesame:app': 'billing' });
      const all = await store.list({ prefix: 'sesame/' });
      expect(all.items.map((i) => i.name).sort()).toEqual(['sesame/acme/fla', 'sesame/beta/fla']);
      expect(all.items.find((i) => i.name === 'sesame/acme/fla')?.tags).toEqual({ 'sesame:tenant': 'acme', 'sesame:kind': 'fla' });
      expect((await store.list({ prefix: 'sesame/acme/' })).items.map((i) => i.name)).toEqual(['sesame/acme/fla']);
    });

    it('pages through long listings without loss or repeats', async () => {
      const store = await make();
      const names = Array.from({ length: 23 }, (_, i) => `sesame/t${String(i).padStart(2, '0')}/fla`);
      for (const n of names) await store.put(n, { n });
      const seen: string[] = [];
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ prefix: 'sesame/', pageSize: 10, ...(nextToken ? { nextToken } : {}) });
        seen.push(...page.items.map((i) => i.name));
        nextToken = page.nextToken;
        pages += 1;
      } while (nextToken);
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual(names);
    });

    it('updates tags without a new version', async () => {
      const store = await make();
      const { version } = await store.put('sesame/acme/cegid-cfe', { x: 1 }, { 'sesame:expires-at': 'none' });
      await store.tag('sesame/acme/cegid-cfe', { 'sesame:expires-at': '2027-01-01T00:00:00.000Z', 'sesame:alerted': '30' });
      expect((await store.get('sesame/acme/cegid-cfe'))?.version).toBe(version);
      const listed = await store.list({ prefix: 'sesame/acme/' });
      expect(listed.items[0]?.tags).toEqual({ 'sesame:expires-at': '2027-01-01T00:00:00.000Z', 'sesame:alerted': '30' });
    });

    it('reads the tags of one secret without its value, and nothing for a missing one', async () => {
      const store = await make();
      await store.put('sesame/acme/fla-acc', { x: 1 }, { 'sesame:environment': 'acceptance', 'sesame:kind': 'fla' });
      expect(await store.tags('sesame/acme/fla-acc')).toEqual({ 'sesame:environment': 'acceptance', 'sesame:kind': 'fla' });
      expect(await store.tags('sesame/acme/none')).toBeUndefined();
    });
  });
}
