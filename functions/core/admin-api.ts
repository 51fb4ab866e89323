import { ADMIN_MAX_BODY_BYTES, ADMIN_UPLOAD_MAX_BODY_BYTES, type Admin, type Operator } from './admin.ts';
import { problemResponse, routeMatcher, type ApiResponse } from './api.ts';
import { actor, audit, parseAuditQuery, type AuditLog, type AuditSink } from './audit.ts';
import type { CertificateReport } from './certificates/validator.ts';
import { describeError, SesameError } from './errors.ts';
import { verdictEntry } from './intake.ts';
import type { Clock, Log } from './ports.ts';

export type AdminOperation =
  | 'me'
  | 'credentials'
  | 'timeline'
  | 'tenants.list'
  | 'tenants.add'
  | 'tenants.get'
  | 'tenants.update'
  | 'credential'
  | 'certificate.upload'
  | 'connect.create'
  | 'credential.test'
  | 'rotation.get'
  | 'rotation.next'
  | 'rotation.activate'
  | 'rotation.retire'
  | 'apps.list'
  | 'apps.add'
  | 'apps.revoke'
  | 'apps.rotate'
  | 'audit';

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  operation: AdminOperation;
  /** The largest body accepted, in bytes. */
  maxBody: number;
  /** What the body is: none, optional (empty or a JSON object), or a required JSON object. */
  body: 'none' | 'optional' | 'required';
  /** The status of a success. */
  status: 200 | 201;
}

export const ADMIN_PREFIX = '/v1/admin/';
export { ADMIN_MAX_BODY_BYTES, ADMIN_UPLOAD_MAX_BODY_BYTES };

const S = ADMIN_MAX_BODY_BYTES;

/**
 * The admin API's routes: every one needs an operator (an OIDC access token checked
 * by API Gateway's JWT authorizer, or locally by its equivalent). The OpenAPI document,
 * the local server and the CDK stack read this table.
 */
export const ADMIN_ROUTES: readonly AdminRoute[] = [
  { method: 'GET', path: '/v1/admin/me', operation: 'me', maxBody: S, body: 'none', status: 200 },
  { method: 'GET', path: '/v1/admin/credentials', operation: 'credentials', maxBody: S, body: 'none', status: 200 },
  { method: 'GET', path: '/v1/admin/timeline', operation: 'timeline', maxBody: S, body: 'none', status: 200 },
  { method: 'GET', path: '/v1/admin/tenants', operation: 'tenants.list', maxBody: S, body: 'none', status: 200 },
  { method: 'POST', path: '/v1/admin/tenants', operation: 'tenants.add', maxBody: S, body: 'required', status: 201 },
  { method: 'GET', path: '/v1/admin/tenants/{tenant}', operation: 'tenants.get', maxBody: S, body: 'none', status: 200 },
  { method: 'PATCH', path: '/v1/admin/tenants/{tenant}', operation: 'tenants.update', maxBody: S, body: 'required', status: 200 },
  { method: 'GET', path: '/v1/admin/tenants/{tenant}/credentials/{credential}', operation: 'credential', maxBody: S, body: 'none', status: 200 },
  { method: 'POST', path: '/v1/admin/tenants/{tenant}/credentials/{credential}/certificate', operation: 'certificate.upload', maxBody: ADMIN_UPLOAD_MAX_BODY_BYTES, body: 'required', status: 200 },
  { method: 'POST', path: '/v1/admin/tenants/{tenant}/credentials/{credential}/connect-links', operation: 'connect.create', maxBody: S, body: 'optional', status: 201 },
  { method: 'GET', path: '/v1/admin/apps', operation: 'apps.list', maxBody: S, body: 'none', status: 200 },
  { method: 'POST', path: '/v1/admin/apps', operation: 'apps.add', maxBody: S, body: 'required', status: 201 },
  { method: 'POST', path: '/v1/admin/apps/{app}/revoke', operation: 'apps.revoke', maxBody: S, body: 'optional', status: 200 },
  { method: 'POST', path: '/v1/admin/apps/{app}/rotate', operation: 'apps.rotate', maxBody: S, body: 'optional', status: 200 },
  { method: 'GET', path: '/v1/admin/audit', operation: 'audit', maxBody: 0, body: 'none', status: 200 },
  { method: 'POST', path: '/v1/admin/tenants/{tenant}/credentials/{credential}/test', operation: 'credential.test', maxBody: S, body: 'optional', status: 200 },
  { method: 'GET', path: '/v1/admin/tenants/{tenant}/credentials/{credential}/rotation', operation: 'rotation.get', maxBody: 0, body: 'none', status: 200 },
  { method: 'POST', path: '/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/next', operation: 'rotation.next', maxBody: S, body: 'optional', status: 201 },
  { method: 'POST', path: '/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/activate', operation: 'rotation.activate', maxBody: S, body: 'optional', status: 200 },
  { method: 'POST', path: '/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/retire', operation: 'rotation.retire', maxBody: S, body: 'optional', status: 200 },
];

const matchAdminRoute = routeMatcher(ADMIN_ROUTES);

export interface AdminRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: string | undefined;
  /** From the verified token's claims; undefined when there is none. */
  operator: Operator | undefined;
}

const json = (statusCode: number, value: unknown): ApiResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
  body: JSON.stringify(value),
});

/** The body as a JSON object (undefined when absent and allowed), or invalid_request / payload_too_large. */
function parseBody(route: AdminRoute, body: string | undefined): Record<string, unknown> | undefined {
  const empty = body === undefined || body === '';
  if (!empty && Buffer.byteLength(body, 'utf8') > route.maxBody) {
    throw new SesameError('payload_too_large', `request bodies are limited to ${route.maxBody / 1024} KiB here`);
  }
  if (route.body === 'none') {
    if (!empty) throw new SesameError('invalid_request', 'this endpoint takes no request body');
    return undefined;
  }
  if (empty) {
    if (route.body === 'optional') return undefined;
    throw new SesameError('invalid_request', 'a JSON object is required as the request body');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SesameError('invalid_request', 'the request body is not valid JSON: send a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SesameError('invalid_request', 'the request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** A change being attempted: recorded in the audit trail whether it succeeds or not. */
interface Attempt {
  route: AdminRoute;
  params: Record<string, string>;
  body: Record<string, unknown> | undefined;
  operator: Operator;
}

/** The admin API over the core: routes, operator check, bodies, problem+json errors. */
export class AdminApi {
  constructor(
    private readonly admin: Admin,
    private readonly log: Log,
    /** Where changes are recorded, and the log the audit route reads. */
    private readonly trail: { sink?: AuditSink; log?: AuditLog; clock?: Clock } = {},
  ) {}

  async handle(req: AdminRequest): Promise<ApiResponse> {
    const started = Date.now();
    let changed: Attempt | undefined;
    try {
      // First: without an operator, nothing is said, not even whether the route exists.
      if (!req.operator || typeof req.operator.sub !== 'string' || req.operator.sub === '') {
        throw new SesameError('unauthorized', 'an operator access token is required: Authorization: Bearer <access token>');
      }
      const { route, params } = matchAdminRoute(req.method, req.path);
      const body = parseBody(route, req.body);
      changed = { route, params, body, operator: req.operator };
      const value = await this.dispatch(route, params, req.query, body, req.operator);
      this.record(changed, value, undefined);
      this.log.info('admin request', { method: route.method, route: route.path, status: route.status, operator: req.operator.sub, ms: Date.now() - started });
      return json(route.status, value);
    } catch (err) {
      if (changed) this.record(changed, undefined, err);
      const res = problemResponse(err);
      const entry = { method: req.method.slice(0, 16), path: req.path.slice(0, 200), status: res.statusCode, operator: req.operator?.sub?.slice(0, 200), ...describeError(err) };
      if (res.statusCode >= 500) this.log.error('admin request failed', entry);
      else this.log.info('admin request refused', entry);
      return res;
    }
  }

  /**
   * One audit record per change an operator made or tried: tenants, apps, certificate
   * uploads (connect links are recorded where they are made, in Connect). Reads are not.
   */
  private record(a: Attempt, value: unknown, error: unknown): void {
    const sink = this.trail.sink;
    if (!sink) return;
    const who = actor.operator(a.operator.sub);
    const v = (value ?? {}) as Record<string, unknown>;
    const p = (k: string) => a.params[k];
    const failed = error === undefined ? {} : { error };
    switch (a.route.operation) {
      case 'tenants.add':
        sink.record(audit.adminChange({ actor: who, operation: 'tenants.add', ...(typeof v.id === 'string' ? { tenant: v.id } : typeof a.body?.id === 'string' ? { tenant: a.body.id } : {}), ...failed }));
        return;
      case 'tenants.update':
        sink.record(audit.adminChange({ actor: who, operation: 'tenants.update', tenant: p('tenant') ?? '', changed: Array.isArray(v.changed) ? (v.changed as string[]) : Object.keys(a.body ?? {}), ...failed }));
        return;
      case 'apps.add':
        sink.record(audit.adminChange({ actor: who, operation: 'apps.add', ...(typeof a.body?.app === 'string' ? { app: a.body.app } : {}), ...failed }));
        return;
      case 'apps.rotate':
        sink.record(audit.adminChange({ actor: who, operation: 'apps.rotate', app: p('app') ?? '', ...failed }));
        return;
      case 'apps.revoke':
        sink.record(audit.appRevoked({ actor: who, app: p('app') ?? '', ...failed }));
        return;
      case 'certificate.upload': {
        const entry = error === undefined ? verdictEntry(who, 'console', { tenant: p('tenant'), credential: p('credential'), outcome: String(v.outcome), report: v.report as CertificateReport | undefined }) : undefined;
        sink.record(entry ?? audit.adminChange({ actor: who, operation: 'certificate.upload', tenant: p('tenant') ?? '', credential: p('credential') ?? '', ...failed }));
        return;
      }
      default:
        return;
    }
  }

  private async auditPage(query: Record<string, string>): Promise<unknown> {
    const log = this.trail.log;
    if (!log) throw new SesameError('invalid_request', 'this deployment keeps no audit trail');
    const q = parseAuditQuery(pick(query, ['tenant', 'app', 'since', 'until', 'limit', 'cursor']), (this.trail.clock ?? { now: () => new Date() }).now());
    const page = await log.query(q);
    return { items: page.records, ...(page.cursor ? { cursor: page.cursor } : {}) };
  }

  private dispatch(route: AdminRoute, params: Record<string, string>, query: Record<string, string>, body: Record<string, unknown> | undefined, operator: Operator): Promise<unknown> | unknown {
    const a = this.admin;
    const p = (k: string) => params[k] ?? '';
    switch (route.operation) {
      case 'me':
        return a.me(operator);
      case 'credentials':
        return a.overview(pick(query, ['q', 'tenant', 'platform', 'status', 'limit', 'cursor']));
      case 'timeline':
        return a.timeline(pick(query, ['months', 'q', 'tenant', 'platform']));
      case 'tenants.list':
        return a.listTenants();
      case 'tenants.add':
        return a.addTenant(body);
      case 'tenants.get':
        return a.getTenant(p('tenant'));
      case 'tenants.update':
        return a.updateTenant(p('tenant'), body);
      case 'credential':
        return a.credential(p('tenant'), p('credential'));
      case 'certificate.upload':
        return a.uploadCertificate(p('tenant'), p('credential'), body);
      case 'connect.create':
        return a.createConnectLink(p('tenant'), p('credential'), body, operator);
      case 'rotation.get':
        return a.rotationState(p('tenant'), p('credential'));
      case 'rotation.next':
        noParameters(body);
        return a.rotationNext(p('tenant'), p('credential'), operator);
      case 'rotation.activate':
        noParameters(body);
        return a.rotationActivate(p('tenant'), p('credential'), operator);
      case 'rotation.retire':
        return a.rotationRetire(p('tenant'), p('credential'), body, operator);
      case 'credential.test':
        if (body && Object.keys(body).length > 0) throw new SesameError('invalid_request', 'a check takes no parameters', { details: { field: Object.keys(body).join(', ').slice(0, 200) } });
        return a.testCredential(p('tenant'), p('credential'), operator);
      case 'apps.list':
        return a.listApps();
      case 'apps.add':
        return a.addApp(body);
      case 'apps.revoke':
        if (body && Object.keys(body).length > 0) throw new SesameError('invalid_request', `unknown field${Object.keys(body).length > 1 ? 's' : ''} ${Object.keys(body).map((k) => `"${k.slice(0, 40)}"`).join(', ')}: revoking takes no parameters`, { details: { field: Object.keys(body).join(', ').slice(0, 200) } });
        return a.revokeApp(p('app'));
      case 'apps.rotate':
        return a.rotateApp(p('app'), body);
      case 'audit':
        return this.auditPage(query);
    }
  }
}

function noParameters(body: Record<string, unknown> | undefined): void {
  if (body && Object.keys(body).length > 0) throw new SesameError('invalid_request', `unknown field${Object.keys(body).length > 1 ? 's' : ''} ${Object.keys(body).map((k) => `"${k.slice(0, 40)}"`).join(', ')}: this takes no parameters`, { details: { field: Object.keys(body).join(', ').slice(0, 200) } });
}

function pick(query: Record<string, string>, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = query[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}
