import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import type { Context } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEvent } from '../../functions/token/token.ts';

/**
 * The deployed handlers, wired to Secrets Manager at module scope, driven with API
 * Gateway events. Secrets Manager is mocked: this is the AWS adapter's test.
 */
const sm = mockClient(SecretsManagerClient);
const key = `sesame_billing_${'A'.repeat(43)}`;
const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });
const context = { functionName: 'f', awsRequestId: 'r', invokedFunctionArn: 'arn:aws:lambda:eu-west-3:111122223333:function:f', memoryLimitInMB: '512' } as Context;

beforeAll(() => {
  process.env.AWS_REGION = 'eu-west-3';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  sm.on(GetSecretValueCommand).rejects(notFound());
  sm.on(GetSecretValueCommand, { SecretId: 'sesame-apps/billing' }).resolves({
    SecretString: JSON.stringify({ app: 'billing', key_sha256: createHash('sha256').update(key).digest('hex'), tenants: ['acme'], created_at: '2026-01-01T00:00:00Z' }),
    VersionId: 'a1',
  });
  sm.on(GetSecretValueCommand, { SecretId: 'sesame/acme/opco-atlas' }).resolves({
    SecretString: JSON.stringify({ tenant: 'acme', credential: 'opco-atlas', kind: 'opco-atlas', environment: 'production', fields: { cfa_key: 'K' }, updated_at: '2026-01-01T00:00:00Z' }),
    VersionId: 'c1',
  });
});
afterAll(() => sm.restore());

const event = (path: string, lambda?: Record<string, string>): TokenEvent =>
  ({ rawPath: path, headers: {}, isBase64Encoded: false, requestContext: { http: { method: 'POST' }, ...(lambda ? { authorizer: { lambda } } : {}) } }) as unknown as TokenEvent;

describe('the authorizer function', () => {
  it('authorizes a valid key with its scope as context, reading only its app record', async () => {
    const { handler } = await import('../../functions/authorizer/handler.ts');
    const res = await handler({ headers: { authorization: `Bearer ${key}` } } as never, context);
    expect(res).toEqual({ isAuthorized: true, context: { app: 'billing', tenants: 'acme', kinds: '' } });
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'sesame-apps/billing' });
  });

  it.each([[undefined], ['Bearer nope'], [`Bearer ${key.slice(0, -1)}B`], [`Basic ${key}`]])('refuses %s', async (authorization) => {
    const { handler } = await import('../../functions/authorizer/handler.ts');
    expect(await handler({ headers: authorization ? { authorization } : {} } as never, context)).toEqual({ isAuthorized: false, context: {} });
  });
});

describe('the token function', () => {
  it('vends with the authorizer context and reads the secret named after tenant and credential', async () => {
    const { handler } = await import('../../functions/token/handler.ts');
    const res = await handler(event('/v1/tenants/acme/credentials/opco-atlas/token', { app: 'billing', tenants: 'acme', kinds: '' }), context);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body as string)).toMatchObject({ headers: { 'X-API-KEY': 'K' } });
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'sesame/acme/opco-atlas' });
  });

  it('refuses a request that reached it without an authorizer context', async () => {
    const { tokenHandler } = await import('../../functions/token/handler.ts');
    const res = await tokenHandler(event('/v1/tenants/acme/credentials/opco-atlas/token'));
    expect(res.statusCode).toBe(401);
  });

  it('refuses a tenant outside the context scope without reading any secret', async () => {
    const { tokenHandler } = await import('../../functions/token/handler.ts');
    sm.resetHistory();
    const res = await tokenHandler(event('/v1/tenants/beta/credentials/opco-atlas/token', { app: 'billing', tenants: 'acme', kinds: '' }));
    expect(res.statusCode).toBe(403);
    expect(sm).not.toHaveReceivedCommand(GetSecretValueCommand);
  });

  it('decodes base64 bodies as API Gateway sends them', async () => {
    const { tokenHandler } = await import('../../functions/token/handler.ts');
    const e = { ...event('/v1/tenants/acme/credentials/opco-atlas/token', { app: 'billing', tenants: 'acme', kinds: '' }), body: Buffer.from('{"x":1}').toString('base64'), isBase64Encoded: true };
    expect((await tokenHandler(e)).statusCode).toBe(400);
  });
});
