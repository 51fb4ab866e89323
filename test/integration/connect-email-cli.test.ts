import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notification } from '../../functions/core/ports.ts';
import { cli } from '../helpers/cli.ts';

let home: string;
const sesame = cli(() => home, { SESAME_PUBLIC_URL: 'https://sesame.example/', SESAME_INTEGRATOR_NAME: 'Acme Intégration' });
const outbox = async (): Promise<Notification[]> => {
  const files = (await readdir(join(home, 'outbox')).catch(() => [] as string[])).sort();
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(home, 'outbox', f), 'utf8')) as Notification));
};
const states = async () => (await readdir(join(home, 'state')).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).length;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-connect-email-cli-'));
  expect((await sesame(['tenant', 'add', 'cfa-paris', '--name', 'CFA Paris', '--alert-email', 'ops@cfa-paris.example', '--alert-email', 'compta@cfa-paris.example'])).code).toBe(0);
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('sesame connect --email', () => {
  it('sends the link to an alert address through the outbox, and prints {"url","expires_at","sent_to"} with --json', async () => {
    const r = await sesame(['connect', 'cfa-paris', 'opco-atlas', '--valid', '2d', '--email', 'Compta@cfa-paris.example', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { url: string; expires_at: string; sent_to: string };
    expect(Object.keys(out).sort()).toEqual(['expires_at', 'sent_to', 'url']);
    expect(out.sent_to).toBe('compta@cfa-paris.example');
    const token = out.url.split('/connect/')[1] as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [n, ...rest] = await outbox();
    expect(rest).toEqual([]);
    expect(n).toMatchObject({ subject: '[Sesame] Connect link: cfa-paris/opco-atlas', attributes: { tenant: 'cfa-paris', kind: 'opco-atlas', severity: 'info' } });
    expect(n?.message).toContain(`Acme Intégration demande à CFA Paris (cfa-paris) de transmettre l’identifiant « opco-atlas »`);
    expect(n?.message).toContain(`Acme Intégration asks CFA Paris (cfa-paris) to hand over the credential "opco-atlas"`);
    expect(n?.message).toContain(`${out.expires_at.slice(0, 16).replace('T', ' ')} UTC`);
    expect(n?.message.split(out.url).length).toBe(3);
    // Only stdout, where --json puts the URL, holds the token: never stderr (its messages and log lines; the log lines are checked at every level in test/core/connect-email.test.ts).
    expect(r.stderr).not.toContain(token);
  });

  it('prints the URL alone on stdout for people, and says on stderr who receives it', async () => {
    const before = (await outbox()).length;
    const r = await sesame(['connect', 'cfa-paris', 'cegid-cfe', '--email', 'ops@cfa-paris.example']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^https:\/\/sesame\.example\/connect\/[A-Za-z0-9_-]{43}$/);
    expect(r.stderr).toContain('Sent for ops@cfa-paris.example through the alerts topic: every alert address of cfa-paris receives it.');
    expect(r.stderr).not.toContain(r.stdout.trim().split('/connect/')[1]);
    expect((await outbox()).length).toBe(before + 1);
  });

  it.each([
    ['an address that is not an alert address', ['--email', 'boss@cfa-paris.example'], 'not an alert address of tenant "cfa-paris"'],
    ['an unknown tenant', ['--email', 'ops@cfa-paris.example'], 'does not exist'],
  ])('refuses %s, making and sending nothing', async (what, extra, message) => {
    const tenant = what.includes('unknown') ? 'nobody' : 'cfa-paris';
    const [sent, links] = [(await outbox()).length, await states()];
    const r = await sesame(['connect', tenant, 'opco-atlas', ...extra, '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr).error.message).toContain(message);
    expect((await outbox()).length).toBe(sent);
    expect(await states()).toBe(links);
  });
});

describe('sesame tenant set --connect-links-in-alerts', () => {
  it.each([
    ['off', false],
    ['on', true],
  ])('%s records the setting', async (value, recorded) => {
    const r = await sesame(['tenant', 'set', 'cfa-paris', '--connect-links-in-alerts', value, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'cfa-paris', connect_links_in_alerts: recorded, changed: ['connect_links_in_alerts'] });
  });

  it('refuses a value other than on or off', async () => {
    const r = await sesame(['tenant', 'set', 'cfa-paris', '--connect-links-in-alerts', 'maybe']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--connect-links-in-alerts takes on or off');
  });
});
