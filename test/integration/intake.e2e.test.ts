import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../functions/adapters/local-object-store.ts';
import { OutboxNotifier } from '../../functions/adapters/outbox-notifier.ts';
import type { System } from '../../functions/adapters/system.ts';
import type { IntakeResult } from '../../functions/core/intake.ts';
import { startUploadWatcher } from '../../functions/local/upload-watcher.ts';
import { ManualClock } from '../helpers/clock.ts';
import { chorusChain, EKU, issue, p7b } from '../helpers/pki.ts';
import { tempSystem } from '../helpers/system.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { loadTrustAnchors } from '../../functions/core/certificates/validator.ts';

/** Local mode end to end: files dropped in $SESAME_HOME/uploads/, the same intake as the S3 function. */
const clock = new ManualClock(Date.parse('2026-11-21T12:00:00Z'));
let system: System;
let home: string;
let cleanup: () => Promise<void>;
let objects: LocalObjectStore;
let watcher: ReturnType<typeof startUploadWatcher>;
const results: IntakeResult[] = [];

async function drop(tenant: string, credential: string, file: string, bytes: Uint8Array | string) {
  const dir = join(home, 'uploads', tenant, credential);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, file), bytes);
  clock.advance(1_000);
  results.length = 0;
  await watcher.scanNow();
  return results[0] as IntakeResult;
}
const ls = async (...p: string[]) => readdir(join(home, ...p)).catch(() => [] as string[]);
const outbox = async () => Promise.all((await ls('outbox')).sort().map(async (f) => JSON.parse(await readFile(join(home, 'outbox', f), 'utf8'))));

beforeAll(async () => {
  const base = await tempSystem({ clock });
  home = base.home;
  cleanup = base.cleanup;
  objects = new LocalObjectStore(home);
  ({ system } = await tempSystem({ clock, store: base.system.store, objects, notifier: new OutboxNotifier(home, clock, base.log) }));
  watcher = startUploadWatcher({ objects, process: (k) => (system.intake as NonNullable<System['intake']>)(k), log: base.log, intervalMs: 3_600_000, settleMs: 0, onResult: (r) => results.push(r) });
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-edi', fields: { usage: 'client' } });
  await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-edi-server', fields: { usage: 'server' } });
});
afterAll(async () => {
  await watcher.stop();
  await cleanup();
});

describe('certificate intake in local mode', () => {
  it('accepts a good chain: new credential version, expiry tag, file in accepted/, report in reports/', async () => {
    const c = await chorusChain({ notAfter: new Date('2027-09-30T00:00:00Z') });
    const before = await system.store.get('sesame/cfa-paris/chorus-edi');
    const r = await drop('cfa-paris', 'chorus-edi', 'edi.p7b', p7b([c.leaf, c.inter, c.root]));
    expect(r.outcome).toBe('accepted');
    const after = await system.store.get('sesame/cfa-paris/chorus-edi');
    expect(after?.version).not.toBe(before?.version);
    expect(await system.store.getPrevious('sesame/cfa-paris/chorus-edi')).toMatchObject({ version: before?.version });
    expect((await system.credentials.list('cfa-paris')).find((x) => x.credential === 'chorus-edi')?.expires_at).toBe('2027-09-30T00:00:00.000Z');
    const shown = await system.credentials.show('cfa-paris', 'chorus-edi');
    expect((shown.fields as { certificate: string }).certificate.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    expect(await ls('uploads', 'cfa-paris', 'chorus-edi')).toEqual([]);
    expect(await ls('accepted', 'cfa-paris', 'chorus-edi')).toEqual(['edi.p7b']);
    const report = JSON.parse(await readFile(join(home, 'reports', 'cfa-paris', 'chorus-edi', 'edi.p7b.json'), 'utf8'));
    expect(report).toMatchObject({ valid: true, outcome: 'accepted', profile: 'chorus-client', tenant: 'cfa-paris' });
  });

  it('changes nothing when the same object is processed twice', async () => {
    const r = await (system.intake as NonNullable<System['intake']>)('incoming/cfa-paris/chorus-edi/edi.p7b');
    expect(r.outcome).toBe('gone');
  });

  it('writes no new version when the same certificate is uploaded again', async () => {
    const { certificate } = (await system.credentials.show('cfa-paris', 'chorus-edi')).fields as { certificate: string };
    const before = await system.store.get('sesame/cfa-paris/chorus-edi');
    const r = await drop('cfa-paris', 'chorus-edi', 'again.pem', certificate);
    expect(r.outcome).toBe('unchanged');
    expect((await system.store.get('sesame/cfa-paris/chorus-edi'))?.version).toBe(before?.version);
  });

  it('refuses a bad certificate: credential untouched, file in rejected/, alert in the outbox', async () => {
    const before = await system.store.get('sesame/cfa-paris/chorus-edi-server');
    const c = await chorusChain({ eku: [EKU.clientAuth] });
    const r = await drop('cfa-paris', 'chorus-edi-server', 'server.p7b', p7b([c.leaf, c.inter, c.root]));
    expect(r.outcome).toBe('rejected');
    expect(r.report?.errors.map((e) => e.code)).toEqual(['extended_key_usage']);
    expect((await system.store.get('sesame/cfa-paris/chorus-edi-server'))?.version).toBe(before?.version);
    expect(await ls('rejected', 'cfa-paris', 'chorus-edi-server')).toEqual(['server.p7b']);
    const alerts = await outbox();
    const last = alerts.at(-1);
    expect(last.subject.length).toBeLessThanOrEqual(100);
    expect(last.attributes).toEqual({ tenant: 'cfa-paris', kind: 'chorus-edi', severity: 'warning' });
    expect(last.message).toMatch(/Raisons :[\s\S]*serverAuth[\s\S]*Reasons:[\s\S]*serverAuth/);
  });

  it('deletes an upload holding a private key at once, and raises a critical alert', async () => {
    const cert = await issue({ subject: 'CN=x, C=FR' });
    const r = await drop('cfa-paris', 'chorus-edi', 'bundle.pem', `${cert.pem}${cert.privatePem}`);
    expect(r.outcome).toBe('deleted');
    expect(await ls('uploads', 'cfa-paris', 'chorus-edi')).toEqual([]);
    expect(await ls('rejected', 'cfa-paris', 'chorus-edi')).not.toContain('bundle.pem');
    const report = await readFile(join(home, 'reports', 'cfa-paris', 'chorus-edi', 'bundle.pem.json'), 'utf8');
    expect(report).not.toContain('PRIVATE KEY');
    expect((await outbox()).at(-1).attributes.severity).toBe('critical');
  });

  it('refuses an upload for a credential that does not exist', async () => {
    const r = await drop('cfa-paris', 'chorus-edi-nothing', 'x.pem', 'whatever');
    expect(r.outcome).toBe('rejected');
    expect(r.reason?.en).toMatch(/No credential/);
  });

  it('refuses an oversized file from its size, without reading it', async () => {
    const r = await drop('cfa-paris', 'chorus-edi', 'huge.pem', Buffer.alloc(200 * 1024, 0x41));
    expect(r.report?.errors.map((e) => e.code)).toEqual(['too_large']);
  });

  it('checks an FLA certificate against the stored private key', async () => {
    const mine = await issue({ subject: 'CN=CFA, O=CFA, C=BE', shape: 'ec384', digest: 'SHA-384' });
    const other = await issue({ subject: 'CN=CFA, O=CFA, C=BE' });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'fla-employer', fields: { client_id: 'self_service_chaman_1', private_key: mine.privatePem, quality: 'employer' } });
    expect((await drop('cfa-paris', 'fla-employer', 'wrong.cer', other.der)).report?.errors.map((e) => e.code)).toEqual(['key_mismatch']);
    expect((await drop('cfa-paris', 'fla-employer', 'right.cer', mine.der)).outcome).toBe('accepted');
    const listed = (await system.credentials.list('cfa-paris')).find((x) => x.credential === 'fla-employer');
    expect(listed?.expires_at).toBe('2028-01-01T00:00:00.000Z');
  });
});

describe('certificate intake with trust anchors configured', () => {
  it('accepts a chain that leads to a configured anchor and refuses one that ends at another root, naming it', async () => {
    const trusted = await chorusChain({ notAfter: new Date('2027-06-30T00:00:00Z') });
    const anchors = loadTrustAnchors(new TextEncoder().encode(trusted.root.pem));
    const base = await tempSystem({ clock, trustAnchors: anchors, objects: new LocalObjectStore(home), notifier: new OutboxNotifier(home, clock, new MemoryLog()) });
    try {
      await base.system.tenants.put({ id: 'cfa-lyon', name: 'CFA Lyon' });
      await base.system.credentials.set({ tenant: 'cfa-lyon', credential: 'chorus-edi', fields: { usage: 'client' } });
      const intake = base.system.intake as NonNullable<System['intake']>;
      const objectsHere = new LocalObjectStore(home);
      // The root may stay out of the file: the anchor completes the path.
      await objectsHere.put('incoming/cfa-lyon/chorus-edi/trusted.p7b', p7b([trusted.leaf, trusted.inter]));
      expect((await intake('incoming/cfa-lyon/chorus-edi/trusted.p7b')).outcome).toBe('accepted');
      const other = await chorusChain({}, { root: 'CN=Self-made Root, C=FR', inter: 'CN=Self-made CA, C=FR' });
      await objectsHere.put('incoming/cfa-lyon/chorus-edi/other.p7b', p7b([other.leaf, other.inter, other.root]));
      const refused = await intake('incoming/cfa-lyon/chorus-edi/other.p7b');
      expect(refused.outcome).toBe('rejected');
      expect(refused.report?.errors.map((e) => [e.code, e.certificate?.subject])).toEqual([['untrusted_root', 'CN=Self-made Root, C=FR']]);
      expect((await base.system.credentials.list('cfa-lyon'))[0]?.expires_at).toBe('2027-06-30T00:00:00.000Z');
    } finally {
      await base.cleanup();
    }
  });
});
