/**
 * `sesame --aws …` end to end against a real AWS API emulator (moto): every command runs
 * as a child process, the way an operator runs it, and each test reads back what Secrets
 * Manager, S3 and SNS really hold afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, REGION, useEmulator } from './emulator.ts';
useEmulator();
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, HeadObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { secretPolicyDocument } from '../../functions/core/secret-policy.ts';
import { EKU, issue, KU, p7b, type Issued } from '../helpers/pki.ts';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createStateTable, deploy, objectVersions, PRINCIPALS, receivedAlerts, secretState, type Deployment } from './fixtures.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sesame.js');
const DAY = 86_400_000;

/** Where the CLI runs (its cwd) and its SESAME_HOME: `--aws` must not need either. */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sesame-aws-cli-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------------------

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** Killed by the test's timeout: the command did not end by itself. */
  killed: boolean;
}

/**
 * The AWS SDK's own notice that it will drop Node 20 (emitted once per process on Node
 * < 22). It is about the machine running the tests, not about Sesame, so it is taken out
 * before the "one line on stderr" assertions; any other warning is kept.
 */
const SDK_RUNTIME_NOTICE = /\(node:\d+\) Warning: NodeVersionSupportWarning:[\s\S]*?\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)\n/g;

/** Configuration that must never leak in from the machine running the tests. */
const SESAME_AWS_VARS = ['SESAME_KMS_KEY_ID', 'SESAME_BUCKET', 'SESAME_ALERTS_TOPIC_ARN', 'SESAME_STACK', 'SESAME_SECRET_PRINCIPALS', 'SESAME_STATE_TABLE', 'SESAME_PUBLIC_URL'];

/** Every output of every command except `token` (whose purpose is to print the secret headers). */
const printed: string[] = [];

type Env = Record<string, string | undefined>;

/** Starts `sesame --aws …`; `env` entries set to undefined are removed from the child's environment. */
function start(args: string[], o: { stdin?: string; env?: Env; timeoutMs?: number; record?: boolean } = {}): { child: ChildProcess; done: Promise<Run> } {
  const env: NodeJS.ProcessEnv = { ...process.env, SESAME_HOME: join(work, 'home'), POWERTOOLS_LOG_LEVEL: 'WARN' };
  for (const name of SESAME_AWS_VARS) delete env[name];
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const started = Date.now();
  let child!: ChildProcess;
  const done = new Promise<Run>((resolve) => {
    child = execFile(process.execPath, [BIN, '--aws', ...args], { env, cwd: work, timeout: o.timeoutMs ?? 25_000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown; killed?: boolean }) | null;
      if (o.record !== false) printed.push(stdout, stderr);
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : -1) : 0,
        stdout,
        stderr: stderr.replace(SDK_RUNTIME_NOTICE, ''),
        ms: Date.now() - started,
        killed: Boolean(e?.killed),
      });
    });
    child.stdin?.end(o.stdin ?? '');
  });
  return { child, done };
}

const sesame = (args: string[], o: { stdin?: string; env?: Env; timeoutMs?: number; record?: boolean } = {}) => start(args, o).done;

/** The lines a failed command wrote to stderr. */
const errorLines = (r: Run) => r.stderr.split('\n').filter((l) => l.trim() !== '');

const show = (r: Run) => `exit ${r.code}${r.killed ? ' (killed)' : ''} after ${r.ms} ms\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

function expectOk(r: Run): Run {
  expect(r.code, show(r)).toBe(0);
  return r;
}

function expectNoSecretIn(runs: Run[], secrets: string[]) {
  for (const r of runs) for (const s of secrets) {
    expect(r.stdout, 'a secret value on stdout').not.toContain(s);
    expect(r.stderr, 'a secret value on stderr').not.toContain(s);
  }
}

/** The configuration README's deploy step 4 exports: the stack outputs as variables. */
const explicit = (d: Deployment): Env => ({ SESAME_KMS_KEY_ID: d.kmsKeyArn, SESAME_BUCKET: d.bucket, SESAME_ALERTS_TOPIC_ARN: d.topicArn });

// ---------------------------------------------------------------------------------------
// Reading and seeding AWS directly
// ---------------------------------------------------------------------------------------

const sm = () => new SecretsManagerClient({});

async function secretNames(): Promise<string[]> {
  const names: string[] = [];
  let NextToken: string | undefined;
  do {
    const r = await sm().send(new ListSecretsCommand({ MaxResults: 100, ...(NextToken ? { NextToken } : {}) }));
    names.push(...(r.SecretList ?? []).map((s) => s.Name as string));
    NextToken = r.NextToken;
  } while (NextToken);
  return names.sort();
}

async function previousValue(name: string) {
  const r = await sm().send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }));
  return { id: r.VersionId, value: JSON.parse(r.SecretString as string) as Record<string, unknown> };
}

/** A tenant record written as the CLI would, without going through it (for tests about other commands). */
async function seedTenant(d: Deployment, id: string, extra: Record<string, unknown> = {}) {
  const now = new Date().toISOString();
  await sm().send(
    new CreateSecretCommand({
      Name: `sesame-tenants/${id}`,
      KmsKeyId: d.kmsKeyArn,
      SecretString: JSON.stringify({ id, name: id, alert_emails: [], created_at: now, updated_at: now, ...extra }),
      Tags: [
        { Key: 'sesame:tenant', Value: id },
        { Key: 'sesame:type', Value: 'tenant' },
      ],
    }),
  );
}

/** A credential secret as the stack (placeholder) or an earlier `credential set` leaves it. */
async function seedCredential(d: Deployment, c: { tenant: string; credential: string; kind: string; environment: string; body: Record<string, unknown>; expiresAt?: string }) {
  await sm().send(
    new CreateSecretCommand({
      Name: `sesame/${c.tenant}/${c.credential}`,
      KmsKeyId: d.kmsKeyArn,
      SecretString: JSON.stringify(c.body),
      Tags: [
        { Key: 'sesame:tenant', Value: c.tenant },
        { Key: 'sesame:credential', Value: c.credential },
        { Key: 'sesame:kind', Value: c.kind },
        { Key: 'sesame:environment', Value: c.environment },
        ...(c.expiresAt ? [{ Key: 'sesame:expires-at', Value: c.expiresAt }] : []),
      ],
    }),
  );
}

/** A filled credential, body and tags as `credential set` writes them, for tests about other commands. */
async function seedFilled(d: Deployment, tenant: string, credential: string, kind: string, fields: Record<string, unknown>, o: { environment?: string; expiresAt?: string } = {}) {
  const environment = o.environment ?? 'production';
  await seedCredential(d, {
    tenant,
    credential,
    kind,
    environment,
    expiresAt: o.expiresAt ?? 'none',
    body: { tenant, credential, kind, environment, fields, updated_at: new Date().toISOString() },
  });
}

/** An app record as `app add` writes it (the key itself is thrown away). */
async function seedApp(d: Deployment, app: string, tenants: string[], kinds?: string[]) {
  const key = `sesame_${app}_${Buffer.alloc(32, 7).toString('base64url')}`;
  await sm().send(
    new CreateSecretCommand({
      Name: `sesame-apps/${app}`,
      KmsKeyId: d.kmsKeyArn,
      SecretString: JSON.stringify({ app, key_sha256: sha256(key), tenants, ...(kinds ? { kinds } : {}), created_at: new Date().toISOString() }),
      Tags: [
        { Key: 'sesame:app', Value: app },
        { Key: 'sesame:type', Value: 'app' },
      ],
    }),
  );
  return key;
}

async function createStack(name: string, outputs: Record<string, string>) {
  const template = {
    Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
    Outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { Value: v }])),
  };
  await new CloudFormationClient({}).send(new CreateStackCommand({ StackName: name, TemplateBody: JSON.stringify(template) }));
}

const newKey = async () => (await new KMSClient({}).send(new CreateKeyCommand({ Description: 'another key' }))).KeyMetadata?.Arn as string;

/** A second bucket and a second topic with its SQS subscriber, beside the deployment's. */
async function otherBucketAndTopic() {
  const bucket = `other-intake-${Math.random().toString(36).slice(2, 10)}`;
  await new S3Client({}).send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  const topicArn = (await new SNSClient({}).send(new CreateTopicCommand({ Name: 'other-alerts' }))).TopicArn as string;
  const sqs = new SQSClient({});
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'other-alerts-inbox' }))).QueueUrl as string;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string;
  await new SNSClient({}).send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
  return { bucket, topicArn, queueUrl };
}

async function allObjectVersions(bucket: string) {
  const r = await new S3Client({}).send(new ListObjectVersionsCommand({ Bucket: bucket }));
  return [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])].map((v) => v.Key);
}

/** Waits until `key` exists in `bucket`; fails at once if the CLI ends first. */
async function uploaded(bucket: string, key: string, cli: Promise<Run>): Promise<void> {
  let ended: Run | undefined;
  void cli.then((r) => {
    ended = r;
  });
  const s3 = new S3Client({});
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return;
    } catch {
      // not there yet
    }
    if (ended) throw new Error(`the CLI ended before s3://${bucket}/${key} appeared:\n${show(ended)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`s3://${bucket}/${key} did not appear within 20 s`);
}

/**
 * The certificate function, as deployed: the intake with the environment the stack
 * sets, run on one object (what the S3 notification would trigger).
 */
async function certificateFunction(d: Deployment) {
  const { awsSystem } = await import('../../functions/adapters/aws-system.ts');
  const { readConfig } = await import('../../functions/core/config.ts');
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const system = await awsSystem(readConfig({ ...process.env, ...d.functionEnv }), quiet);
  return (key: string) => (system.intake as NonNullable<typeof system.intake>)(key);
}

// ---------------------------------------------------------------------------------------
// Test material
// ---------------------------------------------------------------------------------------

/** Midnight UTC, `n` days from today: certificates valid whenever the tests run. */
const day = (n: number) => new Date((Math.floor(Date.now() / DAY) + n) * DAY);
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

async function chorusChain(eku: string) {
  const root = await issue({ subject: 'CN=Sesame Root CA, O=Sesame, C=FR', ca: true, shape: 'rsa2048', notBefore: day(-30), notAfter: day(3650) });
  const inter = await issue({ subject: 'CN=Sesame Issuing CA, O=Sesame, C=FR', issuer: root, ca: true, shape: 'ec384', notBefore: day(-30), notAfter: day(3650) });
  const leaf = await issue({
    subject: 'CN=edi.cfa-paris.example, O=CFA Paris, C=FR',
    issuer: inter,
    shape: 'rsa2048',
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
    eku: [eku],
    notBefore: day(-1),
    notAfter: day(400),
  });
  return { root, inter, leaf };
}

/** A PKCS#12 file made by openssl, the password passed through a file, never an argument. */
async function p12(cert: Issued, password: string, name: string): Promise<string> {
  const key = join(work, `${name}.key`);
  const crt = join(work, `${name}.crt`);
  const pass = join(work, `${name}.pass`);
  await writeFile(key, cert.privatePem, { mode: 0o600 });
  await writeFile(crt, cert.pem);
  await writeFile(pass, password, { mode: 0o600 });
  const file = join(work, `${name}.p12`);
  execFileSync('openssl', ['pkcs12', '-export', '-inkey', key, '-in', crt, '-out', file, '-passout', `file:${pass}`]);
  await rm(key);
  await rm(pass);
  return file;
}

const PISTE_SECRET = 'S3cr3t-piste-client-secret';
const PISTE_PASSWORD = 'S3cr3t-piste-account-password';
const ATLAS_KEY = 'S3cr3t-atlas-cfa-key';
const CEGID_SECRET = 'S3cr3t-cegid-api-key-secret';
const piste = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ client_id: 'piste-client', client_secret: PISTE_SECRET, account_login: 'TECH_CFA', account_password: PISTE_PASSWORD, password_changed_at: '2026-01-01', ...extra });

const credentialTags = (tenant: string, credential: string, kind: string, environment: string, expiresAt: string) => ({
  'sesame:tenant': tenant,
  'sesame:credential': credential,
  'sesame:kind': kind,
  'sesame:environment': environment,
  'sesame:expires-at': expiresAt,
  // What expires, in words the report can use without decrypting (its values: test/core/expiry-report.test.ts).
  'sesame:expires-what': expect.any(String),
});
/** The tags of a credential seeded through the SDK, as an older Sesame wrote them (no sesame:expires-what). */
const seededTags = (tenant: string, credential: string, kind: string, environment: string, expiresAt: string) => {
  const { 'sesame:expires-what': _what, ...rest } = credentialTags(tenant, credential, kind, environment, expiresAt);
  return rest;
};

// =======================================================================================

describe('sesame --aws tenant', () => {
  it('tenant add writes sesame-tenants/{tenant} with the record as its body and tenant tags, and tenant list reads it back', async () => {
    const d = await deploy();
    const [paris, lyon] = await Promise.all([
      sesame(['tenant', 'add', 'cfa-paris', '--name', 'CFA Paris', '--siret', '123 456 782 00010', '--alert-email', 'a@cfa.example', '--alert-email', 'b@cfa.example'], { env: explicit(d) }),
      sesame(['tenant', 'add', 'cfa-lyon', '--bce', '0123.456.749', '--json'], { env: explicit(d) }),
    ]);
    expect(expectOk(paris).stdout).toBe('added tenant cfa-paris\n');
    expect(JSON.parse(expectOk(lyon).stdout)).toMatchObject({ id: 'cfa-lyon', name: 'cfa-lyon', bce: '0123456749', created: true });

    const state = await secretState('sesame-tenants/cfa-paris');
    expect(state.value).toEqual({
      id: 'cfa-paris',
      name: 'CFA Paris',
      siret: '12345678200010',
      alert_emails: ['a@cfa.example', 'b@cfa.example'],
      created_at: expect.any(String),
      updated_at: state.value.created_at,
    });
    expect(state.tags).toEqual({ 'sesame:tenant': 'cfa-paris', 'sesame:type': 'tenant' });
    expect(state.kmsKeyId).toBe(d.kmsKeyArn);
    expect(state.versions).toEqual([{ id: expect.any(String), stages: ['AWSCURRENT'] }]);
    expect(await secretNames()).toEqual(['sesame-tenants/cfa-lyon', 'sesame-tenants/cfa-paris']);

    const list = await sesame(['tenant', 'list', '--json'], { env: explicit(d) });
    expect(JSON.parse(expectOk(list).stdout)).toEqual([
      { id: 'cfa-lyon', name: 'cfa-lyon', bce: '0123456749', alert_emails: [], created_at: expect.any(String), updated_at: expect.any(String) },
      state.value,
    ]);
  });

  it('tenant set on an existing tenant says updated and writes a new version, keeping created_at and the old record as AWSPREVIOUS', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris', { name: 'CFA Paris' });
    const first = await secretState('sesame-tenants/cfa-paris');
    const refused = await sesame(['tenant', 'add', 'cfa-paris', '--name', 'CFA de Paris'], { env: explicit(d) });
    expect(refused.code).toBe(1);
    expect((await secretState('sesame-tenants/cfa-paris')).versions).toHaveLength(1);
    const again = await sesame(['tenant', 'set', 'cfa-paris', '--name', 'CFA de Paris'], { env: explicit(d) });
    expect(expectOk(again).stdout).toBe('updated tenant cfa-paris: name\n');
    const after = await secretState('sesame-tenants/cfa-paris');
    expect(after.value).toMatchObject({ name: 'CFA de Paris', created_at: first.value.created_at });
    expect(after.versions).toHaveLength(2);
    expect(after.versions.map((v) => v.stages).sort()).toEqual([['AWSCURRENT'], ['AWSPREVIOUS']]);
    expect((await previousValue('sesame-tenants/cfa-paris')).value).toEqual(first.value);
  });

  it('tenant add refuses a bad email with one line and exit 1, creating nothing', async () => {
    const d = await deploy();
    const r = await sesame(['tenant', 'add', 'cfa-x', '--alert-email', 'nope'], { env: explicit(d) });
    expect(r.code, show(r)).toBe(1);
    expect(errorLines(r)).toEqual(['sesame: tenant: field "alert_emails.0" must be an email address']);
    expect(await secretNames()).toEqual([]);
  });
});

describe('sesame --aws credential', () => {
  it('credential set creates sesame/{tenant}/{credential} with the KMS key of the stack KmsKeyArn output, the public facts as tags, and the fields as AWSCURRENT', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    // Nothing exported: what is needed comes from the deployed stack.
    const r = await sesame(['credential', 'set', 'cfa-paris', 'chorus-piste', '--kind', 'chorus-piste', '--env', 'sandbox', '--json'], { stdin: piste() });
    expect(JSON.parse(expectOk(r).stdout)).toEqual({ tenant: 'cfa-paris', credential: 'chorus-piste', kind: 'chorus-piste', environment: 'sandbox', expires_at: '2027-03-01T00:00:00.000Z' });
    expectNoSecretIn([r], [PISTE_SECRET, PISTE_PASSWORD]);

    const state = await secretState('sesame/cfa-paris/chorus-piste');
    expect(state.kmsKeyId).toBe(d.kmsKeyArn);
    expect(state.tags).toEqual(credentialTags('cfa-paris', 'chorus-piste', 'chorus-piste', 'sandbox', '2027-03-01T00:00:00.000Z'));
    expect(state.value).toEqual({
      tenant: 'cfa-paris',
      credential: 'chorus-piste',
      kind: 'chorus-piste',
      environment: 'sandbox',
      fields: JSON.parse(piste()),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(state.versions).toEqual([{ id: expect.any(String), stages: ['AWSCURRENT'] }]);
  });

  it('a second credential set writes a new version: the new value is AWSCURRENT and the old one stays readable as AWSPREVIOUS', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    expectOk(await sesame(['credential', 'set', 'cfa-paris', 'chorus-piste', '--kind', 'chorus-piste', '--env', 'sandbox'], { stdin: piste(), env: explicit(d) }));
    const first = await secretState('sesame/cfa-paris/chorus-piste');
    const second = await sesame(['credential', 'set', 'cfa-paris', 'chorus-piste', '--kind', 'chorus-piste', '--env', 'sandbox'], {
      stdin: piste({ account_password: `${PISTE_PASSWORD}-2`, password_changed_at: '2026-06-01' }),
      env: explicit(d),
    });
    expect(expectOk(second).stdout).toBe('stored cfa-paris/chorus-piste (chorus-piste, sandbox, expires 2027-07-30T00:00:00.000Z)\n');
    expectNoSecretIn([second], [PISTE_SECRET, PISTE_PASSWORD]);

    const after = await secretState('sesame/cfa-paris/chorus-piste');
    expect(after.versions).toHaveLength(2);
    const current = after.versions.find((v) => v.stages.includes('AWSCURRENT'));
    const previous = after.versions.find((v) => v.stages.includes('AWSPREVIOUS'));
    expect(previous?.id).toBe(first.versions[0]?.id);
    expect(current?.id).not.toBe(previous?.id);
    expect(after.value).toMatchObject({ fields: { account_password: `${PISTE_PASSWORD}-2`, password_changed_at: '2026-06-01' } });
    expect(after.tags['sesame:expires-at']).toBe('2027-07-30T00:00:00.000Z');
    expect((await previousValue('sesame/cfa-paris/chorus-piste')).value).toEqual(first.value);
  });

  it('credential set --merge adds fields and keeps the others, and the expiry tag follows a changed end date', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    await seedFilled(d, 'cfa-paris', 'opco-atlas', 'opco-atlas', { cfa_key: ATLAS_KEY, expires_at: '2030-01-01', editeur: 'Sesame' }, { expiresAt: '2030-01-01T00:00:00.000Z' });
    const merged = await sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas', '--merge', '--json'], { stdin: JSON.stringify({ version: '1.2.3', expires_at: '2031-06-30' }), env: explicit(d) });
    expect(JSON.parse(expectOk(merged).stdout)).toEqual({ tenant: 'cfa-paris', credential: 'opco-atlas', kind: 'opco-atlas', environment: 'production', expires_at: '2031-06-30T00:00:00.000Z' });
    const state = await secretState('sesame/cfa-paris/opco-atlas');
    expect(state.value.fields).toEqual({ cfa_key: ATLAS_KEY, expires_at: '2031-06-30', editeur: 'Sesame', version: '1.2.3' });
    expect(state.tags).toEqual(credentialTags('cfa-paris', 'opco-atlas', 'opco-atlas', 'production', '2031-06-30T00:00:00.000Z'));
    expect(state.versions.map((v) => v.stages).sort()).toEqual([['AWSCURRENT'], ['AWSPREVIOUS']]);
    expectNoSecretIn([merged], [ATLAS_KEY]);
  });

  it('credential set refuses bad fields with one line and exit 1, without quoting them and without writing a version', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    const env = explicit(d);
    await seedFilled(d, 'cfa-paris', 'opco-atlas', 'opco-atlas', { cfa_key: ATLAS_KEY });
    const [unknownField, missing] = await Promise.all([
      sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas'], { stdin: JSON.stringify({ cfa_key: ATLAS_KEY, password: 'S3cr3t-stray' }), env }),
      sesame(['credential', 'set', 'cfa-paris', 'chorus-piste', '--kind', 'chorus-piste'], { stdin: JSON.stringify({ client_id: 'only' }), env }),
    ]);
    for (const r of [unknownField, missing]) {
      expect(r.code, show(r)).toBe(1);
      expect(errorLines(r)).toHaveLength(1);
    }
    expect(unknownField.stderr).toMatch(/password/);
    expectNoSecretIn([unknownField, missing], [ATLAS_KEY, 'S3cr3t-stray']);
    expect((await secretState('sesame/cfa-paris/opco-atlas')).versions).toHaveLength(1);
    expect(await secretNames()).toEqual(['sesame-tenants/cfa-paris', 'sesame/cfa-paris/opco-atlas']);
  });

  it('credential show prints the stored credential with its secret fields redacted, and no secret value on stdout or stderr', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    const env = explicit(d);
    await seedFilled(d, 'cfa-paris', 'chorus-piste', 'chorus-piste', JSON.parse(piste()), { environment: 'sandbox', expiresAt: '2027-03-01T00:00:00.000Z' });
    await seedFilled(d, 'cfa-paris', 'cegid-cfe', 'cegid-cfe', { api_key_id: 'cegid-id', api_key_secret: CEGID_SECRET });
    const [json, cegid] = await Promise.all([
      sesame(['credential', 'show', 'cfa-paris', 'chorus-piste', '--json'], { env }),
      sesame(['credential', 'show', 'cfa-paris', 'cegid-cfe'], { env }),
    ]);
    const state = await secretState('sesame/cfa-paris/chorus-piste');
    const shown = JSON.parse(expectOk(json).stdout);
    expect(shown).toEqual({
      tenant: 'cfa-paris',
      credential: 'chorus-piste',
      kind: 'chorus-piste',
      environment: 'sandbox',
      version: state.versions[0]?.id,
      updated_at: state.value.updated_at,
      fields: { client_id: 'piste-client', client_secret: '[redacted]', account_login: 'TECH_CFA', account_password: '[redacted]', password_changed_at: '2026-01-01' },
      expiries: [{ what: expect.any(String), at: '2027-03-01T00:00:00.000Z' }],
    });
    expect(JSON.parse(expectOk(cegid).stdout).fields).toEqual({ api_key_id: 'cegid-id', api_key_secret: '[redacted]' });
    expectNoSecretIn([json, cegid], [PISTE_SECRET, PISTE_PASSWORD, CEGID_SECRET]);
  });

  it('credential list reads the tags only (a tag changed behind its back is what it shows), for one tenant or all', async () => {
    const d = await deploy();
    await Promise.all([seedTenant(d, 'cfa-paris'), seedTenant(d, 'cfa-lyon')]);
    const env = explicit(d);
    await seedFilled(d, 'cfa-paris', 'opco-atlas', 'opco-atlas', { cfa_key: ATLAS_KEY, expires_at: '2030-01-01' }, { expiresAt: '2030-01-01T00:00:00.000Z' });
    await seedFilled(d, 'cfa-paris', 'chorus-piste', 'chorus-piste', JSON.parse(piste()), { environment: 'sandbox', expiresAt: '2027-03-01T00:00:00.000Z' });
    await seedFilled(d, 'cfa-lyon', 'cegid-cfe', 'cegid-cfe', { api_key_id: 'i', api_key_secret: CEGID_SECRET });
    // The body still says 2030: only the tag says 2031.
    await sm().send(new TagResourceCommand({ SecretId: 'sesame/cfa-paris/opco-atlas', Tags: [{ Key: 'sesame:expires-at', Value: '2031-05-05T00:00:00.000Z' }] }));

    const [all, table] = await Promise.all([sesame(['credential', 'list', '--json'], { env }), sesame(['credential', 'list', 'cfa-paris'], { env })]);
    expect(JSON.parse(expectOk(all).stdout)).toEqual([
      { tenant: 'cfa-lyon', credential: 'cegid-cfe', kind: 'cegid-cfe', environment: 'production', expires_at: null },
      { tenant: 'cfa-paris', credential: 'chorus-piste', kind: 'chorus-piste', environment: 'sandbox', expires_at: '2027-03-01T00:00:00.000Z' },
      { tenant: 'cfa-paris', credential: 'opco-atlas', kind: 'opco-atlas', environment: 'production', expires_at: '2031-05-05T00:00:00.000Z' },
    ]);
    expect(expectOk(table).stdout).toMatch(
      /^TENANT\s+CREDENTIAL\s+KIND\s+ENVIRONMENT\s+EXPIRES_AT\ncfa-paris\s+chorus-piste\s+chorus-piste\s+sandbox\s+2027-03-01T00:00:00\.000Z\ncfa-paris\s+opco-atlas\s+opco-atlas\s+production\s+2031-05-05T00:00:00\.000Z\n$/,
    );
    expectNoSecretIn([all, table], [ATLAS_KEY, PISTE_SECRET, PISTE_PASSWORD, CEGID_SECRET]);
  });
});

describe('sesame --aws app', () => {
  it('app add prints the key once on its own line, and the stored record holds only its SHA-256', async () => {
    const d = await deploy();
    await Promise.all([seedTenant(d, 'cfa-paris'), seedTenant(d, 'cfa-lyon')]);
    const [human, json] = await Promise.all([
      sesame(['app', 'add', 'billing', '--tenants', 'cfa-paris,cfa-lyon'], { env: explicit(d) }),
      sesame(['app', 'add', 'reports', '--tenants', 'cfa-lyon', '--kinds', 'opco-atlas,fla', '--json'], { env: explicit(d) }),
    ]);
    expect(expectOk(human).stdout).toMatch(/^sesame_billing_[A-Za-z0-9_-]{43}\n$/);
    expect(errorLines(human)).toEqual(['App billing created for cfa-lyon, cfa-paris. Its key, shown only now:']);
    const key = human.stdout.trim();
    const reportsKey = JSON.parse(expectOk(json).stdout);
    expect(Object.keys(reportsKey)).toEqual(['app', 'key']);
    expect(reportsKey.key).toMatch(/^sesame_reports_[A-Za-z0-9_-]{43}$/);

    const billing = await secretState('sesame-apps/billing');
    expect(billing.value).toEqual({ app: 'billing', key_sha256: sha256(key), tenants: ['cfa-lyon', 'cfa-paris'], created_at: expect.any(String) });
    expect(billing.tags).toEqual({ 'sesame:app': 'billing', 'sesame:type': 'app' });
    expect(billing.kmsKeyId).toBe(d.kmsKeyArn);
    expect(JSON.stringify(billing.value)).not.toContain(key.slice('sesame_billing_'.length));
    const reports = await secretState('sesame-apps/reports');
    expect(reports.value).toEqual({ app: 'reports', key_sha256: sha256(reportsKey.key), tenants: ['cfa-lyon'], kinds: ['fla', 'opco-atlas'], created_at: expect.any(String) });
    expect(JSON.stringify(reports.value)).not.toContain(reportsKey.key.slice('sesame_reports_'.length));
  });

  it('app add refuses an unknown tenant, naming it, and creates no app record', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    const r = await sesame(['app', 'add', 'billing', '--tenants', 'cfa-paris,nobody'], { env: explicit(d) });
    expect(r.code, show(r)).toBe(1);
    expect(errorLines(r)).toEqual([expect.stringMatching(/nobody/)]);
    expect(await secretNames()).toEqual(['sesame-tenants/cfa-paris']);
  });

  it('app list shows apps without key nor hash, and app revoke stamps revoked_at in a new version and a sesame:revoked tag', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    const env = explicit(d);
    const keys = [await seedApp(d, 'billing', ['cfa-paris']), await seedApp(d, 'reports', ['cfa-paris'], ['opco-atlas'])];
    const before = await secretState('sesame-apps/billing');

    const revoked = await sesame(['app', 'revoke', 'billing'], { env });
    expect(expectOk(revoked).stdout).toBe('revoked billing\n');
    const after = await secretState('sesame-apps/billing');
    expect(after.value).toEqual({ ...before.value, revoked_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(after.tags).toEqual({ 'sesame:app': 'billing', 'sesame:type': 'app', 'sesame:revoked': 'true' });
    expect(after.versions.map((v) => v.stages).sort()).toEqual([['AWSCURRENT'], ['AWSPREVIOUS']]);
    expect((await previousValue('sesame-apps/billing')).value).toEqual(before.value);

    const json = await sesame(['app', 'list', '--json'], { env });
    expect(JSON.parse(expectOk(json).stdout)).toEqual([
      { app: 'billing', tenants: ['cfa-paris'], created_at: before.value.created_at, revoked_at: after.value.revoked_at },
      { app: 'reports', tenants: ['cfa-paris'], kinds: ['opco-atlas'], created_at: expect.any(String) },
    ]);
    for (const r of [json, revoked]) {
      expect(r.stdout).not.toContain('key_sha256');
      for (const k of keys) expect(r.stdout).not.toContain(k);
    }
  });
});

describe('sesame --aws token', () => {
  it('token prints the headers of an OPCO and a Cegid credential read from Secrets Manager, with no upstream call', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    const env = explicit(d);
    await seedFilled(d, 'cfa-paris', 'opco-atlas', 'opco-atlas', { cfa_key: ATLAS_KEY, expires_at: '2030-01-01', editeur: 'Sesame', logiciel: 'Sesame CFA', version: '2.0' }, { expiresAt: '2030-01-01T00:00:00.000Z' });
    await seedFilled(d, 'cfa-paris', 'cegid-cfe', 'cegid-cfe', { api_key_id: 'cegid-id', api_key_secret: CEGID_SECRET });
    const [atlas, cegid] = await Promise.all([
      sesame(['token', 'cfa-paris', 'opco-atlas', '--json'], { env, record: false }),
      sesame(['token', 'cfa-paris', 'cegid-cfe', '--json'], { env, record: false }),
    ]);
    expect(JSON.parse(expectOk(atlas).stdout)).toMatchObject({
      tenant: 'cfa-paris',
      credential: 'opco-atlas',
      kind: 'opco-atlas',
      environment: 'production',
      headers: { 'X-API-KEY': ATLAS_KEY, EDITEUR: 'Sesame', LOGICIEL: 'Sesame CFA', VERSION: '2.0' },
      expires_at: '2030-01-01T00:00:00.000Z',
    });
    expect(JSON.parse(atlas.stdout).headers).toEqual({ 'X-API-KEY': ATLAS_KEY, EDITEUR: 'Sesame', LOGICIEL: 'Sesame CFA', VERSION: '2.0' });
    expect(JSON.parse(expectOk(cegid).stdout)).toMatchObject({ kind: 'cegid-cfe', headers: { 'x-apikey': `cegid-id:${CEGID_SECRET}` }, expires_at: null });
    expect(atlas.stderr + cegid.stderr).toBe('');
  });

  it('token on an unknown credential exits 1 with one line naming it', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    const r = await sesame(['token', 'cfa-paris', 'opco-akto'], { env: explicit(d) });
    expect(r.code, show(r)).toBe(1);
    expect(errorLines(r)).toEqual([expect.stringMatching(/opco-akto/)]);
  });
});

describe('sesame --aws fla keygen and credential import-p12', () => {
  it('fla keygen stores the private key in the secret only, writes the .cer, and records the certificate SHA-256 in the body', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-bxl', { name: 'CFA Bruxelles', bce: '0123456749' });
    const cer = join(work, 'keygen.cer');
    const r = await sesame(['fla', 'keygen', 'cfa-bxl', 'fla-employer', '--alg', 'ES384', '--quality', 'employer', '--env', 'acceptance', '--out', cer, '--json'], { env: explicit(d) });
    const out = JSON.parse(expectOk(r).stdout);

    const der = await readFile(cer);
    const cert = new X509Certificate(der);
    expect(cert.subject).toContain('CN=CFA Bruxelles');
    const state = await secretState('sesame/cfa-bxl/fla-employer');
    const fields = state.value.fields as Record<string, string>;
    expect(fields.certificate_sha256).toBe(sha256(der));
    expect(out).toMatchObject({ tenant: 'cfa-bxl', credential: 'fla-employer', kind: 'fla', environment: 'acceptance', certificate_file: cer, sha256: sha256(der) });
    expect(fields.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(cert.checkPrivateKey(createPrivateKey(fields.private_key as string))).toBe(true);
    expect(new X509Certificate(fields.certificate as string).fingerprint256).toBe(cert.fingerprint256);
    expect(fields).toMatchObject({ quality: 'employer', alg: 'ES384' });
    expect(fields.client_id).toBeUndefined();
    expect(state.kmsKeyId).toBe(d.kmsKeyArn);
    expect(state.tags).toEqual(credentialTags('cfa-bxl', 'fla-employer', 'fla', 'acceptance', new Date(cert.validTo).toISOString()));

    // The key never leaves the store: not in the output, not in the .cer.
    const keyBody = (fields.private_key as string).split('\n').slice(1, -2).join('');
    expectNoSecretIn([r], ['PRIVATE KEY', keyBody.slice(0, 40)]);
    expect(der.toString('latin1')).not.toContain('PRIVATE KEY');

    // A second keygen would replace the active key: refused without --replace, nothing written.
    const again = await sesame(['fla', 'keygen', 'cfa-bxl', 'fla-employer', '--alg', 'ES384', '--out', join(work, 'again.cer')], { env: explicit(d) });
    expect(again.code, show(again)).toBe(1);
    expect(errorLines(again)).toEqual([expect.stringMatching(/already has a private key/)]);
    expect((await secretState('sesame/cfa-bxl/fla-employer')).versions).toHaveLength(1);
  });

  it('credential import-p12 stores the key and certificate of a .p12 whose password comes on stdin, and prints neither', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-bxl');
    const end = day(700);
    const cert = await issue({ subject: 'CN=CFA P12, O=CFA P12, C=BE', shape: 'ec384', digest: 'SHA-384', notBefore: day(-1), notAfter: end });
    const password = 'S3cret p12 pass';
    const file = await p12(cert, password, 'identity');
    const [ok, wrong] = await Promise.all([
      sesame(['credential', 'import-p12', 'cfa-bxl', 'fla-employer', file, '--quality', 'employer', '--json'], { stdin: `${password}\n`, env: explicit(d) }),
      sesame(['credential', 'import-p12', 'cfa-bxl', 'fla-other', file, '--quality', 'employer'], { stdin: 'not-the-password\n', env: explicit(d) }),
    ]);
    expect(JSON.parse(expectOk(ok).stdout)).toEqual({
      tenant: 'cfa-bxl',
      credential: 'fla-employer',
      kind: 'fla',
      environment: 'production',
      expires_at: end.toISOString(),
      sha256: sha256(cert.der),
      private_key_stored: true,
      replaced: [],
    });
    const state = await secretState('sesame/cfa-bxl/fla-employer');
    const fields = state.value.fields as Record<string, string>;
    expect(fields.certificate_sha256).toBe(sha256(cert.der));
    expect(new X509Certificate(fields.certificate as string).fingerprint256).toBe(new X509Certificate(cert.der).fingerprint256);
    expect(createPrivateKey(fields.private_key as string).export({ format: 'jwk' })).toEqual(cert.privateKey.export({ format: 'jwk' }));
    expect(fields.quality).toBe('employer');
    expect(state.kmsKeyId).toBe(d.kmsKeyArn);
    expect(state.tags).toEqual(credentialTags('cfa-bxl', 'fla-employer', 'fla', 'production', end.toISOString()));

    expect(wrong.code, show(wrong)).toBe(1);
    expect(errorLines(wrong)).toEqual([expect.stringMatching(/^sesame: wrong password for /)]);
    expect(await secretNames()).toEqual(['sesame-tenants/cfa-bxl', 'sesame/cfa-bxl/fla-employer']);
    const keyBody = cert.privatePem.split('\n').slice(1, -2).join('');
    expectNoSecretIn([ok, wrong], [password, 'not-the-password', 'PRIVATE KEY', keyBody.slice(0, 40)]);
  });
});

describe('sesame --aws cert upload', () => {
  it('uploads to incoming/{tenant}/{credential}/{file}, waits for the intake, and prints its verdict: accepted (exit 0, stored, environment kept) or refused (exit 1, alerted)', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    const env = explicit(d);
    for (const c of ['chorus-edi', 'chorus-edi-b']) await seedFilled(d, 'cfa-paris', c, 'chorus-edi', { usage: 'client' });
    const good = await chorusChain(EKU.clientAuth);
    const bad = await chorusChain(EKU.serverAuth);
    await writeFile(join(work, 'good.p7b'), p7b([good.leaf, good.inter, good.root]));
    await writeFile(join(work, 'server.p7b'), p7b([bad.leaf, bad.inter, bad.root]));
    // A credential the stack declared for the sandbox: a placeholder, its environment in its tag only.
    await seedCredential(d, {
      tenant: 'cfa-paris',
      credential: 'chorus-edi-sandbox',
      kind: 'chorus-edi',
      environment: 'sandbox',
      body: { tenant: 'cfa-paris', credential: 'chorus-edi-sandbox', kind: 'chorus-edi', placeholder: true },
    });
    const intake = await certificateFunction(d);

    const judge = (credential: string, file: string, json = false) => {
      const cli = start(['cert', 'upload', 'cfa-paris', credential, join(work, file), ...(json ? ['--json'] : [])], { env });
      const key = `incoming/cfa-paris/${credential}/${file}`;
      const judged = uploaded(d.bucket, key, cli.done).then(() => intake(key));
      return Promise.all([judged, cli.done]);
    };
    const [[goodJudged, ok], [badJudged, no], [sandboxJudged, sandbox]] = await Promise.all([
      judge('chorus-edi', 'good.p7b'),
      judge('chorus-edi-b', 'server.p7b', true),
      judge('chorus-edi-sandbox', 'good.p7b', true),
    ]);
    expect([goodJudged.outcome, badJudged.outcome, sandboxJudged.outcome]).toEqual(['accepted', 'rejected', 'accepted']);

    // Accepted: the verdict printed, the chain and its SHA-256 in a new version, the tag following.
    expect(expectOk(ok).stdout).toMatch(/^ACCEPTED: VALID \(chorus-client, at [^)]+\): .*good\.p7b\n/);
    expect(ok.stderr).toBe(`uploaded s3://${d.bucket}/incoming/cfa-paris/chorus-edi/good.p7b; waiting for the verdict…\n`);
    const stored = await secretState('sesame/cfa-paris/chorus-edi');
    expect(stored.versions).toHaveLength(2);
    expect(stored.value.fields).toMatchObject({ usage: 'client', certificate_sha256: sha256(good.leaf.der) });
    expect(stored.tags['sesame:expires-at']).toBe(good.leaf.cert.notAfter.toISOString());
    // Moved, not merely hidden: no version of the upload stays readable under incoming/.
    expect((await objectVersions(d.bucket, 'incoming/cfa-paris/chorus-edi/good.p7b')).versions).toEqual([]);
    expect((await objectVersions(d.bucket, 'accepted/cfa-paris/chorus-edi/good.p7b')).versions).toHaveLength(1);
    expect((await objectVersions(d.bucket, 'reports/cfa-paris/chorus-edi/good.p7b.json')).versions).toHaveLength(1);

    // Refused: exit 1, the report as JSON, the credential untouched, one alert for the tenant.
    expect(no.code, show(no)).toBe(1);
    const verdict = JSON.parse(no.stdout);
    expect(verdict).toMatchObject({ outcome: 'rejected', tenant: 'cfa-paris', credential: 'chorus-edi-b', reportKey: 'reports/cfa-paris/chorus-edi-b/server.p7b.json', report: { valid: false } });
    expect(verdict.report.errors.map((e: { code: string }) => e.code)).toEqual(['extended_key_usage']);
    expect((await secretState('sesame/cfa-paris/chorus-edi-b')).versions).toHaveLength(1);
    expect((await objectVersions(d.bucket, 'rejected/cfa-paris/chorus-edi-b/server.p7b')).versions).toHaveLength(1);
    expect((await objectVersions(d.bucket, 'incoming/cfa-paris/chorus-edi-b/server.p7b')).versions).toEqual([]);
    const alerts = await receivedAlerts(d.queueUrl);
    expect(alerts).toEqual([
      { subject: '[Sesame] Certificate refused for cfa-paris/chorus-edi-b', message: expect.stringContaining('server.p7b'), attributes: { tenant: 'cfa-paris', kind: 'chorus-edi', severity: 'warning' } },
    ]);

    // The sandbox placeholder, filled by the intake, stays in the sandbox.
    expect(JSON.parse(expectOk(sandbox).stdout)).toMatchObject({ outcome: 'accepted', tenant: 'cfa-paris', credential: 'chorus-edi-sandbox' });
    const filled = await secretState('sesame/cfa-paris/chorus-edi-sandbox');
    expect(filled.value).toMatchObject({ environment: 'sandbox', fields: { usage: 'client', certificate_sha256: sha256(good.leaf.der) } });
    expect(filled.tags).toEqual({
      ...credentialTags('cfa-paris', 'chorus-edi-sandbox', 'chorus-edi', 'sandbox', good.leaf.cert.notAfter.toISOString()),
      'sesame:certificate-verdict': 'accepted',
      'sesame:certificate-at': expect.any(String),
      'sesame:certificate-for': good.leaf.cert.notAfter.toISOString(),
    });
  });
});

describe('sesame --aws expiry', () => {
  /** Three credentials of one tenant, as `credential set` leaves them: Ocapiat ends 2035-03-01, Atlas 2035-03-10, Cegid has no date. */
  async function expiringCredentials(d: Deployment) {
    await seedTenant(d, 'acme', { name: 'ACME CFA' });
    await seedFilled(d, 'acme', 'opco-atlas', 'opco-atlas', { cfa_key: ATLAS_KEY, expires_at: '2035-03-10' }, { expiresAt: '2035-03-10T00:00:00.000Z' });
    const ocapiat = { cfa_key: `${ATLAS_KEY}-ocapiat`, issued_at: '2035-01-01T00:00:00.000Z', lifetime_months: 2, expires_at: '2035-03-01T00:00:00.000Z' };
    await seedFilled(d, 'acme', 'opco-ocapiat', 'opco-ocapiat', ocapiat, { expiresAt: '2035-03-01T00:00:00.000Z' });
    await seedFilled(d, 'acme', 'cegid-cfe', 'cegid-cfe', { api_key_id: 'i', api_key_secret: CEGID_SECRET });
    return explicit(d);
  }

  it('expiry report lists every credential with what expires, soonest first, as on the --at date', async () => {
    const d = await deploy();
    const env = await expiringCredentials(d);
    const [json, table] = await Promise.all([
      sesame(['expiry', 'report', '--json', '--at', '2035-02-24T05:00:00Z'], { env }),
      sesame(['expiry', 'report', '--at', '2035-02-24T05:00:00Z'], { env }),
    ]);
    expect(JSON.parse(expectOk(json).stdout).credentials).toEqual([
      { tenant: 'acme', credential: 'opco-ocapiat', kind: 'opco-ocapiat', what: expect.stringMatching(/CFA key/), expires_at: '2035-03-01T00:00:00.000Z', days_left: 5, status: 'warning' },
      { tenant: 'acme', credential: 'opco-atlas', kind: 'opco-atlas', what: expect.stringMatching(/Atlas CFA key/), expires_at: '2035-03-10T00:00:00.000Z', days_left: 14, status: 'warning' },
      { tenant: 'acme', credential: 'cegid-cfe', kind: 'cegid-cfe', what: expect.any(String), expires_at: null, days_left: null, status: 'no date' },
    ]);
    expect(expectOk(table).stdout).toMatch(/^TENANT\s+CREDENTIAL\s+KIND\s+WHAT\s+EXPIRES\s+DAYS_LEFT\s+STATUS\nacme\s+opco-ocapiat\s.*2035-03-01\s+5\s+warning\nacme\s+opco-atlas\s.*2035-03-10\s+14\s+warning\nacme\s+cegid-cfe\s.*no date\n$/);
    expectNoSecretIn([json, table], [ATLAS_KEY, CEGID_SECRET]);
  });

  it('expiry check publishes each due alert with tenant, kind and severity attributes, records the step in tags, and sends nothing twice', async () => {
    const d = await deploy();
    const env = await expiringCredentials(d);
    // A simulated date without --send is a dry run: it says what would be sent, publishes nothing, writes no tag.
    const dry = await sesame(['expiry', 'check', '--json', '--at', '2035-02-24T05:00:00Z'], { env });
    expect(JSON.parse(expectOk(dry).stdout)).toMatchObject({ dry_run: true, checked: 3, alerting: 3, errors: [] });
    expect(JSON.parse(dry.stdout).alerts.map((a: { subject: string }) => a.subject)).toContain('[Sesame] Atlas CFA key of acme/opco-atlas expires in 14 days');
    expect(await receivedAlerts(d.queueUrl)).toEqual([]);
    expect((await secretState('sesame/acme/opco-atlas')).tags).toEqual(seededTags('acme', 'opco-atlas', 'opco-atlas', 'production', '2035-03-10T00:00:00.000Z'));

    const first = await sesame(['expiry', 'check', '--json', '--at', '2035-02-24T05:00:00Z', '--send'], { env });
    expect(JSON.parse(expectOk(first).stdout)).toMatchObject({ at: '2035-02-24T05:00:00.000Z', dry_run: false, checked: 3, alerting: 3, errors: [] });
    const alerts = await receivedAlerts(d.queueUrl);
    const byKind = [...alerts].sort((a, b) => (a.attributes.kind ?? '').localeCompare(b.attributes.kind ?? ''));
    expect(byKind.map((a) => [a.subject, a.attributes])).toEqual([
      [expect.stringMatching(/^\[Sesame\] .* of acme\/cegid-cfe has no end date recorded$/), { tenant: 'acme', kind: 'cegid-cfe', severity: 'info' }],
      ['[Sesame] Atlas CFA key of acme/opco-atlas expires in 14 days', { tenant: 'acme', kind: 'opco-atlas', severity: 'warning' }],
      [expect.stringMatching(/^\[Sesame\] .* of acme\/opco-ocapiat expires in 5 days$/), { tenant: 'acme', kind: 'opco-ocapiat', severity: 'warning' }],
    ]);
    for (const a of alerts) {
      expect(a.subject.length).toBeLessThanOrEqual(100);
      expect(a.message).toContain('ACME CFA');
      expect(a.message).not.toContain(ATLAS_KEY);
      expect(a.message).not.toContain(CEGID_SECRET);
    }
    expect((await secretState('sesame/acme/opco-atlas')).tags).toEqual({
      ...seededTags('acme', 'opco-atlas', 'opco-atlas', 'production', '2035-03-10T00:00:00.000Z'),
      'sesame:alert-level': '14',
      'sesame:alert-for': '2035-03-10T00:00:00.000Z',
      'sesame:alerted-at': '2035-02-24T05:00:00.000Z',
    });
    expect((await secretState('sesame/acme/cegid-cfe')).tags).toMatchObject({ 'sesame:alert-level': 'none', 'sesame:alert-for': 'none', 'sesame:alerted-at': '2035-02-24T05:00:00.000Z' });

    // The same day again: every step is already sent.
    const again = await sesame(['expiry', 'check', '--at', '2035-02-24T07:00:00Z', '--send'], { env });
    expect(expectOk(again).stdout).toBe('checked 3 credential(s) at 2035-02-24T07:00:00.000Z: 0 alert(s) sent, 0 error(s)\n');
    expect(await receivedAlerts(d.queueUrl)).toEqual([]);

    // 12 days later: Atlas 2 days before its end (critical), Ocapiat expired, Cegid's weekly reminder.
    const later = await sesame(['expiry', 'check', '--json', '--at', '2035-03-08T05:00:00Z', '--send'], { env });
    expect(JSON.parse(expectOk(later).stdout)).toMatchObject({ checked: 3, alerting: 3, errors: [] });
    expect((await receivedAlerts(d.queueUrl)).map((a) => a.attributes).sort((a, b) => (a.kind ?? '').localeCompare(b.kind ?? ''))).toEqual([
      { tenant: 'acme', kind: 'cegid-cfe', severity: 'info' },
      { tenant: 'acme', kind: 'opco-atlas', severity: 'critical' },
      { tenant: 'acme', kind: 'opco-ocapiat', severity: 'expired' },
    ]);
    expect((await secretState('sesame/acme/opco-atlas')).tags).toMatchObject({ 'sesame:alert-level': '3', 'sesame:alerted-at': '2035-03-08T05:00:00.000Z' });
    expect((await secretState('sesame/acme/opco-ocapiat')).tags).toMatchObject({ 'sesame:alert-level': 'expired' });
    expectNoSecretIn([first, again, later], [ATLAS_KEY, CEGID_SECRET]);
  });
});

// =======================================================================================
// Required behaviours being implemented (see the report): stack discovery, resource
// policies, KMS key, clear configuration errors, environments kept, early refusals.
// =======================================================================================

describe('required: every secret sesame --aws creates gets the resource policy of the stack', () => {
  it('tenant add, credential set, app add and fla keygen put secretPolicyDocument(SecretPrincipals output) on each new secret', async () => {
    const d = await deploy();
    const env = explicit(d);
    await seedTenant(d, 'cfa-paris');
    await Promise.all([
      sesame(['tenant', 'add', 'cfa-lyon'], { env }).then(expectOk),
      sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas'], { stdin: JSON.stringify({ cfa_key: ATLAS_KEY }), env }).then(expectOk),
      sesame(['app', 'add', 'billing', '--tenants', 'cfa-paris'], { env }).then(expectOk),
      sesame(['fla', 'keygen', 'cfa-paris', 'fla-employer', '--alg', 'ES384', '--quality', 'employer', '--out', join(work, 'policy.cer')], { env }).then(expectOk),
    ]);
    const expected = secretPolicyDocument(PRINCIPALS);
    for (const name of ['sesame-tenants/cfa-lyon', 'sesame/cfa-paris/opco-atlas', 'sesame-apps/billing', 'sesame/cfa-paris/fla-employer']) {
      expect((await secretState(name)).policy, name).toEqual(expected);
    }
  });

  it('SESAME_STACK names the stack whose KmsKeyArn and SecretPrincipals are used', async () => {
    const d = await deploy();
    const stagingKey = await newKey();
    const stagingPrincipals = [`arn:aws:iam::${ACCOUNT}:role/Staging-TokenRole`, `arn:aws:iam::${ACCOUNT}:role/StagingAdmin`];
    await createStack('SesameStaging', { KmsKeyArn: stagingKey, IntakeBucket: d.bucket, AlertsTopicArn: d.topicArn, SecretPrincipals: stagingPrincipals.join(',') });
    const r = await sesame(['tenant', 'add', 'cfa-paris'], { env: { SESAME_STACK: 'SesameStaging' } });
    expectOk(r);
    const state = await secretState('sesame-tenants/cfa-paris');
    expect(state.kmsKeyId).toBe(stagingKey);
    expect(state.policy).toEqual(secretPolicyDocument(stagingPrincipals));
  });

  it('SESAME_SECRET_PRINCIPALS, when set, is the list used rather than the stack output', async () => {
    const d = await deploy();
    const own = [`arn:aws:iam::${ACCOUNT}:role/OtherAdmin`, `arn:aws:iam::${ACCOUNT}:role/OtherBroker`];
    expectOk(await sesame(['tenant', 'add', 'cfa-paris'], { env: { ...explicit(d), SESAME_SECRET_PRINCIPALS: own.join(',') } }));
    expect((await secretState('sesame-tenants/cfa-paris')).policy).toEqual(secretPolicyDocument(own));
  });

  it('with SESAME_KMS_KEY_ID and SESAME_SECRET_PRINCIPALS, no stack is needed', async () => {
    const d = await deploy({ outputs: false });
    const own = [`arn:aws:iam::${ACCOUNT}:role/SesameAdmin`];
    const env = { SESAME_KMS_KEY_ID: d.kmsKeyArn, SESAME_SECRET_PRINCIPALS: own.join(',') };
    await seedTenant(d, 'cfa-paris');
    await Promise.all([
      sesame(['tenant', 'add', 'cfa-lyon'], { env }).then(expectOk),
      sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas'], { stdin: JSON.stringify({ cfa_key: ATLAS_KEY }), env }).then(expectOk),
    ]);
    for (const name of ['sesame-tenants/cfa-lyon', 'sesame/cfa-paris/opco-atlas']) {
      const state = await secretState(name);
      expect(state.policy, name).toEqual(secretPolicyDocument(own));
      expect(state.kmsKeyId, name).toBe(d.kmsKeyArn);
    }
  });
});

describe('required: new secrets are encrypted with the stack key, or not created at all', () => {
  it('without SESAME_KMS_KEY_ID, new secrets are encrypted with the stack KmsKeyArn output', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    await Promise.all([
      sesame(['tenant', 'add', 'cfa-lyon']).then(expectOk),
      sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas'], { stdin: JSON.stringify({ cfa_key: ATLAS_KEY }) }).then(expectOk),
    ]);
    for (const name of ['sesame-tenants/cfa-lyon', 'sesame/cfa-paris/opco-atlas']) {
      expect((await secretState(name)).kmsKeyId, name).toBe(d.kmsKeyArn);
    }
  });

  it('SESAME_KMS_KEY_ID, when set, wins over the stack output', async () => {
    await deploy();
    const other = await newKey();
    expectOk(await sesame(['tenant', 'add', 'cfa-paris'], { env: { SESAME_KMS_KEY_ID: other } }));
    expect((await secretState('sesame-tenants/cfa-paris')).kmsKeyId).toBe(other);
  });

  it('with no stack and no SESAME_KMS_KEY_ID, tenant add, credential set and fla keygen exit 1 with one line naming SESAME_KMS_KEY_ID and create nothing', async () => {
    const d = await deploy({ outputs: false });
    await seedTenant(d, 'cfa-paris');
    const env = { SESAME_SECRET_PRINCIPALS: PRINCIPALS.join(',') };
    const runs = await Promise.all([
      sesame(['tenant', 'add', 'cfa-new'], { env }),
      sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas'], { stdin: JSON.stringify({ cfa_key: ATLAS_KEY }), env }),
      sesame(['fla', 'keygen', 'cfa-paris', 'fla-employer', '--alg', 'ES384', '--quality', 'employer', '--out', join(work, 'nokey.cer')], { env }),
    ]);
    for (const r of runs) {
      expect(r.code, show(r)).toBe(1);
      expect(errorLines(r), show(r)).toEqual([expect.stringMatching(/SESAME_KMS_KEY_ID/)]);
    }
    expectNoSecretIn(runs, [ATLAS_KEY]);
    expect(await secretNames()).toEqual(['sesame-tenants/cfa-paris']);
  });

  it('with no stack and no SESAME_SECRET_PRINCIPALS, creating a secret is refused with one line and nothing is created', async () => {
    const d = await deploy({ outputs: false });
    await seedTenant(d, 'cfa-paris');
    const env = { SESAME_KMS_KEY_ID: d.kmsKeyArn };
    const runs = await Promise.all([
      sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas'], { stdin: JSON.stringify({ cfa_key: ATLAS_KEY }), env }),
      sesame(['app', 'add', 'billing', '--tenants', 'cfa-paris'], { env }),
    ]);
    for (const r of runs) {
      expect(r.code, show(r)).toBe(1);
      expect(errorLines(r), show(r)).toEqual([expect.stringMatching(/SESAME_SECRET_PRINCIPALS|SecretPrincipals/)]);
    }
    expectNoSecretIn(runs, [ATLAS_KEY]);
    expect(await secretNames()).toEqual(['sesame-tenants/cfa-paris']);
  });
});

describe('required: the intake bucket and the alerts topic come from the environment or the stack outputs', () => {
  /** A chorus-edi credential with no certificate yet: its expiry check is a "no date" alert. */
  async function ediCredential(d: Deployment) {
    await seedTenant(d, 'cfa-paris');
    await seedCredential(d, {
      tenant: 'cfa-paris',
      credential: 'chorus-edi',
      kind: 'chorus-edi',
      environment: 'production',
      expiresAt: 'none',
      body: { tenant: 'cfa-paris', credential: 'chorus-edi', kind: 'chorus-edi', environment: 'production', fields: { usage: 'client' }, updated_at: new Date().toISOString() },
    });
    const chain = await chorusChain(EKU.clientAuth);
    const file = join(work, 'edi.p7b');
    await writeFile(file, p7b([chain.leaf, chain.inter, chain.root]));
    return file;
  }

  /** Starts `cert upload`, waits for its object in `bucket`, then stops it (the verdict is another test's business). */
  async function uploadLandsIn(bucket: string, file: string, env: Env) {
    const cli = start(['cert', 'upload', 'cfa-paris', 'chorus-edi', file], { env });
    try {
      await uploaded(bucket, 'incoming/cfa-paris/chorus-edi/edi.p7b', cli.done);
    } finally {
      cli.child.kill();
      await cli.done;
    }
  }

  it('without SESAME_BUCKET and SESAME_ALERTS_TOPIC_ARN, cert upload uses the IntakeBucket output and expiry check the AlertsTopicArn output', async () => {
    const d = await deploy();
    const file = await ediCredential(d);
    const [, check] = await Promise.all([uploadLandsIn(d.bucket, file, {}), sesame(['expiry', 'check', '--json'])]);
    expect(JSON.parse(expectOk(check).stdout)).toMatchObject({ checked: 1, alerting: 1, errors: [] });
    expect((await receivedAlerts(d.queueUrl)).map((a) => a.attributes)).toEqual([{ tenant: 'cfa-paris', kind: 'chorus-edi', severity: 'info' }]);
  });

  it('SESAME_BUCKET and SESAME_ALERTS_TOPIC_ARN, when set, win over the stack outputs', async () => {
    const d = await deploy();
    const file = await ediCredential(d);
    const other = await otherBucketAndTopic();
    const env = { SESAME_BUCKET: other.bucket, SESAME_ALERTS_TOPIC_ARN: other.topicArn };
    const [, check] = await Promise.all([uploadLandsIn(other.bucket, file, env), sesame(['expiry', 'check'], { env })]);
    expectOk(check);
    expect(await allObjectVersions(d.bucket)).toEqual([]);
    expect(await receivedAlerts(other.queueUrl)).toHaveLength(1);
    expect(await receivedAlerts(d.queueUrl)).toEqual([]);
  });
});

describe('connect links from the CLI in AWS', () => {
  it('finds the state table in the StateTable output: the link is kept there as its hash, for a credential that does not exist yet', async () => {
    const table = await createStateTable();
    await deploy({ extraOutputs: { StateTable: table } });
    expectOk(await sesame(['tenant', 'add', 'cfa-paris', '--name', 'CFA Paris']));
    const r = await sesame(['connect', 'cfa-paris', 'opco-akto', '--set', 'base_url=https://api.akto.example/convergence', '--json'], { env: { SESAME_PUBLIC_URL: 'https://sesame.example' } });
    const link = JSON.parse(expectOk(r).stdout) as { url: string; expires_at: string };
    const token = link.url.slice('https://sesame.example/connect/'.length);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const items = (await new DynamoDBClient({}).send(new ScanCommand({ TableName: table }))).Items ?? [];
    const record = items.find((i) => i.pk?.S === `link#${createHash('sha256').update(token).digest('hex')}`);
    expect(JSON.parse(record?.data?.S ?? '{}')).toMatchObject({ tenant: 'cfa-paris', credential: 'opco-akto', status: 'open', created_by: 'cli', settings: { base_url: 'https://api.akto.example/convergence' } });
    expect(JSON.stringify(items)).not.toContain(token);
  });

  it('without a state table, says in one line which output or variable to set', async () => {
    await deploy();
    expectOk(await sesame(['tenant', 'add', 'cfa-paris', '--name', 'CFA Paris']));
    const r = await sesame(['connect', 'cfa-paris', 'opco-akto']);
    expect(r.code, show(r)).not.toBe(0);
    expect(errorLines(r), show(r)).toEqual([expect.stringMatching(/SESAME_STATE_TABLE/)]);
  });
});

describe('required: a missing region or missing credentials is one clear line', () => {
  it('without AWS_REGION nor AWS_DEFAULT_REGION, credential set exits 1 with one stderr line naming AWS_REGION', async () => {
    const env = { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_CONFIG_FILE: '/dev/null' };
    const runs = [await sesame(['credential', 'set', 'cfa-paris', 'opco-atlas', '--kind', 'opco-atlas'], { stdin: JSON.stringify({ cfa_key: ATLAS_KEY }), env })];
    for (const r of runs) {
      expect(r.code, show(r)).toBe(1);
      expect(errorLines(r), show(r)).toEqual([expect.stringMatching(/AWS_REGION/)]);
      expect(r.stderr).not.toMatch(/Region is missing/);
    }
    expectNoSecretIn(runs, [ATLAS_KEY]);
  });

  it('without any AWS credentials, tenant list exits 1 with one stderr line naming AWS_PROFILE or AWS_ACCESS_KEY_ID', async () => {
    const env = {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const runs = [await sesame(['tenant', 'list'], { env })];
    for (const r of runs) {
      expect(r.code, show(r)).toBe(1);
      expect(errorLines(r), show(r)).toEqual([expect.stringMatching(/AWS_PROFILE|AWS_ACCESS_KEY_ID/)]);
    }
    expectNoSecretIn(runs, [ATLAS_KEY]);
  });
});

describe('required: a credential keeps the environment the stack declared it with', () => {
  /** What CloudFormation creates for a declared credential: a placeholder body, tags, the stack key. */
  async function placeholder(d: Deployment, credential: string, kind: string, environment: string) {
    await seedCredential(d, { tenant: 'cfa', credential, kind, environment, body: { tenant: 'cfa', credential, kind, placeholder: true } });
  }
  const flaKey = () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  it('credential set --merge without --env keeps an FLA placeholder in acceptance (body and tag)', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa');
    await placeholder(d, 'fla-employer-acc', 'fla', 'acceptance');
    const key = flaKey();
    const r = await sesame(['credential', 'set', 'cfa', 'fla-employer-acc', '--kind', 'fla', '--merge', '--json'], {
      stdin: JSON.stringify({ client_id: 'self_service_chaman_1', private_key: key, quality: 'employer' }),
      env: explicit(d),
    });
    expect(JSON.parse(expectOk(r).stdout)).toMatchObject({ environment: 'acceptance' });
    const state = await secretState('sesame/cfa/fla-employer-acc');
    expect(state.value.environment).toBe('acceptance');
    expect(state.tags['sesame:environment']).toBe('acceptance');
    expectNoSecretIn([r], [key.split('\n')[1] as string]);
  });

  it('fla keygen without --env keeps an FLA placeholder in acceptance, and so does the --merge of the client id that follows', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa', { name: 'CFA' });
    await placeholder(d, 'fla-employer-acc', 'fla', 'acceptance');
    const gen = await sesame(['fla', 'keygen', 'cfa', 'fla-employer-acc', '--alg', 'ES384', '--quality', 'employer', '--out', join(work, 'acc.cer'), '--json'], { env: explicit(d) });
    expect(JSON.parse(expectOk(gen).stdout)).toMatchObject({ environment: 'acceptance' });
    let state = await secretState('sesame/cfa/fla-employer-acc');
    expect([state.value.environment, state.tags['sesame:environment']]).toEqual(['acceptance', 'acceptance']);

    expectOk(await sesame(['credential', 'set', 'cfa', 'fla-employer-acc', '--kind', 'fla', '--merge'], { stdin: '{"client_id":"self_service_chaman_2"}', env: explicit(d) }));
    state = await secretState('sesame/cfa/fla-employer-acc');
    expect([state.value.environment, state.tags['sesame:environment']]).toEqual(['acceptance', 'acceptance']);
    expect(state.value.fields).toMatchObject({ client_id: 'self_service_chaman_2', quality: 'employer', alg: 'ES384' });
  });

  it('credential set without --merge nor --env keeps a chorus-piste placeholder in sandbox (body and tag)', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa');
    await placeholder(d, 'chorus-piste', 'chorus-piste', 'sandbox');
    const r = await sesame(['credential', 'set', 'cfa', 'chorus-piste', '--kind', 'chorus-piste', '--json'], { stdin: piste(), env: explicit(d) });
    expect(JSON.parse(expectOk(r).stdout)).toMatchObject({ environment: 'sandbox' });
    const state = await secretState('sesame/cfa/chorus-piste');
    expect([state.value.environment, state.tags['sesame:environment']]).toEqual(['sandbox', 'sandbox']);
    expectNoSecretIn([r], [PISTE_SECRET, PISTE_PASSWORD]);
  });
});

describe('required: cert upload refuses at once what the intake could only reject', () => {
  it('a credential whose kind takes no certificate, an unknown credential and an unknown tenant are refused within seconds, with nothing uploaded', async () => {
    const d = await deploy();
    await seedTenant(d, 'cfa-paris');
    await seedCredential(d, {
      tenant: 'cfa-paris',
      credential: 'opco-atlas',
      kind: 'opco-atlas',
      environment: 'production',
      expiresAt: 'none',
      body: { tenant: 'cfa-paris', credential: 'opco-atlas', kind: 'opco-atlas', environment: 'production', fields: { cfa_key: ATLAS_KEY }, updated_at: new Date().toISOString() },
    });
    const chain = await chorusChain(EKU.clientAuth);
    const file = join(work, 'early.p7b');
    await writeFile(file, p7b([chain.leaf, chain.inter, chain.root]));
    const env = explicit(d);
    const cases: [string, string, RegExp][] = [
      ['cfa-paris', 'opco-atlas', /opco-atlas/],
      ['cfa-paris', 'chorus-edi', /chorus-edi/],
      ['nobody', 'chorus-edi', /nobody/],
    ];
    const runs = await Promise.all(cases.map(([t, c]) => sesame(['cert', 'upload', t, c, file], { env, timeoutMs: 10_000 })));
    runs.forEach((r, i) => {
      expect(r.killed, `still waiting after 10 s:\n${show(r)}`).toBe(false);
      expect(r.code, show(r)).not.toBe(0);
      expect(r.ms, show(r)).toBeLessThan(5_000);
      expect(errorLines(r), show(r)).toEqual([expect.stringMatching(cases[i]?.[2] as RegExp)]);
    });
    expect(await allObjectVersions(d.bucket)).toEqual([]);
    expect(await receivedAlerts(d.queueUrl)).toEqual([]);
  }, 30_000);
});

describe('sesame --aws output', () => {
  it('never printed a secret value outside the token command, in any test of this file', () => {
    const all = printed.join('\n');
    for (const s of [PISTE_SECRET, PISTE_PASSWORD, ATLAS_KEY, CEGID_SECRET, 'S3cret p12 pass', 'PRIVATE KEY']) expect(all).not.toContain(s);
  });
});
