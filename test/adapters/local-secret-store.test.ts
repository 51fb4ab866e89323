import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLocalKey, LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';

const home = () => mkdtemp(join(tmpdir(), 'sesame-local-'));
const file = (h: string) => join(h, 'secrets', 'sesame', 'acme', 'fla.json');

describe('the local encrypted store', () => {
  it('generates its key file once, with mode 0600, and reuses it', async () => {
    const h = await home();
    const k1 = await loadLocalKey(h, {});
    expect((await stat(join(h, 'local.key'))).mode & 0o777).toBe(0o600);
    expect(await loadLocalKey(h, {})).toEqual(k1);
  });

  it('refuses a key file readable by others', async () => {
    const h = await home();
    await loadLocalKey(h, {});
    await chmod(join(h, 'local.key'), 0o644);
    await expect(loadLocalKey(h, {})).rejects.toThrow(/chmod 600/);
  });

  it.each([
    ['64 hex characters', 'ab'.repeat(32), true],
    ['base64 of 32 bytes', randomBytes(32).toString('base64'), true],
    ['too short', 'abcd', false],
  ])('takes SESAME_LOCAL_KEY as %s: %s', async (_label, value, ok) => {
    const p = loadLocalKey(await home(), { SESAME_LOCAL_KEY: value });
    if (ok) expect((await p).length).toBe(32);
    else await expect(p).rejects.toThrow(/SESAME_LOCAL_KEY/);
  });

  it('writes nothing in clear: the secret value is not in the file', async () => {
    const h = await home();
    const store = new LocalSecretStore(h, randomBytes(32));
    await store.put('sesame/acme/fla', { private_key: 'PLAINTEXT-MARKER' }, { 'sesame:kind': 'fla' });
    const raw = await readFile(file(h), 'utf8');
    expect(raw).not.toContain('PLAINTEXT-MARKER');
    expect((await stat(file(h))).mode & 0o777).toBe(0o600);
  });

  it('leaves no temporary file behind', async () => {
    const h = await home();
    const store = new LocalSecretStore(h, randomBytes(32));
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('sesame/acme/fla', { i })));
    expect(await readdir(join(h, 'secrets', 'sesame', 'acme'))).toEqual(['fla.json']);
    expect((await store.get('sesame/acme/fla'))?.value).toEqual({ i: 19 });
  });

  it.each([
    ['a flipped ciphertext byte', (f: any) => { const d = Buffer.from(f.versions[0].data, 'base64'); d[0] = (d[0] ?? 0) ^ 1; f.versions[0].data = d.toString('base64'); }],
    ['an edited tag', (f: any) => { f.tags['sesame:kind'] = 'opco-atlas'; }],
    ['a swapped name', (f: any) => { f.name = 'sesame/acme/other'; }],
    ['a changed version id', (f: any) => { f.versions[0].id = 'forged'; }],
  ])('refuses a file with %s as store_corrupt', async (_label, tamper) => {
    const h = await home();
    const store = new LocalSecretStore(h, randomBytes(32));
    await store.put('sesame/acme/fla', { x: 1 }, { 'sesame:kind': 'fla' });
    const f = JSON.parse(await readFile(file(h), 'utf8'));
    tamper(f);
    await writeFile(file(h), JSON.stringify(f));
    await expect(store.get('sesame/acme/fla')).rejects.toMatchObject({ code: 'store_corrupt' });
  });

  // Whole seconds, which utimes sets exactly: only the inode change time then tells the files apart.
  const T = 1_700_000_000;
  it.each([
    [
      'edited in place, same size, its times set back',
      async (path: string) => {
        const before = await stat(path);
        await writeFile(path, (await readFile(path, 'utf8')).replace('"fla"', '"flb"'));
        await utimes(path, T, T);
        const after = await stat(path);
        expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
      },
    ],
    [
      'replaced by its earlier copy, with the same times',
      async (path: string, earlier: Buffer) => {
        await writeFile(path, earlier);
        await utimes(path, T, T);
      },
    ],
    ['deleted', (path: string) => unlink(path)],
  ])('reads a record it verified before from its file again once the file is %s, and refuses it', async (_label, change) => {
    const h = await home();
    const store = new LocalSecretStore(h, randomBytes(32));
    await store.put('sesame/acme/fla', { x: 1 }, { 'sesame:kind': 'fla' });
    const earlier = await readFile(file(h));
    await store.put('sesame/acme/fla', { x: 2 }, { 'sesame:kind': 'fla' });
    await utimes(file(h), T, T);
    // Read, and so verified: listed, tags, value.
    expect((await store.list({ prefix: 'sesame/' })).items).toHaveLength(1);
    expect(await store.tags('sesame/acme/fla')).toEqual({ 'sesame:kind': 'fla' });
    expect((await store.get('sesame/acme/fla'))?.value).toEqual({ x: 2 });
    await change(file(h), earlier);
    await expect(store.get('sesame/acme/fla')).rejects.toMatchObject({ code: 'store_corrupt' });
    await expect(store.list({ prefix: 'sesame/' })).rejects.toMatchObject({ code: 'store_corrupt' });
  });

  it('gives each reader its own copy of a record read before: a caller changing its tags changes nothing stored', async () => {
    const store = new LocalSecretStore(await home(), randomBytes(32));
    await store.put('sesame/acme/fla', { x: 1 }, { 'sesame:kind': 'fla' });
    const tags = (await store.tags('sesame/acme/fla')) as Record<string, string>;
    tags['sesame:kind'] = 'opco-atlas';
    const listed = (await store.list({ prefix: 'sesame/' })).items[0]?.tags as Record<string, string>;
    listed['sesame:extra'] = 'x';
    expect(await store.tags('sesame/acme/fla')).toEqual({ 'sesame:kind': 'fla' });
    expect((await store.list({ prefix: 'sesame/' })).items[0]?.tags).toEqual({ 'sesame:kind': 'fla' });
  });

  it('refuses a truncated file and a wrong key, naming the secret', async () => {
    const h = await home();
    const store = new LocalSecretStore(h, randomBytes(32));
    await store.put('sesame/acme/fla', { x: 1 });
    await expect(new LocalSecretStore(h, randomBytes(32)).get('sesame/acme/fla')).rejects.toThrow(/sesame\/acme\/fla/);
    const raw = await readFile(file(h), 'utf8');
    await writeFile(file(h), raw.slice(0, raw.length / 2));
    await expect(store.get('sesame/acme/fla')).rejects.toMatchObject({ code: 'store_corrupt' });
  });

  it.each(['../etc/passwd', 'sesame/../../x', 'sesame/acme/fla.json', 'sesame', 'Sesame/acme/x'])('refuses the name %s', async (name) => {
    const store = new LocalSecretStore(await home(), randomBytes(32));
    await expect(store.put(name, {})).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
