import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../bin/cli.ts';

/**
 * `sesame app rotate` and `app list`, run in this process so that the clock can be set:
 * only Date is faked, the store's files are real.
 */
let home: string;
const NOW = Date.parse('2026-06-01T08:00:00.000Z');

async function sesame(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: unknown) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write);
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-apps-cli-'));
  process.env.SESAME_HOME = home;
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
  expect((await sesame(['tenant', 'add', 'cfa-paris'])).code).toBe(0);
});
beforeEach(() => vi.setSystemTime(NOW));
afterAll(async () => {
  vi.useRealTimers();
  await rm(home, { recursive: true, force: true });
});

const json = (s: string) => JSON.parse(s) as Record<string, unknown>;

describe('sesame app rotate', () => {
  it('prints the new key once on its own line, like app add, and says when the previous key stops', async () => {
    expect((await sesame(['app', 'add', 'billing', '--tenants', 'cfa-paris'])).code).toBe(0);
    const r = await sesame(['app', 'rotate', 'billing']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sesame_billing_[A-Za-z0-9_-]{43}\n$/);
    expect(r.stderr).toContain('2026-06-02T08:00:00.000Z');
    expect(r.stderr).not.toContain(r.stdout.trim());
  });

  it('--json prints {app, key, previous_key_expires_at}, the end being now + --overlap', async () => {
    expect((await sesame(['app', 'add', 'reports', '--tenants', 'cfa-paris'])).code).toBe(0);
    const r = await sesame(['app', 'rotate', 'reports', '--overlap', '30m', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const body = json(r.stdout);
    expect(Object.keys(body)).toEqual(['app', 'key', 'previous_key_expires_at']);
    expect(body).toEqual({ app: 'reports', key: expect.stringMatching(/^sesame_reports_[A-Za-z0-9_-]{43}$/), previous_key_expires_at: '2026-06-01T08:30:00.000Z' });
    const zero = json((await sesame(['app', 'rotate', 'reports', '--overlap', '0', '--json'])).stdout);
    expect(zero.previous_key_expires_at).toBe('2026-06-01T08:00:00.000Z');
  });

  it.each([['45x'], ['31d'], ['10']])('refuses --overlap %s with one clear line, and changes nothing', async (overlap) => {
    expect((await sesame(['app', 'add', `bad-${overlap}`, '--tenants', 'cfa-paris'])).code).toBe(0);
    const before = (await sesame(['app', 'list', '--json'])).stdout;
    const r = await sesame(['app', 'rotate', `bad-${overlap}`, '--overlap', overlap]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--overlap (must be a duration such as 30m, 24h or 7d|is at most 30d)/);
    expect((await sesame(['app', 'list', '--json'])).stdout).toBe(before);
  });

  it('refuses to rotate a revoked app', async () => {
    expect((await sesame(['app', 'add', 'gone', '--tenants', 'cfa-paris'])).code).toBe(0);
    expect((await sesame(['app', 'revoke', 'gone'])).code).toBe(0);
    const r = await sesame(['app', 'rotate', 'gone']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/gone.*revoked/);
  });

  it('says in its help that rotating during an overlap replaces the previous key', async () => {
    const r = await sesame(['app', 'rotate', '--help']);
    expect(`${r.stdout}${r.stderr}`.replace(/\s+/g, ' ')).toMatch(/Rotating again during an overlap replaces the previous key: the oldest one stops at once/);
    expect(`${r.stdout}${r.stderr}`).toMatch(/--overlap <duration>.*\(default: "24h"\)/s);
  });
});

describe('sesame app list', () => {
  it('shows both keys of a rotated app with their end dates, then only the new one', async () => {
    expect((await sesame(['app', 'add', 'payroll', '--tenants', 'cfa-paris'])).code).toBe(0);
    vi.setSystemTime(NOW + 3_600_000);
    expect((await sesame(['app', 'rotate', 'payroll', '--overlap', '7d'])).code).toBe(0);

    const table = (await sesame(['app', 'list'])).stdout.split('\n');
    expect(table[0]).toMatch(/^APP\s+KEY\s+TENANTS\s+KINDS\s+CREATED_AT\s+ENDS_AT$/);
    expect(table).toContainEqual(expect.stringMatching(/^payroll\s+current\s+cfa-paris\s+-\s+2026-06-01T09:00:00\.000Z\s+-$/));
    expect(table).toContainEqual(expect.stringMatching(/^payroll\s+previous\s+cfa-paris\s+-\s+2026-06-01T08:00:00\.000Z\s+2026-06-08T09:00:00\.000Z$/));
    expect(table).toContainEqual(expect.stringMatching(/^gone\s+current\s+.*\(revoked\)$/));

    const listed = JSON.parse((await sesame(['app', 'list', '--json'])).stdout) as Record<string, unknown>[];
    expect(listed.find((a) => a.app === 'payroll')).toEqual({
      app: 'payroll',
      tenants: ['cfa-paris'],
      created_at: '2026-06-01T08:00:00.000Z',
      key_created_at: '2026-06-01T09:00:00.000Z',
      previous_key_created_at: '2026-06-01T08:00:00.000Z',
      previous_key_expires_at: '2026-06-08T09:00:00.000Z',
    });

    vi.setSystemTime(Date.parse('2026-06-08T09:00:00.000Z'));
    const after = (await sesame(['app', 'list'])).stdout;
    expect(after).toMatch(/^payroll\s+current/m);
    expect(after).not.toMatch(/^payroll\s+previous/m);
  });
});
