import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { linkHash } from '../../functions/core/connect.ts';
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

  it('takes non-secret settings with --set and a new credential\'s environment with --environment', async () => {
    const r = await sesame(['connect', 'cfa-paris', 'fla-acc', '--environment', 'acceptance', '--set', 'quality=employer', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const token = (JSON.parse(r.stdout) as { url: string }).url.split('/connect/')[1] as string;
    const item = await new LocalStateStore(home).get(`link#${linkHash(token)}`, 'link');
    expect(item?.data).toMatchObject({ credential: 'fla-acc', kind: 'fla', environment: 'acceptance', settings: { quality: 'employer' }, created_by: 'cli' });
  });

  it.each([
    ['a --set without a value name', ['--set', 'nothing'], 2, 'name=value'],
    ['the same --set twice', ['--set', 'base_url=https://a.example', '--set', 'base_url=https://b.example'], 2, 'given twice'],
    ['a secret as a setting', ['--set', 'cfa_key=k'], 1, 'settings'],
    ['a setting that is not valid', ['--set', 'base_url=ftp://a.example'], 1, 'https://'],
    ['an environment the platform lacks', ['--environment', 'sandbox'], 1, 'production'],
  ])('refuses %s, and makes no link', async (_what, args, code, message) => {
    const r = await sesame(['connect', 'cfa-paris', 'opco-akto', ...args]);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});
