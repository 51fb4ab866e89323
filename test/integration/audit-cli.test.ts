import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addAuditCommands, openAuditLog } from '../../bin/audit-commands.ts';
import { DynamoAuditLog } from '../../functions/adapters/dynamo-audit-log.ts';
import { readConfig } from '../../functions/core/config.ts';
import { describeFailure } from '../../bin/cli.ts';
import { LocalAuditLog } from '../../functions/adapters/local-audit-log.ts';
import { actor, audit, AuditTrail } from '../../functions/core/audit.ts';
import { SesameError } from '../../functions/core/errors.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

/**
 * `sesame audit` as bin/cli.ts will register it (`addAuditCommands(program, …)`), run
 * in-process on a commander program with the same global options, its output captured,
 * its failures mapped to exit codes by the CLI's own describeFailure().
 */
let home: string;
const key = randomBytes(32);
const clock = new ManualClock(Date.parse('2026-06-10T12:00:00Z'));
const openLog = () => new LocalAuditLog(home, key);

async function sesame(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command('sesame').option('--json').option('--aws').exitOverride();
  let stdout = '';
  let stderr = '';
  program.configureOutput({ writeOut: (s) => void (stdout += s), writeErr: (s) => void (stderr += s) });
  addAuditCommands(program, async () => openLog(), clock);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => void (stdout += s), writeErr: (s) => void (stderr += s) });
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
  }
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-audit-cli-'));
  const trail = new AuditTrail(openLog(), new MemoryLog(), { clock });
  const at = (iso: string, entry: Parameters<AuditTrail['record']>[0]) => {
    clock.set(iso);
    expect(trail.record(entry)).toBe(true);
  };
  at('2026-06-01T08:00:00Z', audit.adminChange({ actor: actor.cli(), operation: 'tenants.add', tenant: 'cfa-paris' }));
  at('2026-06-08T09:00:00Z', audit.token({ app: 'billing', tenant: 'cfa-paris', credential: 'fla-employer', cached: false }));
  at('2026-06-08T09:00:05Z', audit.token({ app: 'billing', tenant: 'cfa-paris', credential: 'fla-employer', cached: true }));
  at('2026-06-09T10:00:00Z', audit.token({ app: 'payroll', tenant: 'cfa-lyon', credential: 'opco-atlas', error: new SesameError('forbidden', 'no') }));
  at('2026-06-09T11:00:00Z', audit.linkCreated({ actor: actor.operator('op-42'), tenant: 'cfa-lyon', credential: 'opco-atlas', link: 'ab'.repeat(32), expiresAt: '2026-06-16T11:00:00.000Z', fields: ['cfa_key'] }));
  at('2026-06-10T11:00:00Z', audit.appRevoked({ actor: actor.operator('op-42'), app: 'payroll' }));
  await trail.flush();
  expect(trail.stats.written).toBe(6);
  clock.set('2026-06-10T12:00:00Z');
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('sesame audit', () => {
  it('prints the last 7 days as a table for people, newest first, with who, how it went and its details', async () => {
    const r = await sesame(['audit']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^TIME\s+TYPE\s+ACTOR\s+TENANT\s+CREDENTIAL\s+APP\s+OUTCOME\s+DETAILS$/);
    expect(rows.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(['app_revoked', 'link_created', 'token', 'token', 'token']);
    expect(rows[1]).toMatch(/operator:op-42\s+-\s+-\s+payroll\s+ok/);
    expect(rows[3]).toMatch(/app:payroll\s+cfa-lyon\s+opco-atlas\s+payroll\s+refused:forbidden/);
    expect(rows[4]).toMatch(/ok\s+cached$/);
    expect(rows[2]).toContain('fields=cfa_key');
    expect(r.stderr).toBe('');
  });

  it('prints JSON lines with --json, filtered by --tenant, --app, --since and --until', async () => {
    const r = await sesame(['--json', 'audit', '--tenant', 'cfa-paris', '--app', 'billing', '--since', '2026-06-08', '--until', '2026-06-08T09:00:01Z']);
    expect(r.code).toBe(0);
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ time: '2026-06-08T09:00:00.000Z', type: 'token', tenant: 'cfa-paris', app: 'billing', cached: false, outcome: 'ok' });
    const older = await sesame(['audit', '--json', '--since', '30d']);
    expect(older.stdout.trim().split('\n')).toHaveLength(6);
  });

  it('pages with --limit and --cursor, and --all goes through every page', async () => {
    const first = await sesame(['--json', 'audit', '--since', '30d', '--limit', '4']);
    expect(first.stdout.trim().split('\n')).toHaveLength(4);
    const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const second = await sesame(['--json', 'audit', '--since', '30d', '--limit', '4', '--cursor', cursor as string]);
    const times = (s: string) => s.trim().split('\n').map((l) => (JSON.parse(l) as { time: string }).time);
    expect(times(second.stdout)).toEqual(['2026-06-08T09:00:00.000Z', '2026-06-01T08:00:00.000Z']);
    expect(second.stderr).toBe('');
    const all = await sesame(['--json', 'audit', '--since', '30d', '--limit', '2', '--all']);
    expect(times(all.stdout)).toEqual([...times(first.stdout), ...times(second.stdout)]);
  });

  it.each([
    [['audit', '--since', 'last week'], '--since must be a duration'],
    [['audit', '--since', '2026-02-30'], '--since must be a duration'],
    [['audit', '--until', '1d', '--since', '1h'], '--until is before since'],
    [['audit', '--limit', '0'], '--limit must be a whole number from 1 to 1000'],
    [['audit', '--tenant', 'CFA Paris'], '--tenant must be a tenant id'],
  ])('refuses %j as a usage error (exit 2) naming the option', async (args, words) => {
    const r = await sesame(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(words);
    expect(r.stdout).toBe('');
  });

  it('verifies the chain with --verify, and exits 1 naming the first broken record once a record is removed', async () => {
    const ok = await sesame(['audit', '--verify']);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toContain('audit log intact: 6 record(s) in 4 file(s)');
    expect((await sesame(['audit', '--verify', '--tenant', 'cfa-paris'])).code).toBe(2);
    expect((await sesame(['--aws', 'audit', '--verify'])).code).toBe(2);

    const file = join(home, 'audit', '2026-06-08.jsonl');
    const original = await readFile(file, 'utf8');
    const lines = original.split('\n');
    await writeFile(file, [lines[1], ''].join('\n'));
    try {
      const broken = await sesame(['audit', '--verify']);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toContain('audit log broken at record #2 (2026-06-08.jsonl line 1)');
      expect(broken.stderr).toContain('removed_or_reordered');
      const json = await sesame(['--json', 'audit', '--verify']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, records: 1, broken: { position: 2, file: '2026-06-08.jsonl', line: 1, reason: 'removed_or_reordered' } });
    } finally {
      await writeFile(file, original);
    }
    expect((await sesame(['audit', '--verify'])).code).toBe(0);
  });

  it('opens the local log under SESAME_HOME, or with --aws the state table SESAME_STATE_TABLE names', async () => {
    const localEnv = { SESAME_HOME: home, SESAME_LOCAL_KEY: key.toString('hex') };
    const local = await openAuditLog(readConfig(localEnv), false, localEnv);
    expect(local).toBeInstanceOf(LocalAuditLog);
    expect((local as LocalAuditLog).root).toBe(join(home, 'audit'));
    expect(await (local as LocalAuditLog).verify()).toMatchObject({ ok: true, records: 6 });
    const awsEnv = { SESAME_STATE_TABLE: 'sesame-state', SESAME_AUDIT_RETENTION_DAYS: '90' };
    const aws = await openAuditLog(readConfig(awsEnv), true, awsEnv);
    expect(aws).toBeInstanceOf(DynamoAuditLog);
    expect((aws as DynamoAuditLog).retentionDays).toBe(90);
  });
});
