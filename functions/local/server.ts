import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { System } from '../adapters/system.ts';
import { makeAuthorizerHandler } from '../authorizer/authorizer.ts';
import { matchRoute, MAX_BODY_BYTES, problemResponse } from '../core/api.ts';
import { describeError, SesameError } from '../core/errors.ts';
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
  if (close) res.setHeader('connection', 'close');
  res.writeHead(out.statusCode ?? 200, out.headers as Record<string, string> | undefined);
  res.end(out.body ?? '');
}

let requestCount = 0;

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
      requestId: `local-${++requestCount}`,
      routeKey: '$default',
      stage: '$default',
      time: String(now),
      timeEpoch: now,
      authorizer: { lambda: {}, principalId: '', integrationLatency: 0 },
    },
  } as TokenEvent;
}

export async function startLocalServer(system: System, options: { port?: number; host?: string } = {}): Promise<LocalServer> {
  const host = options.host ?? '127.0.0.1';
  const tokenHandler = makeTokenHandler(system.api);
  // Unlike API Gateway, no verdict cache: every request is checked against the app record,
  // which system.appLookup re-reads as soon as it changes (`sesame app revoke` in another
  // process holds from the next request). A verdict costs a SHA-256 and, locally, one stat.
  const authorize = makeAuthorizerHandler(system.apps, system.log, system.appLookup);

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    try {
      let body: string;
      try {
        body = await readBody(req);
      } catch (err) {
        if (!(err instanceof BodyTooLarge)) throw err;
        send(res, problemResponse(new SesameError('payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`)), true);
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
