import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chorusChain, EKU, issue, p7b } from './helpers/pki.ts';
import { stopChild } from './helpers/child.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'sesame.js');
let home: string;
let dir: string;

function sesame(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, SESAME_HOME: home, POWERTOOLS_LOG_LEVEL: 'WARN', ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ).stdin?.end();
  });
}

let good: string;
let bad: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-cli-cert-'));
  dir = await mkdtemp(join(tmpdir(), 'sesame-certs-'));
  const c = await chorusChain({ notAfter: new Date('2027-06-30T00:00:00Z') });
  good = join(dir, 'good.p7b');
  await writeFile(good, p7b([c.leaf, c.inter, c.root]));
  const s = await chorusChain({ eku: [EKU.serverAuth] });
  bad = join(dir, 'server.p7b');
  await writeFile(bad, p7b([s.leaf, s.inter, s.root]));
  await writeFile(join(dir, 'huge.pem'), Buffer.alloc(100 * 1024, 0x41));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

describe('sesame cert check', () => {
  it('prints a readable verdict and exits 0 for a valid file', async () => {
    const r = await sesame(['cert', 'check', good, '--profile', 'chorus-client', '--at', '2026-11-21']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^VALID \(chorus-client, at 2026-11-21T00:00:00.000Z\)/);
    expect(r.stdout).toMatch(/policy_not_checked/);
  });

  it('prints exactly the report object with --json and exits 1 when refused', async () => {
    const r = await sesame(['cert', 'check', bad, '--profile', 'chorus-client', '--json', '--at', '2026-11-21']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(Object.keys(report).sort()).toEqual(['certificates', 'errors', 'profile', 'valid', 'validated_at', 'warnings']);
    expect(report.errors.map((e: { code: string }) => e.code)).toEqual(['extended_key_usage']);
  });

  it('judges at the date given: after the end of validity the same file is expired', async () => {
    const r = await sesame(['cert', 'check', good, '--profile', 'chorus-client', '--json', '--at', '2027-07-01']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).errors.map((e: { code: string }) => e.code)).toEqual(['expired']);
  });

  it('refuses an oversized file from its size', async () => {
    const r = await sesame(['cert', 'check', join(dir, 'huge.pem'), '--profile', 'fla', '--json']);
    expect(JSON.parse(r.stdout).errors[0].code).toBe('too_large');
  });

  it.each([
    [['cert', 'check', 'missing.pem', '--profile', 'fla']],
    [['cert', 'check', 'x', '--profile', 'chorus']],
    [['cert', 'check', 'x']],
    [['cert', 'check', 'x', '--profile', 'fla', '--at', 'someday']],
  ])('exits 2 on a usage error: %j', async (args) => {
    expect((await sesame(args)).code).toBe(2);
  });
});

describe('sesame cert check --profile chain', () => {
  it('validates the path alone against the anchors given, at the time given', async () => {
    const c = await chorusChain();
    const chain = join(dir, 'chain-only.pem');
    await writeFile(chain, [c.leaf, c.inter].map((x) => x.pem).join(''));
    const anchors = join(dir, 'anchors.pem');
    await writeFile(anchors, c.root.pem);
    const ok = await sesame(['cert', 'check', chain, '--profile', 'chain', '--anchors', anchors, '--at', '2026-11-21T12:00:00Z', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, profile: 'chain', validated_at: '2026-11-21T12:00:00.000Z', errors: [], warnings: [] });
    const other = await chorusChain({}, { root: 'CN=Other Root, C=FR', inter: 'CN=Other CA, C=FR' });
    const foreign = join(dir, 'foreign.pem');
    await writeFile(foreign, [other.leaf, other.inter, other.root].map((x) => x.pem).join(''));
    const refused = await sesame(['cert', 'check', foreign, '--profile', 'chain', '--anchors', anchors, '--at', '2026-11-21T12:00:00Z', '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).errors).toEqual([expect.objectContaining({ code: 'untrusted_root', certificate: { position: 3, subject: 'CN=Other Root, C=FR' } })]);
  });

  it('says the root was not checked when no anchors are given, and refuses an anchor file that holds no CA', async () => {
    const r = await sesame(['cert', 'check', good, '--profile', 'chain', '--at', '2026-11-21', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).warnings.map((w: { code: string }) => w.code)).toEqual(['root_not_checked']);
    const c = await chorusChain();
    const leafOnly = join(dir, 'leaf-anchor.pem');
    await writeFile(leafOnly, c.leaf.pem);
    const bad = await sesame(['cert', 'check', good, '--profile', 'chain', '--anchors', leafOnly]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^sesame: --anchors \(.*\) holds "CN=edi.cfa-paris.example, O=CFA Paris, C=FR", which is not a CA certificate\n$/);
  });
});

describe('sesame cert upload (local)', () => {
  it('stores an accepted certificate in the credential and prints the verdict', async () => {
    await sesame(['tenant', 'add', 'cfa-paris']);
    const set = await new Promise<number>((resolve) => {
      const child = execFile(process.execPath, [BIN, 'credential', 'set', 'cfa-paris', 'chorus-edi', '--kind', 'chorus-edi'], { env: { ...process.env, SESAME_HOME: home } }, (err) => resolve(err ? 1 : 0));
      child.stdin?.end('{"usage":"client"}');
    });
    expect(set).toBe(0);
    const r = await sesame(['cert', 'upload', 'cfa-paris', 'chorus-edi', good]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ACCEPTED: VALID/);
    expect((await sesame(['credential', 'list', 'cfa-paris'])).stdout).toMatch(/chorus-edi\s+chorus-edi\s+production\s+2027-06-30/);
    const refused = await sesame(['cert', 'upload', 'cfa-paris', 'chorus-edi', bad, '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).outcome).toBe('rejected');
    expect(await readdir(join(home, 'outbox'))).toHaveLength(1);
  });
});

describe('sesame dev watches the uploads folder', () => {
  it('processes a dropped file and prints the verdict', async () => {
    const devHome = await mkdtemp(join(tmpdir(), 'sesame-dev-watch-'));
    const child = spawn(process.execPath, [BIN, 'dev', '--port', '0', '--no-demo'], { env: { ...process.env, SESAME_HOME: devHome, POWERTOOLS_LOG_LEVEL: 'WARN' } });
    try {
      let out = '';
      const waitFor = (re: RegExp) =>
        new Promise<void>((resolve, reject) => {
          const check = () => re.test(out) && resolve();
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            check();
          });
          child.on('exit', (code) => reject(new Error(`dev exited ${code}: ${out}`)));
          check();
        });
      await waitFor(/Press Ctrl-C/);
      const cert = await issue({ subject: 'CN=x, C=FR', eku: [EKU.clientAuth] });
      await mkdir(join(devHome, 'uploads', 'nobody', 'chorus-edi'), { recursive: true });
      await writeFile(join(devHome, 'uploads', 'nobody', 'chorus-edi', 'x.cer'), cert.der);
      await waitFor(/certificate nobody\/chorus-edi\/x\.cer: rejected/);
      expect(await readdir(join(devHome, 'rejected', 'nobody', 'chorus-edi'))).toEqual(['x.cer']);
    } finally {
      await stopChild(child);
      await rm(devHome, { recursive: true, force: true });
    }
  });
});

describe('sesame fla keygen', () => {
  it('onboards an FLA client end to end: keygen, registration of the .cer, client id, a real token', async () => {
    const { X509Certificate } = await import('node:crypto');
    const { readFile } = await import('node:fs/promises');
    const { startOAuthServer } = await import('../functions/local/oauth-server.ts');
    await sesame(['tenant', 'add', 'cfa-bxl', '--name', 'CFA Bruxelles', '--bce', '0123.456.749']);
    const cer = join(dir, 'chaman.cer');
    const gen = await sesame(['fla', 'keygen', 'cfa-bxl', 'fla-employer', '--alg', 'ES384', '--quality', 'employer', '--env', 'acceptance', '--out', cer, '--json']);
    expect(gen.code).toBe(0);
    expect(JSON.parse(gen.stdout)).toMatchObject({ kind: 'fla', environment: 'acceptance', certificate_file: cer });
    expect(gen.stdout).not.toContain('PRIVATE KEY');
    const check = await sesame(['cert', 'check', cer, '--profile', 'fla', '--json']);
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout).certificates[0]).toMatchObject({ subject: 'CN=CFA Bruxelles, O=CFA Bruxelles, organizationIdentifier=NTRBE-0123456749, C=BE', key: { type: 'ec', curve: 'P-384' } });

    // Before Chaman issues the client id, the credential is incomplete.
    expect((await sesame(['token', 'cfa-bxl', 'fla-employer'])).stderr).toMatch(/no client_id yet/);

    // "Chaman": an OAuth2 server that trusts the public key of the .cer.
    const publicKey = new X509Certificate(await readFile(cer)).publicKey;
    const oauth = await startOAuthServer({ clients: [{ client_id: 'self_service_chaman_42', auth: 'private_key_jwt', publicKey }] });
    try {
      const merge = await new Promise<number>((resolve) => {
        const child = execFile(process.execPath, [BIN, 'credential', 'set', 'cfa-bxl', 'fla-employer', '--kind', 'fla', '--merge'], { env: { ...process.env, SESAME_HOME: home } }, (err) => resolve(err ? 1 : 0));
        child.stdin?.end(JSON.stringify({ client_id: 'self_service_chaman_42', token_endpoint: oauth.tokenEndpoint }));
      });
      expect(merge).toBe(0);
      const token = await sesame(['token', 'cfa-bxl', 'fla-employer', '--json']);
      expect(JSON.parse(token.stdout)).toMatchObject({ kind: 'fla', environment: 'acceptance', token_type: 'Bearer' });
    } finally {
      await oauth.close();
    }
  });

  it('refuses to replace an existing key without --replace, and --bits with an EC algorithm', async () => {
    expect((await sesame(['fla', 'keygen', 'cfa-bxl', 'fla-employer', '--out', join(dir, 'x.cer')])).stderr).toMatch(/already has a private key/);
    expect((await sesame(['fla', 'keygen', 'cfa-bxl', 'fla-other', '--alg', 'ES512', '--bits', '2048', '--quality', 'employer'])).code).toBe(2);
    expect((await sesame(['fla', 'keygen', 'cfa-bxl', 'opco-atlas', '--quality', 'employer'])).code).toBe(2);
  });
});

describe('sesame credential import-p12', () => {
  /** A PKCS#12 file made by openssl; `legacy`: RC2/3DES and SHA-1, as old Windows exports are. */
  async function p12(cert: { pem: string; privatePem: string }, password: string, name: string, legacy = false) {
    const { execFileSync } = await import('node:child_process');
    const key = join(dir, `${name}.key`);
    const crt = join(dir, `${name}.crt`);
    const pass = join(dir, `${name}.pass`);
    await writeFile(key, cert.privatePem, { mode: 0o600 });
    await writeFile(crt, cert.pem);
    await writeFile(pass, password, { mode: 0o600 });
    const file = join(dir, `${name}.p12`);
    execFileSync('openssl', ['pkcs12', '-export', ...(legacy ? ['-legacy'] : []), '-inkey', key, '-in', crt, '-out', file, '-passout', `file:${pass}`]);
    await rm(key);
    return file;
  }
  const importP12 = (args: string[], password: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [BIN, 'credential', 'import-p12', ...args], { env: { ...process.env, SESAME_HOME: home } }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
      child.stdin?.end(`${password}\n`);
    });

  it('imports an FLA key and certificate, password on stdin, after validating them', async () => {
    await sesame(['tenant', 'add', 'cfa-p12']);
    const cert = await issue({ subject: 'CN=CFA P12, O=CFA P12, C=BE', shape: 'ec384', digest: 'SHA-384' });
    const file = await p12(cert, 'S3cret p12 pass', 'fla');
    const r = await importP12(['cfa-p12', 'fla-employer', file, '--quality', 'employer', '--json'], 'S3cret p12 pass');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'fla', expires_at: '2028-01-01T00:00:00.000Z', private_key_stored: true });
    const shown = JSON.parse((await sesame(['credential', 'show', 'cfa-p12', 'fla-employer', '--json'])).stdout);
    expect(shown.fields).toMatchObject({ private_key: '[redacted]', quality: 'employer' });
    expect(r.stdout + r.stderr).not.toContain('S3cret');
  });

  it('keeps only the certificate of a Chorus Pro p12', async () => {
    const c = await chorusChain();
    const file = await p12(c.leaf, 'pw', 'edi');
    await new Promise<void>((resolve) => {
      const child = execFile(process.execPath, [BIN, 'credential', 'set', 'cfa-p12', 'chorus-edi', '--kind', 'chorus-edi'], { env: { ...process.env, SESAME_HOME: home } }, () => resolve());
      child.stdin?.end('{"usage":"client"}');
    });
    // The p12 holds the leaf only: the Chorus profile wants the whole chain, and says so.
    const r = await importP12(['cfa-p12', 'chorus-edi', file, '--json'], 'pw');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).errors.map((e: { code: string }) => e.code)).toEqual(['chain_incomplete']);
  });

  it('refuses a legacy p12 whose certificate breaks the rules, storing nothing', async () => {
    await sesame(['tenant', 'add', 'cfa-p12']);
    const old = await issue({ subject: 'CN=Old Export, C=BE', digest: 'SHA-1', keyUsage: null, notBefore: new Date('2010-01-01T00:00:00Z'), notAfter: new Date('2012-01-01T00:00:00Z') });
    const legacy = await p12(old, 'foo', 'legacy', true);
    const r = await importP12(['cfa-p12', 'fla-legacy', legacy, '--quality', 'employer', '--json'], 'foo');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).errors.map((e: { code: string }) => e.code)).toEqual(['expired', 'digest', 'key_usage']);
    expect((await sesame(['credential', 'list', 'cfa-p12'])).stdout).not.toContain('fla-legacy');
  });

  it('says so on a wrong password', async () => {
    await sesame(['tenant', 'add', 'cfa-p12']);
    const cert = await issue({ subject: 'CN=CFA P12, O=CFA P12, C=BE', shape: 'ec384', digest: 'SHA-384' });
    const file = await p12(cert, 'foo', 'wrong-password');
    const r = await importP12(['cfa-p12', 'fla-x', file, '--quality', 'employer'], 'not-foo');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sesame: wrong password for /);
  });
});

describe('sesame expiry', () => {
  it('reports soonest first and writes each due alert once to the outbox', async () => {
    const expiryHome = await mkdtemp(join(tmpdir(), 'sesame-expiry-'));
    const run = (args: string[], stdin = '') =>
      new Promise<{ code: number; stdout: string }>((resolve) => {
        const child = execFile(process.execPath, [BIN, ...args], { env: { ...process.env, SESAME_HOME: expiryHome, POWERTOOLS_LOG_LEVEL: 'WARN' } }, (err, stdout) => resolve({ code: err ? 1 : 0, stdout }));
        child.stdin?.end(stdin);
      });
    try {
      await run(['tenant', 'add', 'acme']);
      await run(['credential', 'set', 'acme', 'opco-atlas', '--kind', 'opco-atlas'], '{"cfa_key":"k","expires_at":"2027-03-10"}');
      await run(['credential', 'set', 'acme', 'opco-ocapiat', '--kind', 'opco-ocapiat'], '{"cfa_key":"k","issued_at":"2027-01-01","lifetime_months":2}');
      await run(['credential', 'set', 'acme', 'cegid-cfe', '--kind', 'cegid-cfe'], '{"api_key_id":"i","api_key_secret":"s"}');
      const report = JSON.parse((await run(['expiry', 'report', '--json', '--at', '2027-02-24T05:00:00Z'])).stdout).credentials;
      expect(report.map((r: { credential: string; days_left: number | null; status: string }) => [r.credential, r.days_left, r.status])).toEqual([
        ['opco-ocapiat', 5, 'warning'],
        ['opco-atlas', 14, 'warning'],
        ['cegid-cfe', null, 'no date'],
      ]);
      expect((await run(['expiry', 'report', '--at', '2027-02-24T05:00:00Z'])).stdout).toMatch(/^TENANT\s+CREDENTIAL\s+KIND\s+WHAT\s+EXPIRES\s+DAYS_LEFT\s+STATUS\nacme\s+opco-ocapiat/);
      expect(JSON.parse((await run(['expiry', 'check', '--json', '--at', '2027-02-24T05:00:00Z', '--send'])).stdout)).toMatchObject({ checked: 3, alerting: 3, errors: [] });
      expect(JSON.parse((await run(['expiry', 'check', '--json', '--at', '2027-02-24T06:00:00Z', '--send'])).stdout)).toMatchObject({ alerting: 0 });
      const files = await readdir(join(expiryHome, 'outbox'));
      expect(files).toHaveLength(3);
      const alerts = await Promise.all(files.map(async (f) => JSON.parse(await (await import('node:fs/promises')).readFile(join(expiryHome, 'outbox', f), 'utf8'))));
      expect(alerts.map((a) => a.subject).sort()).toEqual([
        '[Sesame] Atlas CFA key of acme/opco-atlas expires in 14 days',
        '[Sesame] Cegid File Exchange credential of acme/cegid-cfe has no end date recorded',
        '[Sesame] Ocapiat CFA key of acme/opco-ocapiat expires in 5 days',
      ]);
      expect(alerts.every((a) => Object.keys(a).sort().join() === 'attributes,message,subject')).toBe(true);
    } finally {
      await rm(expiryHome, { recursive: true, force: true });
    }
  });
});
