import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAdminHandler, operatorFromClaims, type AdminEvent } from '../../functions/admin/admin.ts';
import { adminFixture, type AdminFixture } from './admin-fixtures.ts';

/** The Lambda adapter: an HTTP API (payload 2.0) event whose JWT authorizer passed the token's claims. */
let f: AdminFixture;
let handle: ReturnType<typeof makeAdminHandler>;
beforeAll(async () => {
  f = await adminFixture();
  handle = makeAdminHandler(f.system.admin);
});
afterAll(() => f.cleanup());

function event(method: string, rawPath: string, options: { claims?: Record<string, unknown> | null; query?: Record<string, string>; body?: string; base64?: boolean } = {}): AdminEvent {
  const claims = options.claims === undefined ? { sub: 'abc-123', 'cognito:username': 'alice', email: 'alice@example.com', iss: 'https://issuer.example', aud: 'sesame-admin' } : options.claims;
  return {
    version: '2.0',
    routeKey: `${method} ${rawPath}`,
    rawPath,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: {},
    ...(options.query ? { queryStringParameters: options.query } : {}),
    ...(options.body !== undefined ? { body: options.base64 ? Buffer.from(options.body).toString('base64') : options.body } : {}),
    isBase64Encoded: options.base64 === true,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'x.execute-api.eu-west-3.amazonaws.com',
      domainPrefix: 'x',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'r',
      routeKey: `${method} ${rawPath}`,
      stage: '$default',
      time: '',
      timeEpoch: 0,
      ...(claims === null ? {} : { authorizer: { jwt: { claims, scopes: null } } }),
    },
  } as AdminEvent;
}

describe('the admin Lambda adapter', () => {
  it('takes the operator from the verified claims: sub, the Cognito username, the email', async () => {
    const r = await handle(event('GET', '/v1/admin/me'));
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.body as string)).toEqual({ sub: 'abc-123', username: 'alice', email: 'alice@example.com' });
  });

  it.each([
    [{ sub: 'x', username: 'bob' }, { sub: 'x', username: 'bob' }],
    [{ sub: 'x', preferred_username: 'carol' }, { sub: 'x', username: 'carol' }],
    [{ sub: 'x', email: 42 }, { sub: 'x' }],
    [{ username: 'no-sub' }, undefined],
    [{ sub: '' }, undefined],
    [undefined, undefined],
  ])('reads claims %j as %j', (claims, operator) => {
    expect(operatorFromClaims(claims as Record<string, unknown> | undefined)).toEqual(operator);
  });

  it.each([
    ['its sub', ['abc-123'], 200],
    ['its email, whatever the case', ['Alice@Example.com'], 200],
    ['its username', ['alice'], 200],
    ['nothing of it', ['bob@example.com', 'other-sub'], 403],
  ])('with an operators list (an external issuer), admits an account when the list names %s', async (_what, operators, status) => {
    const listed = makeAdminHandler(f.system.admin, { operators });
    const r = await listed(event('GET', '/v1/admin/credentials'));
    expect(r.statusCode).toBe(status);
    if (status === 403) expect(JSON.parse(r.body as string)).toMatchObject({ code: 'forbidden', detail: expect.stringContaining('console.operators') });
  });

  it('refuses with 401 an event that has no authorizer context (a route left unprotected)', async () => {
    const r = await handle(event('GET', '/v1/admin/credentials', { claims: null }));
    expect(r.statusCode).toBe(401);
    expect(JSON.parse(r.body as string).code).toBe('unauthorized');
  });

  it('passes the query string and a base64-encoded body', async () => {
    const page = await handle(event('GET', '/v1/admin/credentials', { query: { tenant: 'bxl', limit: '1' } }));
    expect(JSON.parse(page.body as string)).toMatchObject({ matching: 2, items: [{ tenant: 'bxl', credential: 'fla-employer' }] });
    const added = await handle(event('POST', '/v1/admin/tenants', { body: JSON.stringify({ id: 'from-lambda', name: 'Lambda' }), base64: true }));
    expect(added.statusCode).toBe(201);
    expect(added.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
  });
});
