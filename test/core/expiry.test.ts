import { beforeEach, describe, expect, it } from 'vitest';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { alertDue, runExpiryCheck } from '../../functions/core/expiry.ts';
import type { Notification, Notifier } from '../../functions/core/ports.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { MemorySecretStore } from '../helpers/memory-secret-store.ts';
import { issue } from '../helpers/pki.ts';

class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async publish(n: Notification) {
    this.sent.push(n);
  }
}

const DAY = 86_400_000;
let clock: ManualClock;
let store: MemorySecretStore;
let notifier: RecordingNotifier;
let system: System;
const check = () => runExpiryCheck({ store, credentials: system.credentials, tenants: system.tenants, notifier, clock, log: new MemoryLog() });

beforeEach(async () => {
  // 06:00 in Paris (winter): when the schedule runs.
  clock = new ManualClock(Date.parse('2027-01-01T05:00:00Z'));
  store = new MemorySecretStore();
  notifier = new RecordingNotifier();
  system = buildSystem({ store, log: new MemoryLog(), version: 't', clock });
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
});

describe('alert decisions', () => {
  it.each([
    ['61 days left', 61, undefined],
    ['60 days left', 60, 60],
    ['45 days left', 45, 60],
    ['exactly 30', 30, 30],
    ['1 day left', 1, 1],
  ])('%s crosses threshold %s', (_l, days, threshold) => {
    const now = new Date('2027-01-01T05:00:00Z');
    const tags = { 'sesame:expires-at': new Date(now.getTime() + days * DAY).toISOString() };
    const d = alertDue(tags, now);
    expect(d?.due.type === 'threshold' ? d.due.threshold : undefined).toBe(threshold);
  });

  it('starts the thresholds again when the end date changes (a renewal)', () => {
    const now = new Date('2027-01-01T05:00:00Z');
    const old = new Date(now.getTime() + 5 * DAY).toISOString();
    const renewed = new Date(now.getTime() + 50 * DAY).toISOString();
    // Already told at 7 days for this date: nothing new at 5.
    expect(alertDue({ 'sesame:expires-at': old, 'sesame:alert-for': old, 'sesame:alert-level': '7' }, now)).toBeUndefined();
    expect(alertDue({ 'sesame:expires-at': renewed, 'sesame:alert-for': old, 'sesame:alert-level': '3' }, now)?.due).toMatchObject({ type: 'threshold', threshold: 60 });
  });
});

describe('a simulated year of daily checks', () => {
  it('sends exactly one alert per threshold, then daily for 7 days after expiry, then weekly', async () => {
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: 'k', expires_at: '2027-04-01' } });
    const cert = await issue({ subject: 'CN=CFA, O=CFA, C=BE', notAfter: new Date('2027-08-15T00:00:00Z'), notBefore: new Date('2026-01-01T00:00:00Z') });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'fla-employer', fields: { client_id: 'c', private_key: cert.privatePem, certificate: cert.pem, quality: 'employer' } });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'cegid-cfe', fields: { api_key_id: 'i', api_key_secret: 's' } });
    const byCredential = new Map<string, Notification[]>();
    for (let day = 0; day < 365; day++) {
      notifier.sent.length = 0;
      await check();
      for (const n of notifier.sent) {
        const key = /of cfa-paris\/(\S+)/.exec(n.subject)?.[1] as string;
        byCredential.set(key, [...(byCredential.get(key) ?? []), { ...n, message: clock.now().toISOString().slice(0, 10) }]);
      }
      clock.advance(DAY);
    }
    const dates = (c: string) => (byCredential.get(c) ?? []).map((n) => n.message);
    const atlas = byCredential.get('opco-atlas') ?? [];
    // 60, 30, 14, 7, 3, 1 days before; the day it expires; 7 days; then every week to the end of the year.
    expect(dates('opco-atlas').slice(0, 14)).toEqual([
      '2027-01-31', '2027-03-02', '2027-03-18', '2027-03-25', '2027-03-29', '2027-03-31',
      '2027-04-01', '2027-04-02', '2027-04-03', '2027-04-04', '2027-04-05', '2027-04-06', '2027-04-07', '2027-04-08',
    ]);
    const weekly = dates('opco-atlas').slice(14);
    expect(weekly[0]).toBe('2027-04-15');
    expect(weekly.every((d, i) => i === 0 || (Date.parse(d) - Date.parse(weekly[i - 1] as string)) / DAY === 7)).toBe(true);
    expect(atlas.slice(0, 6).map((n) => n.attributes.severity)).toEqual(['info', 'info', 'warning', 'warning', 'critical', 'critical']);
    expect(atlas.slice(6).every((n) => n.attributes.severity === 'expired')).toBe(true);
    expect(dates('fla-employer').slice(0, 7)).toEqual(['2027-06-16', '2027-07-16', '2027-08-01', '2027-08-08', '2027-08-12', '2027-08-14', '2027-08-15']);
    // No end date: a reminder every week, never silence.
    expect(dates('cegid-cfe')).toHaveLength(53);
    expect(byCredential.get('cegid-cfe')?.[0]?.subject).toBe('[Sesame] Cegid File Exchange credential of cfa-paris/cegid-cfe has no end date recorded');
  });

  it('starts over when the key is renewed', async () => {
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-ocapiat', fields: { cfa_key: 'k', lifetime_months: 2 } });
    const subjects: string[] = [];
    for (let day = 0; day < 100; day++) {
      notifier.sent.length = 0;
      await check();
      subjects.push(...notifier.sent.map((n) => n.subject));
      // Renewed the day before it lapses, for 3 months: no expired alerts, thresholds start over.
      if (day === 58) await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-ocapiat', fields: { cfa_key: 'k2', lifetime_months: 3 } });
      clock.advance(DAY);
    }
    expect(subjects).toEqual([
      '[Sesame] Ocapiat CFA key of cfa-paris/opco-ocapiat expires in 59 days',
      '[Sesame] Ocapiat CFA key of cfa-paris/opco-ocapiat expires in 30 days',
      '[Sesame] Ocapiat CFA key of cfa-paris/opco-ocapiat expires in 14 days',
      '[Sesame] Ocapiat CFA key of cfa-paris/opco-ocapiat expires in 7 days',
      '[Sesame] Ocapiat CFA key of cfa-paris/opco-ocapiat expires in 3 days',
      '[Sesame] Ocapiat CFA key of cfa-paris/opco-ocapiat expires in 1 day',
      '[Sesame] Ocapiat CFA key of cfa-paris/opco-ocapiat expires in 60 days',
    ]);
  });
});

describe('what each alert says', () => {
  it.each([
    ['chorus-piste', { client_id: 'c', client_secret: 's', account_login: 'l', account_password: 'p', password_changed_at: '2025-12-01' }, 'sandbox', 'Chorus Pro technical account password', /Raccordements EDI et API/],
    ['opco-ocapiat', { cfa_key: 'k', lifetime_months: 1 }, undefined, 'Ocapiat CFA key', /6 au plus[\s\S]*écrase[\s\S]*6 at most[\s\S]*overwrites/],
    ['opco-atlas', { cfa_key: 'k', expires_at: '2027-01-20' }, undefined, 'Atlas CFA key', /myAtlas prestataire/],
    ['opco-opcommerce', { cfa_key: 'k', expires_at: '2027-01-20' }, undefined, "L'Opcommerce CFA key", /Accrochage API/],
    ['opco-akto', { cfa_key: 'k', expires_at: '2027-01-20' }, undefined, 'AKTO CFA key', /n’est pas publiée pour AKTO/],
    ['cegid-cfe', { api_key_id: 'i', api_key_secret: 's', review_at: '2027-01-10' }, undefined, 'Cegid API key review date', /Cegid Life/],
  ])('%s: names what expires and gives the renewal steps', async (credential, fields, environment, what, steps) => {
    await system.credentials.set({ tenant: 'cfa-paris', credential, fields, ...(environment ? { environment } : {}) });
    await check();
    const n = notifier.sent[0] as Notification;
    expect(n.subject.startsWith(`[Sesame] ${what} of cfa-paris/${credential}`)).toBe(true);
    expect(n.subject.length).toBeLessThanOrEqual(100);
    expect(n.message).toMatch(/^Client : cfa-paris \(CFA Paris\)/);
    expect(n.message).toMatch(/---\n\nClient: cfa-paris/);
    expect(n.message).toMatch(steps);
    expect(n.attributes).toMatchObject({ tenant: 'cfa-paris', kind: credential });
  });

  it('an FLA certificate alert gives the Chaman steps, and the Chorus EDI one the 2 to 24 hour delay', async () => {
    const cert = await issue({ subject: 'CN=CFA, O=CFA, C=BE', notAfter: new Date('2027-01-20T00:00:00Z'), notBefore: new Date('2026-01-01T00:00:00Z') });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'fla', fields: { client_id: 'c', private_key: cert.privatePem, certificate: cert.pem, quality: 'employer' } });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-edi', fields: { certificate: cert.pem } });
    await check();
    const [fla, edi] = [...notifier.sent].sort((a, b) => a.attributes.kind.localeCompare(b.attributes.kind)).reverse();
    expect(fla?.subject).toBe('[Sesame] Chaman certificate of cfa-paris/fla expires in 19 days');
    expect(fla?.message).toMatch(/Chaman/);
    expect(edi?.message).toMatch(/2 à 24 heures[\s\S]*2 to 24 hours/);
  });
});

describe('store traffic', () => {
  it('checks 10,000 credentials with ceil(N/100) list calls and decrypts none with no alert due', async () => {
    const far = new Date(clock.now().getTime() + 400 * DAY).toISOString();
    for (let i = 0; i < 10_000; i++) {
      store.secrets.set(`sesame/t${i % 500}/opco-atlas-${i}`, { versions: [], tags: { 'sesame:tenant': `t${i % 500}`, 'sesame:kind': 'opco-atlas', 'sesame:expires-at': far } });
    }
    store.calls.get = 0;
    store.calls.list = 0;
    const summary = await check();
    expect(summary).toMatchObject({ checked: 10_000, alerting: 0, errors: 0, pages: 100 });
    expect(store.calls.list).toBe(100);
    expect(store.calls.get).toBe(0);
  });

  it('decrypts nothing when the tags say what expires, and one bad secret never stops the run', async () => {
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: 'k', expires_at: '2027-01-05' } });
    store.secrets.set('sesame/cfa-paris/opco-broken', { versions: [], tags: { 'sesame:kind': 'no-such-kind', 'sesame:expires-at': '2027-01-03T00:00:00Z' } });
    store.calls.get = 0;
    const summary = await check();
    expect(summary).toMatchObject({ checked: 2, alerting: 1, errors: 1 });
    expect(store.calls.get).toBe(1); // its tenant record: an Atlas credential's tags say what expires (its CFA key)
  });
});
