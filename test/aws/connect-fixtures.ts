import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import type { FunctionBundle, Synth } from './bundles.ts';
import { ACCOUNT, REGION } from './emulator.ts';
import type { Deployment } from './fixtures.ts';

/**
 * The connect function as `cdk synth` bundles it (lib/connect-links.ts), the deployment
 * values its template leaves to CloudFormation, the HTTP API v2 events API Gateway sends
 * it, and a check of every AWS call it makes against its role in the template. bundles.ts
 * knows five functions and not this one: the lookup below is its synthBundles' rule.
 */

/** lib/sesame-stack.ts: `Connect`, lib/connect-links.ts: `Function`. */
export const CONNECT_LOGICAL_ID_PREFIX = 'ConnectFunction';
export const API_ID = 'a1b2c3d4e5';
export const API_URL = `https://${API_ID}.execute-api.${REGION}.amazonaws.com`;

/** The connect function's bundle in a synth: its index.mjs, Handler, runtime and template environment. */
export function connectBundle(synth: Synth): FunctionBundle {
  const prefix = CONNECT_LOGICAL_ID_PREFIX;
  const matches = Object.entries(synth.template.Resources).filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix) && /^[0-9A-F]{8}$/.test(id.slice(prefix.length)));
  if (matches.length !== 1) throw new Error(`expected one AWS::Lambda::Function with logical id ${prefix}XXXXXXXX, found ${matches.map(([id]) => id).join(', ') || 'none'}`);
  const [logicalId, resource] = matches[0] as [string, { Properties?: Record<string, unknown> }];
  const props = resource.Properties ?? {};
  const s3Key = (props.Code as { S3Key?: unknown } | undefined)?.S3Key;
  if (typeof s3Key !== 'string' || !s3Key.endsWith('.zip')) throw new Error(`${logicalId}: Code.S3Key is not an asset zip: ${JSON.stringify(props.Code)}`);
  const entry = join(synth.outdir, `asset.${s3Key.slice(0, -'.zip'.length)}`, 'index.mjs');
  if (!existsSync(entry)) throw new Error(`${logicalId}: no bundle at ${entry}`);
  const variables = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
  const environment: Record<string, string> = {};
  const unresolved: string[] = [];
  for (const [k, v] of Object.entries(variables)) {
    if (typeof v === 'string') environment[k] = v;
    else unresolved.push(k);
  }
  return { logicalId, entry, handler: String(props.Handler), runtime: String(props.Runtime), environment, unresolved, variables };
}

/** The role a deployment gives a role resource: what `Fn::GetAtt [<Role>, Arn]` resolves to, here. */
export const roleArn = (logicalId: string) => `arn:aws:iam::${ACCOUNT}:role/Sesame-${logicalId.replace(/[0-9A-F]{8}$/, '')}`;
export const tableArn = (table: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}`;

/** What a deployment resolves: the emulator's key, bucket and topic, and the state table created for the test. */
export interface Resolution {
  d: Deployment;
  table: string;
}

/** An intrinsic of the template as CloudFormation resolves it for this deployment; throws on anything else. */
export function resolveIntrinsic(v: unknown, r: Resolution, resources: Synth['template']['Resources']): string {
  if (typeof v === 'string') return v;
  const o = v as Record<string, unknown>;
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolveIntrinsic(p, r, resources)).join(sep);
  }
  const typeOf = (id: string) => resources[id]?.Type;
  if ('Ref' in o) {
    const id = o.Ref as string;
    if (id === 'AWS::Partition') return 'aws';
    if (id === 'AWS::AccountId') return ACCOUNT;
    if (id === 'AWS::Region') return REGION;
    if (id === 'AWS::URLSuffix') return 'amazonaws.com';
    if (typeOf(id) === 'AWS::DynamoDB::Table') return r.table;
    if (typeOf(id) === 'AWS::ApiGatewayV2::Api') return API_ID;
    if (typeOf(id) === 'AWS::S3::Bucket') return r.d.bucket;
    if (typeOf(id) === 'AWS::SNS::Topic') return r.d.topicArn;
  }
  if ('Fn::GetAtt' in o) {
    const [id, att] = o['Fn::GetAtt'] as [string, string];
    if (att === 'Arn' && typeOf(id) === 'AWS::KMS::Key') return r.d.kmsKeyArn;
    if (att === 'Arn' && typeOf(id) === 'AWS::IAM::Role') return roleArn(id);
    if (att === 'Arn' && typeOf(id) === 'AWS::S3::Bucket') return `arn:aws:s3:::${r.d.bucket}`;
    if (att === 'Arn' && typeOf(id) === 'AWS::DynamoDB::Table') return tableArn(r.table);
    if (att === 'ApiEndpoint' && typeOf(id) === 'AWS::ApiGatewayV2::Api') return API_URL;
  }
  throw new Error(`cannot resolve ${JSON.stringify(v)}`);
}

/** The function's template environment, every expression resolved for this deployment. */
export function resolvedEnvironment(bundle: FunctionBundle, r: Resolution, synth: Synth): Record<string, string> {
  return Object.fromEntries(Object.entries(bundle.variables).map(([k, v]) => [k, resolveIntrinsic(v, r, synth.template.Resources)]));
}

// ---------------------------------------------------------------------------------------
// What the function asks AWS for, against what its role allows.

/** One AWS call as the function sent it. */
export interface AwsCall {
  /** The JSON protocol's target (`secretsmanager.GetSecretValue`), else undefined. */
  target?: string;
  method: string;
  host: string;
  url: string;
  body: string;
}

export interface RecordingProxy {
  url: string;
  calls: AwsCall[];
  /** Calls are kept only while this is on. */
  recording: boolean;
  close(): Promise<void>;
}

/** A loopback proxy in front of moto that keeps every call going through it while `recording` is on. */
export async function recordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const proxy: RecordingProxy = { url: '', calls: [], recording: false, close: async () => undefined };
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

const jsonBody = (c: AwsCall): Record<string, unknown> => {
  try {
    return JSON.parse(c.body || '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
};

/** The IAM action a call needs and the resource it is on, as IAM evaluates it. */
/** The partition keys a DynamoDB call touches: what `dynamodb:LeadingKeys` conditions are evaluated on. */
function leadingKeys(body: Record<string, unknown>): string[] {
  const pk = (item: unknown) => ((item as { pk?: { S?: string } } | undefined)?.pk?.S);
  const keys: (string | undefined)[] = [pk(body.Key), pk(body.Item)];
  const expr = body.ExpressionAttributeValues as Record<string, { S?: string }> | undefined;
  if (typeof body.KeyConditionExpression === 'string' && expr) keys.push(...Object.values(expr).map((v) => v.S));
  for (const requests of Object.values((body.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: unknown }; DeleteRequest?: { Key: unknown } }[]>)) {
    for (const r of requests) keys.push(pk(r.PutRequest?.Item), pk(r.DeleteRequest?.Key));
  }
  return keys.filter((k): k is string => typeof k === 'string');
}

export function iamRequest(c: AwsCall, d: Deployment): { action: string; resource: string; call: AwsCall; leadingKeys?: string[] } {
  // Real secret ARNs end in a random suffix: the grants' `name/*` patterns must allow for it.
  const secretArn = (id: string) => (id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`);
  if (c.target?.startsWith('secretsmanager.')) {
    const b = jsonBody(c);
    const id = (b.SecretId ?? b.Name) as string | undefined;
    return { action: `secretsmanager:${c.target.slice('secretsmanager.'.length)}`, resource: id ? secretArn(id) : '*', call: c };
  }
  if (c.target?.startsWith('DynamoDB_')) {
    const body = jsonBody(c);
    // A batch names its table as the key of RequestItems.
    const table = (body.TableName as string | undefined) ?? Object.keys((body.RequestItems ?? {}) as object)[0];
    return { action: `dynamodb:${c.target.slice(c.target.indexOf('.') + 1)}`, resource: table ? tableArn(table) : '*', call: c, leadingKeys: leadingKeys(body) };
  }
  if (c.target?.startsWith('TrentService.')) {
    return { action: `kms:${c.target.slice('TrentService.'.length)}`, resource: String(jsonBody(c).KeyId ?? '*'), call: c };
  }
  if (c.target) return { action: `unknown target ${c.target}`, resource: '*', call: c };
  const form = new URLSearchParams(c.body);
  if (form.has('Action')) {
    const action = form.get('Action') as string;
    if (action === 'Publish') return { action: 'sns:Publish', resource: form.get('TopicArn') ?? '*', call: c };
    return { action: `unknown query action ${action}`, resource: '*', call: c };
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

export interface Grant {
  actions: string[];
  resources: string[];
  condition?: Statement['Condition'];
}

/** The Allow statements of every policy attached to a function's role, resolved for this deployment. */
export function roleGrants(synth: Synth, bundle: FunctionBundle, r: Resolution): Grant[] {
  const { template } = synth;
  const fn = template.Resources[bundle.logicalId]?.Properties as { Role: { 'Fn::GetAtt': [string, string] } };
  const role = fn.Role['Fn::GetAtt'][0];
  const out: Grant[] = [];
  for (const res of Object.values(template.Resources)) {
    if (res.Type !== 'AWS::IAM::Policy') continue;
    const props = res.Properties as { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } };
    if (!props.Roles.some((x) => x.Ref === role)) continue;
    for (const s of props.PolicyDocument.Statement) {
      if (s.Effect !== 'Allow') continue;
      const list = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
      const resources = list.flatMap((x) => {
        try {
          return [resolveIntrinsic(x, r, template.Resources)];
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

export const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

/**
 * The calls no grant allows, as `action on resource`. A grant conditioned on
 * `kms:ViaService` allows only what another service does for the function, never a call
 * the function makes itself.
 */
export function deniedCalls(calls: AwsCall[], grants: Grant[], d: Deployment): string[] {
  const direct = grants.filter((g) => !g.condition || !Object.values(g.condition).some((c) => 'kms:ViaService' in c));
  return calls
    .map((c) => iamRequest(c, d))
    .filter((q) => !direct.some((g) => g.actions.some((a) => glob(a).test(q.action)) && g.resources.some((res) => glob(res).test(q.resource)) && leadingKeysAllowed(g, q.leadingKeys)))
    .map((q) => `${q.action} on ${q.resource}${q.leadingKeys?.length ? ` (keys ${[...new Set(q.leadingKeys.map((k) => k.split('#')[0]))].join(', ')})` : ''}`);
}

/** A grant conditioned on `dynamodb:LeadingKeys` (ForAllValues:StringLike) allows a call only when every key it touches matches. */
function leadingKeysAllowed(g: Grant, keys: string[] | undefined): boolean {
  const patterns = g.condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] as string[] | undefined;
  if (!patterns) return true;
  return (keys ?? []).every((k) => patterns.some((p) => glob(p).test(k)));
}

// ---------------------------------------------------------------------------------------
// The events API Gateway sends the connect integration (payload 2.0, no authorizer).

export interface ConnectRequest {
  method: 'GET' | 'POST';
  path: string;
  /** The route as lib/connect-links.ts declares it, e.g. `/connect/{token}`. */
  route: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
}

export function connectEvent(r: ConnectRequest): APIGatewayProxyEventV2 {
  const now = Date.now();
  const token = /^\/connect\/([^/]+)/.exec(r.path)?.[1];
  return {
    version: '2.0',
    routeKey: `${r.method} ${r.route}`,
    rawPath: r.path,
    rawQueryString: '',
    headers: {
      accept: 'text/html,application/xhtml+xml',
      'accept-language': 'fr-FR,fr;q=0.9,en;q=0.8',
      host: `${API_ID}.execute-api.${REGION}.amazonaws.com`,
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      ...(r.body ? { 'content-length': String(r.body.length) } : {}),
      ...r.headers,
    },
    requestContext: {
      accountId: ACCOUNT,
      apiId: API_ID,
      domainName: `${API_ID}.execute-api.${REGION}.amazonaws.com`,
      domainPrefix: API_ID,
      http: { method: r.method, path: r.path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0' },
      requestId: `Jk3rT${Math.random().toString(36).slice(2, 10)}=`,
      routeKey: `${r.method} ${r.route}`,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(token && r.route.includes('{token}') ? { pathParameters: { token } } : {}),
    // API Gateway sends a form's bytes base64-encoded.
    ...(r.body ? { body: Buffer.from(r.body).toString('base64'), isBase64Encoded: true } : { isBase64Encoded: false }),
  };
}

/** A browser's `application/x-www-form-urlencoded` submission. */
export const urlencoded = (form: Record<string, string>) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new TextEncoder().encode(new URLSearchParams(form).toString()) });

/** A browser's multipart submission of one file input, as the platform (undici) encodes FormData. */
export async function multipart(field: string, fileName: string, bytes: Uint8Array): Promise<{ headers: Record<string, string>; body: Uint8Array }> {
  const form = new FormData();
  form.append(field, new Blob([bytes]), fileName);
  const req = new Request('http://connect.invalid/', { method: 'POST', body: form });
  return { headers: { 'content-type': req.headers.get('content-type') as string }, body: new Uint8Array(await req.arrayBuffer()) };
}
