import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * Serves the operator console: the built files and `/console/config.json`, which tells
 * the browser which OpenID Connect issuer and public client to use. Every answer carries
 * a strict Content-Security-Policy: scripts and styles from this origin only, network
 * calls to this origin and the issuer only, no framing.
 */
export interface ConsoleEnv {
  SESAME_CONSOLE_ISSUER?: string;
  SESAME_CONSOLE_CLIENT_ID?: string;
  SESAME_CONSOLE_SCOPE?: string;
  /** The resource indicator (RFC 8707) of the admin API, when the issuer wants one. */
  SESAME_CONSOLE_RESOURCE?: string;
  /** More origins the browser may call, space-separated (e.g. a Cognito domain's token endpoint). */
  SESAME_CONSOLE_CONNECT_SRC?: string;
  [name: string]: string | undefined;
}

export interface ConsoleConfig {
  issuer: string;
  client_id: string;
  scope: string;
  resource?: string;
}

export type ConsoleHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

function required(env: ConsoleEnv, name: keyof ConsoleEnv & string): string {
  const v = env[name]?.trim();
  if (!v) throw new Error(`the console needs the environment variable ${name}`);
  return v;
}

function origin(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be an absolute URL, got "${value.slice(0, 200)}"`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))) {
    throw new Error(`${name} must be an https URL (plain http only on loopback), got "${url.origin}"`);
  }
  return url.origin;
}

/** Reads and checks the console's configuration; throws naming the first missing or wrong variable. */
export function consoleConfig(env: ConsoleEnv): { config: ConsoleConfig; csp: string } {
  const issuer = required(env, 'SESAME_CONSOLE_ISSUER');
  const issuerOrigin = origin(issuer, 'SESAME_CONSOLE_ISSUER');
  const config: ConsoleConfig = {
    issuer,
    client_id: required(env, 'SESAME_CONSOLE_CLIENT_ID'),
    scope: required(env, 'SESAME_CONSOLE_SCOPE'),
    ...(env.SESAME_CONSOLE_RESOURCE?.trim() ? { resource: env.SESAME_CONSOLE_RESOURCE.trim() } : {}),
  };
  const extra = (env.SESAME_CONSOLE_CONNECT_SRC ?? '').split(/\s+/).filter((s) => s.length > 0).map((s) => origin(s, 'SESAME_CONSOLE_CONNECT_SRC'));
  const connect = [...new Set(["'self'", issuerOrigin, ...extra])].join(' ');
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect}`,
    `form-action 'self' ${issuerOrigin}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { config, csp };
}

interface Asset {
  body: string;
  type: string;
  cache: string;
}

const PAGE_CACHE = 'no-cache';
/** app.js and app.css are named in index.html with a version query: a new build is a new URL. */
const ASSET_CACHE = 'public, max-age=300';

export function makeConsoleHandler(options: { dir: string; env: ConsoleEnv }): ConsoleHandler {
  const { config, csp } = consoleConfig(options.env);
  const read = (name: string) => readFileSync(join(options.dir, name), 'utf8');
  const index: Asset = { body: read('index.html'), type: 'text/html; charset=utf-8', cache: PAGE_CACHE };
  const assets = new Map<string, Asset>([
    ['/console', index],
    ['/console/', index],
    ['/console/callback', index],
    ['/console/app.js', { body: read('app.js'), type: 'text/javascript; charset=utf-8', cache: ASSET_CACHE }],
    ['/console/app.css', { body: read('app.css'), type: 'text/css; charset=utf-8', cache: ASSET_CACHE }],
    ['/console/config.json', { body: JSON.stringify(config), type: 'application/json', cache: 'no-store' }],
  ]);
  const security = {
    'content-security-policy': csp,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
  const problem = (status: number, title: string, detail: string, more: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 => ({
    statusCode: status,
    headers: { ...security, 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...more },
    body: JSON.stringify({ type: 'about:blank', title, status, detail, code: status === 404 ? 'not_found' : 'method_not_allowed' }),
  });

  return async (event) => {
    const method = event.requestContext?.http?.method ?? 'GET';
    const path = event.rawPath ?? event.requestContext?.http?.path ?? '/';
    const asset = assets.get(path);
    if (!asset) return problem(404, 'Not Found', `no such console file: ${path.slice(0, 200)}`);
    if (method !== 'GET' && method !== 'HEAD') return problem(405, 'Method Not Allowed', `${method.slice(0, 16)} is not allowed here; use GET`, { allow: 'GET, HEAD' });
    return {
      statusCode: 200,
      headers: { ...security, 'content-type': asset.type, 'cache-control': asset.cache },
      body: method === 'HEAD' ? '' : asset.body,
    };
  };
}
