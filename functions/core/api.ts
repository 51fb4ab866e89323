import type { Principal } from './apps.ts';
import type { Broker } from './broker.ts';
import { describeError, SesameError, toProblem } from './errors.ts';
import { audit, type AuditSink } from './audit.ts';
import type { Log } from './ports.ts';

export const MAX_BODY_BYTES = 16 * 1024;

export type Operation = 'health' | 'openapi' | 'token' | 'assertion';

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  operation: Operation;
  /** Requires an app key. */
  auth: boolean;
}

/** The API's routes: the OpenAPI document, the local server and the CDK stack all read this table. */
export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/v1/health', operation: 'health', auth: false },
  { method: 'GET', path: '/v1/openapi.json', operation: 'openapi', auth: false },
  { method: 'POST', path: '/v1/tenants/{tenant}/credentials/{credential}/token', operation: 'token', auth: true },
  { method: 'POST', path: '/v1/tenants/{tenant}/credentials/{credential}/assertion', operation: 'assertion', auth: true },
];

/**
 * A matcher over a route table: the route of a request and its path parameters, or
 * not_found / method_not_allowed (with the methods allowed).
 */
export function routeMatcher<R extends { method: string; path: string }>(routes: readonly R[]): (method: string, path: string) => { route: R; params: Record<string, string> } {
  const compiled = routes.map((route) => ({
    route,
    pattern: new RegExp(`^${route.path.replace(/\./g, '\\.').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`),
  }));
  // A token endpoint sees the same few paths again and again: each is matched once, then
  // found here (bounded: emptied when full, as junk paths must not grow it without end).
  const memo = new Map<string, { route: R; params: Record<string, string> }>();
  return (method, path) => {
    const memoKey = `${method} ${path}`;
    const known = memo.get(memoKey);
    if (known) return known;
    let groups: Record<string, string> | undefined;
    let hit: R | undefined;
    const allowed: string[] = [];
    for (const c of compiled) {
      const m = c.pattern.exec(path);
      if (!m) continue;
      allowed.push(c.route.method);
      if (c.route.method === method) {
        hit = c.route;
        groups = m.groups;
        break;
      }
    }
    if (!hit) {
      if (allowed.length === 0) throw new SesameError('not_found', `no such endpoint: ${path.slice(0, 200)}`);
      throw new SesameError('method_not_allowed', `${method.slice(0, 16)} is not allowed here; use ${allowed.join(', ')}`, { details: { allow: allowed } });
    }
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(groups ?? {})) {
      try {
        params[k] = v.includes('%') ? decodeURIComponent(v) : v;
      } catch {
        throw new SesameError('invalid_request', `path parameter ${k} is not valid percent-encoding`);
      }
    }
    const matched = { route: hit, params: Object.freeze(params) };
    if (memo.size >= MATCH_MEMO_ENTRIES) memo.clear();
    memo.set(memoKey, matched);
    return matched;
  };
}

const MATCH_MEMO_ENTRIES = 1_000;

/** Finds the route of a request, or throws not_found / method_not_allowed. */
export const matchRoute = routeMatcher(ROUTES);

export interface ApiRequest {
  method: string;
  path: string;
  body: string | undefined;
  /** Set by the authorizer; undefined when no valid app key was presented. */
  principal: Principal | undefined;
}

export interface ApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const NO_STORE_JSON: Record<string, string> = Object.freeze({ 'content-type': 'application/json', 'cache-control': 'no-store' });
const json = (statusCode: number, value: unknown, cacheControl = 'no-store'): ApiResponse => ({
  statusCode,
  headers: cacheControl === 'no-store' ? NO_STORE_JSON : { 'content-type': 'application/json', 'cache-control': cacheControl },
  body: JSON.stringify(value),
});

/**
 * The serialised form of the broker's answers it serves again (frozen, one per token or
 * static credential): serialised once, at the first request, not at every one.
 */
const serialised = new WeakMap<object, string>();
function jsonOnce(value: object): ApiResponse {
  let body = serialised.get(value);
  if (body === undefined) {
    body = JSON.stringify(value);
    if (Object.isFrozen(value)) serialised.set(value, body);
  }
  return { statusCode: 200, headers: NO_STORE_JSON, body };
}

export function problemResponse(err: unknown): ApiResponse {
  const { status, problem, headers } = toProblem(err);
  const out: Record<string, string> = { ...headers, 'cache-control': 'no-store' };
  if (err instanceof SesameError && Array.isArray(err.details.allow)) out.allow = err.details.allow.join(', ');
  return { statusCode: status, headers: out, body: JSON.stringify(problem) };
}

/** The token endpoint's request body is optional; when present it must be a small JSON object. */
function checkBody(body: string | undefined): void {
  if (body === undefined || body === '') return;
  if (Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) {
    throw new SesameError('payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SesameError('invalid_request', 'the request body must be a JSON object (or empty)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length > 0) {
    throw new SesameError('invalid_request', 'the request body must be empty or {}: this endpoint takes no parameters');
  }
}

/** The OpenAPI document's module, loaded by its first request: the largest of this module's imports, and few requests ask it. */
let openapi: Promise<typeof import('./openapi.ts')> | undefined;

export class Api {
  constructor(
    private readonly broker: Broker,
    private readonly log: Log,
    private readonly version: string,
    private readonly audit?: AuditSink,
  ) {}

  async handle(req: ApiRequest): Promise<ApiResponse> {
    // Known once the route matched: a refusal of a token or an assertion is audited too.
    let matched: ReturnType<typeof matchRoute> | undefined;
    try {
      matched = matchRoute(req.method, req.path);
      const { route, params } = matched;
      if (route.auth && !req.principal) throw new SesameError('unauthorized', 'a valid app key is required: Authorization: Bearer <app key>');
      checkBody(req.body);
      switch (route.operation) {
        case 'health':
          return json(200, { status: 'ok', version: this.version });
        case 'openapi':
          return json(200, (await (openapi ??= import('./openapi.ts'))).openApiDocument(this.version), 'public, max-age=300');
        case 'token': {
          const res = await this.broker.token(req.principal as Principal, params.tenant ?? '', params.credential ?? '');
          this.audit?.record(audit.token({ app: (req.principal as Principal).app, tenant: res.tenant, credential: res.credential, cached: res.cached, kind: res.kind }));
          return jsonOnce(res);
        }
        case 'assertion': {
          const res = await this.broker.assertion(req.principal as Principal, params.tenant ?? '', params.credential ?? '');
          this.audit?.record(audit.assertion({ app: (req.principal as Principal).app, tenant: params.tenant ?? '', credential: params.credential ?? '' }));
          return json(200, res);
        }
      }
    } catch (err) {
      // Without an app there is no one to attribute it to: the authorizer's refusals are in the access logs.
      const operation = matched?.route.operation;
      if ((operation === 'token' || operation === 'assertion') && matched && req.principal && this.audit) {
        const { tenant = '', credential = '' } = matched.params;
        this.audit.record((operation === 'token' ? audit.token : audit.assertion)({ app: req.principal.app, tenant, credential, error: err }));
      }
      const res = problemResponse(err);
      const entry = { method: req.method.slice(0, 16), path: req.path.slice(0, 200), status: res.statusCode, app: req.principal?.app, ...describeError(err) };
      if (res.statusCode >= 500) this.log.error('request failed', entry);
      else this.log.info('request refused', entry);
      return res;
    }
  }
}
