import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';

let home: string;
const sesame = cli(() => home, { SESAME_PUBLIC_URL: 'https://sesame.example/' });

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-connect-cli-'));
  expect((await sesame(['tenant', 'add', 'cfa-paris', '--name', 'CFA Paris'])).code).toBe(0);
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('sesame connect', () => {
  it('prints {"url","expires_at"} with --json, the link on SESAME_PUBLIC_URL', async () => {
    const r = await sesame(['connect', 'cfa-paris', 'chorus-piste', '--fields', 'account_login,account_password', '--valid', '3d', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { url: string; expires_at: string };
    expect(Object.keys(out).sort()).toEqual(['expires_at', 'url']);
    expect(out.url).toMatch(/^https:\/\/sesame\.example\/connect\/[A-Za-z0-9_-]{43}$/);
    const days = (Date.parse(out.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(2.99);
    expect(days).toBeLessThan(3.01);
  });

  it('prints the URL alone on stdout for people, and refuses a validity over 30 days', async () => {
    const r = await sesame(['connect', 'cfa-paris', 'opco-atlas']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^https:\/\/sesame\.example\/connect\/[A-Za-z0-9_-]{43}$/);
    expect(r.stderr).toContain('asking cfa_key');
    const bad = await sesame(['connect', 'cfa-paris', 'opco-atlas', '--valid', '40d', '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr).error.code).toBe('invalid_request');
  });
});
