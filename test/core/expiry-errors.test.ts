import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { TAG } from '../../functions/core/credentials.ts';
import { SesameError } from '../../functions/core/errors.ts';
import { expiryReport, runExpiryCheck } from '../../functions/core/expiry.ts';
import type { Notification, Notifier, SecretListing } from '../../functions/core/ports.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { MemorySecretStore } from '../helpers/memory-secret-store.ts';
import { issue } from '../helpers/pki.ts';
import { tempSystem } from '../helpers/system.ts';

/**
 * Issue 5: one unreadable record must not stop `expiry check`, `expiry report` or
 * `credential list` for everyone. The core functions return what they could read, and
 * the records they could not, by name, code and words that never hold a secret value.
 */

const SECRET = 'cfa-key-that-must-never-be-printed';
const corrupt = (name: string) => new SesameError('store_corrupt', `local secret ${name} is unreadable (tags do not match their MAC); its file may have been edited or truncated`);

/** As the local store does: a page holding an unreadable record fails whole, and so does reading it. */
class StoreWithBadRecords extends MemorySecretStore {
  readonly unreadable = new Set<string>();
  /** Readable tags, but a value that cannot be decrypted. */
  readonly undecryptable = new Set<string>();
  override async list(o: { prefix: string; nextToken?: string; pageSize?: number }): Promise<SecretListing> {
    const page = await super.list(o);
    const bad = page.items.find((i) => this.unreadable.has(i.name));
    if (bad) throw corrupt(bad.name);
    return page;
  }
  override async tags(name: string) {
    if (this.unreadable.has(name)) throw corrupt(name);
    return super.tags(name);
  }
  override async get(name: string) {
    if (this.unreadable.has(name) || this.undecryptable.has(name)) {
      this.calls.get += 1;
      throw new SesameError('store_corrupt', `local secret ${name} failed decryption: wrong SESAME_LOCAL_KEY, or the file was tampered with`);
    }
    return super.get(name);
  }
}

let clock: ManualClock;
let store: StoreWithBadRecords;
let system: System;
let sent: Notification[];
const notifier: Notifier = { publish: async (n) => void sent.push(n) };
const check = () => runExpiryCheck({ store, credentials: system.credentials, tenants: system.tenants, notifier, clock, log: new MemoryLog() });

beforeEach(async () => {
  clock = new ManualClock(Date.parse('2027-01-01T05:00:00Z'));
  store = new StoreWithBadRecords();
  sent = [];
  system = buildSystem({ store, log: new MemoryLog(), version: 't', clock });
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
  await system.tenants.put({ id: 'cfa-lyon', name: 'CFA Lyon' });
});

describe('one unreadable record, among others', () => {
  beforeEach(async () => {
    await system.credentials.set({ tenant: 'cfa-lyon', credential: 'opco-atlas', fields: { cfa_key: SECRET, expires_at: '2027-01-10' } });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-akto', fields: { cfa_key: SECRET, expires_at: '2027-01-10' } });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: SECRET, expires_at: '2027-01-10' } });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas-2', fields: { cfa_key: SECRET, expires_at: '2027-01-10' } });
    store.unreadable.add('sesame/cfa-paris/opco-atlas');
  });
  const expected = [{ secret: 'sesame/cfa-paris/opco-atlas', code: 'store_corrupt', detail: expect.stringContaining('sesame/cfa-paris/opco-atlas') }];

  it('expiry check alerts for the others and names it', async () => {
    const summary = await check();
    expect(summary).toMatchObject({ checked: 3, alerting: 3, errors: 1, failures: expected });
    expect(sent.map((n) => n.subject).sort()).toEqual([
      '[Sesame] AKTO CFA key of cfa-paris/opco-akto expires in 9 days',
      '[Sesame] Atlas CFA key of cfa-lyon/opco-atlas expires in 9 days',
      '[Sesame] Atlas CFA key of cfa-paris/opco-atlas-2 expires in 9 days',
    ]);
    expect(JSON.stringify(summary)).not.toContain(SECRET);
  });

  it('expiry report lists the others and names it', async () => {
    const report = await expiryReport({ store }, clock.now());
    expect(report.credentials.map((r) => `${r.tenant}/${r.credential}`)).toEqual(['cfa-lyon/opco-atlas', 'cfa-paris/opco-akto', 'cfa-paris/opco-atlas-2']);
    expect(report.errors).toEqual(expected);
  });

  it('credential list lists the others and names it', async () => {
    const listed = await system.credentials.list();
    expect(listed.map((r) => `${r.tenant}/${r.credential}`)).toEqual(['cfa-lyon/opco-atlas', 'cfa-paris/opco-akto', 'cfa-paris/opco-atlas-2']);
    expect(listed.errors).toEqual(expected);
    const one = await system.credentials.list('cfa-paris');
    expect(one.map((r) => r.credential)).toEqual(['opco-akto', 'opco-atlas-2']);
    expect(one.errors).toEqual(expected);
  });
});

describe('unreadable records deep in a long listing', () => {
  it('every other record is read once, over several pages, and each bad one is named', async () => {
    const far = new Date(clock.now().getTime() + 400 * 86_400_000).toISOString();
    for (let i = 0; i < 250; i++) {
      store.secrets.set(`sesame/t${i % 7}/opco-atlas-${i}`, { versions: [], tags: { [TAG.tenant]: `t${i % 7}`, [TAG.kind]: 'opco-atlas', [TAG.expiresAt]: far } });
    }
    store.unreadable.add('sesame/t3/opco-atlas-101').add('sesame/t5/opco-atlas-208');
    const report = await expiryReport({ store }, clock.now());
    expect(report.credentials).toHaveLength(248);
    expect(new Set(report.credentials.map((r) => r.credential)).size).toBe(248);
    expect(report.errors.map((e) => e.secret)).toEqual(['sesame/t3/opco-atlas-101', 'sesame/t5/opco-atlas-208']);
    const summary = await check();
    expect(summary).toMatchObject({ checked: 248, alerting: 0, errors: 2 });
  });
});

describe('a due credential whose value cannot be decrypted', () => {
  it('still gets its alert, from its tags, and is named as an error', async () => {
    const cert = await issue({ subject: 'CN=CFA, O=CFA, C=BE', notBefore: new Date('2026-01-01'), notAfter: new Date('2027-01-15T00:00:00Z') });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'fla', fields: { client_id: 'c', private_key: cert.privatePem, certificate: cert.pem, quality: 'employer' } });
    // Written before `sesame:expires-what`: only the secret could say whether the certificate or its chain expires.
    delete store.secrets.get('sesame/cfa-paris/fla')?.tags[TAG.expiresWhat];
    store.undecryptable.add('sesame/cfa-paris/fla');
    const summary = await check();
    expect(sent.map((n) => n.subject)).toEqual(['[Sesame] Chaman certificate of cfa-paris/fla expires in 14 days']);
    expect(summary).toMatchObject({ alerting: 1, errors: 1, failures: [{ secret: 'sesame/cfa-paris/fla', code: 'store_corrupt', detail: expect.stringMatching(/failed decryption/) }] });
  });
});

describe('a failure that is not about one record', () => {
  it('is thrown: the store cannot be listed at all', async () => {
    const down = new MemorySecretStore();
    down.list = async () => {
      throw Object.assign(new Error('User is not authorized to perform: secretsmanager:ListSecrets'), { name: 'AccessDeniedException' });
    };
    await expect(expiryReport({ store: down }, clock.now())).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('is thrown, quickly, when no part of the store can be read (a wrong key)', async () => {
    const wrongKey = new MemorySecretStore();
    let calls = 0;
    wrongKey.list = async () => {
      calls += 1;
      throw new SesameError('store_corrupt', 'the local store was written with another key: check SESAME_LOCAL_KEY');
    };
    await expect(expiryReport({ store: wrongKey }, clock.now())).rejects.toMatchObject({ code: 'store_corrupt', message: expect.stringMatching(/another key/) });
    await expect(runExpiryCheck({ store: wrongKey, credentials: system.credentials, tenants: system.tenants, notifier, clock, log: new MemoryLog() })).rejects.toMatchObject({ code: 'store_corrupt' });
    expect(calls).toBeLessThanOrEqual(2 * 39);
  });
});

describe('the local store, with a file edited by hand', () => {
  let cleanup: () => Promise<void>;
  afterEach(() => cleanup());

  it('check, report and list go on with the others and name it', async () => {
    const t = await tempSystem({ clock });
    cleanup = t.cleanup;
    const s = t.system;
    await s.tenants.put({ id: 'acme', name: 'ACME' });
    for (const c of ['opco-afdas', 'opco-akto', 'opco-atlas']) await s.credentials.set({ tenant: 'acme', credential: c, fields: { cfa_key: SECRET, expires_at: '2027-01-20' } });
    const file = join(t.home, 'secrets', 'sesame', 'acme', 'opco-akto.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"sesame:kind": "opco-akto"', '"sesame:kind": "opco-atlas"'));
    const bad = [{ secret: 'sesame/acme/opco-akto', code: 'store_corrupt', detail: expect.any(String) }];

    const summary = await runExpiryCheck({ store: s.store, credentials: s.credentials, tenants: s.tenants, notifier, clock, log: new MemoryLog(), dryRun: true });
    expect(summary).toMatchObject({ checked: 2, alerting: 2, errors: 1, failures: bad });
    const report = await expiryReport({ store: s.store }, clock.now());
    expect(report.credentials.map((r) => r.credential)).toEqual(['opco-afdas', 'opco-atlas']);
    expect(report.errors).toEqual(bad);
    const listed = await s.credentials.list('acme');
    expect(listed.map((r) => r.credential)).toEqual(['opco-afdas', 'opco-atlas']);
    expect(listed.errors).toEqual(bad);
    expect(JSON.stringify([summary, report, listed, listed.errors])).not.toContain(SECRET);
  });
});
