import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleSync, CONSOLE_FILES } from '../../functions/console/build.ts';
import { makeConsoleHandler, type ConsoleEnv } from '../../functions/console/console.ts';

/** The console's serving function, as API Gateway calls it: files, config and headers. */
let dir: string;
beforeAll(async () => {
  dir = buildConsoleSync(await mkdtemp(join(tmpdir(), 'sesame-console-')));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const ENV: ConsoleEnv = {
  SESAME_CONSOLE_ISSUER: 'https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_AbCdEf',
  SESAME_CONSOLE_CLIENT_ID: 'console-client',
  SESAME_CONSOLE_SCOPE: 'openid email sesame/admin',
};

const event = (path: string, method = 'GET') =>
  ({ rawPath: path, requestContext: { http: { method, path } }, headers: {}, isBase64Encoded: false }) as unknown as APIGatewayProxyEventV2;

describe('the console function', () => {
  it('builds index.html, app.js and app.css, the page naming only its own files', async () => {
    const html = await readFile(join(dir, 'index.html'), 'utf8');
    for (const f of CONSOLE_FILES) expect((await readFile(join(dir, f))).length).toBeGreaterThan(100);
    expect(html).toMatch(/<script type="module" src="\/console\/app\.js\?v=[0-9a-f]{12}"><\/script>/);
    expect(html).toMatch(/<link rel="stylesheet" href="\/console\/app\.css\?v=[0-9a-f]{12}">/);
  });

  it.each([
    ['/console', 'text/html; charset=utf-8', 'no-cache'],
    ['/console/', 'text/html; charset=utf-8', 'no-cache'],
    ['/console/callback', 'text/html; charset=utf-8', 'no-cache'],
    ['/console/app.js', 'text/javascript; charset=utf-8', 'public, max-age=300'],
    ['/console/app.css', 'text/css; charset=utf-8', 'public, max-age=300'],
    ['/console/config.json', 'application/json', 'no-store'],
  ])('serves %s as %s with the security headers', async (path, type, cache) => {
    const res = await makeConsoleHandler({ dir, env: ENV })(event(path));
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'content-type': type,
      'cache-control': cache,
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'content-security-policy':
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' https://cognito-idp.eu-west-3.amazonaws.com; " +
        "form-action 'self' https://cognito-idp.eu-west-3.amazonaws.com; base-uri 'none'; frame-ancestors 'none'",
    });
  });

  it('says which issuer and client to use, with the resource only when set', async () => {
    const plain = await makeConsoleHandler({ dir, env: ENV })(event('/console/config.json'));
    expect(JSON.parse(plain.body as string)).toEqual({ issuer: ENV.SESAME_CONSOLE_ISSUER, client_id: 'console-client', scope: 'openid email sesame/admin' });
    const withResource = await makeConsoleHandler({ dir, env: { ...ENV, SESAME_CONSOLE_RESOURCE: 'urn:sesame:admin' } })(event('/console/config.json'));
    expect(JSON.parse(withResource.body as string)).toMatchObject({ resource: 'urn:sesame:admin' });
  });

  it('lets the browser call the extra origins named in SESAME_CONSOLE_CONNECT_SRC', async () => {
    const res = await makeConsoleHandler({ dir, env: { ...ENV, SESAME_CONSOLE_CONNECT_SRC: 'https://sesame-ops.auth.eu-west-3.amazoncognito.com' } })(event('/console/'));
    expect(res.headers?.['content-security-policy']).toContain(
      "connect-src 'self' https://cognito-idp.eu-west-3.amazonaws.com https://sesame-ops.auth.eu-west-3.amazoncognito.com;",
    );
  });

  it.each([
    ['/console/other.js', 'GET', 404],
    ['/console/../README.md', 'GET', 404],
    ['/consolex', 'GET', 404],
    ['/console/', 'POST', 405],
  ])('answers %s %s with %i, headers included', async (path, method, status) => {
    const res = await makeConsoleHandler({ dir, env: ENV })(event(path, method));
    expect(res.statusCode).toBe(status);
    expect(res.headers?.['content-type']).toBe('application/problem+json');
    expect(res.headers?.['content-security-policy']).toContain("frame-ancestors 'none'");
    if (status === 405) expect(res.headers?.allow).toBe('GET, HEAD');
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await makeConsoleHandler({ dir, env: ENV })(event('/console/app.js', 'HEAD'));
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
  });

  it.each(['SESAME_CONSOLE_ISSUER', 'SESAME_CONSOLE_CLIENT_ID', 'SESAME_CONSOLE_SCOPE'])('fails at start, naming %s, when it is missing', (name) => {
    const env = { ...ENV, [name]: undefined };
    expect(() => makeConsoleHandler({ dir, env })).toThrow(name);
  });

  it.each([
    ['SESAME_CONSOLE_ISSUER', 'http://issuer.example'],
    ['SESAME_CONSOLE_ISSUER', 'not a url'],
    ['SESAME_CONSOLE_CONNECT_SRC', 'http://evil.example'],
  ])('refuses %s=%s: https only, plain http on loopback alone', (name, value) => {
    expect(() => makeConsoleHandler({ dir, env: { ...ENV, [name]: value } })).toThrow(name);
  });

  it('accepts a loopback issuer over plain http, as `sesame dev` runs it', async () => {
    const res = await makeConsoleHandler({ dir, env: { ...ENV, SESAME_CONSOLE_ISSUER: 'http://127.0.0.1:41607' } })(event('/console/'));
    expect(res.headers?.['content-security-policy']).toContain("connect-src 'self' http://127.0.0.1:41607;");
  });
});
