import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { OutboxNotifier } from '../../functions/adapters/outbox-notifier.ts';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { linkHash, linkNotification } from '../../functions/core/connect.ts';
import type { Notification } from '../../functions/core/ports.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

let home: string;
let clock: ManualClock;
let log: MemoryLog;
let state: LocalStateStore;
let system: System;
let key: Buffer;

const build = (withNotifier = true) =>
  buildSystem({
    store: new LocalSecretStore(home, key, clock),
    state,
    log,
    clock,
    version: 'test',
    publicUrl: 'https://sesame.example',
    integrator: { name: 'Intégrateur & Fils' },
    ...(withNotifier ? { notifier: new OutboxNotifier(home, clock, log) } : {}),
  });

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'sesame-connect-email-'));
  clock = new ManualClock(Date.parse('2027-01-04T09:30:00Z'));
  log = new MemoryLog();
  key = randomBytes(32);
  state = new LocalStateStore(home, clock);
  system = build();
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris', alert_emails: ['ops@cfa-paris.example', 'Compta@cfa-paris.example'] });
});
afterEach(() => rm(home, { recursive: true, force: true }));

const connect = () => system.connect as NonNullable<System['connect']>;
const outbox = async (): Promise<Notification[]> => {
  const files = (await readdir(join(home, 'outbox')).catch(() => [] as string[])).sort();
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(home, 'outbox', f), 'utf8')) as Notification));
};
const tokenOf = (url: string) => url.split('/connect/')[1] as string;
const links = async () => (await readdir(join(home, 'state')).catch(() => [] as string[])).length;

describe('sending a connect link to an alert address', () => {
  it('writes one message to the outbox naming the integrator, the tenant, the platform, the end and the URL, French then English', async () => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'cegid-cfe', valid: '3d', createdBy: 'cli', email: 'compta@CFA-paris.example' });
    // The address as the tenant records it.
    expect(link.sent_to).toBe('Compta@cfa-paris.example');
    const [n, ...rest] = await outbox();
    expect(rest).toEqual([]);
    expect(n?.attributes).toEqual({ tenant: 'cfa-paris', kind: 'cegid-cfe', severity: 'info' });
    expect(n?.subject).toBe('[Sesame] Connect link: cfa-paris/cegid-cfe');
    const message = n?.message as string;
    const [fr, en] = message.split('\n---\n');
    for (const [block, words] of [
      [fr, ['À l’attention de : Compta@cfa-paris.example', 'Intégrateur & Fils demande à CFA Paris (cfa-paris)', '« cegid-cfe » (Cegid File Exchange', 'expire le 2027-01-07 09:30 UTC', link.url]],
      [en, ['For: Compta@cfa-paris.example', 'Intégrateur & Fils asks CFA Paris (cfa-paris)', '"cegid-cfe" (Cegid File Exchange', 'expires on 2027-01-07 09:30 UTC', link.url]],
    ] as const) {
      for (const w of words) expect(block).toContain(w);
    }
    expect(message.indexOf('À l’attention')).toBeLessThan(message.indexOf('For:'));
  });

  it('never puts the token in the subject nor in a log line', async () => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'opco-atlas', createdBy: 'cli', email: 'ops@cfa-paris.example' });
    const token = tokenOf(link.url);
    const [n] = await outbox();
    expect(n?.subject).not.toContain(token);
    expect(n?.message).toContain(token);
    expect(log.lines.join('\n')).not.toContain(token);
    const sent = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'connect link sent');
    expect(sent).toMatchObject({ tenant: 'cfa-paris', credential: 'opco-atlas', link: linkHash(token).slice(0, 12), to: 'ops@cfa-paris.example' });
  });

  it.each([
    ['an address that is not an alert address of the tenant', 'boss@cfa-paris.example', /not an alert address of tenant "cfa-paris" \(ops@cfa-paris\.example, Compta@cfa-paris\.example\)/],
    ['an alert address of another tenant', 'ops@cfa-lyon.example', /not an alert address/],
    ['something that is no address', 'nobody', /not an alert address/],
  ])('refuses %s, before any link is made', async (_what, email, message) => {
    await system.tenants.put({ id: 'cfa-lyon', name: 'CFA Lyon', alert_emails: ['ops@cfa-lyon.example'] });
    const before = await links();
    await expect(connect().create({ tenant: 'cfa-paris', credential: 'opco-atlas', createdBy: 'cli', email })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(message), details: { field: 'email' } });
    expect(await links()).toBe(before);
    expect(await outbox()).toEqual([]);
  });

  it('refuses any address of a tenant without alert addresses', async () => {
    await system.tenants.put({ id: 'quiet', name: 'Quiet' });
    await expect(connect().create({ tenant: 'quiet', credential: 'opco-atlas', createdBy: 'cli', email: 'a@quiet.example' })).rejects.toThrow(/\(none\)/);
  });

  it('refuses to send without a notifier, making no link', async () => {
    system = build(false);
    await expect(connect().create({ tenant: 'cfa-paris', credential: 'opco-atlas', createdBy: 'cli', email: 'ops@cfa-paris.example' })).rejects.toThrow(/no alerts topic/);
    expect(await links()).toBe(0);
  });

  it('sends a link made earlier with send(), checking the address the same way', async () => {
    const link = await connect().create({ tenant: 'cfa-paris', credential: 'chorus-piste', createdBy: 'op-1' });
    expect(link.sent_to).toBeUndefined();
    expect(await outbox()).toEqual([]);
    await expect(connect().send(link, { to: 'someone@else.example' })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await connect().send(link, { to: ' ops@cfa-paris.example ' })).toEqual({ sent_to: 'ops@cfa-paris.example' });
    const [n] = await outbox();
    expect(n?.message).toContain(link.url);
    expect(n?.attributes.kind).toBe('chorus-piste');
  });
});

describe('the link message', () => {
  const base = { url: 'https://sesame.example/connect/T', expires_at: '2027-01-11T09:30:00.000Z', kind: 'fla', fields: ['client_id'] };
  it.each([
    ['short ids: both', 'cfa-paris', 'fla-employer', '[Sesame] Connect link: cfa-paris/fla-employer'],
    ['long ids: the tenant alone', 'a'.repeat(64), 'b'.repeat(64), `[Sesame] Connect link for ${'a'.repeat(64)}`],
  ])('keeps the subject within 100 ASCII characters (%s)', (_what, tenant, credential, subject) => {
    const n = linkNotification({ link: { ...base, tenant, credential }, tenantName: 'Name', title: { fr: 'FLA', en: 'FLA' }, integrator: undefined, to: 'a@b.example' });
    expect(n.subject).toBe(subject);
    expect(n.subject.length).toBeLessThanOrEqual(100);
    expect(n.subject).toMatch(/^[\x20-\x7e]+$/);
  });

  it('names "your integrator" when none is configured, and the tenant once when its name is its id', () => {
    const n = linkNotification({ link: { ...base, tenant: 'acme', credential: 'fla' }, tenantName: 'acme', title: { fr: 'FLA', en: 'FLA' }, integrator: undefined, to: 'a@b.example' });
    expect(n.message).toContain('Votre intégrateur demande à acme de transmettre');
    expect(n.message).toContain('Your integrator asks acme to hand over');
  });
});
