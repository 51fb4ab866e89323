import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeFailure } from '../../bin/cli.ts';
import { addHealthCommands, EXIT_NOT_TESTABLE } from '../../bin/health-commands.ts';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { HEALTH_TAG } from '../../functions/core/health.ts';
import type { Notification, Notifier } from '../../functions/core/ports.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { startScriptedServer, tokenBody, type ScriptedServer } from '../helpers/scripted-token-server.ts';

/**
 * `sesame credential test` and `sesame health check` as bin/cli.ts will register them
 * (`addHealthCommands(program, …)`), run in-process on a commander program with the same
 * global options and an existing `credential` command, over a real encrypted store and
 * loopback upstreams; failures mapped to exit codes by the CLI's own describeFailure().
 */
const RETRY = { timeoutMs: 2_000, attempts: 1, minDelayMs: 1, maxDelayMs: 2 };
const clock = new ManualClock(Date.parse('2026-06-01T04:00:00Z'));
const secrets = { cfaKey: `cfa-${randomBytes(12).toString('hex')}`, pisteSecret: `piste-${randomBytes(12).toString('hex')}`, password: `pw-${randomBytes(12).toString('hex')}`, cegid: `cegid-${randomBytes(12).toString('hex')}` };

class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async publish(n: Notification) {
    this.sent.push(n);
  }
}

let home: string;
let system: System;
let withoutNotifier: System;
let notifier: RecordingNotifier;
let opco: ScriptedServer;
let piste: ScriptedServer;
const slept: number[] = [];
const transcripts: string[] = [];

async function sesame(args: string[], target: () => System = () => system): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command('sesame').option('--json').option('--aws').exitOverride();
  // The CLI's own `credential` command, which the module adds `test` to.
  program.command('credential').description('tenant credentials').command('list').action(() => {});
  let stdout = '';
  let stderr = '';
  const capture = (c: Command) => {
    c.exitOverride().configureOutput({ writeOut: (s) => void (stdout += s), writeErr: (s) => void (stderr += s) });
    c.commands.forEach(capture);
  };
  addHealthCommands(program, async () => target(), { sleep: async (ms) => void slept.push(ms), env: { SESAME_HEALTH_HOST_GAP_MS: '250' } });
  capture(program);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  process.exitCode = undefined;
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: typeof process.exitCode === 'number' ? process.exitCode : 0, stdout, stderr };
  } catch (e) {
    const f = describeFailure(e);
    return { code: f.exit, stdout, stderr: `${stderr}sesame: ${f.message}\n` };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
    transcripts.push(stdout, stderr);
  }
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-health-cli-'));
  opco = await startScriptedServer([{ status: 200, body: { dateFinValidite: '2027-05-31' } }]);
  piste = await startScriptedServer([{ status: 200, body: tokenBody('t-1', 3600) }]);
  notifier = new RecordingNotifier();
  const store = new LocalSecretStore(home, randomBytes(32), clock);
  system = buildSystem({ store, log: new MemoryLog(), clock, version: 'test', notifier, broker: { retry: RETRY } });
  withoutNotifier = buildSystem({ store, log: new MemoryLog(), clock, version: 'test', broker: { retry: RETRY } });
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris', siret: '73282932000074' });
  const base = opco.url.replace(/\/token$/, '');
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: secrets.cfaKey, expires_at: '2027-04-01', base_url: `${base}/atlas` } });
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-akto', fields: { cfa_key: `${secrets.cfaKey}-2`, base_url: `${base}/akto` } });
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-piste', fields: { client_id: 'piste-client', client_secret: secrets.pisteSecret, account_login: 'TECH', account_password: secrets.password, token_endpoint: piste.url } });
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'cegid-cfe', fields: { api_key_id: 'kid', api_key_secret: secrets.cegid } });
});
afterAll(async () => {
  await opco.close();
  await piste.close();
  await rm(home, { recursive: true, force: true });
});
beforeEach(() => {
  opco.script([{ status: 200, body: { dateFinValidite: '2027-05-31' } }]);
  piste.script([{ status: 200, body: tokenBody('t-1', 3600) }]);
});

describe('sesame credential test', () => {
  it('adds `test` to the existing `credential` command, beside its other subcommands', () => {
    const program = new Command('sesame');
    program.command('credential').command('list');
    addHealthCommands(program, async () => system);
    expect(program.commands.filter((c) => c.name() === 'credential')).toHaveLength(1);
    expect(program.commands.find((c) => c.name() === 'credential')?.commands.map((c) => c.name())).toEqual(['list', 'test']);
    expect(program.commands.find((c) => c.name() === 'health')?.commands.map((c) => c.name())).toEqual(['check']);
  });

  it('exits 0 for a credential the platform accepts, and says what it learned', async () => {
    const r = await sesame(['credential', 'test', 'cfa-paris', 'opco-atlas']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('ok: cfa-paris/opco-atlas (opco-atlas), checked 2026-06-01T04:00:00.000Z');
    expect(r.stdout).toContain('end of validity per the platform: 2027-05-31T22:00:00.000Z (recorded; was 2027-04-01T00:00:00.000Z)');
    expect((await system.store.tags('sesame/cfa-paris/opco-atlas'))?.['sesame:expires-at']).toBe('2027-05-31T22:00:00.000Z');
  });

  it('prints the result as JSON with --json', async () => {
    const r = await sesame(['--json', 'credential', 'test', 'cfa-paris', 'chorus-piste']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ tenant: 'cfa-paris', credential: 'chorus-piste', kind: 'chorus-piste', status: 'ok', checked_at: '2026-06-01T04:00:00.000Z' });
    expect(piste.requests.at(-1)?.form.get('client_secret')).toBe(secrets.pisteSecret);
  });

  it('exits 1 with the reason when the platform refuses the credential: a finding, not a usage error', async () => {
    piste.script([{ status: 401, body: { error: 'invalid_client' } }]);
    const r = await sesame(['credential', 'test', 'cfa-paris', 'chorus-piste']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('failed: cfa-paris/chorus-piste');
    expect(r.stdout).toContain('The platform refused these credentials (401 invalid_client).');
    const json = await sesame(['credential', 'test', 'cfa-paris', 'chorus-piste', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'failed', code: 'upstream_rejected', upstream_status: 401 });
    expect((await system.store.tags('sesame/cfa-paris/chorus-piste'))?.[HEALTH_TAG.status]).toBe('failed');
  });

  it(`exits ${EXIT_NOT_TESTABLE} for a credential that cannot be checked, saying why`, async () => {
    const r = await sesame(['credential', 'test', 'cfa-paris', 'cegid-cfe']);
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('not testable: cfa-paris/cegid-cfe (cegid-cfe)');
    expect(r.stdout).toContain('Cegid File Exchange: the platform offers no call that checks this credential without side effects');
  });

  it.each([
    [['credential', 'test', 'cfa-paris', 'opco-ocapiat'], 1, 'tenant "cfa-paris" has no credential "opco-ocapiat"'],
    [['credential', 'test', 'cfa-nowhere', 'opco-atlas'], 1, 'tenant "cfa-nowhere" does not exist'],
    [['credential', 'test', 'cfa-paris', 'Not-An-Id'], 2, 'credential id must be a kind'],
    [['credential', 'test', 'cfa-paris'], 2, "missing required argument 'credential'"],
  ])('refuses %j with exit %s', async (args, code, words) => {
    const r = await sesame(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(words);
  });
});

describe('sesame health check', () => {
  it('in a dry run, checks every credential and prints what it would send, publishing and recording nothing', async () => {
    piste.script([{ status: 401, body: { error: 'invalid_client' } }]);
    const before = await system.store.tags('sesame/cfa-paris/opco-akto');
    notifier.sent.length = 0;
    const r = await sesame(['health', 'check', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ dry_run: true, checked: 4, ok: 2, failed: 1, not_testable: 1, hosts: 2, errors: [], alerts: [{ credential: 'chorus-piste', type: 'failing' }] });
    expect(notifier.sent).toEqual([]);
    expect(await system.store.tags('sesame/cfa-paris/opco-akto')).toEqual(before);
  });

  it('alerts for a credential that starts failing, waits between two calls to one host, and prints the summary for people', async () => {
    piste.script([{ status: 401, body: { error: 'invalid_client' } }]);
    notifier.sent.length = 0;
    slept.length = 0;
    const r = await sesame(['health', 'check']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('checked 4 credential(s) at 2026-06-01T04:00:00.000Z: 2 ok, 1 failed, 1 not testable, 0 error(s); 1 alert(s) sent');
    expect(r.stdout).toMatch(/cfa-paris\s+chorus-piste\s+chorus-piste\s+upstream_rejected/);
    expect(r.stdout).toContain('failing   [Sesame] Chorus PISTE credential cfa-paris/chorus-piste fails its health check');
    expect(notifier.sent.map((n) => n.attributes)).toEqual([{ tenant: 'cfa-paris', kind: 'chorus-piste', severity: 'warning' }]);
    // The two OPCO credentials share a host: one gap between them, from SESAME_HEALTH_HOST_GAP_MS.
    expect(slept).toEqual([250]);

    const again = await sesame(['health', 'check']);
    expect(again.stdout).toContain('0 alert(s) sent');
    expect(notifier.sent).toHaveLength(1);
  });

  it('refuses to run for real without an alerts topic, and runs as a dry run', async () => {
    const r = await sesame(['health', 'check'], () => withoutNotifier);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no alerts topic configured');
    expect((await sesame(['health', 'check', '--dry-run'], () => withoutNotifier)).code).toBe(0);
  });

  it('never prints a secret', () => {
    expect(transcripts.join('').length).toBeGreaterThan(1000);
    const all = transcripts.join('\n');
    for (const secret of Object.values(secrets)) expect(all).not.toContain(secret);
  });
});
