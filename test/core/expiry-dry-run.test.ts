import { beforeEach, describe, expect, it } from 'vitest';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { runExpiryCheck } from '../../functions/core/expiry.ts';
import type { Notification, Notifier } from '../../functions/core/ports.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { MemorySecretStore } from '../helpers/memory-secret-store.ts';

/**
 * Issue 3: simulating a date must neither publish nor change alert state, so that the
 * next real run still sends what is due. A dry run decides as the real run would and
 * says what it would send.
 */

let clock: ManualClock;
let store: MemorySecretStore;
let system: System;
let sent: Notification[];
const notifier: Notifier = { publish: async (n) => void sent.push(n) };
const check = (o: { dryRun?: boolean; at?: string } = {}) =>
  runExpiryCheck({ store, credentials: system.credentials, tenants: system.tenants, notifier, clock: o.at ? { now: () => new Date(o.at as string) } : clock, log: new MemoryLog(), ...(o.dryRun !== undefined ? { dryRun: o.dryRun } : {}) });

beforeEach(async () => {
  clock = new ManualClock(Date.parse('2027-01-01T05:00:00Z'));
  store = new MemorySecretStore();
  sent = [];
  system = buildSystem({ store, log: new MemoryLog(), version: 't', clock });
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: 'k', expires_at: '2027-03-01' } });
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'cegid-cfe', fields: { api_key_id: 'i', api_key_secret: 's' } });
});

const state = () => [...store.secrets.entries()].map(([name, s]) => [name, s.tags, s.versions.length]);

describe('a dry run', () => {
  it('on a simulated date publishes nothing and writes nothing, and says what it would send', async () => {
    const before = JSON.stringify(state());
    store.calls.put = 0;
    store.calls.tag = 0;
    const summary = await check({ dryRun: true, at: '2027-02-24T05:00:00Z' });
    expect(sent).toEqual([]);
    expect(store.calls.put + store.calls.tag).toBe(0);
    expect(JSON.stringify(state())).toBe(before);
    expect(summary).toMatchObject({ at: '2027-02-24T05:00:00.000Z', dry_run: true, checked: 2, alerting: 2, errors: 0, failures: [] });
    expect(summary.alerts).toEqual([
      { tenant: 'cfa-paris', credential: 'cegid-cfe', kind: 'cegid-cfe', severity: 'info', subject: '[Sesame] Cegid File Exchange credential of cfa-paris/cegid-cfe has no end date recorded' },
      { tenant: 'cfa-paris', credential: 'opco-atlas', kind: 'opco-atlas', severity: 'warning', subject: '[Sesame] Atlas CFA key of cfa-paris/opco-atlas expires in 5 days' },
    ]);
  });

  it('leaves the next real run to send exactly what it would have sent', async () => {
    const dry = await check({ dryRun: true });
    const real = await check();
    expect(real).toMatchObject({ dry_run: false, alerting: dry.alerting });
    expect(real.alerts).toEqual(dry.alerts);
    expect(sent.map((n) => n.subject)).toEqual(dry.alerts.map((a) => a.subject));
    // Recorded: the same day again sends nothing.
    expect((await check()).alerting).toBe(0);
    // A dry run reports the same: nothing is due any more.
    expect((await check({ dryRun: true })).alerts).toEqual([]);
  });

  it('needs no notifier; a real run does', async () => {
    const base = { store, credentials: system.credentials, tenants: system.tenants, clock, log: new MemoryLog() };
    expect((await runExpiryCheck({ ...base, dryRun: true })).alerting).toBe(2);
    await expect(runExpiryCheck(base)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
