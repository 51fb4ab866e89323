import { beforeEach, describe, expect, it } from 'vitest';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { credentialSecretName, expiresWhatTag, TAG } from '../../functions/core/credentials.ts';
import { expiryReport, runExpiryCheck } from '../../functions/core/expiry.ts';
import { platformOf } from '../../functions/core/platforms/index.ts';
import type { Notification, Notifier } from '../../functions/core/ports.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { MemorySecretStore } from '../helpers/memory-secret-store.ts';
import { issue } from '../helpers/pki.ts';

/**
 * Issue 8: `sesame expiry report` works from tags and decrypts nothing: `sesame:expires-at`
 * says when, `sesame:expires-what` (written with it) says what. The check decrypts only a
 * due credential whose tags cannot say what expires.
 */

const DAY = 86_400_000;
let clock: ManualClock;
let store: MemorySecretStore;
let system: System;
let sent: Notification[];
const notifier: Notifier = { publish: async (n) => void sent.push(n) };
const check = () => runExpiryCheck({ store, credentials: system.credentials, tenants: system.tenants, notifier, clock, log: new MemoryLog() });

/** `credentials.set`, and the `sesame:expires-what` tag that its one-line change writes with `sesame:expires-at`. */
async function set(tenant: string, credential: string, fields: unknown) {
  await system.credentials.set({ tenant, credential, fields });
  const c = await system.credentials.get(tenant, credential);
  await store.tag(credentialSecretName(tenant, credential), expiresWhatTag(c.platform, c.platform.expiries(c.fields, { tenant, credential, environment: c.environment, clock })));
}

/** A chain whose intermediate ends (2027-02-01) before its leaf (2027-06-01). */
async function chainEndingFirst() {
  const root = await issue({ subject: 'CN=Root, O=Test, C=FR', ca: true, notBefore: new Date('2025-01-01'), notAfter: new Date('2030-01-01') });
  const inter = await issue({ subject: 'CN=Inter, O=Test, C=FR', issuer: root, ca: true, notBefore: new Date('2025-01-01'), notAfter: new Date('2027-02-01T00:00:00Z') });
  const leaf = await issue({ subject: 'CN=CFA, O=CFA, C=BE', issuer: inter, notBefore: new Date('2026-01-01'), notAfter: new Date('2027-06-01T00:00:00Z') });
  return { leaf, pem: `${leaf.pem}\n${inter.pem}` };
}

beforeEach(async () => {
  clock = new ManualClock(Date.parse('2027-01-01T05:00:00Z'));
  store = new MemorySecretStore();
  sent = [];
  system = buildSystem({ store, log: new MemoryLog(), version: 't', clock });
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
});

describe('the expiry report reads tags only', () => {
  it('over N credentials of every kind: zero get calls, one list call per 100', async () => {
    const kinds = ['fla', 'chorus-edi', 'chorus-piste', 'cegid-cfe', 'opco-atlas', 'opco-ocapiat'];
    const N = 1_200;
    for (let i = 0; i < N; i++) {
      const kind = kinds[i % kinds.length] as string;
      const what = i % 7 === 0 ? 'chain' : Object.keys(platformOf(kind).names.expiries)[0];
      const tags = { [TAG.tenant]: `t${i % 50}`, [TAG.kind]: kind, [TAG.expiresAt]: new Date(clock.now().getTime() + ((i % 400) + 1) * DAY).toISOString(), [TAG.expiresWhat]: what as string };
      // A body that is not even readable: the report must not need it.
      store.secrets.set(`sesame/t${i % 50}/${kind}-${i}`, { versions: [{ name: '', value: 'unreadable', version: 'v1', createdAt: undefined }], tags });
    }
    store.calls.get = 0;
    store.calls.list = 0;
    const report = await expiryReport({ store }, clock.now());
    expect(report.credentials).toHaveLength(N);
    expect(report.errors).toEqual([]);
    expect(store.calls.get).toBe(0);
    expect(store.calls.list).toBe(N / 100);
    expect(report.credentials.find((r) => r.credential === 'fla-0')).toMatchObject({ days_left: 1, what: 'Chaman certificate chain', status: 'critical' });
    expect(report.credentials.map((r) => r.days_left)).toEqual(report.credentials.map((r) => r.days_left).sort((a, b) => (a ?? 0) - (b ?? 0)));
    expect(new Set(report.credentials.map((r) => r.what))).toEqual(
      new Set(['Chaman certificate', 'Chaman certificate chain', 'Chorus Pro certificate', 'Chorus Pro certificate chain', 'Chorus Pro technical account password', 'Cegid API key review date', 'Atlas CFA key', 'Ocapiat CFA key']),
    );
  });

  it('says what expires first as the credential was written: the chain before its certificate', async () => {
    const { leaf, pem } = await chainEndingFirst();
    await set('cfa-paris', 'fla-employer', { client_id: 'c', private_key: leaf.privatePem, certificate: pem, quality: 'employer' });
    await set('cfa-paris', 'chorus-edi', { certificate: pem });
    await set('cfa-paris', 'opco-atlas', { cfa_key: 'k', expires_at: '2027-03-01' });
    await set('cfa-paris', 'cegid-cfe', { api_key_id: 'i', api_key_secret: 's' });
    store.calls.get = 0;
    const report = await expiryReport({ store }, clock.now());
    expect(report.credentials.map((r) => [r.credential, r.what, r.expires_at, r.days_left, r.status])).toEqual([
      ['chorus-edi', 'Chorus Pro certificate chain', '2027-02-01T00:00:00.000Z', 31, 'info'],
      ['fla-employer', 'Chaman certificate chain', '2027-02-01T00:00:00.000Z', 31, 'info'],
      ['opco-atlas', 'Atlas CFA key', '2027-03-01T00:00:00.000Z', 59, 'info'],
      ['cegid-cfe', 'Cegid File Exchange credential', null, null, 'no date'],
    ]);
    expect(store.calls.get).toBe(0);
  });

  it('a credential written before the tag existed shows its platform\'s usual item, still without decrypting', async () => {
    const { leaf, pem } = await chainEndingFirst();
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'fla', fields: { client_id: 'c', private_key: leaf.privatePem, certificate: pem, quality: 'employer' } });
    delete store.secrets.get('sesame/cfa-paris/fla')?.tags[TAG.expiresWhat];
    store.calls.get = 0;
    expect((await expiryReport({ store }, clock.now())).credentials.map((r) => r.what)).toEqual(['Chaman certificate']);
    expect(store.calls.get).toBe(0);
  });
});

describe('the sesame:expires-what tag', () => {
  it('names the platform\'s item that expires first, or none', async () => {
    const { leaf, pem } = await chainEndingFirst();
    const fla = platformOf('fla');
    const ctx = { tenant: 't', credential: 'fla', environment: 'production' as const, clock };
    expect(expiresWhatTag(fla, fla.expiries({ certificate: pem }, ctx))).toEqual({ 'sesame:expires-what': 'chain' });
    expect(expiresWhatTag(fla, fla.expiries({ certificate: leaf.pem }, ctx))).toEqual({ 'sesame:expires-what': 'certificate' });
    expect(expiresWhatTag(fla, [])).toEqual({ 'sesame:expires-what': 'none' });
    const atlas = platformOf('opco-atlas');
    expect(expiresWhatTag(atlas, atlas.expiries({ cfa_key: 'k', expires_at: '2027-03-01' }, ctx))).toEqual({ 'sesame:expires-what': 'cfa-key' });
    // Tag values: letters, digits and - only, as Secrets Manager accepts.
    for (const key of ['fla', 'chorus-edi', 'chorus-piste', 'cegid-cfe', 'opco-atlas'].flatMap((k) => Object.keys(platformOf(k).names.expiries))) expect(key).toMatch(/^[a-z0-9-]+$/);
  });
});

describe('the check says what expires from the tags too', () => {
  it('an alert due for a chain says so without decrypting the credential', async () => {
    const { leaf, pem } = await chainEndingFirst();
    await set('cfa-paris', 'fla', { client_id: 'c', private_key: leaf.privatePem, certificate: pem, quality: 'employer' });
    clock.set('2027-01-20T05:00:00Z');
    store.calls.get = 0;
    await check();
    expect(sent.map((n) => n.subject)).toEqual(['[Sesame] Chaman certificate chain of cfa-paris/fla expires in 12 days']);
    expect(store.calls.get).toBe(1); // the tenant's name
  });

  it('decrypts a due credential whose tags cannot say, to be exact', async () => {
    const { leaf, pem } = await chainEndingFirst();
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'fla', fields: { client_id: 'c', private_key: leaf.privatePem, certificate: pem, quality: 'employer' } });
    delete store.secrets.get('sesame/cfa-paris/fla')?.tags[TAG.expiresWhat];
    clock.set('2027-01-20T05:00:00Z');
    store.calls.get = 0;
    await check();
    expect(sent.map((n) => n.subject)).toEqual(['[Sesame] Chaman certificate chain of cfa-paris/fla expires in 12 days']);
    expect(store.calls.get).toBe(2); // the credential and the tenant's name
  });
});
