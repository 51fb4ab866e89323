import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACCOUNT, REGION, useEmulator } from './emulator.ts';
useEmulator();
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createHash, randomBytes } from 'node:crypto';
import { captureOutput } from './bundles.ts';
import { createStateTable as createTable, deploy, PRINCIPALS, receivedAlerts, secretState, type Deployment } from './fixtures.ts';

/**
 * The connect function (functions/connect/handler.ts), from source, against DynamoDB,
 * Secrets Manager, S3 and SNS (moto), with the environment lib/connect-links.ts gives it
 * and the HTTP API v2 events API Gateway sends for `/connect/{token}` (no authorizer).
 * The link is created by the real core as the admin function and `sesame --aws` create it.
 */
type ConnectFn = (event: APIGatewayProxyEventV2, context: unknown) => Promise<APIGatewayProxyStructuredResultV2 & { headers: Record<string, string> }>;

const dynamo = new DynamoDBClient({});
const PUBLIC_URL = 'https://a1b2c3d4e5.execute-api.eu-west-3.amazonaws.com';

/** What lib/connect-links.ts and lib/sesame-stack.ts give the function, resolved for deployment `d`. */
function connectEnv(d: Deployment, table: string): Record<string, string> {
  return {
    POWERTOOLS_SERVICE_NAME: 'sesame-connect',
    POWERTOOLS_METRICS_NAMESPACE: 'Sesame',
    POWERTOOLS_TRACE_ENABLED: 'false',
    AWS_LAMBDA_FUNCTION_NAME: 'Sesame-connect',
    SESAME_STATE_TABLE: table,
    SESAME_PUBLIC_URL: PUBLIC_URL,
    SESAME_KMS_KEY_ID: d.kmsKeyArn,
    SESAME_SECRET_PRINCIPALS: PRINCIPALS.join(','),
    SESAME_BUCKET: d.bucket,
    SESAME_ALERTS_TOPIC_ARN: d.topicArn,
  };
}

const owned = new Set<string>();
function applyEnv(env: Record<string, string>): void {
  for (const k of owned) delete process.env[k];
  owned.clear();
  for (const [k, v] of Object.entries(env)) {
    process.env[k] = v;
    owned.add(k);
  }
}
afterEach(() => applyEnv({}));

const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'Sesame-connect',
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:Sesame-connect`,
  memoryLimitInMB: '1024',
  awsRequestId: '0c1d2e3f-0000-4000-8000-000000000001',
  logGroupName: '/aws/lambda/Sesame-connect',
  logStreamName: `2026/01/01/[$LATEST]${'0'.repeat(32)}`,
  getRemainingTimeInMillis: () => 28_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

/** The event API Gateway sends for a route of the connect function (payload 2.0, no authorizer). */
function event(method: 'GET' | 'POST', path: string, routeKey: string, form?: Record<string, string>): APIGatewayProxyEventV2 {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  return {
    version: '2.0',
    routeKey: `${method} ${routeKey}`,
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'a1b2c3d4e5.execute-api.eu-west-3.amazonaws.com', 'accept-language': 'fr-FR,fr;q=0.9', ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'a1b2c3d4e5',
      domainName: 'a1b2c3d4e5.execute-api.eu-west-3.amazonaws.com',
      domainPrefix: 'a1b2c3d4e5',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'Mozilla/5.0' },
      requestId: `req-${Math.random().toString(16).slice(2)}`,
      routeKey: `${method} ${routeKey}`,
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: Date.now(),
    },
    ...(body !== undefined ? { body: Buffer.from(body).toString('base64'), isBase64Encoded: true } : { isBase64Encoded: false }),
  };
}

describe('the connect function (source)', () => {
  it('serves a link’s page, stores the OPCO key handed over as a new version, refuses a second submission, and keeps and logs only the token’s hash', async () => {
    const d = await deploy({ outputs: false });
    const table = await createTable();
    // The real core as the admin function builds it: it makes the tenant, the credential, the link.
    const { awsSystem } = await import('../../functions/adapters/aws-system.ts');
    const { readConfig } = await import('../../functions/core/config.ts');
    const { MemoryLog } = await import('../helpers/memory-log.ts');
    const core = awsSystem({ ...readConfig({ SESAME_PUBLIC_URL: PUBLIC_URL }), stateTable: table, bucket: d.bucket, alertsTopicArn: d.topicArn }, new MemoryLog(), {
      creation: async () => ({ kmsKeyId: d.kmsKeyArn, principals: PRINCIPALS }),
    });
    expect(core.connect).toBeDefined();
    await core.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
    const oldKey = randomBytes(16).toString('hex');
    await core.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: oldKey, editeur: 'LFSA', logiciel: 'Formatio', version: '4.2' } });
    const before = await secretState('sesame/cfa-paris/opco-atlas');

    const link = await core.connect!.create({ tenant: 'cfa-paris', credential: 'opco-atlas', createdBy: 'op-1' });
    const path = new URL(link.url).pathname;
    const token = path.split('/')[2] as string;
    expect(path).toBe(`/connect/${token}`);

    applyEnv(connectEnv(d, table));
    vi.resetModules();
    const { handler: run } = (await import('../../functions/connect/handler.ts')) as unknown as { handler: ConnectFn };
    // Everything the function writes (its log lines, its metrics), kept to check that no token or key is in it.
    let output = '';
    const handler: ConnectFn = async (e, c) => {
      const r = await captureOutput(() => run(e, c));
      output += r.output;
      return r.result;
    };

    const page = await handler(event('GET', path, '/connect/{token}'), context);
    expect(page.statusCode).toBe(200);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).toContain('name="cfa_key"');
    expect(page.body).toContain('CFA Paris');
    // Never a current value of the credential on the page.
    expect(page.body).not.toContain(oldKey);

    const newKey = randomBytes(16).toString('hex');
    const done = await handler(event('POST', path, '/connect/{token}', { cfa_key: newKey }), context);
    expect(done.statusCode).toBe(200);
    expect(done.body).not.toContain(newKey);

    // A new version, the previous one kept; the integrator's headers from the stored credential.
    const after = await secretState('sesame/cfa-paris/opco-atlas');
    expect(after.versions.length).toBe(before.versions.length + 1);
    expect(after.value).toMatchObject({ fields: { cfa_key: newKey, editeur: 'LFSA', logiciel: 'Formatio', version: '4.2' } });
    expect((await core.store.getPrevious('sesame/cfa-paris/opco-atlas'))?.value).toMatchObject({ fields: { cfa_key: oldKey } });
    // The operator is told, without the key.
    const alerts = await receivedAlerts(d.queueUrl);
    expect(alerts.map((a) => a.subject)).toContainEqual(expect.stringContaining('cfa-paris/opco-atlas'));
    expect(JSON.stringify(alerts)).not.toContain(newKey);

    // Used: a second submission and the page answer the one 404 page, and nothing is stored.
    const again = await handler(event('POST', path, '/connect/{token}', { cfa_key: 'another-key' }), context);
    expect(again.statusCode).toBe(404);
    expect((await handler(event('GET', path, '/connect/{token}'), context)).statusCode).toBe(404);
    const unknown = await handler(event('GET', `/connect/${randomBytes(32).toString('base64url')}`, '/connect/{token}'), context);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toBe(again.body);
    expect((await secretState('sesame/cfa-paris/opco-atlas')).versions.length).toBe(after.versions.length);

    // The table holds the token's hash, never the token.
    const items = (await dynamo.send(new ScanCommand({ TableName: table }))).Items ?? [];
    const hash = createHash('sha256').update(token, 'utf8').digest('hex');
    expect(items.map((i) => i.pk?.S)).toContain(`link#${hash}`);
    expect(JSON.stringify(items)).not.toContain(token);
    expect(JSON.stringify(items)).not.toContain(newKey);
    const record = items.find((i) => i.pk?.S === `link#${hash}` && i.sk?.S === 'link');
    expect(JSON.parse(record?.data?.S ?? '{}')).toMatchObject({ status: 'used', tenant: 'cfa-paris', credential: 'opco-atlas' });

    // The function's output names the link by its hash's first characters only: never the token, never the keys.
    expect(output).toContain('connect link used: credential stored');
    expect(output).toContain(hash.slice(0, 12));
    for (const secret of [token, newKey, oldKey, 'another-key']) expect(output).not.toContain(secret);
  }, 60_000);
});
