import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { System } from '../adapters/system.ts';
import { makeAuthorizerHandler } from '../authorizer/authorizer.ts';
import { matchRoute, MAX_BODY_BYTES, problemResponse } from '../core/api.ts';
import { SesameError } from '../core/errors.ts';
import { makeTokenHandler, type TokenEvent } from '../token/token.ts';

/**
 * The local broker: the same authorizer and token handlers as in AWS, fed with the
 * API Gateway events node:http requests would have produced.
 */
export interface LocalServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, out: APIGatewayProxyStructuredResultV2, close = false): void {
  const headers = { ...(out.headers ?? {}), ...(close ? { connection: 'close' } : {}) } as Record<string, string>;
  res.writeHead(out.statusCode ?? 200, headers);
  res.end(out.body ?? '');
}

function toEvent(req: IncomingMessage, url: URL, body: string): TokenEvent {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    body: body === '' ? undefined : body,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      http: { method: req.method ?? 'GET', path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '', userAgent: headers['user-agent'] ?? '' },
      requestId: `${now}-${Math.random().toString(36).slice(2)}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      authorizer: { lambda: {}, principalId: '', integrationLatency: 0 },
    },
  } as TokenEvent;
}

export async function startLocalServer(system: System, options: { port?: number; host?: string } = {}): Promise<LocalServer> {
  const host = options.host ?? '127.0.0.1';
  const tokenHandler = makeTokenHandler(system.api);
  const authorizerHandler = makeAuthorizerHandler(system.apps, system.log, system.appLookup);

  const server = createServer(async (req, res) => {
    const started = performance.now();
    const url = new URL(req.url ?? '/', `http://${host}`);
    let status = 500;
    try {
      let body: string;
      try {
        body = await readBody(req);
      } catch (err) {
        if (!(err instanceof BodyTooLarge)) throw err;
        const out = problemResponse(new SesameError('payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`));
        status = out.statusCode;
        send(res, out, true);
        return;
      }
      const event = toEvent(req, url, body);
      let route;
      try {
        route = matchRoute(event.requestContext.http.method, url.pathname).route;
      } catch {
        route = undefined; // the token handler answers 404/405 itself
      }
      if (route?.auth) {
        const verdict = await authorizerHandler(event);
        if (!verdict.isAuthorized) {
          const out = problemResponse(new SesameError('unauthorized', 'a valid app key is required: Authorization: Bearer <app key>'));
          status = out.statusCode;
          send(res, out);
          return;
        }
        event.requestContext.authorizer = { lambda: verdict.context, principalId: '', integrationLatency: 0 } as TokenEvent['requestContext']['authorizer'];
      }
      const out = await tokenHandler(event);
      status = out.statusCode ?? 200;
      send(res, out);
    } catch (err) {
      const out = problemResponse(err);
      status = out.statusCode;
      if (!res.headersSent) send(res, out);
    } finally {
      system.log.debug('request', { method: req.method, path: url.pathname.slice(0, 200), status, ms: Math.round((performance.now() - started) * 100) / 100 });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
