import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopChild } from './helpers/child.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'sesame.js');
let home: string;
const outputs: string[] = [];

function sesame(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...process.env, SESAME_HOME: home, POWERTOOLS_LOG_LEVEL: 'WARN' } }, (err, stdout, stderr) => {
      outputs.push(stdout, stderr);
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

const secret = 'S3cr3t-client-secret-value';
const password = 'S3cr3t-password-value';

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-cli-'));
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('the sesame CLI', () => {
  it('adds and lists tenants', async () => {
    expect((await sesame(['tenant', 'add', 'cfa-paris', '--name', 'CFA Paris', '--siret', '123 456 782 00010', '--alert-email', 'a@cfa.example', '--alert-email', 'b@cfa.example'])).stdout).toBe('added tenant cfa-paris\n');
    const list = JSON.parse((await sesame(['tenant', 'list', '--json'])).stdout);
    expect(list).toEqual([expect.objectContaining({ id: 'cfa-paris', name: 'CFA Paris', siret: '12345678200010', alert_emails: ['a@cfa.example', 'b@cfa.example'] })]);
  });

  it('refuses a bad email with one line and exit 1', async () => {
    const r = await sesame(['tenant', 'add', 'x', '--alert-email', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sesame: tenant: field "alert_emails.0" must be an email address\n$/);
  });

  it('reads credential fields from stdin only, and shows them redacted', async () => {
    const fields = { client_id: 'cid', client_secret: secret, account_login: 'TECH', account_password: password, password_changed_at: '2026-01-01' };
    const r = await sesame(['credential', 'set', 'cfa-paris', 'chorus-piste', '--kind', 'chorus-piste', '--env', 'sandbox', '--json'], JSON.stringify(fields));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ tenant: 'cfa-paris', credential: 'chorus-piste', kind: 'chorus-piste', environment: 'sandbox', expires_at: '2027-03-01T00:00:00.000Z' });
    const shown = JSON.parse((await sesame(['credential', 'show', 'cfa-paris', 'chorus-piste', '--json'])).stdout);
    expect(shown.fields).toMatchObject({ client_secret: '[redacted]', account_password: '[redacted]', client_id: 'cid' });
    const listed = await sesame(['credential', 'list']);
    expect(listed.stdout).toMatch(/cfa-paris\s+chorus-piste\s+chorus-piste\s+sandbox\s+2027-03-01/);
  });

  it('leaves the stored version untouched when the new fields are bad', async () => {
    const r = await sesame(['credential', 'set', 'cfa-paris', 'chorus-piste', '--kind', 'chorus-piste'], '{"client_id": "only"}');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse((await sesame(['credential', 'show', 'cfa-paris', 'chorus-piste', '--json'])).stdout).environment).toBe('sandbox');
  });

  it.each([
    ['not JSON', 'client_secret=oops'],
    ['nothing', ''],
  ])('refuses %s on stdin without quoting it', async (_l, input) => {
    const r = await sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas'], input);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('oops');
  });

  it('creates an app key once, on its own line, and never shows it again', async () => {
    const r = await sesame(['app', 'add', 'billing', '--tenants', 'cfa-paris']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sesame_billing_[A-Za-z0-9_-]{43}\n$/);
    const json = JSON.parse((await sesame(['app', 'add', 'reports', '--tenants', 'cfa-paris', '--json'])).stdout);
    expect(Object.keys(json)).toEqual(['app', 'key']);
    const list = await sesame(['app', 'list', '--json']);
    expect(list.stdout).not.toContain(r.stdout.trim());
    expect(list.stdout).not.toContain('key_sha256');
    expect((await sesame(['app', 'add', 'billing', '--tenants', 'cfa-paris'])).code).toBe(1);
    expect((await sesame(['app', 'revoke', 'billing'])).stdout).toBe('revoked billing\n');
    expect(JSON.parse((await sesame(['app', 'list', '--json'])).stdout).find((a: { app: string }) => a.app === 'billing').revoked_at).toBeTruthy();
  });

  it('refuses an app for an unknown tenant', async () => {
    const r = await sesame(['app', 'add', 'x', '--tenants', 'cfa-paris,nobody']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nobody/);
  });

  it('prints what the token endpoint returns', async () => {
    await sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas'], JSON.stringify({ cfa_key: 'ATLAS-KEY', expires_at: '2030-01-01' }));
    const r = await sesame(['token', 'cfa-paris', 'opco-atlas', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'opco-atlas', headers: { 'X-API-KEY': 'ATLAS-KEY' }, expires_at: '2030-01-01T00:00:00.000Z' });
  });

  it.each([[['credential', 'set', 'cfa-paris', 'nope-x']], [['credential', 'set', 'cfa-paris']], [['tenant']], [['nonsense']], [['credential', 'set', 'a', 'b', '--kind', 'nope']]])('exits 2 on usage error %j', async (args) => {
    expect((await sesame(args)).code).toBe(2);
  });

  it('never printed a secret outside the token command', () => {
    const printed = outputs.join('\n');
    expect(printed).not.toContain(secret);
    expect(printed).not.toContain(password);
  });
});

describe('sesame dev', () => {
  it('serves a token to the curl it prints, exactly as printed', async () => {
    const devHome = await mkdtemp(join(tmpdir(), 'sesame-dev-'));
    const child = spawn(process.execPath, [BIN, 'dev', '--port', '0'], { env: { ...process.env, SESAME_HOME: devHome, POWERTOOLS_LOG_LEVEL: 'WARN' } });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Press Ctrl-C')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`dev exited ${code}`)));
      });
      const curl = out.split('\n').find((l) => l.trim().startsWith('curl '))?.trim();
      expect(curl).toBeDefined();
      const body = await new Promise<string>((resolve, reject) => execFile('sh', ['-c', curl as string], (err, stdout) => (err ? reject(err) : resolve(stdout))));
      // A second broker on the same port fails before touching the first one's demo data.
      const port = /127\.0\.0\.1:(\d+)\//.exec(curl as string)?.[1] as string;
      const appsBefore = await new Promise<string>((resolve) => execFile(process.execPath, [BIN, 'app', 'list', '--json'], { env: { ...process.env, SESAME_HOME: devHome } }, (_e, stdout) => resolve(stdout)));
      const second = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(process.execPath, [BIN, 'dev', '--port', port], { env: { ...process.env, SESAME_HOME: devHome } }, (err, _o, stderr) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr })),
      );
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/port \d+ is in use/);
      const appsAfter = await new Promise<string>((resolve) => execFile(process.execPath, [BIN, 'app', 'list', '--json'], { env: { ...process.env, SESAME_HOME: devHome } }, (_e, stdout) => resolve(stdout)));
      expect(appsAfter).toBe(appsBefore);
      const again = await new Promise<string>((resolve, reject) => execFile('sh', ['-c', curl as string], (err, stdout) => (err ? reject(err) : resolve(stdout))));
      expect(JSON.parse(again).cached).toBe(true);
      const token = JSON.parse(body);
      expect(token).toMatchObject({ tenant: 'demo-cfa-paris', credential: 'fla-employer', kind: 'fla', token_type: 'Bearer' });
      expect(token.headers.Authorization).toBe(`Bearer ${token.access_token}`);
      // Nothing secret in clear under SESAME_HOME: not the demo private keys, not the app key.
      const appKey = /Bearer (sesame_\S+)'/.exec(curl as string)?.[1] as string;
      const files = (await readdir(devHome, { recursive: true })).filter((f) => f.endsWith('.json'));
      expect(files.length).toBeGreaterThan(5);
      for (const f of files) {
        const text = await readFile(join(devHome, f), 'utf8');
        expect(text, f).not.toContain('PRIVATE KEY');
        expect(text, f).not.toContain(appKey);
      }
    } finally {
      await stopChild(child);
      await rm(devHome, { recursive: true, force: true });
    }
  });

  it('prints one JSON object with --json', async () => {
    const devHome = await mkdtemp(join(tmpdir(), 'sesame-dev-json-'));
    const child = spawn(process.execPath, [BIN, 'dev', '--port', '0', '--json'], { env: { ...process.env, SESAME_HOME: devHome, POWERTOOLS_LOG_LEVEL: 'WARN' } });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0] as string);
        });
        child.on('exit', (code) => reject(new Error(`dev exited ${code}`)));
      });
      const info = JSON.parse(line);
      expect(info).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), app: 'demo-app', key: expect.stringMatching(/^sesame_demo-app_/) });
      expect(info.curl).toContain(info.key);
    } finally {
      // The folder goes once the process is gone: until then it may still be writing (its audit trail on the way out).
      await stopChild(child);
      await rm(devHome, { recursive: true, force: true });
    }
  });
});
