import { GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
useEmulator();
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHash } from 'node:crypto';
import { captureOutput, lambdaContext, loadHandler, realCore, SOURCES, synthBundles, type Source, type Synth } from './bundles.ts';
import { DynamoAuditLog } from '../../functions/adapters/dynamo-audit-log.ts';
import { createStateTable, deploy, objectVersions, receivedAlerts, secretState, type Deployment } from './fixtures.ts';
import { chorusChain, EKU, issue, p7b } from '../helpers/pki.ts';

/**
 * The two event-driven functions against S3, Secrets Manager, SNS and SQS (moto), from
 * source and from the bundles `cdk synth` builds: the certificate intake with the S3
 * ObjectCreated events of real uploads, the expiry watch with its schedule's event.
 * Every assertion reads back what the emulator really holds.
 */
type Context = ReturnType<typeof lambdaContext>;
type CertificateFn = (event: S3Event, context: Context) => Promise<{ processed: number; outcomes: { key: string; outcome: string }[] }>;
type ExpiryFn = (event: unknown, context: Context) => Promise<{ checked: number; alerting: number; errors: number }>;

let synthed: Promise<Synth> | undefined;
const synth = () => (synthed ??= synthBundles());
afterAll(async () => {
  if (synthed) await (await synthed).cleanup();
});

const s3 = () => new S3Client({});
const DAY = 86_400_000;

/** S3 event keys are form-encoded: "+" for a space, %XX for the rest, "/" kept. */
const eventKey = (key: string) =>
  key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');

/** Uploads like an operator (`sesame --aws cert upload`) and returns the event S3 then sends. */
async function upload(d: Deployment, key: string, bytes: Uint8Array | string): Promise<S3Event> {
  const body = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const put = await s3().send(new PutObjectCommand({ Bucket: d.bucket, Key: key, Body: body }));
  expect(put.VersionId, 'the intake bucket is versioned').toBeTruthy();
  return s3Event(d, key, body.length, put.ETag ?? '', put.VersionId as string);
}

function s3Event(d: Deployment, key: string, size: number, eTag: string, versionId: string): S3Event {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-west-3',
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'AWS:AROAEXAMPLEOPERATOR:operator@integrator.example' },
        requestParameters: { sourceIPAddress: '203.0.113.7' },
        responseElements: { 'x-amz-request-id': 'C3D13FE58DE4C810', 'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'SesameCertificateIntake',
          bucket: { name: d.bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${d.bucket}` },
          object: { key: eventKey(key), size, eTag: eTag.replace(/"/g, ''), versionId, sequencer: Date.now().toString(16).toUpperCase().padStart(18, '0') },
        },
      },
    ],
  } as S3Event;
}

/** Every version and delete marker in the whole bucket, with the bytes of each version. */
async function bucketContents(bucket: string) {
  const out: { key: string; versionId: string; deleteMarker: boolean; bytes?: Uint8Array }[] = [];
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    const page = await s3().send(new ListObjectVersionsCommand({ Bucket: bucket, ...(KeyMarker ? { KeyMarker, VersionIdMarker } : {}) }));
    for (const m of page.DeleteMarkers ?? []) out.push({ key: m.Key as string, versionId: m.VersionId as string, deleteMarker: true });
    for (const v of page.Versions ?? []) {
      const o = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId }));
      out.push({ key: v.Key as string, versionId: v.VersionId as string, deleteMarker: false, bytes: await (o.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray() });
    }
    if (!page.IsTruncated) return out.sort((a, b) => a.key.localeCompare(b.key) || a.versionId.localeCompare(b.versionId));
    KeyMarker = page.NextKeyMarker;
    VersionIdMarker = page.NextVersionIdMarker;
  }
}

async function readObject(bucket: string, key: string): Promise<Uint8Array> {
  const o = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (o.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
}

const readJson = async (bucket: string, key: string) => JSON.parse(new TextDecoder().decode(await readObject(bucket, key))) as Record<string, unknown>;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const CREDENTIAL = 'sesame/cfa-paris/chorus-edi';

describe.each(SOURCES)('the certificate function (%s)', (from: Source) => {
  if (from === 'bundle') beforeAll(() => synth(), 120_000);

  /** A deployment with tenant cfa-paris, its chorus-edi credential (client usage) and the function over it. */
  async function setUp(options: { credential?: boolean } = {}) {
    const d = await deploy();
    const system = await realCore(d);
    await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris', siret: '12345678200010' });
    if (options.credential !== false) await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-edi', fields: { usage: 'client' } });
    // The state table holds the audit trail its verdicts go to.
    const table = await createStateTable();
    const { handler } = await loadHandler<CertificateFn>('certificate', from, { SESAME_BUCKET: d.bucket, SESAME_ALERTS_TOPIC_ARN: d.topicArn, SESAME_STATE_TABLE: table }, synth);
    const run = (event: S3Event) => captureOutput(() => handler(event, lambdaContext('certificate')));
    return { d, system, run, table };
  }

  it('accepts a valid Chorus chain: a new secret version and its expiry tag, the file in accepted/, its report, nothing left in incoming/', async () => {
    const { d, run, table } = await setUp();
    const c = await chorusChain({ notAfter: new Date('2027-09-30T00:00:00Z') });
    const bytes = p7b([c.leaf, c.inter, c.root]);
    const key = 'incoming/cfa-paris/chorus-edi/my chain (2).p7b';
    const event = await upload(d, key, bytes);
    expect(event.Records[0]?.s3.object.key).toBe('incoming/cfa-paris/chorus-edi/my+chain+%282%29.p7b');
    const before = await secretState(CREDENTIAL);

    const { result } = await run(event);
    expect(result).toEqual({ processed: 1, outcomes: [{ key, outcome: 'accepted' }] });
    // Its verdict in the audit trail, written before the function returned.
    const trail = await new DynamoAuditLog(table).query({ tenant: 'cfa-paris' });
    expect(trail.records).toEqual([expect.objectContaining({ type: 'certificate_verdict', actor: { type: 'system', id: 'intake' }, credential: 'chorus-edi', details: expect.objectContaining({ verdict: 'accepted', source: 's3' }) })]);

    const after = await secretState(CREDENTIAL);
    expect(after.versions).toHaveLength(before.versions.length + 1);
    expect(after.tags).toMatchObject({ 'sesame:tenant': 'cfa-paris', 'sesame:credential': 'chorus-edi', 'sesame:kind': 'chorus-edi', 'sesame:environment': 'production', 'sesame:expires-at': '2027-09-30T00:00:00.000Z' });
    expect(after.value).toMatchObject({ tenant: 'cfa-paris', credential: 'chorus-edi', kind: 'chorus-edi', environment: 'production' });
    const fields = after.value.fields as { usage: string; certificate: string; certificate_sha256: string };
    expect(fields.usage).toBe('client');
    expect(fields.certificate_sha256).toBe(sha256(c.leaf.der));
    expect(fields.certificate.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(3);

    expect(await readObject(d.bucket, 'accepted/cfa-paris/chorus-edi/my chain (2).p7b')).toEqual(bytes);
    const report = await readJson(d.bucket, 'reports/cfa-paris/chorus-edi/my chain (2).p7b.json');
    expect(report).toMatchObject({ tenant: 'cfa-paris', credential: 'chorus-edi', kind: 'chorus-edi', key, outcome: 'accepted', valid: true, profile: 'chorus-client', errors: [] });
    expect((report.certificates as { sha256: string }[])[0]?.sha256).toBe(sha256(c.leaf.der));

    const left = await objectVersions(d.bucket, key);
    expect(left.versions, 'a version of the upload is still readable under incoming/').toEqual([]);
    expect(await receivedAlerts(d.queueUrl)).toEqual([]);
  });

  it('refuses a chain outside the profile: moved to rejected/, the alert with its attributes, the credential untouched', async () => {
    const { d, run } = await setUp();
    const c = await chorusChain({ eku: [EKU.serverAuth] });
    const key = 'incoming/cfa-paris/chorus-edi/server cert.p7b';
    const bytes = p7b([c.leaf, c.inter, c.root]);
    const event = await upload(d, key, bytes);
    const before = await secretState(CREDENTIAL);

    const { result } = await run(event);
    expect(result).toEqual({ processed: 1, outcomes: [{ key, outcome: 'rejected' }] });

    // Nothing changes but the verdict, recorded as tags for the console's overview.
    expect(await secretState(CREDENTIAL)).toEqual({ ...before, tags: { ...before.tags, 'sesame:certificate-verdict': 'rejected', 'sesame:certificate-at': expect.any(String), 'sesame:certificate-for': 'none' } });
    expect(await readObject(d.bucket, 'rejected/cfa-paris/chorus-edi/server cert.p7b')).toEqual(bytes);
    const report = await readJson(d.bucket, 'reports/cfa-paris/chorus-edi/server cert.p7b.json');
    expect(report).toMatchObject({ outcome: 'rejected', valid: false, errors: [expect.objectContaining({ code: 'extended_key_usage' })] });
    const alerts = await receivedAlerts(d.queueUrl);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ subject: '[Sesame] Certificate refused for cfa-paris/chorus-edi', attributes: { tenant: 'cfa-paris', kind: 'chorus-edi', severity: 'warning' } });
    expect(alerts[0]?.message).toContain('server cert.p7b');
    expect((await objectVersions(d.bucket, key)).versions, 'a version of the upload is still readable under incoming/').toEqual([]);
  });

  it('destroys every version of an upload holding a private key: no bytes of the key anywhere in the bucket, a critical alert', async () => {
    const { d, run } = await setUp();
    const cert = await issue({ subject: 'CN=edi.cfa-paris.example, O=CFA Paris, C=FR' });
    const key = 'incoming/cfa-paris/chorus-edi/edi (with key).pem';
    // Uploaded twice, as an operator retrying does: two versions of the same key file.
    const first = await upload(d, key, `${cert.pem}\n${cert.privatePem}`);
    const event = await upload(d, key, `${cert.privatePem}\r\n${cert.pem}`);
    const before = await secretState(CREDENTIAL);

    const { result, output } = await run(event);
    expect(result).toEqual({ processed: 1, outcomes: [{ key, outcome: 'deleted' }] });

    const left = await objectVersions(d.bucket, key);
    expect(left.versions, 'a version of the key file survived').toEqual([]);
    expect(left.deleteMarkers, 'a delete marker was left instead of deleting the versions').toEqual([]);
    const keyBody = cert.privatePem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const contents = await bucketContents(d.bucket);
    for (const o of contents) {
      const text = new TextDecoder().decode(o.bytes ?? new Uint8Array()).replace(/\\n|\\r|\s/g, '');
      expect(text, `${o.key} (${o.versionId}) holds private key material`).not.toContain(keyBody.slice(40, 120));
      expect(text).not.toContain('PRIVATEKEY-----');
    }
    expect(contents.filter((o) => !o.key.startsWith('reports/')).map((o) => o.key)).toEqual([]);
    const report = await readJson(d.bucket, 'reports/cfa-paris/chorus-edi/edi (with key).pem.json');
    expect(report).toMatchObject({ outcome: 'deleted', valid: false, errors: expect.arrayContaining([expect.objectContaining({ code: 'private_key' })]) });
    const alerts = await receivedAlerts(d.queueUrl);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ subject: '[Sesame] Certificate refused for cfa-paris/chorus-edi', attributes: { tenant: 'cfa-paris', kind: 'chorus-edi', severity: 'critical' } });
    expect(await secretState(CREDENTIAL)).toEqual({ ...before, tags: { ...before.tags, 'sesame:certificate-verdict': 'deleted', 'sesame:certificate-at': expect.any(String), 'sesame:certificate-for': 'none' } });
    expect(output.replace(/\\n|\s/g, '')).not.toContain(keyBody.slice(40, 120));

    // The event of the first version arrives late: that version is gone too.
    expect((await run(first)).result).toEqual({ processed: 1, outcomes: [{ key, outcome: 'gone' }] });
  });

  it('ends a redelivered event as "gone" and changes nothing', async () => {
    const { d, run } = await setUp();
    const c = await chorusChain();
    const event = await upload(d, 'incoming/cfa-paris/chorus-edi/chain.p7b', p7b([c.leaf, c.inter, c.root]));
    expect((await run(event)).result.outcomes[0]?.outcome).toBe('accepted');
    const secret = await secretState(CREDENTIAL);
    const contents = await bucketContents(d.bucket);

    const again = await run(event);
    expect(again.result).toEqual({ processed: 1, outcomes: [{ key: 'incoming/cfa-paris/chorus-edi/chain.p7b', outcome: 'gone' }] });
    expect(await secretState(CREDENTIAL)).toEqual(secret);
    expect(await bucketContents(d.bucket)).toEqual(contents);
    expect(await receivedAlerts(d.queueUrl)).toEqual([]);
  });

  it('keeps a declared sandbox placeholder in sandbox: a test certificate is accepted under sandbox rules', async () => {
    const { d, run } = await setUp({ credential: false });
    // As CloudFormation declares it: a placeholder body, the environment in the tags only.
    await new SecretsManagerClient({}).send(
      new CreateSecretCommand({
        Name: CREDENTIAL,
        KmsKeyId: d.kmsKeyArn,
        SecretString: JSON.stringify({ tenant: 'cfa-paris', credential: 'chorus-edi', kind: 'chorus-edi', placeholder: true }),
        Tags: [
          { Key: 'sesame:tenant', Value: 'cfa-paris' },
          { Key: 'sesame:credential', Value: 'chorus-edi' },
          { Key: 'sesame:kind', Value: 'chorus-edi' },
          { Key: 'sesame:environment', Value: 'sandbox' },
        ],
      }),
    );
    const c = await chorusChain({ subject: 'CN=TEST edi.cfa-paris.example, O=CFA Paris, C=FR', notAfter: new Date('2027-03-31T00:00:00Z') });
    const event = await upload(d, 'incoming/cfa-paris/chorus-edi/qualif.p7b', p7b([c.leaf, c.inter, c.root]));

    const { result } = await run(event);
    expect(result.outcomes).toEqual([{ key: 'incoming/cfa-paris/chorus-edi/qualif.p7b', outcome: 'accepted' }]);
    const after = await secretState(CREDENTIAL);
    expect(after.tags).toMatchObject({ 'sesame:environment': 'sandbox', 'sesame:expires-at': '2027-03-31T00:00:00.000Z' });
    expect(after.value).toMatchObject({ environment: 'sandbox', fields: { certificate_sha256: sha256(c.leaf.der) } });
    expect(await receivedAlerts(d.queueUrl)).toEqual([]);
  });
});

describe.each(SOURCES)('the expiry function (%s)', (from: Source) => {
  if (from === 'bundle') beforeAll(() => synth(), 120_000);

  /** What EventBridge Scheduler's Lambda target delivers (its default input) and a scheduled-event-shaped one. */
  const scheduled = {
    version: '0',
    id: '2b3c4d5e-6f70-4181-92a3-b4c5d6e7f809',
    'detail-type': 'Scheduled Event',
    source: 'aws.scheduler',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'eu-west-3',
    resources: ['arn:aws:scheduler:eu-west-3:123456789012:schedule/default/Sesame-ExpiryWatchSchedule'],
    detail: {},
  };

  it('alerts once per crossed threshold with filterable attributes, writes the alert tags, then stays quiet', async () => {
    const d = await deploy();
    const system = await realCore(d);
    await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
    const date = (days: number) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: 'atlas-secret-key-0001', expires_at: date(5) } });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-afdas', fields: { cfa_key: 'afdas-secret-key-0002', expires_at: date(-2) } });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-akto', fields: { cfa_key: 'akto-secret-key-0003', expires_at: date(400) } });
    const quiet = await secretState('sesame/cfa-paris/opco-akto');

    // The renewal alerts of client-renewed credentials (OPCO keys) carry a fresh connect link, written in the state table.
    const table = await createStateTable();
    const { handler } = await loadHandler<ExpiryFn>('expiry', from, { SESAME_ALERTS_TOPIC_ARN: d.topicArn, SESAME_STATE_TABLE: table, SESAME_PUBLIC_URL: 'https://sesame.example' }, synth);
    const first = await captureOutput(() => handler(scheduled, lambdaContext('expiry')));
    expect(first.result).toMatchObject({ checked: 3, alerting: 2, errors: 0 });
    // The health check ran after it: OPCO keys without a base URL cannot be checked, which is recorded, not alerted.
    expect(first.result).toMatchObject({ health: { checked: 3, ok: 0, failed: 0, not_testable: 3, errors: 0 } });

    const alerts = (await receivedAlerts(d.queueUrl)).sort((a, b) => a.subject.localeCompare(b.subject));
    expect(alerts.map((a) => [a.subject, a.attributes])).toEqual([
      ['[Sesame] Afdas CFA key of cfa-paris/opco-afdas expired 2 days ago', { tenant: 'cfa-paris', kind: 'opco-afdas', severity: 'expired' }],
      ['[Sesame] Atlas CFA key of cfa-paris/opco-atlas expires in 5 days', { tenant: 'cfa-paris', kind: 'opco-atlas', severity: 'warning' }],
    ]);
    for (const a of alerts) expect(a.message, a.subject).toMatch(/https:\/\/sesame\.example\/connect\/[A-Za-z0-9_-]{43}/);
    for (const a of alerts) {
      expect(a.subject.length).toBeLessThanOrEqual(100);
      expect(a.message).toMatch(/^Client : cfa-paris \(CFA Paris\)[\s\S]*---[\s\S]*/);
    }
    expect(alerts[1]?.message).toContain('myAtlas');

    const atlas = await secretState('sesame/cfa-paris/opco-atlas');
    expect(atlas.tags).toMatchObject({ 'sesame:alert-level': '7', 'sesame:alert-for': `${date(5)}T00:00:00.000Z` });
    expect(Date.now() - Date.parse(atlas.tags['sesame:alerted-at'] as string)).toBeLessThan(60_000);
    expect((await secretState('sesame/cfa-paris/opco-afdas')).tags).toMatchObject({ 'sesame:alert-level': 'expired', 'sesame:alert-for': `${date(-2)}T00:00:00.000Z` });
    // Untouched but for the health check's record.
    const akto = await secretState('sesame/cfa-paris/opco-akto');
    expect(akto.tags).toMatchObject({ 'sesame:health': 'not_testable' });
    const withoutHealth = (tags: Record<string, unknown>) => Object.fromEntries(Object.entries(tags).filter(([k]) => !k.startsWith('sesame:health')));
    expect({ ...akto, tags: withoutHealth(akto.tags) }).toEqual(quiet);
    const output = first.output;
    for (const secret of ['atlas-secret-key-0001', 'afdas-secret-key-0002', 'akto-secret-key-0003']) expect(output).not.toContain(secret);

    // The next run (the same day, the schedule's default input `{}`) publishes nothing more.
    const second = await captureOutput(() => handler({}, lambdaContext('expiry')));
    expect(second.result).toMatchObject({ checked: 3, alerting: 0, errors: 0 });
    expect(await receivedAlerts(d.queueUrl)).toEqual([]);
    // The alert tags stay; the health check records its day's check.
    expect(withoutHealth((await secretState('sesame/cfa-paris/opco-atlas')).tags)).toEqual(withoutHealth(atlas.tags));

    // So does a new execution environment: the alert state lives in the tags, not in memory.
    const fresh = (await loadHandler<ExpiryFn>('expiry', from, { SESAME_ALERTS_TOPIC_ARN: d.topicArn, SESAME_STATE_TABLE: table, SESAME_PUBLIC_URL: 'https://sesame.example' }, synth)).handler;
    expect((await captureOutput(() => fresh({}, lambdaContext('expiry')))).result).toMatchObject({ alerting: 0, errors: 0 });
    expect(await receivedAlerts(d.queueUrl)).toEqual([]);
  });
});
