import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** `sesame tenant add` refuses an existing tenant; `tenant set` / `--update` change only the fields given; check digits. */

const BIN = join(import.meta.dirname, '..', 'bin', 'sesame.js');
let home: string;

function sesame(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, SESAME_HOME: home, POWERTOOLS_LOG_LEVEL: 'WARN' } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ).stdin?.end();
  });
}
const tenantOf = async (id: string) => (JSON.parse((await sesame(['tenant', 'list', '--json'])).stdout) as { id: string }[]).find((t) => t.id === id) as Record<string, unknown>;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-cli-tenants-'));
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('sesame tenant add / set', () => {
  it('refuses to add an existing tenant, and keeps its SIRET and alert emails', async () => {
    expect((await sesame(['tenant', 'add', 'cfa-lille', '--name', 'CFA Lille', '--siret', '12345678200010', '--alert-email', 'ops@cfa.example'])).code).toBe(0);
    const again = await sesame(['tenant', 'add', 'cfa-lille', '--name', 'CFA Lille Nord']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('sesame: tenant "cfa-lille" already exists: change it with `sesame tenant set cfa-lille …` (only the fields given change)\n');
    expect(await tenantOf('cfa-lille')).toMatchObject({ name: 'CFA Lille', siret: '12345678200010', alert_emails: ['ops@cfa.example'] });
  });

  it('tenant set changes only the fields given', async () => {
    const r = await sesame(['tenant', 'set', 'cfa-lille', '--name', 'CFA Lille Nord']);
    expect(r).toMatchObject({ code: 0, stdout: 'updated tenant cfa-lille: name\n' });
    expect(await tenantOf('cfa-lille')).toMatchObject({ name: 'CFA Lille Nord', siret: '12345678200010', alert_emails: ['ops@cfa.example'] });
    const emails = await sesame(['tenant', 'set', 'cfa-lille', '--alert-email', 'new@cfa.example', '--remove-alert-email', 'ops@cfa.example', '--json']);
    expect(emails.code).toBe(0);
    expect(JSON.parse(emails.stdout)).toMatchObject({ id: 'cfa-lille', name: 'CFA Lille Nord', siret: '12345678200010', alert_emails: ['new@cfa.example'], changed: ['alert_emails'] });
    const before = await tenantOf('cfa-lille');
    expect((await sesame(['tenant', 'set', 'cfa-lille', '--name', 'CFA Lille Nord'])).stdout).toBe('tenant cfa-lille unchanged\n');
    expect(await tenantOf('cfa-lille')).toEqual(before);
  });

  it('tenant set refuses an unknown tenant, an email it does not have, and nothing to change', async () => {
    expect(await sesame(['tenant', 'set', 'nobody', '--name', 'X'])).toMatchObject({ code: 1, stderr: 'sesame: tenant "nobody" does not exist\n' });
    const missing = await sesame(['tenant', 'set', 'cfa-lille', '--remove-alert-email', 'typo@cfa.example']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/"typo@cfa\.example" is not one of its alert emails \(new@cfa\.example\)/);
    expect((await sesame(['tenant', 'set', 'cfa-lille'])).code).toBe(2);
    expect(await tenantOf('cfa-lille')).toMatchObject({ alert_emails: ['new@cfa.example'] });
  });

  it('tenant add --update adds a new tenant or changes only the fields given', async () => {
    expect((await sesame(['tenant', 'add', 'cfa-lyon', '--update', '--bce', '0123.456.749'])).stdout).toBe('added tenant cfa-lyon\n');
    const r = await sesame(['tenant', 'add', 'cfa-lille', '--update', '--siren', '123456782']);
    expect(r.stdout).toBe('updated tenant cfa-lille: siren\n');
    expect(await tenantOf('cfa-lille')).toMatchObject({ name: 'CFA Lille Nord', siret: '12345678200010', siren: '123456782', alert_emails: ['new@cfa.example'] });
  });

  it.each([
    ['--siret', '12345678900011', /field "siret" is not a valid SIRET: its check digit is wrong/],
    ['--siren', '123456789', /field "siren" is not a valid SIREN/],
    ['--bce', '0123456789', /field "bce" is not a valid BCE number/],
    ['--bce', '2123456791', /field "bce" is not a valid BCE number/],
    ['--siret', '35600000012345', /field "siret" is not a valid SIRET/],
  ])('refuses %s %s by its check digits', async (option, value, message) => {
    const r = await sesame(['tenant', 'add', 'cfa-check', option, value]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await tenantOf('cfa-check')).toBeUndefined();
  });

  it.each([
    ['--siret', '732 829 320 00074'],
    ['--siren', '552100554'],
    ['--bce', '0203.201.340'],
    // La Poste: its establishments' SIRETs add up to a multiple of 5 instead of Luhn; its head office passes Luhn.
    ['--siret', '35600000049837'],
    ['--siret', '35600000000048'],
  ])('accepts %s %s', async (option, value) => {
    const id = `ok-${value.replace(/\D/g, '')}`;
    expect((await sesame(['tenant', 'add', id, option, value])).code).toBe(0);
  });

  it('refuses a SIRET that is not of the SIREN given', async () => {
    const r = await sesame(['tenant', 'add', 'cfa-mix', '--siren', '552100554', '--siret', '12345678200010']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/field "siret" does not start with the SIREN/);
  });
});

describe('Tenants (core)', () => {
  it('add refuses conflict; update keeps what it is not given and checks only the identifiers it changes', async () => {
    const { tempSystem } = await import('./helpers/system.ts');
    const { system, cleanup } = await tempSystem();
    try {
      // A record stored before the check digits were verified (put checks the shape only).
      await system.tenants.put({ id: 'old', name: 'Old', siret: '12345678900011', alert_emails: ['a@x.example'] });
      await expect(system.tenants.add({ id: 'old', name: 'Again' })).rejects.toMatchObject({ code: 'conflict' });
      const r = await system.tenants.update('old', { add_alert_emails: ['b@x.example', 'A@x.example'] });
      expect(r.changed).toEqual(['alert_emails']);
      expect(r.tenant).toMatchObject({ name: 'Old', siret: '12345678900011', alert_emails: ['a@x.example', 'b@x.example'] });
      await expect(system.tenants.update('old', { siret: '12345678900012' })).rejects.toMatchObject({ code: 'invalid_request', details: { field: 'siret' } });
      const removed = (await system.tenants.update('old', { siret: null, bce: '0123456749' })).tenant;
      expect(removed).toMatchObject({ bce: '0123456749' });
      expect(removed).not.toHaveProperty('siret');
      await expect(system.tenants.update('old', { nickname: 'x' } as never)).rejects.toMatchObject({ message: 'tenant: unknown field "nickname"' });
    } finally {
      await cleanup();
    }
  });
});
