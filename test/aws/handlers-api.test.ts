import type { APIGatewayProxyStructuredResultV2, APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
useEmulator();
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createPublicKey } from 'node:crypto';
import { jwtVerify } from 'jose';
import { captureOutput, jsonLines, lambdaContext, loadHandler, realCore, SOURCES, synthBundles, type Source, type Synth } from './bundles.ts';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { createStateTable, deploy } from './fixtures.ts';
import { keyPair } from '../helpers/keys.ts';
import { startScriptedServer, tokenBody, type ScriptedServer } from '../helpers/scripted-token-server.ts';

/**
 * The token API's two functions against Secrets Manager (moto), from source and from the
 * bundles `cdk synth` builds: the authorizer with HTTP API v2 REQUEST events (payload 2.0,
 * simple responses), then the token function with the HTTP API v2 event API Gateway sends
 * it, carrying what the authorizer returned. Keys, tenants and credentials are made by the
 * real core; the FLA token endpoint is a real HTTP server on loopback.
 */
type Context = ReturnType<typeof lambdaContext>;
type Authorizer = (event: APIGatewayRequestAuthorizerEventV2, context: Context) => Promise<{ isAuthorized: boolean; context: Record<string, string> }>;
type TokenFn = (event: unknown, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

let synthed: Promise<Synth> | undefined;
const synth = () => (synthed ??= synthBundles());
afterAll(async () => {
  if (synthed) await (await synthed).cleanup();
});

const ROUTE = 'POST /v1/tenants/{tenant}/credentials/{credential}/token';
const API = 'a1b2c3d4e5';
const tokenPath = (tenant: string, credential: string) => `/v1/tenants/${tenant}/credentials/${credential}/token`;

function requestContext(path: string, method = 'POST') {
  const now = Date.now();
  return {
    accountId: '123456789012',
    apiId: API,
    domainName: `${API}.execute-api.eu-west-3.amazonaws.com`,
    domainPrefix: API,
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'curl/8.5.0' },
    requestId: `Jk3rT${Math.random().toString(36).slice(2, 10)}=`,
    routeKey: ROUTE,
    stage: '$default',
    time: new Date(now).toUTCString(),
    timeEpoch: now,
  };
}

const headersOf = (authorization: string) => ({
  accept: '*/*',
  authorization,
  'content-length': '0',
  host: `${API}.execute-api.eu-west-3.amazonaws.com`,
  'user-agent': 'curl/8.5.0',
  'x-amzn-trace-id': 'Root=1-67890abc-0123456789abcdef01234567',
  'x-forwarded-for': '203.0.113.7',
  'x-forwarded-port': '443',
  'x-forwarded-proto': 'https',
});

/** What API Gateway sends a REQUEST authorizer (payload format 2.0) for the token route. */
function authorizerEvent(authorization: string, tenant = 'cfa-paris', credential = 'opco-atlas'): APIGatewayRequestAuthorizerEventV2 {
  const path = tokenPath(tenant, credential);
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: `arn:aws:execute-api:eu-west-3:123456789012:${API}/$default/POST${path}`,
    identitySource: [authorization],
    routeKey: ROUTE,
    rawPath: path,
    rawQueryString: '',
    headers: headersOf(authorization),
    requestContext: requestContext(path),
    pathParameters: { tenant, credential },
  } as unknown as APIGatewayRequestAuthorizerEventV2;
}

/** What API Gateway sends the token integration (payload 2.0) once the authorizer said yes. */
function tokenEvent(authorization: string, lambda: Record<string, string>, tenant: string, credential: string, body?: string) {
  const path = tokenPath(tenant, credential);
  return {
    version: '2.0',
    routeKey: ROUTE,
    rawPath: path,
    rawQueryString: '',
    headers: { ...headersOf(authorization), ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}) },
    requestContext: { ...requestContext(path), authorizer: { lambda } },
    pathParameters: { tenant, credential },
    isBase64Encoded: false,
    ...(body !== undefined ? { body } : {}),
  };
}

/** The real core over moto, with two tenants, as `sesame --aws` makes them. */
async function core() {
  const system = await realCore(await deploy());
  await system.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
  await system.tenants.put({ id: 'cfa-lyon', name: 'CFA Lyon' });
  return system;
}

/** No secret in anything the function printed: whole values and their distinctive tails. */
function expectNoSecret(output: string, ...secrets: string[]) {
  for (const s of secrets) {
    expect(output, 'a secret was logged').not.toContain(s);
    if (s.length > 24) expect(output, 'a secret was logged').not.toContain(s.slice(-20));
  }
}

describe.each(SOURCES)('the authorizer function (%s)', (from) => {
  if (from === 'bundle') beforeAll(() => synth(), 120_000);
  const load = () => loadHandler<Authorizer>('authorizer', from, {}, synth);

  it('authorizes a valid app key, with its scope as the context, and logs no key', async () => {
    const system = await core();
    const { key } = await system.apps.add({ app: 'billing', tenants: ['cfa-paris', 'cfa-lyon'], kinds: ['opco-atlas', 'fla'] });
    const { key: other } = await system.apps.add({ app: 'payroll', tenants: ['cfa-lyon'] });
    const { handler } = await load();
    const first = await captureOutput(() => handler(authorizerEvent(`Bearer ${key}`), lambdaContext('authorizer')));
    expect(first.result).toEqual({ isAuthorized: true, context: { app: 'billing', tenants: 'cfa-lyon,cfa-paris', kinds: 'fla,opco-atlas' } });
    const second = await captureOutput(() => handler(authorizerEvent(`Bearer ${other}`), lambdaContext('authorizer')));
    expect(second.result).toEqual({ isAuthorized: true, context: { app: 'payroll', tenants: 'cfa-lyon', kinds: '' } });
    expectNoSecret(first.output + second.output, key, other);
  });

  it('refuses a revoked key with an empty context, and says so in a log line carrying the Lambda context', async () => {
    const system = await core();
    const { key } = await system.apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    await system.apps.revoke('billing');
    const { handler } = await load();
    const { result, output } = await captureOutput(() => handler(authorizerEvent(`Bearer ${key}`), lambdaContext('authorizer')));
    expect(result).toEqual({ isAuthorized: false, context: {} });
    expectNoSecret(output, key);
    expect(jsonLines(output).find((l) => l.message === 'app key refused')).toMatchObject({ level: 'INFO', service: 'sesame-authorizer', function_name: 'Sesame-authorizer', code: 'unauthorized' });
  });

  it('refuses an unknown key, a key of an unknown app and a malformed header', async () => {
    const system = await core();
    const { key } = await system.apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    const forged = `${key.slice(0, -4)}${key.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const { handler } = await load();
    const coldStarts: unknown[] = [];
    for (const authorization of [`Bearer ${forged}`, `Bearer sesame_nobody_${'A'.repeat(43)}`, `Basic ${key}`, 'Bearer']) {
      const { result, output } = await captureOutput(() => handler(authorizerEvent(authorization), lambdaContext('authorizer')));
      expect(result, authorization.slice(0, 30)).toEqual({ isAuthorized: false, context: {} });
      expectNoSecret(output, key, forged);
      coldStarts.push(...jsonLines(output).filter((l) => l.message === 'app key refused').map((l) => l.cold_start));
    }
    // One execution environment, its module scope built once: only the first invocation is the cold start.
    expect(coldStarts).toEqual([true, false, false, false]);
  });
});

describe.each(SOURCES)('the token function (%s)', (from: Source) => {
  if (from === 'bundle') beforeAll(() => synth(), 120_000);
  let upstream: ScriptedServer | undefined;
  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
  });

  /** The two functions of one deployment: the authorizer's answer is the token event's context. */
  async function api(key: string) {
    const authorizer = (await loadHandler<Authorizer>('authorizer', from, {}, synth)).handler;
    // The shared token cache as the stack gives it: the state table and the stack's key.
    const cacheKey = (await new KMSClient({}).send(new CreateKeyCommand({ Description: "token cache" }))).KeyMetadata?.Arn as string;
    const token = (await loadHandler<TokenFn>('token', from, { SESAME_STATE_TABLE: await createStateTable(), SESAME_TOKEN_CACHE_KEY: cacheKey }, synth)).handler;
    const verdict = await captureOutput(() => authorizer(authorizerEvent(`Bearer ${key}`), lambdaContext('authorizer')));
    expect(verdict.result.isAuthorized).toBe(true);
    let output = verdict.output;
    return {
      call: async (tenant: string, credential: string, body?: string) => {
        const r = await captureOutput(() => token(tokenEvent(`Bearer ${key}`, verdict.result.context, tenant, credential, body), lambdaContext('token')));
        output += r.output;
        return { ...r.result, json: JSON.parse(r.result.body as string) as Record<string, unknown> };
      },
      output: () => output,
    };
  }

  it('vends an OPCO CFA key as the headers to send, and logs no secret', async () => {
    const system = await core();
    const cfaKey = `cfa-${'k3y'.repeat(12)}-atlas`;
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: cfaKey, expires_at: '2027-06-30', editeur: 'Sesame SAS', logiciel: 'Sesame', version: '1.2.0' } });
    const { key } = await system.apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    const client = await api(key);
    const res = await client.call('cfa-paris', 'opco-atlas');
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
    expect(res.json).toEqual({
      tenant: 'cfa-paris',
      credential: 'opco-atlas',
      kind: 'opco-atlas',
      environment: 'production',
      headers: { 'X-API-KEY': cfaKey, EDITEUR: 'Sesame SAS', LOGICIEL: 'Sesame', VERSION: '1.2.0' },
      base_url: null,
      expires_at: '2027-06-30T00:00:00.000Z',
      cached: false,
    });
    // An empty JSON body is accepted, as the README says.
    expect((await client.call('cfa-paris', 'opco-atlas', '{}')).statusCode).toBe(200);
    expectNoSecret(client.output(), cfaKey, key);
  });

  it('vends an FLA access token from a real OAuth endpoint with a signed client assertion, then from its cache', async () => {
    const system = await core();
    await system.tenants.put({ id: 'cfa-bruxelles', name: 'CFA Bruxelles', bce: '0123456749' });
    const accessToken = `at-${'x9'.repeat(20)}-${Date.now()}`;
    upstream = await startScriptedServer([{ status: 200, body: { ...tokenBody(accessToken, 3600), scope: 'scope:sigedis:gestion:careerpro-federal-learning-account:employer' } }]);
    const { pem, publicKey } = keyPair('rsa2048');
    await system.credentials.set({
      tenant: 'cfa-bruxelles',
      credential: 'fla-employer',
      environment: 'acceptance',
      fields: { client_id: 'self_service_chaman_4242', private_key: pem, quality: 'employer', token_endpoint: upstream.url },
    });
    const { key } = await system.apps.add({ app: 'payroll', tenants: ['cfa-bruxelles'], kinds: ['fla'] });
    const client = await api(key);
    const before = Date.now();
    const res = await client.call('cfa-bruxelles', 'fla-employer');
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({
      tenant: 'cfa-bruxelles',
      credential: 'fla-employer',
      kind: 'fla',
      environment: 'acceptance',
      headers: { Authorization: `Bearer ${accessToken}` },
      base_url: 'https://services-acpt.socialsecurity.be/REST',
      cached: false,
      access_token: accessToken,
      token_type: 'Bearer',
      scope: 'scope:sigedis:gestion:careerpro-federal-learning-account:employer',
    });
    const expires = Date.parse(res.json.expires_at as string);
    expect(expires).toBeGreaterThanOrEqual(before + 3_599_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3_600_000);

    // What the token endpoint really received: private_key_jwt, no client secret, no client_id field.
    expect(upstream.requests).toHaveLength(1);
    const form = upstream.requests[0]?.form as URLSearchParams;
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(form.has('client_id')).toBe(false);
    const assertion = form.get('client_assertion') as string;
    const { payload, protectedHeader } = await jwtVerify(assertion, createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })), {
      issuer: 'self_service_chaman_4242',
      subject: 'self_service_chaman_4242',
      audience: upstream.url,
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect((payload.exp as number) - (payload.iat as number)).toBe(300);
    expect(payload.jti).toEqual(expect.any(String));

    // The same execution environment serves the second request from its cache.
    const again = await client.call('cfa-bruxelles', 'fla-employer');
    expect(again.statusCode).toBe(200);
    expect(again.json).toMatchObject({ cached: true, access_token: accessToken });
    expect(upstream.requests).toHaveLength(1);
    expectNoSecret(client.output(), accessToken, assertion, pem.split('\n')[5] as string, key);
  });

  it('answers 502 upstream_rejected as problem+json when the token endpoint refuses the client', async () => {
    const system = await core();
    upstream = await startScriptedServer([{ status: 401, body: { error: 'invalid_client', error_description: 'unknown client' } }]);
    await system.credentials.set({ tenant: 'cfa-paris', credential: 'fla-employer', fields: { client_id: 'self_service_chaman_1', private_key: keyPair('rsa2048').pem, quality: 'employer', token_endpoint: upstream.url } });
    const { key } = await system.apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    const client = await api(key);
    const res = await client.call('cfa-paris', 'fla-employer');
    expect(res.statusCode).toBe(502);
    expect(res.headers).toMatchObject({ 'content-type': 'application/problem+json' });
    expect(res.json).toMatchObject({ type: 'urn:sesame:problem:upstream_rejected', status: 502, code: 'upstream_rejected', upstream_error: 'invalid_client' });
    expect(upstream.requests).toHaveLength(1);
    const form = upstream.requests[0]?.form as URLSearchParams;
    expectNoSecret(client.output(), form.get('client_assertion') as string, key);
  });

  it('answers 409 credential_incomplete as problem+json for a placeholder the stack declared', async () => {
    const system = await core();
    // As CloudFormation creates a declared credential: a placeholder body and the public tags.
    await new SecretsManagerClient({}).send(
      new CreateSecretCommand({
        Name: 'sesame/cfa-paris/chorus-piste',
        SecretString: JSON.stringify({ tenant: 'cfa-paris', credential: 'chorus-piste', kind: 'chorus-piste', placeholder: true }),
        Tags: [
          { Key: 'sesame:tenant', Value: 'cfa-paris' },
          { Key: 'sesame:credential', Value: 'chorus-piste' },
          { Key: 'sesame:kind', Value: 'chorus-piste' },
          { Key: 'sesame:environment', Value: 'production' },
        ],
      }),
    );
    const { key } = await system.apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    const client = await api(key);
    const res = await client.call('cfa-paris', 'chorus-piste');
    expect(res.statusCode).toBe(409);
    expect(res.headers).toMatchObject({ 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
    expect(res.json).toMatchObject({ type: 'urn:sesame:problem:credential_incomplete', status: 409, code: 'credential_incomplete', tenant: 'cfa-paris', credential: 'chorus-piste' });
    expect(jsonLines(client.output()).find((l) => l.message === 'request refused')).toMatchObject({ service: 'sesame-token', status: 409, code: 'credential_incomplete', app: 'billing' });
    expectNoSecret(client.output(), key);
  });

  it('answers 403 for a tenant outside the key scope and 404 for a missing credential inside it', async () => {
    const system = await core();
    const { key } = await system.apps.add({ app: 'billing', tenants: ['cfa-paris'] });
    const client = await api(key);
    const forbidden = await client.call('cfa-lyon', 'opco-atlas');
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json).toMatchObject({ code: 'forbidden', status: 403 });
    const missing = await client.call('cfa-paris', 'opco-akto');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers).toMatchObject({ 'content-type': 'application/problem+json' });
    expect(missing.json).toMatchObject({ code: 'unknown_credential', status: 404 });
  });
});
