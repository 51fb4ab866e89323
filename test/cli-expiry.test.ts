import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSecretStore } from '../functions/adapters/local-secret-store.ts';
import { buildSystem } from '../functions/adapters/system.ts';
import { MemoryLog } from './helpers/memory-log.ts';

/**
 * `sesame expiry check|report` on the local store, as an operator runs them (issues 3
 * and 5): a simulated date is a dry run unless --send, and one unreadable record is
 * named (exit code 3) while the others are reported.
 */

const BIN = join(import.meta.dirname, '..', 'bin', 'sesame.js');
const SECRET = 'cfa-key-that-must-never-be-printed';
const KEY = randomBytes(32);
let home: string;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...process.env, SESAME_HOME: home, SESAME_LOCAL_KEY: KEY.toString('hex'), POWERTOOLS_LOG_LEVEL: 'WARN' } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}
const ok = async (args: string[]) => {
  const r = await run(args);
  expect(r.code, r.stderr).toBe(0);
  return r;
};
const outbox = async () => (await readdir(join(home, 'outbox')).catch(() => [] as string[])).length;
const secretFiles = async () => Promise.all(['opco-atlas', 'opco-ocapiat', 'cegid-cfe'].map((c) => readFile(join(home, 'secrets', 'sesame', 'acme', `${c}.json`), 'utf8')));

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-cli-expiry-'));
  // Written in-process, in the store the CLI opens (same folder, same key), as `credential set` would.
  const { tenants, credentials } = buildSystem({ store: new LocalSecretStore(home, KEY), log: new MemoryLog(), version: 't' });
  await tenants.put({ id: 'acme', name: 'acme' });
  await credentials.set({ tenant: 'acme', credential: 'opco-atlas', fields: { cfa_key: SECRET, expires_at: '2027-03-10' } });
  await credentials.set({ tenant: 'acme', credential: 'opco-ocapiat', fields: { cfa_key: SECRET, issued_at: '2027-01-01', lifetime_months: 2 } });
  await credentials.set({ tenant: 'acme', credential: 'cegid-cfe', fields: { api_key_id: 'i', api_key_secret: 's' } });
});
afterEach(() => rm(home, { recursive: true, force: true }));

const AT = '2027-02-24T05:00:00Z';
const SUBJECTS = [
  '[Sesame] Cegid File Exchange credential of acme/cegid-cfe has no end date recorded',
  '[Sesame] Atlas CFA key of acme/opco-atlas expires in 14 days',
  '[Sesame] Ocapiat CFA key of acme/opco-ocapiat expires in 5 days',
];

describe('sesame expiry check on a simulated date', () => {
  it('--at alone is a dry run: it says what would be sent, publishes nothing and changes no alert state', async () => {
    const before = await secretFiles();
    const json = await ok(['expiry', 'check', '--json', '--at', AT]);
    const summary = JSON.parse(json.stdout);
    expect(summary).toMatchObject({ at: '2027-02-24T05:00:00.000Z', dry_run: true, checked: 3, alerting: 3, errors: [] });
    expect(summary.alerts.map((a: { subject: string }) => a.subject)).toEqual(SUBJECTS);
    const text = await ok(['expiry', 'check', '--at', AT]);
    expect(text.stdout).toBe(
      `dry run, nothing sent nor recorded: checked 3 credential(s) at 2027-02-24T05:00:00.000Z: 3 alert(s) would be sent, 0 error(s)\n` +
        `  info     ${SUBJECTS[0]}\n  warning  ${SUBJECTS[1]}\n  warning  ${SUBJECTS[2]}\n`,
    );
    expect(await outbox()).toBe(0);
    expect(await secretFiles()).toEqual(before);

    // The real run for that day still sends everything, once.
    const real = JSON.parse((await ok(['expiry', 'check', '--json', '--at', AT, '--send'])).stdout);
    expect(real).toMatchObject({ dry_run: false, alerting: 3, errors: [] });
    expect(real.alerts.map((a: { subject: string }) => a.subject)).toEqual(SUBJECTS);
    expect(await outbox()).toBe(3);
    expect(JSON.parse((await ok(['expiry', 'check', '--json', '--at', '2027-02-24T06:00:00Z', '--send'])).stdout)).toMatchObject({ dry_run: false, alerting: 0 });
    expect(await outbox()).toBe(3);
  });

  it('--dry-run is the dry run for today', async () => {
    const before = await secretFiles();
    const summary = JSON.parse((await ok(['expiry', 'check', '--json', '--dry-run'])).stdout);
    expect(summary).toMatchObject({ dry_run: true, checked: 3, errors: [] });
    // Whatever today is, the credential without a date is due for its reminder.
    expect(summary.alerts.map((a: { subject: string }) => a.subject)).toContain(SUBJECTS[0]);
    expect(await outbox()).toBe(0);
    expect(await secretFiles()).toEqual(before);
  });

  it('--dry-run with --send is a usage error', async () => {
    const r = await run(['expiry', 'check', '--dry-run', '--send']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--dry-run and --send/);
    expect(await outbox()).toBe(0);
  });
});

describe('one unreadable record', () => {
  beforeEach(async () => {
    // An edited file: its tags no longer match their MAC, so the local store refuses it.
    const file = join(home, 'secrets', 'sesame', 'acme', 'opco-ocapiat.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"sesame:kind": "opco-ocapiat"', '"sesame:kind": "opco-atlas"'));
  });

  it('expiry report lists the others, names it on stderr and exits 3', async () => {
    const r = await run(['expiry', 'report', '--at', AT]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^TENANT\s+CREDENTIAL\s+KIND\s+WHAT\s+EXPIRES\s+DAYS_LEFT\s+STATUS\nacme\s+opco-atlas\s+opco-atlas\s+Atlas CFA key\s+2027-03-10\s+14\s+warning\nacme\s+cegid-cfe\s.*no date\n$/);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^sesame: sesame\/acme\/opco-ocapiat: .* \(store_corrupt\)$/)]);
  });

  it('expiry report --json says which in errors', async () => {
    const r = await run(['expiry', 'report', '--json', '--at', AT]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      at: '2027-02-24T05:00:00.000Z',
      credentials: [
        { tenant: 'acme', credential: 'opco-atlas', kind: 'opco-atlas', what: 'Atlas CFA key', expires_at: '2027-03-10T00:00:00.000Z', days_left: 14, status: 'warning' },
        { tenant: 'acme', credential: 'cegid-cfe', kind: 'cegid-cfe', what: 'Cegid File Exchange credential', expires_at: null, days_left: null, status: 'no date' },
      ],
      errors: [{ secret: 'sesame/acme/opco-ocapiat', code: 'store_corrupt', detail: expect.any(String) }],
    });
  });

  it('expiry check sends the others\' alerts, names it and exits 3', async () => {
    const r = await run(['expiry', 'check', '--json', '--at', AT, '--send']);
    expect(r.code).toBe(3);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ dry_run: false, checked: 2, alerting: 2, errors: [{ secret: 'sesame/acme/opco-ocapiat', code: 'store_corrupt' }] });
    expect(await outbox()).toBe(2);
    const text = await run(['expiry', 'check', '--at', AT]);
    expect(text.code).toBe(3);
    expect(text.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^sesame: sesame\/acme\/opco-ocapiat: /)]);
    expect([r.stdout, r.stderr, text.stdout, text.stderr].join('')).not.toContain(SECRET);
  });
});
