import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_DIR, consoleFunction } from '../../lib/operator-console.ts';

/**
 * The console function exactly as `cdk deploy` uploads it: bundled by esbuild with the
 * page built by functions/console/build.ts in `console/` beside it, then run as Lambda's
 * Node runtime would (native ESM import of the asset's index.mjs), for the headers it sends.
 */
const ROOT = join(import.meta.dirname, '..', '..');
// Inside the repository, as test/aws/bundles.ts does: external imports of the bundle resolve from node_modules.
const OUT = join(ROOT, 'node_modules', '.cache', `sesame-console-bundle-${process.pid}-${Date.now().toString(36)}`);
const ENV = {
  SESAME_CONSOLE_ISSUER: 'https://id.example/realms/sesame',
  SESAME_CONSOLE_CLIENT_ID: 'sesame-console',
  SESAME_CONSOLE_SCOPE: 'openid email profile',
  SESAME_CONSOLE_RESOURCE: 'sesame-admin',
  SESAME_CONSOLE_CONNECT_SRC: 'https://login.example',
};

interface Result {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  body?: string;
  isBase64Encoded?: boolean;
}
type Handler = (event: unknown, context: unknown) => Promise<Result>;

let asset: string;
let handler: Handler;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  const flags = (JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
  const app = new App({ outdir: OUT, context: flags });
  const stack = new Stack(app, 'ConsoleBundle', { env: { account: '111122223333', region: 'eu-west-3' } });
  consoleFunction(stack, 'Page', ENV);
  const assembly = app.synth();
  const template = assembly.getStackByName('ConsoleBundle').template as { Resources: Record<string, { Type: string; Properties: { Code?: { S3Key?: string }; Handler?: string; Environment?: { Variables: Record<string, string> } } }> };
  const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
  const key = fn?.Properties.Code?.S3Key ?? '';
  asset = join(OUT, `asset.${key.replace(/\.zip$/, '')}`);
  expect(fn?.Properties.Handler).toBe('index.handler');
  // The template's environment, as Lambda sets it (NODE_OPTIONS applies to the runtime process, not here).
  for (const [k, v] of Object.entries({ ...fn?.Properties.Environment?.Variables, AWS_LAMBDA_FUNCTION_NAME: 'Sesame-console', POWERTOOLS_TRACE_ENABLED: 'false' })) {
    if (k === 'NODE_OPTIONS') continue;
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  const mod = (await import(/* @vite-ignore */ pathToFileURL(join(asset, 'index.mjs')).href)) as { handler: Handler };
  handler = mod.handler;
}, 120_000);

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(OUT, { recursive: true, force: true });
});

const event = (path: string) => ({
  version: '2.0',
  routeKey: path === '/console' ? 'GET /console' : 'GET /console/{proxy+}',
  rawPath: path,
  rawQueryString: '',
  headers: { host: 'abc.execute-api.eu-west-3.amazonaws.com', 'accept-language': 'fr-FR,fr;q=0.9' },
  ...(path === '/console' ? {} : { pathParameters: { proxy: path.replace(/^\/console\//, '') } }),
  requestContext: {
    accountId: '111122223333',
    apiId: 'abc',
    domainName: 'abc.execute-api.eu-west-3.amazonaws.com',
    domainPrefix: 'abc',
    http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'vitest' },
    requestId: 'req-1',
    routeKey: path === '/console' ? 'GET /console' : 'GET /console/{proxy+}',
    stage: '$default',
    time: '01/Jan/2026:00:00:00 +0000',
    timeEpoch: 1767225600000,
  },
  isBase64Encoded: false,
});
const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'Sesame-console',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-3:111122223333:function:Sesame-console',
  memoryLimitInMB: '256',
  awsRequestId: '00000000-0000-4000-8000-000000000001',
  logGroupName: '/aws/lambda/Sesame-console',
  logStreamName: '2026/01/01/[$LATEST]0',
  getRemainingTimeInMillis: () => 5_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};
const header = (r: Result, name: string) => {
  const found = Object.entries(r.headers ?? {}).find(([k]) => k.toLowerCase() === name);
  return found === undefined ? undefined : String(found[1]);
};
const bodyOf = (r: Result) => (r.isBase64Encoded ? Buffer.from(r.body ?? '', 'base64').toString('utf8') : (r.body ?? ''));
const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));

describe('the bundled console function', () => {
  it('ships the built page beside its bundle, under 100 KB gzipped', () => {
    const dir = join(asset, CONSOLE_DIR);
    expect(existsSync(join(dir, 'index.html'))).toBe(true);
    const shipped = files(dir);
    expect(shipped.length).toBeGreaterThan(1);
    const gzipped = shipped.reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0);
    expect(gzipped, shipped.map((f) => relative(dir, f)).join(', ')).toBeLessThan(100 * 1024);
  });

  it('answers the page with a strict CSP, no referrer, no sniffing, and no inline script', async () => {
    for (const path of ['/console', '/console/', '/console/callback']) {
      const res = await handler(event(path), context);
      expect(res.statusCode, path).toBe(200);
      const csp = header(res, 'content-security-policy') ?? '';
      const directives = Object.fromEntries(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => [d.split(/\s+/)[0], d.split(/\s+/).slice(1)]));
      expect(directives['default-src'], path).toEqual(["'none'"]);
      expect(directives['script-src'], path).toEqual(["'self'"]);
      expect(directives['style-src'], path).toEqual(["'self'"]);
      expect(directives['base-uri'], path).toEqual(["'none'"]);
      expect(directives['frame-ancestors'], path).toEqual(["'none'"]);
      // The issuer's origin (discovery, token endpoint) and the configured extra origin, nothing broader.
      expect(directives['connect-src'], path).toEqual(expect.arrayContaining(["'self'", 'https://id.example', 'https://login.example']));
      expect(directives['form-action'], path).toEqual(expect.arrayContaining(["'self'", 'https://id.example']));
      expect(csp, path).not.toMatch(/unsafe-inline|unsafe-eval|\*|http:/);
      expect(header(res, 'referrer-policy'), path).toBe('no-referrer');
      expect(header(res, 'x-content-type-options'), path).toBe('nosniff');
      expect(header(res, 'content-type'), path).toMatch(/^text\/html/);
      const html = bodyOf(res);
      for (const tag of html.match(/<script\b[^>]*>/gi) ?? []) expect(tag, path).toMatch(/\ssrc=/);
      expect(html, path).not.toMatch(/<script\b[^>]*>[^<\s]/i);
      expect(html, path).not.toMatch(/\son[a-z]+=/i);
    }
  });

  it('serves its own assets with the same headers', async () => {
    const dir = join(asset, CONSOLE_DIR);
    const assets = files(dir).map((f) => relative(dir, f)).filter((f) => f !== 'index.html');
    for (const file of assets) {
      const res = await handler(event(`/console/${file}`), context);
      expect(res.statusCode, file).toBe(200);
      expect(header(res, 'content-security-policy'), file).toMatch(/default-src 'none'/);
      expect(header(res, 'x-content-type-options'), file).toBe('nosniff');
    }
  });

  it('tells the page its issuer, client, scope and resource, from the environment the stack sets', async () => {
    const res = await handler(event('/console/config.json'), context);
    expect(res.statusCode).toBe(200);
    expect(header(res, 'content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(bodyOf(res))).toMatchObject({ issuer: ENV.SESAME_CONSOLE_ISSUER, client_id: ENV.SESAME_CONSOLE_CLIENT_ID, scope: ENV.SESAME_CONSOLE_SCOPE, resource: ENV.SESAME_CONSOLE_RESOURCE });
  });
});
