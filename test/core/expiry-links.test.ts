import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { OutboxNotifier } from '../../functions/adapters/outbox-notifier.ts';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { linkHash } from '../../functions/core/connect.ts';
import { alertLinkSeconds, runExpiryCheck } from '../../functions/core/expiry.ts';
import { PLATFORMS } from '../../functions/core/platforms/index.ts';
import type { Notification } from '../../functions/core/ports.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

/** Issue 12, item 4: an expiry alert for a credential the client renews carries a fresh connect link. */

const DAY = 86_400_000;
let home: string;
let clock: ManualClock;
let log: MemoryLog;
let state: LocalStateStore;
let system: System;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-expiry-links-'));
  // 06:00 in Paris (winter): when the schedule runs.
  clock = new ManualClock(Date.parse('2027-01-01T05:00:00Z'));
  log = new MemoryLog();
  state = new LocalStateStore(home, clock);
  system = buildSystem({
    store: new LocalSecretStore(home, randomBytes(32), clock),
    state,
    notifier: new OutboxNotifier(home, clock, log),
    log,
    clock,
    version: 'test',
    publicUrl: 'https://sesame.example',
  });
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris', alert_emails: ['ops@cfa-paris.example'] });
});
afterEach(() => rm(home, { recursive: true, force: true }));

const check = () => (system.expiryCheck as NonNullable<System['expiryCheck']>)();
const outbox = async (): Promise<Notification[]> => {
  const files = (await readdir(join(home, 'outbox')).catch(() => [] as string[])).sort();
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(home, 'outbox', f), 'utf8')) as Notification));
};
/** Link records made: one partition each (the credential's index partition, `links#…`, is not one). */
const partitions = async () => {
  const files = (await readdir(join(home, 'state')).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  const pks = await Promise.all(files.map(async (f) => (JSON.parse(await readFile(join(home, 'state', f), 'utf8')) as { pk: string }).pk));
  return pks.filter((pk) => pk.startsWith('link#')).length;
};
const URL_PATTERN = /https:\/\/sesame\.example\/connect\/([A-Za-z0-9_-]{43})/g;
const tokensIn = (text: string) => [...new Set([...text.matchAll(URL_PATTERN)].map((m) => m[1] as string))];
const atlasIn = (days: number) => system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: 'k', expires_at: new Date(clock.now().getTime() + days * DAY).toISOString() } });

describe('who renews each platform', () => {
  it.each(PLATFORMS.map((p) => [p.kind, p.renewedBy] as const))('%s is renewed by the %s', (kind, by) => {
    // OPCO and Cegid keys, FLA certificates, the Chorus Pro technical password and EDI certificates: the client's own administrator.
    expect(by).toBe('client');
    expect(PLATFORMS.find((p) => p.kind === kind)?.connect).toBeDefined();
  });
});

describe('how long a link sent with an alert works', () => {
  it.each([
    ['60 days ahead: at most 30 days', 60, 30 * 86_400],
    ['10 days ahead: until 7 days after the end', 10, 17 * 86_400],
    ['7 days ahead: 14 days', 7, 14 * 86_400],
    ['1 day ahead: 14 days', 1, 14 * 86_400],
    ['expired 3 days ago: 14 days', -3, 14 * 86_400],
    ['no end date: 14 days', undefined, 14 * 86_400],
  ])('%s', (_what, days, seconds) => {
    const now = new Date('2027-01-01T05:00:00Z');
    expect(alertLinkSeconds(now, days === undefined ? undefined : new Date(now.getTime() + days * DAY))).toBe(seconds);
  });
});

describe('expiry alerts with a connect link', () => {
  it('puts one fresh link, made by "expiry", in both languages of the alert, and none in its subject or the logs', async () => {
    await atlasIn(10);
    const summary = await check();
    const [n, ...rest] = await outbox();
    expect(rest).toEqual([]);
    const tokens = tokensIn(n?.message as string);
    expect(tokens).toHaveLength(1);
    const token = tokens[0] as string;
    const [fr, en] = (n?.message as string).split('\n---\n');
    expect(fr).toContain(`lien de connexion, qui guide pas à pas (une seule fois, jusqu’au 2027-01-18 05:00 UTC) :\n  https://sesame.example/connect/${token}`);
    expect(en).toContain(`connect link, which guides step by step (once, until 2027-01-18 05:00 UTC):\n  https://sesame.example/connect/${token}`);
    expect(n?.subject).toBe('[Sesame] Atlas CFA key of cfa-paris/opco-atlas expires in 10 days');
    expect(log.lines.join('\n')).not.toContain(token);
    expect(JSON.stringify(summary)).not.toContain(token);
    expect(summary.alerts).toEqual([expect.objectContaining({ credential: 'opco-atlas', link_expires_at: '2027-01-18T05:00:00.000Z' })]);
    const link = await state.get(`link#${linkHash(token)}`, 'link');
    expect(link?.data).toMatchObject({ tenant: 'cfa-paris', credential: 'opco-atlas', kind: 'opco-atlas', fields: ['cfa_key'], status: 'open', created_by: 'expiry', expires_at: '2027-01-18T05:00:00.000Z' });
    // The link opens the credential's page.
    expect((await system.connect?.view(token))?.credential).toBe('opco-atlas');
  });

  it('makes one link per alert sent, not per check', async () => {
    await atlasIn(20);
    for (let day = 0; day < 30; day++) {
      await check();
      clock.advance(DAY);
    }
    const sent = await outbox();
    // The 30-day threshold (20 left), 14, 7, 3, 1, expired today, then daily for the first week.
    expect(sent.map((n) => n.subject.replace(/^.* (expire)/, '$1'))).toEqual([
      'expires in 20 days',
      'expires in 14 days',
      'expires in 7 days',
      'expires in 3 days',
      'expires in 1 day',
      'expired today',
      ...[1, 2, 3, 4, 5, 6, 7].map((d) => `expired ${d} day${d > 1 ? 's' : ''} ago`),
    ]);
    const tokens = sent.map((n) => tokensIn(n.message));
    expect(tokens.every((t) => t.length === 1)).toBe(true);
    expect(new Set(tokens.flat()).size).toBe(sent.length);
    expect(await partitions()).toBe(sent.length);
  });

  it.each([
    ['a tenant that turned them off', false, 0],
    ['a tenant that turned them on again', true, 1],
  ])('follows the tenant setting: %s', async (_what, on, links) => {
    await system.tenants.update('cfa-paris', { connect_links_in_alerts: false });
    if (on) await system.tenants.update('cfa-paris', { connect_links_in_alerts: true });
    await atlasIn(10);
    await check();
    const [n] = await outbox();
    expect(n?.subject).toContain('expires in 10 days');
    expect(tokensIn(n?.message as string)).toHaveLength(links);
    expect(await partitions()).toBe(links);
  });

  it('sends no link with the weekly reminder of a credential without an end date', async () => {
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'cegid-cfe', fields: { api_key_id: 'i', api_key_secret: 's' } });
    await check();
    const [n] = await outbox();
    expect(n?.subject).toContain('has no end date recorded');
    expect(tokensIn(n?.message as string)).toEqual([]);
    expect(await partitions()).toBe(0);
  });

  it('makes no link in a dry run', async () => {
    await atlasIn(10);
    const summary = await runExpiryCheck({ store: system.store, credentials: system.credentials, tenants: system.tenants, clock, log, dryRun: true, connect: system.connect });
    expect(summary.alerts).toEqual([{ tenant: 'cfa-paris', credential: 'opco-atlas', kind: 'opco-atlas', severity: 'warning', subject: '[Sesame] Atlas CFA key of cfa-paris/opco-atlas expires in 10 days' }]);
    expect(await partitions()).toBe(0);
    expect(await outbox()).toEqual([]);
  });

  it('makes no link when no state store is wired', async () => {
    await atlasIn(10);
    await runExpiryCheck({ store: system.store, credentials: system.credentials, tenants: system.tenants, notifier: system.notifier, clock, log });
    const [n] = await outbox();
    expect(n?.message).toContain('Pour renouveler');
    expect(tokensIn(n?.message as string)).toEqual([]);
  });

  it('still sends the alert, without a link, when the link cannot be made', async () => {
    await atlasIn(10);
    // The state folder is a file: every write of the local state store fails.
    await writeFile(join(home, 'state'), 'not a folder');
    const summary = await check();
    expect(summary).toMatchObject({ alerting: 1, errors: 0 });
    const [n] = await outbox();
    expect(tokensIn(n?.message as string)).toEqual([]);
    expect(summary.alerts[0]).not.toHaveProperty('link_expires_at');
    expect(log.lines.some((l) => l.includes('expiry alert sent without a connect link'))).toBe(true);
  });

  it('destroys, in the same run, the pending FLA key pair of a link that lapsed unused', async () => {
    const link = await system.connect!.create({ tenant: 'cfa-paris', credential: 'fla', environment: 'acceptance', settings: { quality: 'employer' }, createdBy: 'op', valid: '1h' });
    const token = link.url.split('/connect/')[1] as string;
    await system.connect!.view(token);
    const name = `sesame-connect/${linkHash(token)}`;
    expect(await system.store.get(name)).toBeDefined();
    clock.advance(2 * 3600_000);
    await check();
    expect(await system.store.get(name)).toBeUndefined();
    expect(log.lines.join('\n')).toContain('pending key pairs discarded');
  });
});
