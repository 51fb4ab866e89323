import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
const { endpoint: MOTO } = useEmulator();
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { linkHash } from '../../functions/core/connect.ts';
import { secretPolicyDocument } from '../../functions/core/secret-policy.ts';
import { startOAuthServer } from '../../functions/local/oauth-server.ts';
import { certificateRules } from '../../lib/function.ts';
import { keyPair } from '../helpers/keys.ts';
import { chorusChain, p7b } from '../helpers/pki.ts';
import { captureOutput, handlerOf, importBundle, synthBundles, type FunctionBundle, type Synth } from './bundles.ts';
import {
  API_URL,
  connectBundle,
  connectEvent,
  deniedCalls,
  multipart,
  recordingProxy,
  resolvedEnvironment,
  roleArn,
  roleGrants,
  urlencoded,
  type ConnectRequest,
  type RecordingProxy,
  type Resolution,
} from './connect-fixtures.ts';
import { createStateTable, deploy, receivedAlerts, secretState } from './fixtures.ts';

/**
 * The connect function exactly as `cdk deploy` would upload it (the esbuild bundle of
 * `cdk synth`, imported as Lambda's runtime imports it, with the template's environment
 * resolved for this deployment) against DynamoDB, Secrets Manager, S3 and SNS (moto),
 * for the two kinds that do more than store typed fields: FLA, whose key pair the
 * function generates and whose client id it checks against a real OAuth2 server on
 * loopback, and Chorus Pro EDI, whose certificate file goes through the intake's rules
 * with the configured trust anchors. Links are made by the real core, as the admin
 * function and `sesame --aws connect` make them. A recording proxy in front of moto
 * keeps every AWS call of the function, checked against its role in the template.
 */
type ConnectFn = (event: ReturnType<typeof connectEvent>, context: unknown) => Promise<APIGatewayProxyStructuredResultV2 & { headers: Record<string, string> }>;

let synthed: Promise<Synth> | undefined;
const synth = () => (synthed ??= synthBundles());
let proxy: RecordingProxy;

beforeAll(async () => {
  await synth();
  // Every client of this file (the function's and the fixtures') goes through the proxy; only the function's calls are kept.
  proxy = await recordingProxy(MOTO);
  process.env.AWS_ENDPOINT_URL = proxy.url;
}, 120_000);
afterAll(async () => {
  process.env.AWS_ENDPOINT_URL = MOTO;
  await proxy?.close();
  if (synthed) await (await synthed).cleanup();
});
afterEach(() => {
  applyEnv({});
  proxy.calls.length = 0;
  proxy.recording = false;
});

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const s3 = () => new S3Client({});

/** What the Lambda runtime adds to every function's environment, and no X-Ray outside Lambda. */
const RUNTIME_ENV = {
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
  AWS_LAMBDA_FUNCTION_NAME: 'Sesame-connect',
  AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
  AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/Sesame-connect',
  POWERTOOLS_TRACE_ENABLED: 'false',
};

const owned = new Set<string>();
function applyEnv(env: Record<string, string>): void {
  for (const k of owned) delete process.env[k];
  owned.clear();
  for (const [k, v] of Object.entries(env)) {
    // In Lambda NODE_OPTIONS applies to the runtime process; here it would change nothing.
    if (k === 'NODE_OPTIONS') continue;
    process.env[k] = v;
    owned.add(k);
  }
}

const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'Sesame-connect',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-3:123456789012:function:Sesame-connect',
  memoryLimitInMB: '1024',
  awsRequestId: '0c1d2e3f-0000-4000-8000-000000000002',
  logGroupName: '/aws/lambda/Sesame-connect',
  logStreamName: `2026/01/01/[$LATEST]${'0'.repeat(32)}`,
  getRemainingTimeInMillis: () => 28_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

/**
 * A deployment (key, bucket, topic, state table) and the real core over it, creating
 * secrets with the stack's key and the principals the template gives every Sesame secret.
 */
async function setUp() {
  const d = await deploy({ outputs: false });
  const table = await createStateTable();
  tables.push(table);
  const r: Resolution = { d, table };
  const s = await synth();
  const bundle = connectBundle(s);
  const env = resolvedEnvironment(bundle, r, s);
  const principals = (env.SESAME_SECRET_PRINCIPALS as string).split(',');
  const { awsSystem } = await import('../../functions/adapters/aws-system.ts');
  const { readConfig } = await import('../../functions/core/config.ts');
  const { MemoryLog } = await import('../helpers/memory-log.ts');
  // The links' base URL comes from the environment, as in the admin function that makes them.
  applyEnv({ SESAME_PUBLIC_URL: API_URL });
  const core = awsSystem({ ...readConfig({}), stateTable: table, bucket: d.bucket, alertsTopicArn: d.topicArn }, new MemoryLog(), {
    creation: async () => ({ kmsKeyId: d.kmsKeyArn, principals }),
  });
  const connect = core.connect;
  if (!connect) throw new Error('the core has no connect links: no state table');
  return { d, table, r, s, bundle, env, principals, core, connect };
}

/**
 * A fresh execution environment of the bundled function: the template's environment
 * resolved for this deployment (plus `extra`, what a stack with other settings would give
 * it), then the bundle imported anew. Every answer and everything it prints is kept, and
 * only its own AWS calls are recorded.
 */
async function loadConnect(bundle: FunctionBundle, env: Record<string, string>, extra: Record<string, string> = {}) {
  applyEnv({ ...RUNTIME_ENV, ...env, ...extra });
  const handler = handlerOf<ConnectFn>(bundle, await importBundle(bundle));
  const bodies: string[] = [];
  let output = '';
  const call = async (req: ConnectRequest) => {
    proxy.recording = true;
    try {
      const r = await captureOutput(() => handler(connectEvent(req), context));
      output += r.output;
      const res = r.result;
      const buf = Buffer.from(res.body ?? '', res.isBase64Encoded ? 'base64' : 'utf8');
      bodies.push(buf.toString('utf8'));
      return { status: res.statusCode, headers: res.headers, isBase64Encoded: res.isBase64Encoded === true, buf, text: buf.toString('utf8') };
    } finally {
      proxy.recording = false;
    }
  };
  return { call, bodies, output: () => output };
}

/** The base64 body of a PEM private key, without line breaks. */
const keyBody = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');

/** No private key, whole or in part, in a text. */
function expectNoPrivateKey(text: string, ...pems: string[]) {
  const flat = text.replace(/\\n|\\r|\s/g, '');
  // Booleans, so that a failure does not print the text or the key.
  expect(flat.includes('PRIVATEKEY'), 'a PEM private key label leaked').toBe(false);
  for (const pem of pems) {
    const body = keyBody(pem);
    for (const at of [40, Math.floor(body.length / 2), body.length - 60]) expect(flat.includes(body.slice(at, at + 40)), 'private key material leaked').toBe(false);
  }
}

async function linkRecord(table: string, token: string): Promise<Record<string, any>> {
  const item = await new DynamoDBClient({}).send(new GetItemCommand({ TableName: table, Key: { pk: { S: `link#${linkHash(token)}` }, sk: { S: 'link' } }, ConsistentRead: true }));
  return JSON.parse(item.Item?.data?.S ?? '{}') as Record<string, any>;
}

async function readObject(bucket: string, key: string): Promise<Uint8Array> {
  const o = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (o.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
}
const readJson = async (bucket: string, key: string) => JSON.parse(new TextDecoder().decode(await readObject(bucket, key))) as Record<string, any>;
const keysIn = async (bucket: string) => ((await s3().send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions ?? []).map((v) => v.Key as string).sort();

/** The state table of every deployment so far, the current one last. */
const tables: string[] = [];

/** A DynamoDB call's table (a batch names it as the key of RequestItems). */
function tableOf(c: { target?: string; body: string }): string | undefined {
  if (!c.target?.startsWith('DynamoDB_')) return undefined;
  const b = JSON.parse(c.body) as { TableName?: string; RequestItems?: Record<string, unknown> };
  return b.TableName ?? Object.keys(b.RequestItems ?? {})[0];
}

/** The calls the function made that its role in the template does not allow; and the conditions of its grants, held. */
function expectAllowed(s: Synth, bundle: FunctionBundle, r: Resolution) {
  // An execution environment of an earlier test may still write its audit records, late,
  // to its own deployment's table (the flush waits 200 ms at most): its role there is another.
  const earlier = new Set(tables.slice(0, -1));
  const calls = proxy.calls.filter((c) => !earlier.has(tableOf(c) ?? ''));
  expect(calls.length, 'the proxy recorded the function’s calls').toBeGreaterThan(0);
  expect(deniedCalls(calls, roleGrants(s, bundle, r), r.d), 'calls the connect role does not allow').toEqual([]);
  for (const c of calls.filter((x) => x.target === 'secretsmanager.CreateSecret')) expect(JSON.parse(c.body)).toMatchObject({ KmsKeyId: r.d.kmsKeyArn });
  for (const c of calls.filter((x) => x.target === 'secretsmanager.PutResourcePolicy')) expect(JSON.parse(c.body)).toMatchObject({ BlockPublicPolicy: true });
  return calls;
}

const PAGE = '/connect/{token}';
const CER = '/connect/{token}/certificate.cer';

describe('the connect function (bundle)', () => {
  it('runs with the environment the synthesized template gives it, resolved for this deployment', async () => {
    const { d, table, bundle, env } = await setUp();
    expect(bundle.runtime).toBe('nodejs22.x');
    expect(bundle.handler).toBe('index.handler');
    expect([...bundle.unresolved].sort()).toEqual(['SESAME_ALERTS_TOPIC_ARN', 'SESAME_BUCKET', 'SESAME_KMS_KEY_ID', 'SESAME_PUBLIC_URL', 'SESAME_SECRET_PRINCIPALS', 'SESAME_STATE_TABLE']);
    const { SESAME_VERSION, SESAME_SECRET_PRINCIPALS, ...rest } = env;
    expect(SESAME_VERSION).toEqual(expect.any(String));
    // sesame.config.example.json sets no chorusTrustAnchors: the variable is absent, not empty.
    expect(rest).toEqual({
      POWERTOOLS_SERVICE_NAME: 'sesame-connect',
      POWERTOOLS_METRICS_NAMESPACE: 'Sesame',
      SESAME_STATE_TABLE: table,
      SESAME_PUBLIC_URL: API_URL,
      SESAME_KMS_KEY_ID: d.kmsKeyArn,
      SESAME_BUCKET: d.bucket,
      SESAME_ALERTS_TOPIC_ARN: d.topicArn,
      SESAME_EXPIRY_THRESHOLDS: '60,30,14,7,3,1,0',
    });
    // The events below carry route keys API Gateway has for this function.
    const { template } = await synth();
    const routes = Object.values(template.Resources).filter((x) => x.Type === 'AWS::ApiGatewayV2::Route').map((x) => x.Properties?.RouteKey);
    for (const key of [`GET ${PAGE}`, `POST ${PAGE}`, `GET ${CER}`]) expect(routes).toContain(key);
    // Its own role is among the principals of the secrets it creates (the pending FLA key).
    expect(SESAME_SECRET_PRINCIPALS?.split(',')).toContain(roleArn('ConnectFunctionRoleFD8DA60B'));
  });

  it('FLA: the first open makes a key pair kept only in Secrets Manager, the .cer matches it, and the client id is stored with the new key once the loopback OAuth server gives a token', async () => {
    const { d, r, s, bundle, env, principals, core, connect } = await setUp();
    const old = keyPair('rsa2048');
    const oauth = await startOAuthServer({ clients: [{ client_id: 'self_service_chaman_old', auth: 'private_key_jwt', publicKey: old.publicKey }] });
    try {
      await core.tenants.put({ id: 'acme-be', name: 'Acme Belgium' });
      await core.credentials.set({ tenant: 'acme-be', credential: 'fla-employer', environment: 'acceptance', fields: { client_id: 'self_service_chaman_old', private_key: old.pem, quality: 'employer', token_endpoint: oauth.tokenEndpoint } });
      const NAME = 'sesame/acme-be/fla-employer';
      const before = await secretState(NAME);

      const link = await connect.create({ tenant: 'acme-be', credential: 'fla-employer', createdBy: 'operator-sub' });
      expect(link.url.startsWith(`${API_URL}/connect/`)).toBe(true);
      const path = new URL(link.url).pathname;
      const token = path.slice('/connect/'.length);
      const hash = linkHash(token);
      const PENDING = `sesame-connect/${hash}`;
      const fn = await loadConnect(bundle, env);

      // First open: the page, and the pending key pair made.
      const page = await fn.call({ method: 'GET', path, route: PAGE });
      expect(page.status).toBe(200);
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.text).toContain('Chaman');
      expect(page.text).toContain(`href="${path}/certificate.cer"`);
      expect(page.text).toContain('name="client_id"');
      expect(page.text).not.toContain('name="quality"');
      expect(page.text).not.toContain('self_service_chaman_old');

      // The private key is in Secrets Manager only: a secret of its own, with the stack's key and every Sesame secret's policy.
      const pending = await secretState(PENDING);
      expect(pending.kmsKeyId).toBe(d.kmsKeyArn);
      expect(pending.policy).toEqual(secretPolicyDocument(principals));
      expect(pending.tags).toEqual({ 'sesame:type': 'connect-pending-key', 'sesame:tenant': 'acme-be' });
      const pendingKey = pending.value.private_key as string;
      expect(createPrivateKey(pendingKey).asymmetricKeyDetails?.modulusLength).toBe(3072);
      expect((await linkRecord(r.table, token)).fla).toEqual({ sha256: pending.value.sha256, not_after: pending.value.not_after });

      // The .cer: DER, the public half of that pending key.
      const cer = await fn.call({ method: 'GET', path: `${path}/certificate.cer`, route: CER });
      expect(cer.status).toBe(200);
      expect(cer.isBase64Encoded).toBe(true);
      expect(cer.headers['content-type']).toBe('application/pkix-cert');
      expect(cer.headers['content-disposition']).toBe('attachment; filename="acme-be-fla-employer.cer"');
      expect(cer.headers['cache-control']).toBe('no-store');
      expect(cer.buf.subarray(0, 1)[0], 'DER, not PEM').toBe(0x30);
      const cert = new X509Certificate(cer.buf);
      expect(cert.subject).toContain('Acme Belgium');
      expect(cert.checkPrivateKey(createPrivateKey(pendingKey))).toBe(true);
      expect(sha256(cer.buf)).toBe(pending.value.sha256);
      // The same pair on every open: the link stays usable across both steps.
      expect((await fn.call({ method: 'GET', path: `${path}/certificate.cer`, route: CER })).buf.equals(cer.buf)).toBe(true);
      expect((await fn.call({ method: 'GET', path, route: PAGE })).status).toBe(200);
      expect(proxy.calls.filter((c) => c.target === 'secretsmanager.CreateSecret')).toHaveLength(1);

      // Not registered in Chaman yet: the token endpoint refuses the new key, nothing is stored, the link stays open.
      const early = await fn.call({ method: 'POST', path, route: PAGE, ...urlencoded({ client_id: 'self_service_chaman_new' }) });
      expect(early.status).toBe(422);
      expect(early.text).toContain('La plateforme a refusé ces identifiants');
      expect((await secretState(NAME)).versions).toEqual(before.versions);
      expect((await linkRecord(r.table, token)).status).toBe('open');

      // "Chaman": the .cer's public key becomes a private_key_jwt client.
      await oauth.register({ client_id: 'self_service_chaman_new', auth: 'private_key_jwt', publicKey: cert.publicKey });
      const asked = oauth.tokenRequests();
      const ok = await fn.call({ method: 'POST', path, route: PAGE, ...urlencoded({ client_id: 'self_service_chaman_new' }) });
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('Sesame a obtenu un jeton');
      expect(oauth.tokenRequests()).toBeGreaterThan(asked);

      // A new version holds the new pair; the old one is kept as AWSPREVIOUS.
      const after = await secretState(NAME);
      expect(after.versions).toHaveLength(before.versions.length + 1);
      expect(after.value).toMatchObject({ environment: 'acceptance' });
      const fields = after.value.fields as Record<string, string>;
      expect(fields).toMatchObject({ client_id: 'self_service_chaman_new', quality: 'employer', token_endpoint: oauth.tokenEndpoint, alg: 'RS256', certificate_sha256: pending.value.sha256 });
      expect(fields.private_key).toBe(pendingKey);
      const spki = (k: Parameters<typeof createPublicKey>[0]) => createPublicKey(k).export({ type: 'spki', format: 'der' });
      expect(spki(fields.private_key as string).equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
      expect(new X509Certificate(fields.certificate as string).fingerprint256).toBe(cert.fingerprint256);
      expect(((await core.store.getPrevious(NAME))?.value as { fields: { private_key: string } }).fields.private_key).toBe(old.pem);
      // The pending copy is destroyed with every version (a put would have kept the key as AWSPREVIOUS).
      const gone = await new SecretsManagerClient({}).send(new DescribeSecretCommand({ SecretId: PENDING })).then(() => 'exists', (err: Error) => err.name);
      expect(gone).toBe('ResourceNotFoundException');
      // The broker vends tokens with the key the function generated.
      const vended = await core.broker.token({ app: 'billing', tenants: new Set(['acme-be']), kinds: undefined }, 'acme-be', 'fla-employer');
      expect(vended.access_token).toBeTruthy();

      // Used: the .cer, the page and a submission answer the one 404 page.
      expect((await fn.call({ method: 'GET', path: `${path}/certificate.cer`, route: CER })).status).toBe(404);
      expect((await fn.call({ method: 'GET', path, route: PAGE })).status).toBe(404);
      expect((await fn.call({ method: 'POST', path, route: PAGE, ...urlencoded({ client_id: 'self_service_chaman_other' }) })).status).toBe(404);
      expect(await linkRecord(r.table, token)).toMatchObject({ status: 'used', tenant: 'acme-be', credential: 'fla-employer' });
      const alerts = await receivedAlerts(d.queueUrl);
      expect(alerts.map((a) => a.subject)).toEqual(['[Sesame] Credential handed over: acme-be/fla-employer']);

      // No private key, whole or in part, in any answer, log line, metric or alert; no token in the output.
      const output = fn.output();
      expectNoPrivateKey([...fn.bodies, output, JSON.stringify(alerts)].join('\n'), pendingKey, old.pem);
      expect(output).not.toContain(token);
      expect(output).toContain(hash.slice(0, 12));
      expect(output).toContain('connect link used: credential stored');

      const calls = expectAllowed(s, bundle, r);
      const actions = new Set(calls.map((c) => c.target));
      for (const a of ['secretsmanager.CreateSecret', 'secretsmanager.PutResourcePolicy', 'secretsmanager.PutSecretValue', 'DynamoDB_20120810.PutItem']) expect(actions, a).toContain(a);
    } finally {
      await oauth.close();
    }
  }, 60_000);

  it('Chorus Pro EDI: a refused file gets the report in plain words and changes nothing; a chain to the configured trust anchor is stored as the intake stores it, and the link is used', async () => {
    const { d, r, s, bundle, env, core, connect } = await setUp();
    await core.tenants.put({ id: 'cfa-paris', name: 'CFA Paris', siret: '12345678200010' });
    const NAME = 'sesame/cfa-paris/chorus-edi';
    const notAfter = new Date('2027-09-30T00:00:00Z');
    const trusted = await chorusChain({ notAfter });

    // A stack with `chorusTrustAnchors` ships the file beside the bundle (the task root) and names it in the environment.
    const rules = certificateRules({ chorusTrustAnchorsFile: '/config/rgs-anchors.pem' });
    const [file] = rules.files;
    const taskRoot = dirname(bundle.entry);
    await writeFile(join(taskRoot, file?.name as string), trusted.root.pem);
    const anchors = Object.fromEntries(Object.entries(rules.environment).map(([k, v]) => [k, v.replace(/^\/var\/task\//, `${taskRoot}/`)]));
    expect(Object.keys(anchors)).toEqual(['SESAME_CHORUS_TRUST_ANCHORS']);

    // The link makes the credential (a client certificate, production) as the admin function would.
    const link = await connect.create({ tenant: 'cfa-paris', credential: 'chorus-edi', createdBy: 'operator-sub' });
    const path = new URL(link.url).pathname;
    const token = path.slice('/connect/'.length);
    const before = await secretState(NAME);
    const fn = await loadConnect(bundle, env, anchors);
    const upload = async (name: string, bytes: Uint8Array) => fn.call({ method: 'POST', path, route: PAGE, ...(await multipart('certificate', name, bytes)) });

    const page = await fn.call({ method: 'GET', path, route: PAGE });
    expect(page.status).toBe(200);
    expect(page.text).toContain('enctype="multipart/form-data"');
    expect(page.text).toContain('name="certificate" type="file"');

    // A person certificate under the trusted CA.
    const person = await chorusChain({ subject: 'CN=Jean Dupont, 2.5.4.42=Jean, 2.5.4.4=Dupont, O=CFA Paris, C=FR', notAfter });
    const personBytes = p7b([person.leaf, person.inter]);
    const refused = await upload('person.p7b', personBytes);
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('Rapport de vérification');
    expect(refused.text).toContain('Refusé parce que');
    expect(refused.text).toContain('Certificat de personne');
    expect(refused.text).toContain('rien n’a été enregistré');
    expect(await readObject(d.bucket, 'rejected/cfa-paris/chorus-edi/person.p7b')).toEqual(personBytes);
    const personReport = await readJson(d.bucket, 'reports/cfa-paris/chorus-edi/person.p7b.json');
    expect(personReport).toMatchObject({ tenant: 'cfa-paris', credential: 'chorus-edi', outcome: 'rejected', valid: false });
    expect(personReport.errors.map((e: { code: string }) => e.code)).toEqual(['person_certificate']);

    // A well-formed chain to a root that is not a trust anchor.
    const rogue = await chorusChain({ notAfter }, { root: 'CN=Rogue Root CA, O=Rogue, C=FR', inter: 'CN=Rogue Issuing CA, O=Rogue, C=FR' });
    const untrusted = await upload('rogue.p7b', p7b([rogue.leaf, rogue.inter, rogue.root]));
    expect(untrusted.status).toBe(422);
    expect(untrusted.text).toContain('n’est pas une autorité de confiance configurée');
    expect((await readJson(d.bucket, 'reports/cfa-paris/chorus-edi/rogue.p7b.json')).errors.map((e: { code: string }) => e.code)).toEqual(['untrusted_root']);

    // Nothing stored, the link still open and usable.
    const refusedState = await secretState(NAME);
    expect(refusedState.value).toEqual(before.value);
    expect(refusedState.versions).toEqual(before.versions);
    expect((await linkRecord(r.table, token)).status).toBe('open');
    expect((await fn.call({ method: 'GET', path, route: PAGE })).status).toBe(200);

    // The leaf and its issuing CA only: the path ends at the configured anchor, which the file leaves out.
    const goodBytes = p7b([trusted.leaf, trusted.inter]);
    const ok = await upload('edi.p7b', goodBytes);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('Merci, c’est enregistré');
    expect(ok.text).toContain('Le certificat respecte les règles');

    const after = await secretState(NAME);
    expect(after.versions).toHaveLength(before.versions.length + 1);
    expect(after.value).toMatchObject({ environment: 'production', fields: { usage: 'client', certificate_sha256: sha256(trusted.leaf.der) } });
    expect(after.tags).toMatchObject({ 'sesame:expires-at': notAfter.toISOString(), 'sesame:certificate-verdict': 'accepted' });
    expect(await readObject(d.bucket, 'accepted/cfa-paris/chorus-edi/edi.p7b')).toEqual(goodBytes);
    const report = await readJson(d.bucket, 'reports/cfa-paris/chorus-edi/edi.p7b.json');
    expect(report).toMatchObject({ outcome: 'accepted', valid: true, profile: 'chorus-client', errors: [] });
    expect(report.warnings.map((w: { code: string }) => w.code)).not.toContain('root_not_checked');
    expect(await readJson(d.bucket, 'reports/_latest/cfa-paris/chorus-edi.json')).toMatchObject({ outcome: 'accepted', report_key: 'reports/cfa-paris/chorus-edi/edi.p7b.json' });
    expect(await keysIn(d.bucket)).toEqual([
      'accepted/cfa-paris/chorus-edi/edi.p7b',
      'rejected/cfa-paris/chorus-edi/person.p7b',
      'rejected/cfa-paris/chorus-edi/rogue.p7b',
      'reports/_latest/cfa-paris/chorus-edi.json',
      'reports/_latest/cfa-paris/chorus-edi.json',
      'reports/_latest/cfa-paris/chorus-edi.json',
      'reports/cfa-paris/chorus-edi/edi.p7b.json',
      'reports/cfa-paris/chorus-edi/person.p7b.json',
      'reports/cfa-paris/chorus-edi/rogue.p7b.json',
    ]);

    // Used: the page and another upload answer the one 404 page, and nothing more is stored.
    expect(await linkRecord(r.table, token)).toMatchObject({ status: 'used' });
    expect((await fn.call({ method: 'GET', path, route: PAGE })).status).toBe(404);
    expect((await upload('edi-again.p7b', goodBytes)).status).toBe(404);
    expect((await secretState(NAME)).versions).toEqual(after.versions);

    const alerts = await receivedAlerts(d.queueUrl);
    expect(alerts.map((a) => a.subject)).toEqual([
      '[Sesame] Certificate refused for cfa-paris/chorus-edi',
      '[Sesame] Certificate refused for cfa-paris/chorus-edi',
      '[Sesame] Credential handed over: cfa-paris/chorus-edi',
    ]);
    expect(fn.output()).not.toContain(token);

    const calls = expectAllowed(s, bundle, r);
    // The refusals and the acceptance did reach S3, the secret, its tags and the topic.
    const actions = new Set(calls.map((c) => c.target ?? (new URLSearchParams(c.body).get('Action') ? `sns.${new URLSearchParams(c.body).get('Action')}` : `s3.${c.method}`)));
    for (const a of ['s3.PUT', 'sns.Publish', 'secretsmanager.PutSecretValue', 'secretsmanager.TagResource']) expect(actions, a).toContain(a);
  }, 60_000);
});
