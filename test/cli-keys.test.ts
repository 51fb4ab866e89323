import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../functions/core/certificates/self-signed.ts';

/** No key or certificate is replaced without --replace; keygen checks its output before storing anything; PKCS#1 keys get the conversion hint. */

const BIN = join(import.meta.dirname, '..', 'bin', 'sesame.js');
let home: string;
let dir: string;
const outputs: string[] = [];
const P12_PASSWORD = 'S3cret-p12-pass';

function sesame(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, SESAME_HOME: home, POWERTOOLS_LOG_LEVEL: 'WARN' } }, (err, stdout, stderr) => {
      outputs.push(stdout, stderr);
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    }).stdin?.end(stdin);
  });
}
const shown = async (tenant: string, credential: string) => JSON.parse((await sesame(['credential', 'show', tenant, credential, '--json'])).stdout) as { fields: Record<string, unknown> };
const listed = async (tenant: string) => (JSON.parse((await sesame(['credential', 'list', tenant, '--json'])).stdout) as { credential: string }[]).map((c) => c.credential);

async function p12(name: string) {
  // A new key pair each time (the test PKI reuses one per key type).
  const made = await selfSignedCertificate({ type: 'ec', curve: 'P-384' }, { CN: name, O: 'CFA Keys', C: 'BE' }, { from: new Date(Date.now() - 60_000), days: 365 });
  const cert = { pem: made.pem, privatePem: made.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  const pass = join(dir, `${name}.pass`);
  await writeFile(key, cert.privatePem, { mode: 0o600 });
  await writeFile(crt, cert.pem);
  await writeFile(pass, P12_PASSWORD, { mode: 0o600 });
  const file = join(dir, `${name}.p12`);
  execFileSync('openssl', ['pkcs12', '-export', '-inkey', key, '-in', crt, '-out', file, '-passout', `file:${pass}`]);
  await rm(key);
  return { file, privatePem: cert.privatePem };
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-cli-keys-'));
  dir = await mkdtemp(join(tmpdir(), 'sesame-cli-keys-files-'));
  expect((await sesame(['tenant', 'add', 'cfa-keys', '--name', 'CFA Keys', '--bce', '0123456749'])).code).toBe(0);
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

describe('sesame credential import-p12 over an existing key', () => {
  it('refuses without --replace, saying what would be replaced, before asking for the password', async () => {
    const first = await p12('first');
    expect((await sesame(['credential', 'import-p12', 'cfa-keys', 'fla-employer', first.file, '--quality', 'employer'], `${P12_PASSWORD}\n`)).code).toBe(0);
    expect((await sesame(['credential', 'set', 'cfa-keys', 'fla-employer', '--merge'], '{"client_id":"self_service_chaman_42"}')).code).toBe(0);
    const before = await shown('cfa-keys', 'fla-employer');

    const second = await p12('second');
    // A wrong password: the refusal comes first, so nothing is even read.
    const r = await sesame(['credential', 'import-p12', 'cfa-keys', 'fla-employer', second.file], 'not-the-password\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sesame: cfa-keys\/fla-employer already has a private key \(registered in Chaman as client id self_service_chaman_42\) and a certificate \(sha256 [0-9a-f]{16}…, valid until \d{4}-\d\d-\d\d\): nothing was changed\. Add --replace/);
    expect(await shown('cfa-keys', 'fla-employer')).toEqual(before);

    const json = await sesame(['credential', 'import-p12', 'cfa-keys', 'fla-employer', second.file, '--json'], `${P12_PASSWORD}\n`);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'conflict' } });

    const replaced = await sesame(['credential', 'import-p12', 'cfa-keys', 'fla-employer', second.file, '--replace', '--json'], `${P12_PASSWORD}\n`);
    expect(replaced.code).toBe(0);
    expect(JSON.parse(replaced.stdout).replaced).toEqual([expect.stringMatching(/^a private key/), expect.stringMatching(/^a certificate/)]);
    const after = await shown('cfa-keys', 'fla-employer');
    expect(after.fields.certificate_sha256).not.toBe(before.fields.certificate_sha256);
    expect(after.fields.client_id).toBe('self_service_chaman_42');
  });

  it('credential set refuses to replace a stored key without --replace, and keeps it on --merge', async () => {
    const other = await p12('third');
    const fields = JSON.stringify({ private_key: other.privatePem, quality: 'employer', client_id: 'self_service_chaman_42' });
    const r = await sesame(['credential', 'set', 'cfa-keys', 'fla-employer'], fields);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already has a private key .* and a certificate .*: nothing was changed\. Add --replace/);
    expect((await sesame(['credential', 'set', 'cfa-keys', 'fla-employer', '--merge'], '{"scope":"flows"}')).code).toBe(0);
  });
});

describe('sesame fla keygen checks its output first', () => {
  it('refuses a missing directory before storing anything, so that a rerun works', async () => {
    const r = await sesame(['fla', 'keygen', 'cfa-keys', 'fla-out', '--quality', 'employer', '--alg', 'ES384', '--out', join(dir, 'missing', 'x.cer')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`sesame: cannot write ${join(dir, 'missing', 'x.cer')}: the directory ${join(dir, 'missing')} does not exist\n`);
    expect(await listed('cfa-keys')).not.toContain('fla-out');
    const again = await sesame(['fla', 'keygen', 'cfa-keys', 'fla-out', '--quality', 'employer', '--alg', 'ES384', '--out', join(dir, 'out.cer')]);
    expect(again.code).toBe(0);
    expect(await listed('cfa-keys')).toContain('fla-out');
    expect((await readFile(join(dir, 'out.cer'))).length).toBeGreaterThan(100);
  });

  it('refuses a directory, an existing file without --force, and leaves no temporary file', async () => {
    await mkdir(join(dir, 'sub'));
    const onDir = await sesame(['fla', 'keygen', 'cfa-keys', 'fla-dir', '--quality', 'employer', '--alg', 'ES384', '--out', join(dir, 'sub'), '--json']);
    expect(onDir.code).toBe(2);
    expect(JSON.parse(onDir.stderr).error).toMatchObject({ code: 'file', message: expect.stringMatching(/is a directory/) });
    const existing = join(dir, 'sub', 'kept.cer');
    await writeFile(existing, 'keep me');
    const onFile = await sesame(['fla', 'keygen', 'cfa-keys', 'fla-dir', '--quality', 'employer', '--alg', 'ES384', '--out', existing]);
    expect(onFile.code).toBe(2);
    expect(onFile.stderr).toMatch(/already exists: --force overwrites it/);
    expect(await readFile(existing, 'utf8')).toBe('keep me');
    expect(await listed('cfa-keys')).not.toContain('fla-dir');
    // The key guard refuses after the output check and before writing anything.
    const guarded = await sesame(['fla', 'keygen', 'cfa-keys', 'fla-out', '--out', join(dir, 'sub', 'other.cer')]);
    expect(guarded.code).toBe(1);
    expect(await readdir(join(dir, 'sub'))).toEqual(['kept.cer']);
    const forced = await sesame(['fla', 'keygen', 'cfa-keys', 'fla-dir', '--quality', 'employer', '--alg', 'ES384', '--out', existing, '--force']);
    expect(forced.code).toBe(0);
    expect(await readFile(existing, 'utf8')).not.toBe('keep me');
    expect(await readdir(join(dir, 'sub'))).toEqual(['kept.cer']);
  });
});

describe('FLA private keys', () => {
  it.each([
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()],
    ['EC', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString()],
  ])('a PKCS#1 / SEC1 %s key gets the openssl pkcs8 hint, without being quoted', async (_label, make) => {
    const pem = make();
    const r = await sesame(['credential', 'set', 'cfa-keys', 'fla-pkcs1'], JSON.stringify({ private_key: pem, quality: 'employer' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sesame: fla credential: field "private_key" is a PKCS#1 \(RSA\) or SEC1 \(EC\) key: convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem`\n$/);
  });

  it('never printed a private key or the p12 password', () => {
    const printed = outputs.join('\n');
    expect(printed).not.toMatch(/PRIVATE KEY-----/);
    expect(printed).not.toContain(P12_PASSWORD);
  });
});
