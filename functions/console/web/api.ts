import { accessToken, signIn } from './auth.ts';
import type { operations } from './generated/api.ts';
import type { Body, Ok, Problem } from './types.ts';

/** An admin API refusal, with its problem+json answer. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

const here = () => location.hash || '#/';

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const token = accessToken();
  if (!token) return signIn(here());
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status === 401) {
    sessionStorage.removeItem('sesame.console.token');
    return signIn(here());
  }
  const text = await res.text();
  let value: unknown;
  try {
    value = text === '' ? undefined : JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!res.ok) throw new ApiError(res.status, (value as Problem | undefined) ?? { title: `HTTP ${res.status}` });
  return value as T;
}

const seg = encodeURIComponent;

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface CredentialQuery {
  q?: string;
  tenant?: string;
  platform?: string;
  status?: string;
  limit?: number;
  cursor?: string;
}

/** The audit route's filters, as the OpenAPI document names them. */
export type AuditQuery = NonNullable<operations['adminAudit']['parameters']['query']>;

export const api = {
  me: () => call<Ok<'/v1/admin/me', 'get'>>('GET', '/v1/admin/me'),
  credentials: (p: CredentialQuery) => call<Ok<'/v1/admin/credentials', 'get'>>('GET', `/v1/admin/credentials${query({ ...p })}`),
  timeline: (months = 12) => call<Ok<'/v1/admin/timeline', 'get'>>('GET', `/v1/admin/timeline${query({ months })}`),
  tenants: () => call<Ok<'/v1/admin/tenants', 'get'>>('GET', '/v1/admin/tenants'),
  tenant: (id: string) => call<Ok<'/v1/admin/tenants/{tenant}', 'get'>>('GET', `/v1/admin/tenants/${seg(id)}`),
  addTenant: (t: Body<'/v1/admin/tenants', 'post'>) => call<Ok<'/v1/admin/tenants', 'post'>>('POST', '/v1/admin/tenants', t),
  editTenant: (id: string, t: Body<'/v1/admin/tenants/{tenant}', 'patch'>) =>
    call<Ok<'/v1/admin/tenants/{tenant}', 'patch'>>('PATCH', `/v1/admin/tenants/${seg(id)}`, t),
  credential: (tenant: string, credential: string) =>
    call<Ok<'/v1/admin/tenants/{tenant}/credentials/{credential}', 'get'>>('GET', `/v1/admin/tenants/${seg(tenant)}/credentials/${seg(credential)}`),
  uploadCertificate: (tenant: string, credential: string, file_name: string, content_base64: string) =>
    call<Ok<'/v1/admin/tenants/{tenant}/credentials/{credential}/certificate', 'post'>>(
      'POST',
      `/v1/admin/tenants/${seg(tenant)}/credentials/${seg(credential)}/certificate`,
      { file_name, content_base64 } satisfies Body<'/v1/admin/tenants/{tenant}/credentials/{credential}/certificate', 'post'>,
    ),
  createConnectLink: (tenant: string, credential: string, link: Body<'/v1/admin/tenants/{tenant}/credentials/{credential}/connect-links', 'post'>) =>
    call<Ok<'/v1/admin/tenants/{tenant}/credentials/{credential}/connect-links', 'post'>>('POST', `/v1/admin/tenants/${seg(tenant)}/credentials/${seg(credential)}/connect-links`, link),
  apps: () => call<Ok<'/v1/admin/apps', 'get'>>('GET', '/v1/admin/apps'),
  addApp: (app: string, tenants: string[], kinds: string[] = []) =>
    call<Ok<'/v1/admin/apps', 'post'>>('POST', '/v1/admin/apps', { app, tenants, ...(kinds.length > 0 ? { kinds } : {}) }),
  revokeApp: (app: string) => call<Ok<'/v1/admin/apps/{app}/revoke', 'post'>>('POST', `/v1/admin/apps/${seg(app)}/revoke`, {}),
  rotateApp: (app: string, overlap?: string) =>
    call<Ok<'/v1/admin/apps/{app}/rotate', 'post'>>('POST', `/v1/admin/apps/${seg(app)}/rotate`, (overlap ? { overlap } : {}) satisfies Body<'/v1/admin/apps/{app}/rotate', 'post'>),
  audit: (p: AuditQuery) => call<Ok<'/v1/admin/audit', 'get'>>('GET', `/v1/admin/audit${query({ ...p })}`),
  testCredential: (tenant: string, credential: string) =>
    call<Ok<'/v1/admin/tenants/{tenant}/credentials/{credential}/test', 'post'>>('POST', `/v1/admin/tenants/${seg(tenant)}/credentials/${seg(credential)}/test`, {}),
  rotation: (tenant: string, credential: string) =>
    call<Ok<'/v1/admin/tenants/{tenant}/credentials/{credential}/rotation', 'get'>>('GET', `/v1/admin/tenants/${seg(tenant)}/credentials/${seg(credential)}/rotation`),
  rotationNext: (tenant: string, credential: string) =>
    call<Ok<'/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/next', 'post'>>('POST', `/v1/admin/tenants/${seg(tenant)}/credentials/${seg(credential)}/rotation/next`, {}),
  rotationActivate: (tenant: string, credential: string) =>
    call<Ok<'/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/activate', 'post'>>('POST', `/v1/admin/tenants/${seg(tenant)}/credentials/${seg(credential)}/rotation/activate`, {}),
  rotationRetire: (tenant: string, credential: string, force = false) =>
    call<Ok<'/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/retire', 'post'>>(
      'POST',
      `/v1/admin/tenants/${seg(tenant)}/credentials/${seg(credential)}/rotation/retire`,
      (force ? { force: true } : {}) satisfies Body<'/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/retire', 'post'>,
    ),
};
