import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat, writeFile, chmod } from 'node:fs/promises';
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
