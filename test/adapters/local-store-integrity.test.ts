import { createCipheriv, createHmac, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { child } from './local-store-procs.ts';

const home = () => mkdtemp(join(tmpdir(), 'sesame-integrity-'));
const fileOf = (h: string, name: string) => `${join(h, 'secrets', ...name.split('/'))}.json`;
const readJson = async (h: string, name: string) => JSON.parse(await readFile(fileOf(h, name), 'utf8'));
const CRED = 'sesame/acme/fla';
const APP = 'sesame-apps/billing';

/** What a fresh process (as the CLI is) gets for each name: {value} or {code, message}. */
async function readInChild(h: string, key: Buffer, ...names: string[]): Promise<Record<string, { value?: unknown; code?: string; message?: string }>> {
  const r = await child(h, key, ['get', ...names]).done;
  expect(r.code, r.stderr).toBe(0);
  return r.json;
}

/** A record as the previous format (sesame-local-secret/1) wrote it. */
async function writeLegacy(h: string, master: Buffer, name: string, values: unknown[], tags: Record<string, string>): Promise<void> {
  const encKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'sesame local secret encryption', 32));
  const macKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'sesame local secret tags', 32));
  const versions = values.map((value, i) => {
    const id = randomUUID();
    const created_at = new Date(Date.UTC(2026, 0, 1 + i)).toISOString();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', encKey, iv);
    cipher.setAAD(Buffer.from(`${name}\n${id}\n${created_at}`));
    const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { id, created_at, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  });
  const tags_mac = createHmac('sha256', macKey).update(JSON.stringify([name, Object.entries(tags).sort(([a], [b]) => a.localeCompare(b))])).digest('base64');
  const file = fileOf(h, name);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ format: 'sesame-local-secret/1', name, tags, tags_mac, versions: versions.reverse() }, null, 1), { mode: 0o600 });
}

describe('the local store refuses what was changed behind its back', () => {
  it('refuses an app record whose two versions were swapped (which would un-revoke the app), in a fresh process too', async () => {
    const h = await home();
    const key = randomBytes(32);
    const store = new LocalSecretStore(h, key);
    await store.put(APP, { app: 'billing', revoked: false }, { 'sesame:app': 'billing' });
    await store.put(APP, { app: 'billing', revoked: true }, { 'sesame:revoked': 'true' });
    const f = await readJson(h, APP);
    f.versions = [f.versions[1], f.versions[0]];
    await writeFile(fileOf(h, APP), JSON.stringify(f));
    await expect(store.get(APP)).rejects.toMatchObject({ code: 'store_corrupt' });
    expect((await readInChild(h, key, APP))[APP]).toMatchObject({ code: 'store_corrupt', message: expect.stringContaining(APP) });
  });

  it('refuses an older copy of a credential file put back, in a fresh process too', async () => {
    const h = await home();
    const key = randomBytes(32);
    const store = new LocalSecretStore(h, key);
    await store.put(CRED, { private_key: 'OLD-KEY' });
    const old = await readFile(fileOf(h, CRED));
    await store.put(CRED, { private_key: 'NEW-KEY' });
    await store.tag(CRED, { 'sesame:alerted': '30' });
    await writeFile(fileOf(h, CRED), old);
    const error = { code: 'store_corrupt', message: expect.stringMatching(/earlier copy/) };
    await expect(new LocalSecretStore(h, key).get(CRED)).rejects.toMatchObject(error);
    await expect(store.tags(CRED)).rejects.toMatchObject(error);
    await expect(store.list({ prefix: 'sesame/' })).rejects.toMatchObject(error);
    const inChild = (await readInChild(h, key, CRED))[CRED];
    expect(inChild).toMatchObject(error);
    expect(JSON.stringify(inChild)).not.toMatch(/OLD-KEY|NEW-KEY/);
  });

  it.each([
    ['a file of another secret copied over it', async (h: string) => {
      await writeFile(fileOf(h, CRED), await readFile(fileOf(h, 'sesame/acme/other')));
    }],
    ['its version history truncated', async (h: string) => {
      const f = await readJson(h, CRED);
      f.versions = f.versions.slice(0, 1);
      await writeFile(fileOf(h, CRED), JSON.stringify(f));
    }],
    ['its previous version replaced by an older one', async (h: string) => {
      const f = await readJson(h, CRED);
      f.versions[1] = f.versions[0];
      await writeFile(fileOf(h, CRED), JSON.stringify(f));
    }],
    ['its change counter raised', async (h: string) => {
      const f = await readJson(h, CRED);
      f.counter += 5;
      await writeFile(fileOf(h, CRED), JSON.stringify(f));
    }],
    ['an edited tag', async (h: string) => {
      const f = await readJson(h, CRED);
      f.tags['sesame:environment'] = 'production';
      await writeFile(fileOf(h, CRED), JSON.stringify(f));
    }],
    ['its file deleted', async (h: string) => {
      await unlink(fileOf(h, CRED));
    }],
  ])('refuses a record with %s', async (_label, tamper) => {
    const h = await home();
    const key = randomBytes(32);
    const store = new LocalSecretStore(h, key);
    await store.put('sesame/acme/other', { other: true });
    await store.put(CRED, { n: 1 }, { 'sesame:environment': 'acceptance' });
    await store.put(CRED, { n: 2 });
    await tamper(h);
    await expect(store.get(CRED)).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringContaining(CRED) });
    await expect(new LocalSecretStore(h, key).getPrevious(CRED)).rejects.toMatchObject({ code: 'store_corrupt' });
    await expect(store.list({ prefix: 'sesame/acme/' })).rejects.toMatchObject({ code: 'store_corrupt' });
    await expect(store.put(CRED, { n: 3 })).rejects.toMatchObject({ code: 'store_corrupt' });
    expect((await store.get('sesame/acme/other'))?.value).toEqual({ other: true });
  });

  it('refuses an edited, truncated or deleted journal', async () => {
    const h = await home();
    const key = randomBytes(32);
    const store = new LocalSecretStore(h, key);
    for (let i = 0; i < 3; i += 1) await store.put(CRED, { i });
    const journal = join(h, 'secrets', '.journal');
    const text = await readFile(journal, 'utf8');
    const lines = text.trimEnd().split('\n');
    const edited = [...lines];
    edited[1] = (edited[1] as string).replace(/"c":\d+/, '"c":9');
    await writeFile(journal, `${edited.join('\n')}\n`);
    await expect(new LocalSecretStore(h, key).get(CRED)).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringContaining('journal') });
    // The last line dropped: the record is then newer than the journal says by more than one write... or by one,
    // which is a write whose writer died before the journal: served. Dropping two is refused.
    await writeFile(journal, `${lines.slice(0, -2).join('\n')}\n`);
    await expect(new LocalSecretStore(h, key).get(CRED)).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringContaining('journal') });
    await rm(journal);
    await expect(new LocalSecretStore(h, key).get(CRED)).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringMatching(/journal .*missing/) });
    await writeFile(journal, text);
    expect((await new LocalSecretStore(h, key).get(CRED))?.value).toEqual({ i: 2 });
  });

  it('delete(): the secret is gone, and its file put back stays gone', async () => {
    const h = await home();
    const key = randomBytes(32);
    const store = new LocalSecretStore(h, key);
    await store.put('sesame-tenants/gone', { id: 'gone' });
    await store.put('sesame-tenants/kept', { id: 'kept' });
    const copy = await readFile(fileOf(h, 'sesame-tenants/gone'));
    expect(await store.delete('sesame-tenants/gone')).toBe(true);
    expect(await store.delete('sesame-tenants/gone')).toBe(false);
    expect(await store.get('sesame-tenants/gone')).toBeUndefined();
    expect((await store.list({ prefix: 'sesame-tenants/' })).items.map((i) => i.name)).toEqual(['sesame-tenants/kept']);
    await writeFile(fileOf(h, 'sesame-tenants/gone'), copy);
    expect(await new LocalSecretStore(h, key).get('sesame-tenants/gone')).toBeUndefined();
    await store.put('sesame-tenants/gone', { id: 'gone', again: true });
    expect((await new LocalSecretStore(h, key).get('sesame-tenants/gone'))?.value).toEqual({ id: 'gone', again: true });
    expect(await new LocalSecretStore(h, key).getPrevious('sesame-tenants/gone')).toBeUndefined();
  });

  it('does not detect the whole folder put back, journal included (the documented limit)', async () => {
    const h = await home();
    const key = randomBytes(32);
    const store = new LocalSecretStore(h, key);
    await store.put(CRED, { n: 1 });
    await cp(join(h, 'secrets'), join(h, 'backup'), { recursive: true });
    await store.put(CRED, { n: 2 });
    await rm(join(h, 'secrets'), { recursive: true });
    await cp(join(h, 'backup'), join(h, 'secrets'), { recursive: true });
    expect((await new LocalSecretStore(h, key).get(CRED))?.value).toEqual({ n: 1 });
  });
});

describe('a wrong key', () => {
  const keyMessage = /written with another key.*SESAME_LOCAL_KEY.*local\.key/;

  it('is named as the likely cause, once, by every operation, in a fresh process too', async () => {
    const h = await home();
    const key = randomBytes(32);
    const store = new LocalSecretStore(h, key);
    await store.put(CRED, { x: 1 }, { 'sesame:kind': 'fla' });
    await store.put(APP, { app: 'billing' });
    const wrong = new LocalSecretStore(h, randomBytes(32));
    for (const op of [() => wrong.get(CRED), () => wrong.tags(CRED), () => wrong.list({ prefix: 'sesame' }), () => wrong.put(CRED, { x: 2 }), () => wrong.tag(CRED, { a: 'b' })]) {
      const err = await op().then(() => undefined, (e: unknown) => e as Error & { code: string });
      expect(err).toMatchObject({ code: 'store_corrupt', message: expect.stringMatching(keyMessage) });
      expect(err?.message).not.toMatch(/MAC/);
    }
    const inChild = await readInChild(h, randomBytes(32), CRED);
    expect(inChild[CRED]).toMatchObject({ code: 'store_corrupt', message: expect.stringMatching(keyMessage) });
    expect((await store.get(CRED))?.value).toEqual({ x: 1 });
  });

  it('is named for a store written by the previous format too', async () => {
    const h = await home();
    const key = randomBytes(32);
    await writeLegacy(h, key, CRED, [{ x: 1 }], { 'sesame:kind': 'fla' });
    await writeLegacy(h, key, APP, [{ app: 'billing' }], {});
    await expect(new LocalSecretStore(h, randomBytes(32)).list({ prefix: 'sesame/' })).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringMatching(keyMessage) });
    await expect(new LocalSecretStore(h, randomBytes(32)).get(CRED)).rejects.toMatchObject({ message: expect.stringMatching(keyMessage) });
    expect((await new LocalSecretStore(h, key).get(CRED))?.value).toEqual({ x: 1 });
  });
});

describe('a store written by the previous format', () => {
  it('keeps working, and each record is upgraded when next written, its previous version kept', async () => {
    const h = await home();
    const key = randomBytes(32);
    await writeLegacy(h, key, CRED, [{ n: 1 }, { n: 2 }], { 'sesame:kind': 'fla', 'sesame:tenant': 'acme' });
    await writeLegacy(h, key, APP, [{ app: 'billing' }], { 'sesame:app': 'billing' });
    await writeFile(`${fileOf(h, CRED)}.4194999.0123456789ab.tmp`, 'left by a writer that died');
    const store = new LocalSecretStore(h, key);
    expect((await store.get(CRED))?.value).toEqual({ n: 2 });
    expect((await store.getPrevious(CRED))?.value).toEqual({ n: 1 });
    expect(await store.tags(CRED)).toEqual({ 'sesame:kind': 'fla', 'sesame:tenant': 'acme' });
    expect((await store.list({ prefix: 'sesame' })).items.map((i) => i.name)).toEqual([APP, CRED]);
    const { version } = await store.put(CRED, { n: 3 }, { 'sesame:environment': 'production' });
    expect((await readJson(h, CRED)).format).toBe('sesame-local-secret/2');
    expect((await readJson(h, APP)).format).toBe('sesame-local-secret/1');
    const fresh = new LocalSecretStore(h, key);
    expect(await fresh.get(CRED)).toMatchObject({ value: { n: 3 }, version });
    expect((await fresh.getPrevious(CRED))?.value).toEqual({ n: 2 });
    expect(await fresh.tags(CRED)).toEqual({ 'sesame:kind': 'fla', 'sesame:tenant': 'acme', 'sesame:environment': 'production' });
    expect((await fresh.get(APP))?.value).toEqual({ app: 'billing' });
  });

  it('refuses its records tampered with after the upgrade, or an old-format copy put back', async () => {
    const h = await home();
    const key = randomBytes(32);
    await writeLegacy(h, key, CRED, [{ n: 1 }], {});
    await writeLegacy(h, key, APP, [{ revoked: false }, { revoked: true }], { 'sesame:revoked': 'true' });
    const legacyCred = await readFile(fileOf(h, CRED));
    const store = new LocalSecretStore(h, key);
    await store.put(CRED, { n: 2 });
    await writeFile(fileOf(h, CRED), legacyCred);
    const f = await readJson(h, APP);
    f.versions = [f.versions[1], f.versions[0]];
    await writeFile(fileOf(h, APP), JSON.stringify(f));
    const got = await readInChild(h, key, CRED, APP);
    expect(got[CRED]).toMatchObject({ code: 'store_corrupt' });
    expect(got[APP]).toMatchObject({ code: 'store_corrupt' });
  });

  it('refuses, as before, a record of that format whose tags were edited, and serves the others', async () => {
    const h = await home();
    const key = randomBytes(32);
    await writeLegacy(h, key, CRED, [{ n: 1 }], { 'sesame:kind': 'fla' });
    await writeLegacy(h, key, APP, [{ app: 'billing' }], {});
    const f = await readJson(h, CRED);
    f.tags['sesame:kind'] = 'opco-atlas';
    await writeFile(fileOf(h, CRED), JSON.stringify(f));
    const store = new LocalSecretStore(h, key);
    await expect(store.get(CRED)).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringMatching(/tags do not match/) });
    expect((await store.get(APP))?.value).toEqual({ app: 'billing' });
  });
});
