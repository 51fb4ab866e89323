import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, REGION, useEmulator } from './emulator.ts';
const { endpoint: MOTO } = useEmulator();
import { CreateSecretCommand, GetSecretValueCommand, ListSecretVersionIdsCommand, SecretsManagerClient, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { GetObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import type { AdminEvent } from '../../functions/admin/admin.ts';
import { secretPolicyDocument } from '../../functions/core/secret-policy.ts';
import { deniedCalls, iamRequest as sharedIamRequest } from './connect-fixtures.ts';
import { captureOutput, jsonLines, lambdaContext, loadHandler, realCore, ROOT, SOURCES, synthBundles, type Source, type Synth } from './bundles.ts';
import { deploy, objectVersions, receivedAlerts, secretState, type Deployment } from './fixtures.ts';
import { chorusChain, EKU, issue, p7b } from '../helpers/pki.ts';
import { keyPair } from '../helpers/keys.ts';

/**
 * The admin function (the operator console's API) against Secrets Manager, S3, SNS and
 * SQS (moto), from source and from the bundle `cdk synth` builds, with the environment
 * lib/operator-console.ts gives it and the HTTP API v2 events API Gateway sends it once
 * its JWT authorizer has verified an operator's Cognito access token. Every assertion
 * reads back what the emulator really holds; a recording proxy on loopback in front of
 * moto shows what the function asked AWS for (nothing decrypted for the overview, and
 * nothing its role in the synthesized template does not allow).
 */
type Context = ReturnType<typeof lambdaContext>;
type AdminFn = (event: AdminEvent, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

let synthed: Promise<Synth> | undefined;
const synth = () => (synthed ??= synthBundles());
afterAll(async () => {
  if (synthed) await (await synthed).cleanup();
});

const DAY = 86_400_000;
const date = (days: number) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const sm = () => new SecretsManagerClient({});
const s3 = () => new S3Client({});

// ---------------------------------------------------------------------------------------
// The admin function as the stack deploys it.

/** The admin function's logical id prefix in the template (lib/sesame-stack.ts: Console, lib/operator-console.ts: Admin). */
/** sesame.config.example.json, which `cdk synth` reads here (bundles.ts). */
const CONFIG = JSON.parse(readFileSync(join(ROOT, 'sesame.config.example.json'), 'utf8')) as { adminRoleArn: string; expiryThresholds: number[] };

/** The role a deployment gives a function's role resource: what an `Fn::GetAtt [<Role>, Arn]` resolves to, here. */
const roleArn = (logicalId: string) => `arn:aws:iam::${ACCOUNT}:role/Sesame-${logicalId.replace(/[0-9A-F]{8}$/, '')}`;

/**
 * What lib/operator-console.ts and lib/sesame-stack.ts give the admin function, resolved
 * as a deployment resolves it: the stack's key, the intake bucket, the alerts topic, the
 * configured thresholds and the principals of every Sesame secret's resource policy
 * (the six functions that use secrets, the config's admin role, CDK's deployment role).
 * The last test of the bundle block checks it against the synthesized template.
 */
function adminEnv(d: Deployment): Record<string, string> {
  const principals = [
    roleArn('TokenApiTokenRole'),
    roleArn('TokenApiAuthorizerRole'),
    roleArn('CertificateIntakeFunctionRole'),
    roleArn('ExpiryWatchFunctionRole'),
    roleArn('ConsoleAdminRole'),
    roleArn('ConnectFunctionRole'),
    CONFIG.adminRoleArn,
    `arn:aws:iam::${ACCOUNT}:role/cdk-*-cfn-exec-role-*`,
  ];
  return {
    POWERTOOLS_SERVICE_NAME: 'sesame-admin',
    POWERTOOLS_METRICS_NAMESPACE: 'Sesame',
    SESAME_KMS_KEY_ID: d.kmsKeyArn,
    SESAME_BUCKET: d.bucket,
    SESAME_ALERTS_TOPIC_ARN: d.topicArn,
    SESAME_EXPIRY_THRESHOLDS: CONFIG.expiryThresholds.join(','),
    SESAME_SECRET_PRINCIPALS: principals.join(','),
    // Connect links from the console: the state table and the API's URL (not created in moto unless a test needs it).
    SESAME_STATE_TABLE: STATE_TABLE,
    SESAME_PUBLIC_URL: `https://${API_ID}.execute-api.${REGION}.amazonaws.com`,
  };
}
const STATE_TABLE = 'sesame-state';
const API_ID = 'a1b2c3d4e5';
const principalsOf = (env: Record<string, string>) => (env.SESAME_SECRET_PRINCIPALS as string).split(',');

/** The admin function's bundle and template environment. */
const adminBundle = async () => (await synth()).functions.admin;

/** Resolves the intrinsics of the admin function's environment as CloudFormation would for this deployment. */
function resolveIntrinsic(v: unknown, d: Deployment, resources: Synth['template']['Resources']): string {
  if (typeof v === 'string') return v;
  const o = v as Record<string, unknown>;
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolveIntrinsic(p, d, resources)).join(sep);
  }
  const typeOf = (id: string) => resources[id]?.Type;
  if ('Ref' in o) {
    const id = o.Ref as string;
    if (id === 'AWS::Partition') return 'aws';
    if (id === 'AWS::AccountId') return ACCOUNT;
    if (id === 'AWS::Region') return REGION;
    if (id === 'AWS::URLSuffix') return 'amazonaws.com';
    if (typeOf(id) === 'AWS::DynamoDB::Table') return STATE_TABLE;
    if (typeOf(id) === 'AWS::ApiGatewayV2::Api') return API_ID;
    if (typeOf(id) === 'AWS::S3::Bucket') return d.bucket;
    if (typeOf(id) === 'AWS::SNS::Topic') return d.topicArn;
  }
  if ('Fn::GetAtt' in o) {
    const [id, att] = o['Fn::GetAtt'] as [string, string];
    if (att === 'Arn' && typeOf(id) === 'AWS::KMS::Key') return d.kmsKeyArn;
    if (att === 'Arn' && typeOf(id) === 'AWS::IAM::Role') return roleArn(id);
    if (att === 'Arn' && typeOf(id) === 'AWS::S3::Bucket') return `arn:aws:s3:::${d.bucket}`;
    if (att === 'Arn' && typeOf(id) === 'AWS::DynamoDB::Table') return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${STATE_TABLE}`;
    if (att === 'ApiEndpoint' && typeOf(id) === 'AWS::ApiGatewayV2::Api') return `https://${API_ID}.execute-api.${REGION}.amazonaws.com`;
  }
  throw new Error(`cannot resolve ${JSON.stringify(v)}`);
}

/** A fresh execution environment of the admin function over deployment `d`: its environment set, its module imported anew. */
async function loadAdmin(from: Source, d: Deployment): Promise<{ handler: AdminFn; env: Record<string, string> }> {
  const resolved = adminEnv(d);
  if (from === 'source') return loadHandler<AdminFn>('admin', from, resolved);
  // The bundle keeps the template's plain values; the deployment gives the expressions.
  const bundle = await adminBundle();
  return loadHandler<AdminFn>('admin', from, Object.fromEntries(bundle.unresolved.map((k) => [k, resolved[k] as string])), synth);
}

// ---------------------------------------------------------------------------------------
// The events API Gateway sends once its JWT authorizer has verified the token.

const API = 'a1b2c3d4e5';
const POOL = `https://cognito-idp.${REGION}.amazonaws.com/${REGION}_Ab12Cd34E`;
const CLIENT_ID = '5n2k7q9r1t3v5x7z9b1d3f5h7j';
const OPERATOR_SUB = '7c1e9a52-3d4f-4b8a-9e21-0f6a5b4c3d2e';

/**
 * The claims of a Cognito access token as API Gateway's JWT authorizer passes them to the
 * integration: every value a string (numbers and lists flattened by API Gateway).
 */
function cognitoAccessClaims(): Record<string, string> {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: OPERATOR_SUB,
    iss: POOL,
    version: '2',
    client_id: CLIENT_ID,
    origin_jti: '0b7c3f1e-8a2d-4c6b-9e5f-1a2b3c4d5e6f',
    event_id: '5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a',
    token_use: 'access',
    scope: 'openid email profile',
    auth_time: String(now - 60),
    exp: String(now + 840),
    iat: String(now - 60),
    jti: '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a',
    username: 'operator@integrator.example',
  };
}

interface Call {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** null: no authorizer context at all (a route left unprotected by mistake). */
  claims?: Record<string, string> | null;
}

/** What API Gateway (HTTP API, payload 2.0) sends the admin integration on `ANY /v1/admin/{proxy+}`. */
function adminEvent(call: Call): AdminEvent {
  const now = Date.now();
  const body = call.body === undefined ? undefined : typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
  const rawQueryString = new URLSearchParams(call.query ?? {}).toString();
  const claims = call.claims === undefined ? cognitoAccessClaims() : call.claims;
  return {
    version: '2.0',
    routeKey: 'ANY /v1/admin/{proxy+}',
    rawPath: call.path,
    rawQueryString,
    headers: {
      accept: 'application/json',
      authorization: 'Bearer eyJraWQiOiJ0ZXN0IiwiYWxnIjoiUlMyNTYifQ.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl',
      host: `${API}.execute-api.${REGION}.amazonaws.com`,
      origin: `https://${API}.execute-api.${REGION}.amazonaws.com`,
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0',
      'x-amzn-trace-id': 'Root=1-67890abc-0123456789abcdef01234567',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
    },
    ...(call.query ? { queryStringParameters: call.query } : {}),
    requestContext: {
      accountId: ACCOUNT,
      apiId: API,
      domainName: `${API}.execute-api.${REGION}.amazonaws.com`,
      domainPrefix: API,
      http: { method: call.method, path: call.path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0' },
      requestId: `Jk3rT${Math.random().toString(36).slice(2, 10)}=`,
      routeKey: 'ANY /v1/admin/{proxy+}',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
      ...(claims === null ? {} : { authorizer: { jwt: { claims, scopes: null } } }),
    },
    pathParameters: { proxy: call.path.slice('/v1/admin/'.length) },
    isBase64Encoded: false,
    ...(body !== undefined ? { body } : {}),
  } as AdminEvent;
}

/** The admin function of one deployment, with everything it printed kept aside. */
async function adminApi(from: Source, d: Deployment) {
  const { handler, env } = await loadAdmin(from, d);
  let output = '';
  return {
    env,
    call: async (call: Call) => {
      const r = await captureOutput(() => handler(adminEvent(call), lambdaContext('admin')));
      output += r.output;
      const raw = r.result.body as string;
      // The answers are checked field by field below: any, as a parsed JSON body.
      return { status: r.result.statusCode, headers: r.result.headers ?? {}, raw, json: JSON.parse(raw) as Record<string, any> };
    },
    output: () => output,
  };
}

/** No secret in a text: whole values and their distinctive parts. */
function expectNoSecret(text: string, ...secrets: string[]) {
  for (const s of secrets) {
    expect(text, 'a secret value leaked').not.toContain(s);
    if (s.length > 24) expect(text, 'a secret value leaked').not.toContain(s.slice(-20));
  }
}
/** The base64 body of a PEM private key, without line breaks. */
const keyBody = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');

/** Every stored version of a secret, as the raw strings Secrets Manager holds. */
async function allVersions(name: string): Promise<string[]> {
  const ids = (await sm().send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }))).Versions ?? [];
  return Promise.all(ids.map(async (v) => (await sm().send(new GetSecretValueCommand({ SecretId: name, VersionId: v.VersionId }))).SecretString as string));
}

async function readObject(bucket: string, key: string): Promise<Uint8Array> {
  const o = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (o.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
}
const readJson = async (bucket: string, key: string) => JSON.parse(new TextDecoder().decode(await readObject(bucket, key))) as Record<string, any>;

/** Every version of every object in the bucket, with its bytes. */
async function bucketContents(bucket: string) {
  const page = await s3().send(new ListObjectVersionsCommand({ Bucket: bucket }));
  const out: { key: string; bytes: Uint8Array }[] = [];
  for (const v of page.Versions ?? []) {
    const o = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId }));
    out.push({ key: v.Key as string, bytes: await (o.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray() });
  }
  return { objects: out.sort((a, b) => a.key.localeCompare(b.key)), deleteMarkers: page.DeleteMarkers ?? [] };
}

/** One AWS call as the function sent it. */
interface AwsCall {
  /** The JSON protocol's target (`secretsmanager.GetSecretValue`), else undefined. */
  target?: string;
  method: string;
  host: string;
  url: string;
  body: string;
}

/**
 * A loopback proxy in front of moto that keeps every AWS call going through it while
 * `recording` is on: what a function really asks AWS for, from source and from its
 * bundle alike.
 */
async function recordingProxy(target: string): Promise<{ url: string; calls: AwsCall[]; recording: boolean; close: () => Promise<void> }> {
  const upstream = new URL(target);
  const proxy = { url: '', calls: [] as AwsCall[], recording: true, close: async () => undefined as void };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const t = req.headers['x-amz-target'];
      if (proxy.recording) proxy.calls.push({ ...(typeof t === 'string' ? { target: t } : {}), method: req.method ?? '', host: req.headers.host ?? '', url: req.url ?? '', body: body.toString('utf8') });
      const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      out.on('error', () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}

/** The SecretId of a Secrets Manager call, if any. */
const secretIdOf = (c: AwsCall) => {
  try {
    return (JSON.parse(c.body || '{}') as { SecretId?: string }).SecretId;
  } catch {
    return undefined;
  }
};

/** The IAM action a call needs and the resource it is on, as IAM evaluates it. */
function iamRequest(c: AwsCall, d: Deployment): { action: string; resource: string; call: AwsCall } {
  const secretArn = (id: string) => (id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`);
  if (c.target?.startsWith('secretsmanager.')) {
    const id = secretIdOf(c) ?? (JSON.parse(c.body) as { Name?: string }).Name;
    return { action: `secretsmanager:${c.target.slice('secretsmanager.'.length)}`, resource: id ? secretArn(id) : '*', call: c };
  }
  const form = new URLSearchParams(c.body);
  if (c.target?.startsWith('AmazonSNS.') || form.get('Action') === 'Publish') {
    const action = c.target ? c.target.slice('AmazonSNS.'.length) : (form.get('Action') as string);
    const topic = c.target ? (JSON.parse(c.body) as { TopicArn?: string }).TopicArn : form.get('TopicArn');
    return { action: `sns:${action}`, resource: topic ?? '*', call: c };
  }
  // S3, path style or virtual-hosted.
  const url = new URL(c.url, `http://${c.host}`);
  const virtual = c.host.startsWith(`${d.bucket}.`);
  const path = decodeURIComponent(url.pathname).replace(/^\//, '');
  const [bucket, ...rest] = virtual ? [d.bucket, path] : path.split('/');
  const key = rest.join('/');
  const versioned = url.searchParams.has('versionId');
  if (!key) {
    if (c.method === 'GET' && url.searchParams.has('versions')) return { action: 's3:ListBucketVersions', resource: `arn:aws:s3:::${bucket}`, call: c };
    if (c.method === 'GET') return { action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}`, call: c };
    return { action: `s3:${c.method} bucket`, resource: `arn:aws:s3:::${bucket}`, call: c };
  }
  const action = c.method === 'PUT' ? 'PutObject' : c.method === 'GET' || c.method === 'HEAD' ? (versioned ? 'GetObjectVersion' : 'GetObject') : c.method === 'DELETE' ? (versioned ? 'DeleteObjectVersion' : 'DeleteObject') : `${c.method} object`;
  return { action: `s3:${action}`, resource: `arn:aws:s3:::${bucket}/${key}`, call: c };
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** The Allow statements of every policy attached to the admin function's role, resolved for this deployment. */
async function adminRoleStatements(d: Deployment): Promise<{ actions: string[]; resources: string[]; condition?: Statement['Condition'] }[]> {
  const { template } = await synth();
  const bundle = await adminBundle();
  const fn = template.Resources[bundle.logicalId]?.Properties as { Role: { 'Fn::GetAtt': [string, string] } };
  const role = fn.Role['Fn::GetAtt'][0];
  const out: { actions: string[]; resources: string[]; condition?: Statement['Condition'] }[] = [];
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const props = r.Properties as { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } };
    if (!props.Roles.some((x) => x.Ref === role)) continue;
    for (const s of props.PolicyDocument.Statement) {
      if (s.Effect !== 'Allow') continue;
      const list = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
      const resources = list.flatMap((x) => {
        try {
          return [resolveIntrinsic(x, d, template.Resources)];
        } catch {
          // The function's own log group: no AWS call of the code goes there.
          return [];
        }
      });
      out.push({ actions: [s.Action].flat(), resources, ...(s.Condition ? { condition: s.Condition } : {}) });
    }
  }
  return out;
}

const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

// ---------------------------------------------------------------------------------------

describe.each(SOURCES)('the admin function (%s)', (from: Source) => {
  if (from === 'bundle') beforeAll(() => synth(), 120_000);

  /** A deployment with tenants cfa-paris and cfa-lyon, made by the real core as `sesame --aws` makes them. */
  async function setUp() {
    const d = await deploy();
    const system = await realCore(d);
    await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris', siret: '12345678200010' });
    await system.tenants.put({ id: 'cfa-lyon', name: 'CFA Lyon' });
    return { d, system, admin: await adminApi(from, d) };
  }

  it('knows the operator from the Cognito claims API Gateway passes, and refuses an event without them', async () => {
    const { admin } = await setUp();
    const me = await admin.call({ method: 'GET', path: '/v1/admin/me' });
    expect(me.status).toBe(200);
    expect(me.json).toEqual({ sub: OPERATOR_SUB, username: 'operator@integrator.example' });
    // An ID token's claims name the user cognito:username, and carry the email.
    const id = await admin.call({ method: 'GET', path: '/v1/admin/me', claims: { sub: OPERATOR_SUB, 'cognito:username': 'op-1', email: 'operator@integrator.example', token_use: 'id', aud: CLIENT_ID, iss: POOL } });
    expect(id.json).toEqual({ sub: OPERATOR_SUB, username: 'op-1', email: 'operator@integrator.example' });

    for (const claims of [null, { username: 'no-sub', client_id: CLIENT_ID, token_use: 'access' }]) {
      const r = await admin.call({ method: 'GET', path: '/v1/admin/credentials', claims });
      expect(r.status).toBe(401);
      expect(r.headers['content-type']).toBe('application/problem+json');
      expect(r.json).toMatchObject({ code: 'unauthorized', status: 401 });
    }
    const lines = jsonLines(admin.output());
    expect(lines.find((l) => l.message === 'admin request')).toMatchObject({ level: 'INFO', service: 'sesame-admin', function_name: 'Sesame-admin', operator: OPERATOR_SUB, route: '/v1/admin/me', status: 200 });
    expect(lines.filter((l) => l.message === 'admin request refused')).toHaveLength(2);
  });

  it('lists the deployed credentials with their statuses from tags alone: counts, filters and pages, nothing decrypted', async () => {
    const { d, system } = await setUp();
    const secrets = ['atlas-cfa-key-000000000001', 'afdas-cfa-key-000000000002', 'akto-cfa-key-0000000000003'];
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: secrets[0], expires_at: date(400) } });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-afdas', fields: { cfa_key: secrets[1], expires_at: date(5) } });
    await system.credentials.set({ tenant: 'cfa-lyon', credential: 'opco-akto', fields: { cfa_key: secrets[2], expires_at: date(-2) } });
    // As CloudFormation declares a credential (lib/tenant-secrets.ts): a placeholder body and the public tags.
    await sm().send(
      new CreateSecretCommand({
        Name: 'sesame/cfa-paris/chorus-piste',
        KmsKeyId: d.kmsKeyArn,
        SecretString: JSON.stringify({ tenant: 'cfa-paris', credential: 'chorus-piste', kind: 'chorus-piste', placeholder: true }),
        Tags: [
          { Key: 'sesame:tenant', Value: 'cfa-paris' },
          { Key: 'sesame:credential', Value: 'chorus-piste' },
          { Key: 'sesame:kind', Value: 'chorus-piste' },
          { Key: 'sesame:environment', Value: 'production' },
        ],
      }),
    );
    // A refused certificate, as the S3 intake records its verdict on the credential.
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-edi', fields: { usage: 'client' } });
    const edi = await secretState('sesame/cfa-paris/chorus-edi');
    await sm().send(
      new TagResourceCommand({
        SecretId: 'sesame/cfa-paris/chorus-edi',
        Tags: [
          { Key: 'sesame:certificate-verdict', Value: 'rejected' },
          { Key: 'sesame:certificate-at', Value: new Date().toISOString() },
          { Key: 'sesame:certificate-for', Value: edi.tags['sesame:expires-at'] ?? 'none' },
        ],
      }),
    );

    // Through a recording proxy: what the function asks AWS for.
    const proxy = await recordingProxy(MOTO);
    process.env.AWS_ENDPOINT_URL = proxy.url;
    try {
      const admin = await adminApi(from, d);
      const page = await admin.call({ method: 'GET', path: '/v1/admin/credentials' });
      expect(page.status).toBe(200);
      expect(page.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
      expect(page.json.counts).toEqual({ total: 5, ok: 1, expiring: 1, expired: 1, incomplete: 1, refused: 1 });
      expect(page.json.matching).toBe(5);
      expect(page.json.next_cursor).toBeNull();
      expect(page.json.items.map((i: Record<string, unknown>) => [i.tenant, i.tenant_name, i.credential, i.platform, i.status])).toEqual([
        ['cfa-lyon', 'CFA Lyon', 'opco-akto', 'opco', 'expired'],
        ['cfa-paris', 'CFA Paris', 'chorus-edi', 'chorus-edi', 'refused'],
        ['cfa-paris', 'CFA Paris', 'chorus-piste', 'chorus-piste', 'incomplete'],
        ['cfa-paris', 'CFA Paris', 'opco-afdas', 'opco', 'expiring'],
        ['cfa-paris', 'CFA Paris', 'opco-atlas', 'opco', 'ok'],
      ]);
      const afdas = page.json.items[3];
      expect(afdas).toMatchObject({ kind: 'opco-afdas', environment: 'production', expires_at: `${date(5)}T00:00:00.000Z`, threshold: 7, what: { fr: expect.any(String), en: expect.any(String) } });
      expect(afdas.days_left === 5 || afdas.days_left === 6).toBe(true);
      expect(page.json.items[0]).toMatchObject({ days_left: expect.any(Number), threshold: null });
      expect(page.json.items[0].days_left).toBeLessThanOrEqual(-1);

      // Nothing decrypted to say all that: credential secrets are listed, never read.
      const credentialReads = proxy.calls.filter((c) => secretIdOf(c)?.startsWith('sesame/'));
      expect(credentialReads, 'a credential was read to build the overview').toEqual([]);
      expect(new Set(proxy.calls.map((c) => c.target))).toEqual(new Set(['secretsmanager.ListSecrets', 'secretsmanager.GetSecretValue']));
      expect(proxy.calls.filter((c) => c.target === 'secretsmanager.GetSecretValue').map((c) => secretIdOf(c)?.split('/')[0])).toEqual(expect.arrayContaining(['sesame-tenants']));
      expect(proxy.calls.filter((c) => c.target === 'secretsmanager.GetSecretValue').every((c) => secretIdOf(c)?.startsWith('sesame-tenants/'))).toBe(true);

      // Filters count over what q, tenant and platform keep, ignoring status; pages follow the cursor.
      const some = await admin.call({ method: 'GET', path: '/v1/admin/credentials', query: { status: 'expiring,expired' } });
      expect(some.json.items.map((i: Record<string, unknown>) => i.credential)).toEqual(['opco-akto', 'opco-afdas']);
      expect(some.json).toMatchObject({ matching: 2, counts: { total: 5 } });
      const paris = await admin.call({ method: 'GET', path: '/v1/admin/credentials', query: { tenant: 'cfa-paris', platform: 'opco' } });
      expect(paris.json).toMatchObject({ matching: 2, counts: { total: 2, ok: 1, expiring: 1 } });
      expect((await admin.call({ method: 'GET', path: '/v1/admin/credentials', query: { q: 'lyon' } })).json.matching).toBe(1);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r = await admin.call({ method: 'GET', path: '/v1/admin/credentials', query: { limit: '2', ...(cursor ? { cursor } : {}) } });
        expect(r.json.items.length).toBeLessThanOrEqual(2);
        seen.push(...r.json.items.map((i: Record<string, unknown>) => `${i.tenant}/${i.credential}`));
        cursor = r.json.next_cursor;
      } while (cursor);
      expect(seen).toEqual(page.json.items.map((i: Record<string, unknown>) => `${i.tenant}/${i.credential}`));
      const bad = await admin.call({ method: 'GET', path: '/v1/admin/credentials', query: { status: 'fine' } });
      expect(bad.status).toBe(400);
      expect(bad.json).toMatchObject({ code: 'invalid_request' });

      // The timeline: what ends within the months asked, soonest first, with what has expired.
      const timeline = await admin.call({ method: 'GET', path: '/v1/admin/timeline', query: { months: '12' } });
      expect(timeline.json.items.map((i: Record<string, unknown>) => i.credential)).toEqual(['opco-akto', 'opco-afdas']);
      expectNoSecret(admin.output() + page.raw + timeline.raw, ...secrets);
    } finally {
      process.env.AWS_ENDPOINT_URL = MOTO;
      await proxy.close();
    }
  });

  it('creates a tenant secret with the stack key, its tags and the deny-all-but policy, refuses it twice, and edits it as a new version', async () => {
    const { d, admin } = await setUp();
    const created = await admin.call({ method: 'POST', path: '/v1/admin/tenants', body: { id: 'cfa-nantes', name: 'CFA Nantes', siret: '12345678200010', alert_emails: ['direction@cfa-nantes.example'] } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: 'cfa-nantes', name: 'CFA Nantes', siret: '12345678200010', alert_emails: ['direction@cfa-nantes.example'], credentials: 0, created_at: expect.any(String) });

    const state = await secretState('sesame-tenants/cfa-nantes');
    expect(state.kmsKeyId).toBe(d.kmsKeyArn);
    expect(state.tags).toEqual({ 'sesame:tenant': 'cfa-nantes', 'sesame:type': 'tenant' });
    expect(state.policy).toEqual(secretPolicyDocument(principalsOf(admin.env)));
    expect(state.value).toMatchObject({ id: 'cfa-nantes', name: 'CFA Nantes', siret: '12345678200010', alert_emails: ['direction@cfa-nantes.example'] });
    expect(state.versions).toHaveLength(1);

    const again = await admin.call({ method: 'POST', path: '/v1/admin/tenants', body: { id: 'cfa-nantes', name: 'Another' } });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ code: 'conflict' });
    expect((await secretState('sesame-tenants/cfa-nantes')).versions).toHaveLength(1);

    const edited = await admin.call({ method: 'PATCH', path: '/v1/admin/tenants/cfa-nantes', body: { name: 'CFA Nantes Atlantique', alert_emails: ['it@cfa-nantes.example'] } });
    expect(edited.status).toBe(200);
    expect(edited.json.changed.sort()).toEqual(['alert_emails', 'name']);
    expect(edited.json.tenant).toMatchObject({ id: 'cfa-nantes', name: 'CFA Nantes Atlantique', siret: '12345678200010', alert_emails: ['it@cfa-nantes.example'] });
    const after = await secretState('sesame-tenants/cfa-nantes');
    expect(after.versions).toHaveLength(2);
    expect(after.versions.map((v) => v.stages).sort()).toEqual([['AWSCURRENT'], ['AWSPREVIOUS']]);
    expect(after.value).toMatchObject({ name: 'CFA Nantes Atlantique', alert_emails: ['it@cfa-nantes.example'], siret: '12345678200010' });
    expect(after.kmsKeyId).toBe(d.kmsKeyArn);
    expect(after.policy).toEqual(secretPolicyDocument(principalsOf(admin.env)));

    const got = await admin.call({ method: 'GET', path: '/v1/admin/tenants/cfa-nantes' });
    expect(got.json).toEqual(edited.json.tenant);
    const list = await admin.call({ method: 'GET', path: '/v1/admin/tenants' });
    expect(list.json.items.map((t: Record<string, unknown>) => t.id).sort()).toEqual(['cfa-lyon', 'cfa-nantes', 'cfa-paris']);
    const missing = await admin.call({ method: 'PATCH', path: '/v1/admin/tenants/cfa-nowhere', body: { name: 'x' } });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: 'unknown_tenant' });
  });

  it('creates an app whose key is answered once and stored only as a hash, then rotates and revokes it', async () => {
    const { d, system, admin } = await setUp();
    const added = await admin.call({ method: 'POST', path: '/v1/admin/apps', body: { app: 'billing', tenants: ['cfa-paris', 'cfa-lyon'], kinds: ['opco-atlas'] } });
    expect(added.status).toBe(201);
    expect(added.headers['cache-control']).toBe('no-store');
    const key = added.json.key as string;
    expect(added.json).toEqual({ app: 'billing', key: expect.stringMatching(/^sesame_billing_/), tenants: ['cfa-lyon', 'cfa-paris'] });

    const state = await secretState('sesame-apps/billing');
    expect(state.kmsKeyId).toBe(d.kmsKeyArn);
    expect(state.policy).toEqual(secretPolicyDocument(principalsOf(admin.env)));
    expect(state.value).toMatchObject({ app: 'billing', key_sha256: sha256(key), tenants: ['cfa-lyon', 'cfa-paris'], kinds: ['opco-atlas'] });
    expectNoSecret(JSON.stringify(state) + (await allVersions('sesame-apps/billing')).join('\n'), key);
    // The key works: the authorizer's own check, over what Secrets Manager holds.
    expect(await system.apps.verify(key)).toMatchObject({ app: 'billing' });

    const listed = await admin.call({ method: 'GET', path: '/v1/admin/apps' });
    expect(listed.json.items).toEqual([{ app: 'billing', tenants: ['cfa-lyon', 'cfa-paris'], kinds: ['opco-atlas'], created_at: expect.any(String) }]);
    expect(listed.raw).not.toContain(sha256(key));

    const rotated = await admin.call({ method: 'POST', path: '/v1/admin/apps/billing/rotate', body: { overlap: '1h' } });
    expect(rotated.status).toBe(200);
    const next = rotated.json.key as string;
    expect(next).not.toBe(key);
    expect(Date.parse(rotated.json.previous_key_expires_at) - Date.now()).toBeGreaterThan(3_500_000);
    expect(Date.parse(rotated.json.previous_key_expires_at) - Date.now()).toBeLessThanOrEqual(3_600_000);
    const afterRotation = await secretState('sesame-apps/billing');
    expect(afterRotation.versions).toHaveLength(2);
    expect(afterRotation.value).toMatchObject({ key_sha256: sha256(next), previous_key: { key_sha256: sha256(key), expires_at: rotated.json.previous_key_expires_at } });
    expectNoSecret((await allVersions('sesame-apps/billing')).join('\n'), key, next);
    expect(await system.apps.verify(next)).toMatchObject({ app: 'billing' });
    expect(await system.apps.verify(key)).toMatchObject({ app: 'billing' });

    const revoked = await admin.call({ method: 'POST', path: '/v1/admin/apps/billing/revoke' });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ app: 'billing', revoked_at: expect.any(String) });
    expect(revoked.json).not.toHaveProperty('key_sha256');
    expect(revoked.json).not.toHaveProperty('previous_key');
    const afterRevocation = await secretState('sesame-apps/billing');
    expect(afterRevocation.value).toMatchObject({ revoked_at: revoked.json.revoked_at });
    expect(afterRevocation.value).not.toHaveProperty('previous_key');
    expect(afterRevocation.tags).toMatchObject({ 'sesame:revoked': 'true' });
    for (const k of [key, next]) await expect(system.apps.verify(k)).rejects.toMatchObject({ code: 'unauthorized' });
    // Revoked: no rotation; an unknown app: 404.
    expect((await admin.call({ method: 'POST', path: '/v1/admin/apps/billing/rotate', body: {} })).json).toMatchObject({ code: 'conflict' });
    expect((await admin.call({ method: 'POST', path: '/v1/admin/apps/nobody/revoke' })).status).toBe(404);
    expectNoSecret(admin.output(), key, next);
  });

  it('shows a credential with every secret field "[redacted]" and no secret value anywhere, with its real versions', async () => {
    const { system, admin } = await setUp();
    const piste = { client_id: 'piste-client-0001', client_secret: `piste-secret-${'s3'.repeat(12)}`, account_login: 'TECH_cfa_paris@cpro.fr', account_password: `Pa55-${'w0rd'.repeat(6)}` };
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-piste', fields: { ...piste, password_changed_at: date(-30) } });
    const rotatedSecret = `piste-secret-${'n3w'.repeat(10)}`;
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-piste', fields: { ...piste, client_secret: rotatedSecret, password_changed_at: date(-30) } });
    const { pem } = keyPair('rsa2048');
    await system.credentials.set({ tenant: 'cfa-lyon', credential: 'fla-employer', environment: 'acceptance', fields: { client_id: 'self_service_chaman_77', private_key: pem, quality: 'employer' } });
    const cfaKey = `cfa-${'k3y'.repeat(10)}-atlas`;
    await system.credentials.set({ tenant: 'cfa-lyon', credential: 'opco-atlas', fields: { cfa_key: cfaKey, expires_at: date(200) } });

    const r = await admin.call({ method: 'GET', path: '/v1/admin/tenants/cfa-paris/credentials/chorus-piste' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      tenant: 'cfa-paris',
      tenant_name: 'CFA Paris',
      credential: 'chorus-piste',
      kind: 'chorus-piste',
      platform: 'chorus-piste',
      environment: 'production',
      fields: { client_id: 'piste-client-0001', client_secret: '[redacted]', account_login: 'TECH_cfa_paris@cpro.fr', account_password: '[redacted]' },
      secret_fields: ['client_secret', 'account_password'],
      certificate: { accepts: false, report: null },
      renewal: { fr: expect.any(Array), en: expect.any(Array) },
    });
    expect(r.json.expiries).toHaveLength(1);
    // The versions are those Secrets Manager holds.
    const ids = (await sm().send(new ListSecretVersionIdsCommand({ SecretId: 'sesame/cfa-paris/chorus-piste' }))).Versions ?? [];
    const stage = (s: string) => ids.find((v) => v.VersionStages?.includes(s))?.VersionId;
    expect(r.json.versions.map((v: Record<string, unknown>) => [v.stage, v.version])).toEqual([
      ['current', stage('AWSCURRENT')],
      ['previous', stage('AWSPREVIOUS')],
    ]);

    const fla = await admin.call({ method: 'GET', path: '/v1/admin/tenants/cfa-lyon/credentials/fla-employer' });
    expect(fla.json).toMatchObject({ kind: 'fla', environment: 'acceptance', fields: { client_id: 'self_service_chaman_77', private_key: '[redacted]', quality: 'employer' } });
    const atlas = await admin.call({ method: 'GET', path: '/v1/admin/tenants/cfa-lyon/credentials/opco-atlas' });
    expect(atlas.json).toMatchObject({ status: 'ok', fields: { cfa_key: '[redacted]' } });

    const everything = [r.raw, fla.raw, atlas.raw, admin.output()].join('\n');
    expectNoSecret(everything, piste.client_secret, piste.account_password, rotatedSecret, cfaKey, keyBody(pem).slice(100, 160));
    expect(everything).not.toContain('PRIVATE KEY');

    const unknown = await admin.call({ method: 'GET', path: '/v1/admin/tenants/cfa-paris/credentials/opco-akto' });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ code: 'unknown_credential' });
  });

  describe('certificate uploads', () => {
    const NAME = 'sesame/cfa-paris/chorus-edi';
    async function withEdi() {
      const s = await setUp();
      await s.system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-edi', fields: { usage: 'client' } });
      const upload = (file: string, bytes: Uint8Array | string) =>
        s.admin.call({ method: 'POST', path: '/v1/admin/tenants/cfa-paris/credentials/chorus-edi/certificate', body: { file_name: file, content_base64: Buffer.from(bytes).toString('base64') } });
      return { ...s, upload };
    }

    it('refuses a chain outside the profile: the value unchanged, the file in rejected/ with its report, the alert published, the overview says refused', async () => {
      const { d, admin, upload } = await withEdi();
      const before = await secretState(NAME);
      const c = await chorusChain({ eku: [EKU.serverAuth] });
      const bytes = p7b([c.leaf, c.inter, c.root]);

      const r = await upload('server cert.p7b', bytes);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ outcome: 'rejected', file: 'server cert.p7b', processed_at: expect.any(String), report: { valid: false, errors: [expect.objectContaining({ code: 'extended_key_usage' })] } });
      expect(r.json).not.toHaveProperty('version');

      const after = await secretState(NAME);
      expect(after.value).toEqual(before.value);
      expect(after.versions).toEqual(before.versions);
      expect(after.tags).toEqual({ ...before.tags, 'sesame:certificate-verdict': 'rejected', 'sesame:certificate-at': r.json.processed_at, 'sesame:certificate-for': before.tags['sesame:expires-at'] ?? 'none' });
      expect(await readObject(d.bucket, 'rejected/cfa-paris/chorus-edi/server cert.p7b')).toEqual(bytes);
      expect(await readJson(d.bucket, 'reports/cfa-paris/chorus-edi/server cert.p7b.json')).toMatchObject({ tenant: 'cfa-paris', credential: 'chorus-edi', outcome: 'rejected', valid: false });
      expect((await objectVersions(d.bucket, 'incoming/cfa-paris/chorus-edi/server cert.p7b')).versions, 'the console upload went through incoming/').toEqual([]);

      const alerts = await receivedAlerts(d.queueUrl);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ subject: '[Sesame] Certificate refused for cfa-paris/chorus-edi', attributes: { tenant: 'cfa-paris', kind: 'chorus-edi', severity: 'warning' } });
      expect(alerts[0]?.message).toContain('server cert.p7b');
      expect(alerts[0]?.message).toContain('console');

      const overview = await admin.call({ method: 'GET', path: '/v1/admin/credentials', query: { status: 'refused' } });
      expect(overview.json.items).toEqual([expect.objectContaining({ tenant: 'cfa-paris', credential: 'chorus-edi', status: 'refused' })]);
      const detail = await admin.call({ method: 'GET', path: '/v1/admin/tenants/cfa-paris/credentials/chorus-edi' });
      expect(detail.json).toMatchObject({ status: 'refused', certificate: { accepts: true, report: { outcome: 'rejected', file: 'server cert.p7b' } } });
    });

    it('accepts a valid Chorus chain: a new secret version, answered with its id, the file in accepted/, no alert', async () => {
      const { d, admin, upload } = await withEdi();
      const before = await secretState(NAME);
      const c = await chorusChain({ notAfter: new Date('2027-09-30T00:00:00Z') });
      const bytes = p7b([c.leaf, c.inter, c.root]);

      const r = await upload('edi 2027.p7b', bytes);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ outcome: 'accepted', file: 'edi 2027.p7b', report: { valid: true, profile: 'chorus-client', errors: [] } });

      const after = await secretState(NAME);
      expect(after.versions).toHaveLength(before.versions.length + 1);
      const current = after.versions.find((v) => v.stages.includes('AWSCURRENT'));
      expect(r.json.version).toBe(current?.id);
      expect(after.tags).toMatchObject({ 'sesame:expires-at': '2027-09-30T00:00:00.000Z', 'sesame:certificate-verdict': 'accepted' });
      expect(after.value).toMatchObject({ fields: { usage: 'client', certificate_sha256: sha256(c.leaf.der) } });
      expect(await readObject(d.bucket, 'accepted/cfa-paris/chorus-edi/edi 2027.p7b')).toEqual(bytes);
      expect(await readJson(d.bucket, 'reports/cfa-paris/chorus-edi/edi 2027.p7b.json')).toMatchObject({ outcome: 'accepted', valid: true });
      expect(await receivedAlerts(d.queueUrl)).toEqual([]);

      const detail = await admin.call({ method: 'GET', path: '/v1/admin/tenants/cfa-paris/credentials/chorus-edi' });
      expect(detail.json).toMatchObject({ status: 'ok', expires_at: '2027-09-30T00:00:00.000Z', certificate: { accepts: true, report: { outcome: 'accepted', file: 'edi 2027.p7b' } } });
      expect(detail.json.versions[0]).toMatchObject({ stage: 'current', version: current?.id });
      // The same chain again changes nothing.
      const again = await upload('edi 2027 (copy).p7b', bytes);
      expect(again.json.outcome).toBe('unchanged');
      expect((await secretState(NAME)).versions).toHaveLength(after.versions.length);
    });

    it('stores a file holding a private key nowhere: no object holds key material, a critical alert, the credential unchanged', async () => {
      const { d, admin, upload } = await withEdi();
      const before = await secretState(NAME);
      const cert = await issue({ subject: 'CN=edi.cfa-paris.example, O=CFA Paris, C=FR' });

      const r = await upload('edi (with key).pem', `${cert.pem}\n${cert.privatePem}`);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ outcome: 'deleted', report: { valid: false, errors: expect.arrayContaining([expect.objectContaining({ code: 'private_key' })]) } });

      const body = keyBody(cert.privatePem);
      const { objects, deleteMarkers } = await bucketContents(d.bucket);
      expect(objects.map((o) => o.key)).toEqual(['reports/_latest/cfa-paris/chorus-edi.json', 'reports/cfa-paris/chorus-edi/edi (with key).pem.json']);
      expect(deleteMarkers).toEqual([]);
      for (const o of objects) {
        const text = new TextDecoder().decode(o.bytes).replace(/\\n|\\r|\s/g, '');
        expect(text, `${o.key} holds private key material`).not.toContain(body.slice(40, 120));
        expect(text).not.toContain('PRIVATEKEY-----');
      }
      const after = await secretState(NAME);
      expect(after.value).toEqual(before.value);
      expect(after.versions).toEqual(before.versions);
      expect(after.tags).toMatchObject({ 'sesame:certificate-verdict': 'deleted' });
      const alerts = await receivedAlerts(d.queueUrl);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ subject: '[Sesame] Certificate refused for cfa-paris/chorus-edi', attributes: { severity: 'critical' } });
      const printed = (r.raw + admin.output()).replace(/\\n|\s/g, '');
      expect(printed).not.toContain(body.slice(40, 120));
    });

    it('refuses malformed uploads before touching anything', async () => {
      const { d, admin } = await withEdi();
      const path = '/v1/admin/tenants/cfa-paris/credentials/chorus-edi/certificate';
      for (const body of [{ file_name: '../x.pem', content_base64: 'AAAA' }, { file_name: 'x.pem', content_base64: 'not base64!' }, { file_name: 'x.pem' }]) {
        const r = await admin.call({ method: 'POST', path, body });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.json).toMatchObject({ code: 'invalid_request' });
      }
      const unknown = await admin.call({ method: 'POST', path: '/v1/admin/tenants/cfa-paris/credentials/chorus-piste/certificate', body: { file_name: 'x.pem', content_base64: 'AAAA' } });
      expect(unknown.status).toBe(404);
      expect((await bucketContents(d.bucket)).objects).toEqual([]);
      expect(await receivedAlerts(d.queueUrl)).toEqual([]);
    });
  });

  it('asks AWS only for what lib/operator-console.ts grants its role, through a whole console session', async () => {
    const { d, system } = await setUp();
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-edi', fields: { usage: 'client' } });
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: 'atlas-cfa-key-000000000009', expires_at: date(20) } });
    const good = await chorusChain({ notAfter: new Date('2027-09-30T00:00:00Z') });
    const bad = await chorusChain({ eku: [EKU.serverAuth] });
    const withKey = await issue({ subject: 'CN=edi.cfa-paris.example, O=CFA Paris, C=FR' });
    const upload = (file: string, bytes: Uint8Array | string) => ({ method: 'POST' as const, path: '/v1/admin/tenants/cfa-paris/credentials/chorus-edi/certificate', body: { file_name: file, content_base64: Buffer.from(bytes).toString('base64') } });
    const session: Call[] = [
      { method: 'GET', path: '/v1/admin/me' },
      { method: 'GET', path: '/v1/admin/credentials' },
      { method: 'GET', path: '/v1/admin/timeline' },
      { method: 'GET', path: '/v1/admin/tenants' },
      { method: 'POST', path: '/v1/admin/tenants', body: { id: 'cfa-nantes', name: 'CFA Nantes' } },
      { method: 'PATCH', path: '/v1/admin/tenants/cfa-nantes', body: { name: 'CFA Nantes Atlantique' } },
      { method: 'GET', path: '/v1/admin/tenants/cfa-nantes' },
      { method: 'GET', path: '/v1/admin/tenants/cfa-paris/credentials/opco-atlas' },
      // Before any upload: no report yet.
      { method: 'GET', path: '/v1/admin/tenants/cfa-paris/credentials/chorus-edi' },
      upload('bad.p7b', p7b([bad.leaf, bad.inter, bad.root])),
      upload('good.p7b', p7b([good.leaf, good.inter, good.root])),
      upload('key.pem', `${withKey.pem}\n${withKey.privatePem}`),
      { method: 'GET', path: '/v1/admin/tenants/cfa-paris/credentials/chorus-edi' },
      { method: 'POST', path: '/v1/admin/apps', body: { app: 'billing', tenants: ['cfa-paris'] } },
      { method: 'GET', path: '/v1/admin/apps' },
      { method: 'POST', path: '/v1/admin/apps/billing/rotate', body: { overlap: '1h' } },
      { method: 'POST', path: '/v1/admin/apps/billing/revoke' },
    ];
    const statements = await adminRoleStatements(d);
    const proxy = await recordingProxy(MOTO);
    proxy.recording = false;
    process.env.AWS_ENDPOINT_URL = proxy.url;
    try {
      const admin = await adminApi(from, d);
      for (const call of session) {
        proxy.recording = true;
        const r = await admin.call(call);
        proxy.recording = false;
        expect(r.status, `${call.method} ${call.path}: ${r.raw.slice(0, 300)}`).toBeLessThan(300);
      }
    } finally {
      process.env.AWS_ENDPOINT_URL = MOTO;
      await proxy.close();
    }
    const requests = proxy.calls.map((c) => (c.target?.startsWith('DynamoDB_') ? sharedIamRequest(c, d) : iamRequest(c, d)));
    // DynamoDB calls (links, audit records) through the shared checker, which reads batch requests and LeadingKeys conditions.
    const denied = [
      ...requests.filter((q) => !q.call.target?.startsWith('DynamoDB_')).filter((q) => !statements.some((s) => s.actions.some((a) => glob(a).test(q.action)) && s.resources.some((r) => glob(r).test(q.resource)))).map((q) => `${q.action} on ${q.resource}`),
      ...deniedCalls(proxy.calls.filter((c) => c.target?.startsWith('DynamoDB_')), statements, d),
    ];
    expect(denied, 'calls the admin role does not allow').toEqual([]);
    // The conditions of the grants hold: new secrets with the stack key, resource policies never public.
    for (const c of proxy.calls.filter((x) => x.target === 'secretsmanager.CreateSecret')) expect(JSON.parse(c.body)).toMatchObject({ KmsKeyId: d.kmsKeyArn });
    for (const c of proxy.calls.filter((x) => x.target === 'secretsmanager.PutResourcePolicy')) expect(JSON.parse(c.body)).toMatchObject({ BlockPublicPolicy: true });
    // And the session did use each kind of grant.
    const used = new Set(requests.map((q) => q.action));
    for (const a of ['secretsmanager:ListSecrets', 'secretsmanager:GetSecretValue', 'secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:PutResourcePolicy', 'secretsmanager:TagResource', 's3:PutObject', 'sns:Publish']) {
      expect(used, a).toContain(a);
    }
  }, 120_000);

  if (from === 'bundle') {
    it('runs with exactly the environment the synthesized template gives the admin function, resolved for this deployment', async () => {
      const d = await deploy();
      const bundle = await adminBundle();
      const { template } = await synth();
      const resolved = Object.fromEntries(Object.entries(bundle.variables).map(([k, v]) => [k, resolveIntrinsic(v, d, template.Resources)]));
      const { SESAME_VERSION, ...rest } = resolved;
      expect(SESAME_VERSION).toEqual(expect.any(String));
      expect(rest).toEqual(adminEnv(d));
      expect(bundle.runtime).toBe('nodejs22.x');
      expect(bundle.unresolved.sort()).toEqual(['SESAME_ALERTS_TOPIC_ARN', 'SESAME_BUCKET', 'SESAME_KMS_KEY_ID', 'SESAME_PUBLIC_URL', 'SESAME_SECRET_PRINCIPALS', 'SESAME_STATE_TABLE']);
    });
  }
});
