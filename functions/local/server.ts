import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { makeJwtAuthorizer, type JwtAuthorizer } from '../adapters/jwt-authorizer.ts';
import type { System } from '../adapters/system.ts';
import { makeAdminHandler } from '../admin/admin.ts';
import { ADMIN_UPLOAD_MAX_BODY_BYTES } from '../core/admin-api.ts';
import { makeAuthorizerHandler } from '../authorizer/authorizer.ts';
import { matchRoute, MAX_BODY_BYTES, problemResponse } from '../core/api.ts';
import { describeError, SesameError } from '../core/errors.ts';
import { makeTokenHandler, type TokenEvent } from '../token/token.ts';
import { CONNECT_MAX_BODY_BYTES, CONNECT_PREFIX, makeConnectHandler } from '../connect/connect.ts';

/**
 * The local broker: the same authorizer and token handlers as in AWS, fed with the
 * API Gateway events node:http requests would have produced. With an operator
 * issuer, also the admin API behind the equivalent of API Gateway's JWT authorizer,
 * and the operator console.
 */
export interface LocalServer {
  url: string;
  server: Server;
  /**
   * Who logs operators in: the admin API accepts its access tokens from now on, and
   * the console is configured to log in there. The broker's own URL (the console's
   * redirect URI) is known only once it listens, hence after the start.
   */
  setOperatorAuth(auth: OperatorAuth): void;
  close(): Promise<void>;
}

/** The operators' OpenID provider, as API Gateway's JWT authorizer and the console see it. */
export interface OperatorAuth {
  issuer: string;
  /** The access tokens' audience(s): `sesame-admin` locally. */
  audience: string | string[];
  /** The console's public client. */
  clientId: string;
  /** What the console asks for, e.g. `openid profile email sesame:admin`. */
  scope: string;
  /** The admin API's resource indicator, when the issuer wants one named. */
  resource?: string;
  jwksUri?: string;
}

export interface LocalServerOptions {
  port?: number;
  host?: string;
  operatorAuth?: OperatorAuth;
  /** The built console (functions/console/build.ts); without it, built at the first setOperatorAuth. */
  consoleDir?: string;
}

/**
 * The admin API takes certificate uploads (base64 in JSON): larger bodies than the token
 * API. This is the transport's limit, as API Gateway's; each admin route has its own.
 */
const ADMIN_MAX_BODY_BYTES = ADMIN_UPLOAD_MAX_BODY_BYTES;
const ADMIN_PREFIX = '/v1/admin/';
const isAdminPath = (path: string) => path.startsWith(ADMIN_PREFIX) || path === '/v1/admin';
const isConsolePath = (path: string) => path === '/console' || path.startsWith('/console/');
const isConnectPath = (path: string) => path.startsWith(CONNECT_PREFIX);

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number, encoding: BufferEncoding = 'utf8'): Promise<string> {
  // Most token requests have no body: nothing to wait for, no listener to add and remove.
  // (RFC 9112 §6.3: a request with neither Content-Length nor Transfer-Encoding has no body.)
  const length = req.headers['content-length'];
  if (length === '0' || (length === undefined && req.headers['transfer-encoding'] === undefined)) {
    req.resume();
    return Promise.resolve('');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString(encoding)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, out: APIGatewayProxyStructuredResultV2, close = false): void {
  if (close) res.setHeader('connection', 'close');
  res.writeHead(out.statusCode ?? 200, out.headers as Record<string, string> | undefined);
  res.end(out.isBase64Encoded && out.body ? Buffer.from(out.body, 'base64') : (out.body ?? ''));
}

let requestCount = 0;

type RequestUrl = Pick<URL, 'pathname' | 'search' | 'searchParams' | 'host'>;
const NO_QUERY = new URLSearchParams();
/** A path of plain segments, none starting with a dot: `new URL` would give it back unchanged. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+\/?$/;

/** The request's URL, parsed only when it has a query or anything `new URL` would normalise. */
function requestUrl(raw: string | undefined, host: string): RequestUrl {
  if (raw !== undefined && PLAIN_PATH.test(raw)) return { pathname: raw, search: '', searchParams: NO_QUERY, host };
  return new URL(raw ?? '/', `http://${host}`);
}

function toEvent(req: IncomingMessage, url: RequestUrl, body: string, isBase64Encoded = false): TokenEvent {
  const headers: Record<string, string> = {};
  const given = req.headers;
  for (const k in given) {
    const v = given[k];
    if (typeof v === 'string') headers[k] = v;
  }
  const now = Date.now();
  // As API Gateway: repeated parameters joined with commas; absent when there is no query.
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(url.search.length > 1 ? { queryStringParameters: query } : {}),
    headers,
    body: body === '' ? undefined : body,
    isBase64Encoded,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      http: { method: req.method ?? 'GET', path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '', userAgent: headers['user-agent'] ?? '' },
      requestId: `local-${++requestCount}`,
      routeKey: '$default',
      stage: '$default',
      time: String(now),
      timeEpoch: now,
      authorizer: { lambda: {}, principalId: '', integrationLatency: 0 },
    },
  } as TokenEvent;
}

/** 401 for the admin API, as API Gateway's JWT authorizer answers, in our problem+json. */
function unauthorizedOperator(presented: boolean): APIGatewayProxyStructuredResultV2 {
  const out = problemResponse(new SesameError('unauthorized', 'a valid operator access token is required: Authorization: Bearer <access token>'));
  out.headers['www-authenticate'] = presented ? 'Bearer realm="sesame-admin", error="invalid_token"' : 'Bearer realm="sesame-admin"';
  return out;
}

export async function startLocalServer(system: System, options: LocalServerOptions = {}): Promise<LocalServer> {
  const host = options.host ?? '127.0.0.1';
  const tokenHandler = makeTokenHandler(system.api);
  // Unlike API Gateway, no verdict cache: every request is checked against the app record,
  // which system.appLookup re-reads as soon as it changes (`sesame app revoke` in another
  // process holds from the next request). A verdict costs a SHA-256 and, locally, one stat.
  const authorize = makeAuthorizerHandler(system.apps, system.log, system.appLookup);
  const adminHandler = makeAdminHandler(system.admin);
  const connectHandler = makeConnectHandler(system.connect, system.log);
  type ConsoleHandler = import('../console/console.ts').ConsoleHandler;
  // The console's files: given, or built once (esbuild, about a second) into a temporary folder.
  let built: Promise<string> | undefined;
  let builtDir: string | undefined;
  const consoleDir = () =>
    options.consoleDir !== undefined
      ? Promise.resolve(options.consoleDir)
      : (built ??= (async () => {
          const { buildConsole } = await import('../console/build.ts');
          builtDir = await mkdtemp(join(tmpdir(), 'sesame-console-'));
          return buildConsole(builtDir);
        })());
  let operator: { auth: OperatorAuth; verify: JwtAuthorizer; console: Promise<ConsoleHandler> } | undefined;
  const setOperatorAuth = (auth: OperatorAuth) => {
    // Loaded only with an operator issuer: the token API alone needs none of the console.
    const consoleHandler = Promise.all([import('../console/console.ts'), consoleDir()]).then(([{ makeConsoleHandler }, dir]) =>
      makeConsoleHandler({
        dir,
        env: {
          SESAME_CONSOLE_ISSUER: auth.issuer,
          SESAME_CONSOLE_CLIENT_ID: auth.clientId,
          SESAME_CONSOLE_SCOPE: auth.scope,
          ...(auth.resource ? { SESAME_CONSOLE_RESOURCE: auth.resource } : {}),
        },
      }),
    );
    consoleHandler.catch(() => undefined); // reported when the console is asked for
    operator = {
      auth,
      // The clock is the system's: a test moves it past a token's expiry, no sleep.
      verify: makeJwtAuthorizer({ issuer: auth.issuer, audience: auth.audience, clock: system.clock, ...(auth.jwksUri ? { jwksUri: auth.jwksUri } : {}) }),
      console: consoleHandler,
    };
  };
  if (options.operatorAuth) setOperatorAuth(options.operatorAuth);

  const server = createServer(async (req, res) => {
    const url = requestUrl(req.url, host);
    try {
      const admin = isAdminPath(url.pathname);
      // Connect pages take form posts and certificate files: raw bytes, base64 as API Gateway passes binary bodies.
      const connect = isConnectPath(url.pathname);
      const limit = admin ? ADMIN_MAX_BODY_BYTES : connect ? CONNECT_MAX_BODY_BYTES : MAX_BODY_BYTES;
      let body: string;
      try {
        body = await readBody(req, limit, connect ? 'base64' : 'utf8');
      } catch (err) {
        if (!(err instanceof BodyTooLarge)) throw err;
        send(res, problemResponse(new SesameError('payload_too_large', `request bodies are limited to ${limit} bytes`)), true);
        return;
      }
      const event = toEvent(req, url, body, connect && body !== '');
      if (connect) {
        send(res, await connectHandler(event as unknown as APIGatewayProxyEventV2));
        return;
      }
      if (admin) {
        // API Gateway's JWT authorizer: no valid token, no call to the function.
        const authorization = event.headers.authorization;
        const verdict = operator ? await operator.verify(authorization) : undefined;
        if (!verdict) {
          send(res, unauthorizedOperator(authorization !== undefined));
          return;
        }
        const adminEvent = {
          ...(event as unknown as APIGatewayProxyEventV2),
          requestContext: { ...event.requestContext, authorizer: { principalId: '', integrationLatency: 0, jwt: { claims: verdict.claims, scopes: verdict.scopes } } },
        } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
        send(res, await adminHandler(adminEvent));
        return;
      }
      if (isConsolePath(url.pathname)) {
        if (!operator) {
          send(res, problemResponse(new SesameError('not_found', 'the operator console needs an OpenID provider: `sesame dev` starts one')));
          return;
        }
        send(res, await (await operator.console)(event as unknown as APIGatewayProxyEventV2));
        return;
      }
      let route;
      try {
        route = matchRoute(event.requestContext.http.method, url.pathname).route;
      } catch {
        route = undefined; // the token handler answers 404/405 itself
      }
      if (route?.auth) {
        const verdict = await authorize(event);
        if (!verdict.isAuthorized) {
          send(res, problemResponse(new SesameError('unauthorized', 'a valid app key is required: Authorization: Bearer <app key>')));
          return;
        }
        event.requestContext.authorizer = { lambda: verdict.context, principalId: '', integrationLatency: 0 } as TokenEvent['requestContext']['authorizer'];
      }
      send(res, await tokenHandler(event));
    } catch (err) {
      // Refusals are logged by the API itself; this is what escaped it.
      system.log.error('local server failure', describeError(err));
      if (!res.headersSent) send(res, problemResponse(err));
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    server,
    setOperatorAuth,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      // What the requests it served recorded is written before close() returns: a caller
      // removing the folder next (a test) or exiting (sesame dev) loses nothing, and no
      // write lands in a folder being removed.
      await system.audit?.flush({ timeoutMs: 5_000 });
      await built?.catch(() => undefined);
      if (builtDir) await rm(builtDir, { recursive: true, force: true });
    },
  };
}
