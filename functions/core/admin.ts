import { actor } from './audit.ts';
import type { Activated, FlaRotation, NextStored, Retired, RotationState } from './rotation.ts';
import { lastCheckFromTags, type HealthResult, type LastCheck } from './health.ts';
import * as z from 'zod';
import type { AppRecord, AppSummary, Apps } from './apps.ts';
import { credentialSecretName, CREDENTIAL_PREFIX, NO_EXPIRY, REDACTED, scanSecrets, TAG, type Credentials, type RecordError } from './credentials.ts';
import { isSesameError, SesameError } from './errors.ts';
import { alertDue, ALERT_TAG, DEFAULT_THRESHOLDS, genericName, nameFromTags } from './expiry.ts';
import { parseAppId, parseCredentialId, parseTenantId } from './ids.ts';
import { CERTIFICATE_TAG, FILE_NAME_PATTERN, latestReportKey, processCertificate, type IntakeDeps, type IntakeResult } from './intake.ts';
import type { CertificateReport } from './certificates/validator.ts';
import type { Connect } from './connect.ts';
import { KINDS, platformOf } from './platforms/index.ts';
import type { Platform, PlatformContext } from './platforms/types.ts';
import type { Clock, Log, SecretStore, Tags } from './ports.ts';
import type { Tenant, TenantChanges, Tenants } from './tenants.ts';
import type { Steps, Text } from './text.ts';
import { once } from './once.ts';
import { validate } from './validate.ts';
import { DEFAULT_LIMIT, DEFAULT_MONTHS, familyOf, MAX_LIMIT, MAX_MONTHS, PLATFORM_FAMILIES, STATUSES, type PlatformFamily, type Status } from './admin-limits.ts';

export * from './admin-limits.ts';

/**
 * What the operator console shows and does, over the same core as the CLI: tenants are
 * added and changed by `Tenants`, apps by `Apps`, certificates judged by the intake's
 * own function. The overview and the timeline read tags only (ListSecrets pages):
 * nothing is decrypted to say what is fine, what expires when and what was refused.
 * Nothing returned here ever holds a secret value.
 */

/** The person behind an admin request, from the verified claims of their access token. */
export interface Operator {
  sub: string;
  username?: string;
  email?: string;
}


/**
 * Set to "true" on a credential that cannot vend yet although it is stored (an FLA key
 * awaiting its Chaman client id). Read when present; written by `Credentials.set`
 * once it records it (see the report of issue 11).
 */
export const INCOMPLETE_TAG = 'sesame:incomplete';

export interface CredentialStatus {
  tenant: string;
  tenant_name: string | null;
  credential: string;
  kind: string;
  platform: PlatformFamily;
  platform_title: Text;
  environment: string;
  status: Status;
  expires_at: string | null;
  days_left: number | null;
  /** The alert threshold (days) crossed, when expiring. */
  threshold: number | null;
  /** What expires at expires_at. */
  what: Text | null;
}

export interface StatusCounts {
  total: number;
  ok: number;
  expiring: number;
  expired: number;
  incomplete: number;
  refused: number;
}

export interface CredentialPage {
  at: string;
  counts: StatusCounts;
  items: CredentialStatus[];
  next_cursor: string | null;
  matching: number;
  /** Records that could not be read, left out of the counts. */
  errors: RecordError[];
}

export interface Timeline {
  today: string;
  from: string;
  to: string;
  items: CredentialStatus[];
}

export interface TenantView {
  id: string;
  name: string;
  siret?: string;
  siren?: string;
  bce?: string;
  alert_emails: string[];
  /** Null for a record declared by the stack, which carries no dates. */
  created_at: string | null;
  updated_at: string | null;
  credentials: number;
}

export interface CertificateReportView {
  outcome: 'accepted' | 'unchanged' | 'rejected' | 'deleted';
  file: string;
  processed_at: string;
  reason?: Text;
  report?: CertificateReport;
}

export type UploadVerdict = CertificateReportView & { version?: string };

export interface CredentialDetail extends CredentialStatus {
  fields: Record<string, unknown>;
  secret_fields: string[];
  versions: { version: string; created_at: string | null; stage: 'current' | 'previous' }[];
  expiries: { what: Text; at: string }[];
  certificate: { accepts: boolean; report: CertificateReportView | null };
  alerts: { level: string; at: string | null }[];
  renewal: Steps;
  /** The last health check (`sesame credential test`, the console's button, the daily run), from the credential's tags. */
  last_check: LastCheck | null;
}

export type AppView = AppSummary;

export interface OverviewQuery {
  q?: string;
  tenant?: string;
  platform?: string;
  status?: string;
  limit?: string | number;
  cursor?: string;
}


export interface AdminDeps {
  store: SecretStore;
  tenants: Tenants;
  credentials: Credentials;
  apps: Apps;
  clock: Clock;
  log: Log;
  thresholds?: readonly number[] | undefined;
  /** The certificate intake's dependencies; without them, uploads are refused and no report is shown. */
  intake?: IntakeDeps | undefined;
  /** Connect links; without a state store there are none, and creating one is refused. */
  connect?: Connect | undefined;
  /** Checks a credential with its platform now, recording the result on it (and in the audit trail, as this operator's). */
  testCredential?: ((tenant: string, credential: string, who: Operator) => Promise<HealthResult>) | undefined;
  /** FLA key rotation (next key, activation, retirement); it records each step in the audit trail itself. */
  rotation?: FlaRotation | undefined;
}

const retireBody = once(() => z.strictObject({ force: z.boolean().optional() }));

/** A connect link as the console gets it: the URL (its token inside) is returned this once. */
export interface ConnectLinkCreated {
  url: string;
  expires_at: string;
  /** The alert address the link was sent to, when asked. */
  sent_to?: string;
}

const DAY = 86_400_000;
const isDated = (v: string | undefined): v is string => !!v && v !== NO_EXPIRY && !Number.isNaN(Date.parse(v));
const text = (t: Text): Text => ({ fr: t.fr, en: t.en });

/** Lowercase, without accents: "Démo" is found by "demo". */
const fold = (s: string) => s.normalize('NFD').replace(/\p{Diacritic}/gu, '').toLowerCase();

/** Platforms whose fields may all be absent (Chorus EDI tracks a certificate, and holds nothing before one). */
const emptyAllowed = new Map<string, boolean>();
function holdsNothingWhenUndated(platform: Platform): boolean {
  let v = emptyAllowed.get(platform.kind);
  if (v === undefined) {
    v = platform.schema.safeParse({}).success;
    emptyAllowed.set(platform.kind, v);
  }
  return v;
}

/**
 * One credential's status from its tags alone. In order: `expired` (its end date is
 * past), `refused` (the last certificate uploaded for it was refused, and no version
 * with another end date came since), `incomplete` (a placeholder never filled, or one
 * that cannot vend yet), `expiring` (an alert threshold is crossed), else `ok`.
 */
export function statusFromTags(name: string, tags: Tags, now: Date, thresholds: readonly number[], tenantName: string | null): CredentialStatus | undefined {
  const [, tenantPart = '', credentialPart = ''] = name.split('/');
  const kind = tags[TAG.kind];
  let platform: Platform;
  try {
    platform = platformOf(kind ?? '');
  } catch {
    return undefined;
  }
  const expires = tags[TAG.expiresAt];
  const dated = isDated(expires);
  const end = dated ? new Date(expires) : undefined;
  const daysLeft = end ? Math.ceil((end.getTime() - now.getTime()) / DAY) : null;
  // The alert rules themselves: the same threshold the expiry watch alerts at.
  const due = end ? alertDue({ [TAG.expiresAt]: expires as string }, now, thresholds)?.due : undefined;
  const threshold = due?.type === 'threshold' ? due.threshold : null;
  const verdict = tags[CERTIFICATE_TAG.verdict];
  const refused = (verdict === 'rejected' || verdict === 'deleted') && tags[CERTIFICATE_TAG.for] === (expires ?? NO_EXPIRY);
  const incomplete = expires === undefined || tags[INCOMPLETE_TAG] === 'true' || (!dated && holdsNothingWhenUndated(platform));
  const status: Status = daysLeft !== null && daysLeft <= 0 ? 'expired' : refused ? 'refused' : incomplete ? 'incomplete' : threshold !== null ? 'expiring' : 'ok';
  const what = dated ? (nameFromTags(platform, tags) ?? Object.values(platform.names.expiries)[0] ?? genericName(platform)) : undefined;
  return {
    tenant: tags[TAG.tenant] ?? tenantPart,
    tenant_name: tenantName,
    credential: tags[TAG.credential] ?? credentialPart,
    kind: platform.kind,
    platform: familyOf(platform.kind),
    platform_title: text(platform.title),
    environment: tags[TAG.environment] ?? platform.environments[0] ?? 'production',
    status,
    expires_at: end ? end.toISOString() : null,
    days_left: daysLeft,
    threshold,
    what: what ? text(what) : null,
  };
}

function emptyCounts(): StatusCounts {
  return { total: 0, ok: 0, expiring: 0, expired: 0, incomplete: 0, refused: 0 };
}

const cursorOf = (s: CredentialStatus) => Buffer.from(JSON.stringify([s.tenant, s.credential])).toString('base64url');
function parseCursor(cursor: string): [string, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // Falls through to the refusal.
  }
  throw new SesameError('invalid_request', 'cursor is not one this API returned: pass next_cursor as it came', { details: { field: 'cursor' } });
}

function parseInteger(value: string | number | undefined, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SesameError('invalid_request', `${field} must be a whole number from ${min} to ${max}`, { details: { field } });
  }
  return n;
}

function parseStatuses(value: string | undefined): Set<Status> | undefined {
  if (value === undefined || value === '') return undefined;
  const list = value.split(',').map((s) => s.trim());
  const bad = list.find((s) => !(STATUSES as readonly string[]).includes(s));
  if (bad !== undefined) throw new SesameError('invalid_request', `status must be among ${STATUSES.join(', ')} (several separated by commas), not "${bad.slice(0, 40)}"`, { details: { field: 'status' } });
  return new Set(list as Status[]);
}

function parsePlatform(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(PLATFORM_FAMILIES as readonly string[]).includes(value) && !KINDS.includes(value)) {
    throw new SesameError('invalid_request', `platform must be one of ${PLATFORM_FAMILIES.join(', ')} or a kind (${KINDS.join(', ')}), not "${value.slice(0, 40)}"`, { details: { field: 'platform' } });
  }
  return value;
}

function tenantView(t: Tenant, credentials: number): TenantView {
  return {
    id: t.id,
    name: t.name,
    ...(t.siret ? { siret: t.siret } : {}),
    ...(t.siren ? { siren: t.siren } : {}),
    ...(t.bce ? { bce: t.bce } : {}),
    alert_emails: t.alert_emails,
    created_at: t.created_at ?? null,
    updated_at: t.updated_at ?? null,
    credentials,
  };
}

/** What `app list` shows of a record: never a hash. */
function appView(rec: AppRecord, now: number): AppView {
  const { key_sha256: _omit, previous_key: prev, ...shown } = rec;
  const live = prev && !rec.revoked_at && now < Date.parse(prev.expires_at);
  return { ...shown, ...(live ? { previous_key_created_at: prev.created_at, previous_key_expires_at: prev.expires_at } : {}) };
}

// Built at first use (once): the connect and certificate functions import this module without serving these bodies.
const addTenantBody = once(() =>
  z.strictObject({
    id: z.string(),
    name: z.string(),
    siret: z.string().optional(),
    siren: z.string().optional(),
    bce: z.string().optional(),
    alert_emails: z.array(z.string()).optional(),
  }),
);
const addAppBody = once(() => z.strictObject({ app: z.string(), tenants: z.array(z.string()), kinds: z.array(z.string()).optional() }));
const rotateBody = once(() => z.strictObject({ overlap: z.string().optional() }));
const uploadBody = once(() => z.strictObject({ file_name: z.string(), content_base64: z.string() }));
const connectLinkBody = once(() =>
  z.strictObject({
    fields: z.array(z.string().max(64)).max(20).optional(),
    valid: z.string().max(20).optional(),
    email: z.string().max(320).optional(),
    environment: z.string().max(20).optional(),
    settings: z.record(z.string().max(64), z.string().max(2048)).optional(),
  }),
);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/** Reads the stored report record (the intake's) into what the console shows. */
function reportView(record: Record<string, unknown>): CertificateReportView | null {
  const outcome = record.outcome;
  if (outcome !== 'accepted' && outcome !== 'unchanged' && outcome !== 'rejected' && outcome !== 'deleted') return null;
  const key = typeof record.key === 'string' ? record.key : '';
  const file = typeof record.file === 'string' ? record.file : key.slice(key.lastIndexOf('/') + 1);
  const reason = record.reason as Text | undefined;
  const hasReport = typeof record.valid === 'boolean';
  return {
    outcome,
    file,
    processed_at: typeof record.processed_at === 'string' ? record.processed_at : '',
    ...(reason && typeof reason.fr === 'string' && typeof reason.en === 'string' ? { reason: text(reason) } : {}),
    ...(hasReport
      ? {
          report: {
            valid: record.valid as boolean,
            profile: record.profile as CertificateReport['profile'],
            validated_at: record.validated_at as string,
            errors: (record.errors ?? []) as CertificateReport['errors'],
            warnings: (record.warnings ?? []) as CertificateReport['warnings'],
            certificates: (record.certificates ?? []) as CertificateReport['certificates'],
          },
        }
      : {}),
  };
}

function verdictView(r: IntakeResult, file: string): CertificateReportView {
  if (r.outcome === 'gone') throw new SesameError('internal', 'the uploaded certificate vanished while it was checked');
  return {
    outcome: r.outcome,
    file,
    processed_at: r.processedAt ?? '',
    ...(r.reason ? { reason: text(r.reason) } : {}),
    ...(r.report ? { report: r.report } : {}),
  };
}

/** Every secret field replaced, and any private key whatever its field's name. */
function redact(platform: Platform, fields: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = typeof fields === 'object' && fields !== null && !Array.isArray(fields) ? { ...(fields as Record<string, unknown>) } : {};
  for (const name of platform.secretFields) if (name in out) out[name] = REDACTED;
  for (const [k, v] of Object.entries(out)) if (typeof v === 'string' && /PRIVATE KEY-----/.test(v)) out[k] = REDACTED;
  return out;
}

export class Admin {
  private readonly thresholds: readonly number[];

  constructor(private readonly deps: AdminDeps) {
    this.thresholds = deps.thresholds ?? DEFAULT_THRESHOLDS;
  }

  me(operator: Operator): Operator {
    return { sub: operator.sub, ...(operator.username ? { username: operator.username } : {}), ...(operator.email ? { email: operator.email } : {}) };
  }

  /**
   * Tenant names, read once per request. A record that cannot be read costs its name
   * only (the overview shows the id), never the whole answer.
   */
  private async tenantNames(): Promise<Map<string, string>> {
    try {
      return new Map((await this.deps.tenants.list()).map((t) => [t.id, t.name]));
    } catch (err) {
      this.deps.log.warn('tenant names: a record could not be read; listing them one by one', { code: isSesameError(err) ? err.code : 'internal' });
    }
    const ids: string[] = [];
    await scanSecrets(this.deps.store, 'sesame-tenants/', (items) => {
      for (const i of items) ids.push(i.name.slice('sesame-tenants/'.length));
    });
    const names = await Promise.all(ids.map((id) => this.deps.tenants.find(id).then((t) => t?.name, () => undefined)));
    return new Map(ids.flatMap((id, i) => (names[i] ? [[id, names[i] as string] as [string, string]] : [])));
  }

  /** Every credential's status, from tags; sorted by tenant then credential. */
  private async statuses(filter: { q?: string | undefined; tenant?: string | undefined; platform?: string | undefined }): Promise<{ rows: CredentialStatus[]; errors: RecordError[] }> {
    const now = this.deps.clock.now();
    const tenant = filter.tenant ? parseTenantId(filter.tenant) : undefined;
    const platform = parsePlatform(filter.platform);
    if (filter.q !== undefined && filter.q.length > 200) throw new SesameError('invalid_request', 'q is at most 200 characters', { details: { field: 'q' } });
    const q = filter.q ? fold(filter.q.trim()) : '';
    const [names, scanned] = await Promise.all([
      this.tenantNames(),
      (async () => {
        const found: { name: string; tags: Tags }[] = [];
        const { errors } = await scanSecrets(this.deps.store, tenant ? `${CREDENTIAL_PREFIX}${tenant}/` : CREDENTIAL_PREFIX, (items) => {
          for (const i of items) found.push(i);
        });
        return { found, errors };
      })(),
    ]);
    const rows: CredentialStatus[] = [];
    for (const { name, tags } of scanned.found) {
      const [, t = ''] = name.split('/');
      const s = statusFromTags(name, tags, now, this.thresholds, names.get(tags[TAG.tenant] ?? t) ?? null);
      if (!s) {
        scanned.errors.push({ secret: name, code: 'store_corrupt', detail: `unknown kind "${(tags[TAG.kind] ?? '').slice(0, 40)}"` });
        continue;
      }
      if (platform && s.platform !== platform && s.kind !== platform) continue;
      if (q && ![s.tenant, s.tenant_name ?? '', s.credential, s.kind].some((v) => fold(v).includes(q))) continue;
      rows.push(s);
    }
    rows.sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : a.credential < b.credential ? -1 : a.credential > b.credential ? 1 : 0));
    return { rows, errors: scanned.errors };
  }

  async overview(query: OverviewQuery = {}): Promise<CredentialPage> {
    const limit = parseInteger(query.limit, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT);
    const statuses = parseStatuses(query.status);
    const after = query.cursor ? parseCursor(query.cursor) : undefined;
    const { rows, errors } = await this.statuses(query);
    const counts = emptyCounts();
    const matching: CredentialStatus[] = [];
    for (const s of rows) {
      counts.total += 1;
      counts[s.status] += 1;
      if (!statuses || statuses.has(s.status)) matching.push(s);
    }
    let start = 0;
    if (after) {
      const [t, c] = after;
      while (start < matching.length) {
        const s = matching[start] as CredentialStatus;
        if (s.tenant > t || (s.tenant === t && s.credential > c)) break;
        start += 1;
      }
    }
    const items = matching.slice(start, start + limit);
    const last = items[items.length - 1];
    const more = start + limit < matching.length;
    return { at: this.deps.clock.now().toISOString(), counts, items, next_cursor: more && last ? cursorOf(last) : null, matching: matching.length, errors };
  }

  /** What ends within `months`, soonest first, with what has already expired before it. */
  async timeline(query: { months?: string | number; q?: string; tenant?: string; platform?: string } = {}): Promise<Timeline> {
    const months = parseInteger(query.months, 'months', DEFAULT_MONTHS, 1, MAX_MONTHS);
    const now = this.deps.clock.now();
    const to = new Date(now);
    to.setUTCMonth(to.getUTCMonth() + months);
    const { rows } = await this.statuses(query);
    const items = rows
      .filter((s) => s.expires_at !== null && (s.status === 'expired' || Date.parse(s.expires_at) <= to.getTime()))
      .sort((a, b) => Date.parse(a.expires_at as string) - Date.parse(b.expires_at as string) || (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : a.credential < b.credential ? -1 : 1));
    const day = (d: Date) => d.toISOString().slice(0, 10);
    return { today: day(now), from: day(now), to: day(to), items };
  }

  private async credentialCounts(tenant?: string): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    await scanSecrets(this.deps.store, tenant ? `${CREDENTIAL_PREFIX}${tenant}/` : CREDENTIAL_PREFIX, (items) => {
      for (const { name } of items) {
        const [, t = ''] = name.split('/');
        counts.set(t, (counts.get(t) ?? 0) + 1);
      }
    });
    return counts;
  }

  async listTenants(): Promise<{ items: TenantView[] }> {
    const [tenants, counts] = await Promise.all([this.deps.tenants.list(), this.credentialCounts()]);
    return { items: tenants.map((t) => tenantView(t, counts.get(t.id) ?? 0)) };
  }

  async getTenant(id: string): Promise<TenantView> {
    const t = await this.deps.tenants.get(parseTenantId(id));
    return tenantView(t, (await this.credentialCounts(t.id)).get(t.id) ?? 0);
  }

  /** `sesame tenant add`: 409 conflict when the tenant exists. */
  async addTenant(body: unknown): Promise<TenantView> {
    const input = validate(addTenantBody(), body, 'tenant');
    const t = await this.deps.tenants.add(input);
    return tenantView(t, 0);
  }

  /** `sesame tenant set`: only the fields given change (null removes an identifier). */
  async updateTenant(id: string, body: unknown): Promise<{ tenant: TenantView; changed: string[] }> {
    const { tenant, changed } = await this.deps.tenants.update(parseTenantId(id), body as TenantChanges);
    return { tenant: tenantView(tenant, (await this.credentialCounts(tenant.id)).get(tenant.id) ?? 0), changed };
  }

  /** One credential, secret fields redacted; throws unknown_tenant / unknown_credential. */
  async credential(tenantId: string, credentialId: string): Promise<CredentialDetail> {
    const tenant = parseTenantId(tenantId);
    const { id, kind } = parseCredentialId(credentialId, KINDS);
    const name = credentialSecretName(tenant, id);
    const [tags, tenantRecord] = await Promise.all([this.deps.store.tags(name), this.deps.tenants.find(tenant)]);
    if (!tags) {
      if (!tenantRecord) throw new SesameError('unknown_tenant', `tenant "${tenant}" does not exist`, { details: { tenant } });
      throw new SesameError('unknown_credential', `tenant "${tenant}" has no credential "${id}"`, { details: { tenant, credential: id } });
    }
    const now = this.deps.clock.now();
    const status = statusFromTags(name, { ...tags, [TAG.kind]: kind }, now, this.thresholds, tenantRecord?.name ?? null) as CredentialStatus;
    const platform = platformOf(kind);
    const [current, previous, found, report] = await Promise.all([
      this.deps.store.get(name),
      this.deps.store.getPrevious(name),
      this.deps.credentials.findForUpdate(tenant, id),
      this.latestReport(tenant, id),
    ]);
    // The CLI's own redaction (`credential show`); a credential that is not complete yet
    // shows the fields it has, redacted by the same rule.
    let fields: Record<string, unknown>;
    let complete = true;
    try {
      fields = redact(platform, (await this.deps.credentials.show(tenant, id)).fields);
    } catch (err) {
      if (!isSesameError(err, 'credential_incomplete')) throw err;
      complete = false;
      fields = redact(platform, found?.fields);
    }
    const ctx: PlatformContext = { tenant, credential: id, environment: found?.environment ?? (status.environment as PlatformContext['environment']), clock: this.deps.clock };
    if (complete && found?.fields !== undefined) {
      try {
        platform.material(found.fields, ctx);
      } catch (err) {
        if (isSesameError(err, 'credential_incomplete')) complete = false;
      }
    }
    const expiries = found?.fields !== undefined ? platform.expiries(found.fields, ctx).map((e) => ({ what: text(e.what), at: e.at.toISOString() })).sort((a, b) => a.at.localeCompare(b.at)) : [];
    const versions: CredentialDetail['versions'] = [];
    if (current) versions.push({ version: current.version, created_at: current.createdAt?.toISOString() ?? null, stage: 'current' });
    if (previous) versions.push({ version: previous.version, created_at: previous.createdAt?.toISOString() ?? null, stage: 'previous' });
    const level = tags[ALERT_TAG.level];
    return {
      ...status,
      status: !complete && (status.status === 'ok' || status.status === 'expiring') ? 'incomplete' : status.status,
      environment: found?.environment ?? status.environment,
      fields,
      secret_fields: [...platform.secretFields],
      versions,
      expiries,
      certificate: { accepts: platform.certificateProfile !== undefined, report },
      alerts: level ? [{ level, at: tags[ALERT_TAG.at] ?? null }] : [],
      renewal: { fr: [...platform.renewal.fr], en: [...platform.renewal.en] },
      last_check: lastCheckFromTags(tags, current?.version),
    };
  }

  private rotationOf(): FlaRotation {
    if (!this.deps.rotation) throw new SesameError('internal', 'this deployment cannot rotate keys');
    return this.deps.rotation;
  }

  /** An FLA credential's keys: active, next, previous (fingerprints and dates, never key material). */
  async rotationState(tenant: string, credential: string): Promise<RotationState> {
    return this.rotationOf().status(parseTenantId(tenant), parseCredentialId(credential, KINDS).id);
  }

  /** A next key pair stored beside the active one; its certificate (PEM) is for the same Chaman account. */
  async rotationNext(tenant: string, credential: string, operator: Operator): Promise<Omit<NextStored, 'fields'>> {
    const r = await this.rotationOf().keygenNext(parseTenantId(tenant), parseCredentialId(credential, KINDS).id, { actor: actor.operator(operator.sub) });
    const { certificate_der: _der, fields: _f, ...shown } = r as typeof r & { fields?: unknown };
    return shown;
  }

  /** Switches to the next key once a token is obtained with it alone; the active key becomes the fallback. */
  async rotationActivate(tenant: string, credential: string, operator: Operator): Promise<Omit<Activated, 'fields'>> {
    const { fields: _f, ...shown } = (await this.rotationOf().activate(parseTenantId(tenant), parseCredentialId(credential, KINDS).id, { actor: actor.operator(operator.sub) })) as Activated & { fields?: unknown };
    return shown;
  }

  /** Drops the previous key once the active one obtains a token alone (`force`: without that check). */
  async rotationRetire(tenant: string, credential: string, body: unknown, operator: Operator): Promise<Omit<Retired, 'fields'>> {
    const input = validate(retireBody(), body ?? {}, 'retirement');
    const { fields: _f, ...shown } = (await this.rotationOf().retire(parseTenantId(tenant), parseCredentialId(credential, KINDS).id, { ...(input.force ? { force: true } : {}), actor: actor.operator(operator.sub) })) as Retired & { fields?: unknown };
    return shown;
  }

  /** Checks the credential with its platform now: `ok`, `failed` (with the platform's reason) or `not_testable`, and when. */
  async testCredential(tenantId: string, credentialId: string, operator: Operator): Promise<HealthResult> {
    const tenant = parseTenantId(tenantId);
    const { id } = parseCredentialId(credentialId, KINDS);
    if (!this.deps.testCredential) throw new SesameError('internal', 'this deployment cannot check credentials');
    return this.deps.testCredential(tenant, id, operator);
  }

  private async latestReport(tenant: string, credential: string): Promise<CertificateReportView | null> {
    const objects = this.deps.intake?.objects;
    if (!objects) return null;
    try {
      const o = await objects.get(latestReportKey(tenant, credential), 1024 * 1024);
      if (!o) return null;
      return reportView(JSON.parse(new TextDecoder().decode(o.bytes)) as Record<string, unknown>);
    } catch (err) {
      this.deps.log.warn('last certificate report unreadable', { tenant, credential, code: isSesameError(err) ? err.code : 'internal' });
      return null;
    }
  }

  /** A certificate from the console: the intake's own rules, destinations and notifications. */
  async uploadCertificate(tenantId: string, credentialId: string, body: unknown): Promise<UploadVerdict> {
    const intake = this.deps.intake;
    const tenant = parseTenantId(tenantId);
    const { id } = parseCredentialId(credentialId, KINDS);
    const input = validate(uploadBody(), body, 'certificate upload');
    if (!FILE_NAME_PATTERN.test(input.file_name)) {
      throw new SesameError('invalid_request', 'certificate upload: field "file_name" must be a file name of 1 to 200 characters, without "/", "\\" or control characters', { details: { field: 'file_name' } });
    }
    const b64 = input.content_base64.replace(/\s+/g, '');
    if (b64 === '' || !BASE64.test(b64)) {
      throw new SesameError('invalid_request', 'certificate upload: field "content_base64" must hold the file in base64 (not empty)', { details: { field: 'content_base64' } });
    }
    if (!intake) throw new SesameError('invalid_request', 'certificate uploads need the intake bucket and the alerts topic, and this deployment has neither');
    const found = await this.deps.credentials.findForUpdate(tenant, id);
    if (!found) throw new SesameError('unknown_credential', `tenant "${tenant}" has no credential "${id}"`, { details: { tenant, credential: id } });
    const r = await processCertificate(intake, { tenant, credential: id, file: input.file_name, bytes: new Uint8Array(Buffer.from(b64, 'base64')) });
    const view: UploadVerdict = verdictView(r, input.file_name);
    if (r.outcome === 'accepted') {
      const v = await this.deps.store.get(credentialSecretName(tenant, id));
      if (v) view.version = v.version;
    }
    return view;
  }

  /**
   * A connect link for a credential of an existing tenant, created by this operator (their
   * `sub` is recorded as its creator); the credential may not exist yet, the link makes it.
   * The URL is in the answer only: neither it nor its token is logged or kept (the state
   * store has the token's hash).
   */
  async createConnectLink(tenantId: string, credentialId: string, body: unknown, operator: Operator): Promise<ConnectLinkCreated> {
    const tenant = parseTenantId(tenantId);
    const { id } = parseCredentialId(credentialId, KINDS);
    const input = validate(connectLinkBody(), body ?? {}, 'connect link');
    const connect = this.deps.connect;
    if (!connect) throw new SesameError('invalid_request', 'connect links need a state store, and this deployment has none');
    if (!(await this.deps.tenants.find(tenant))) throw new SesameError('unknown_tenant', `tenant "${tenant}" does not exist`, { details: { tenant } });
    const link = await connect.create({
      tenant,
      credential: id,
      ...(input.fields ? { fields: input.fields } : {}),
      ...(input.valid !== undefined ? { valid: input.valid } : {}),
      ...(input.email !== undefined ? { email: input.email } : {}),
      ...(input.environment !== undefined ? { environment: input.environment } : {}),
      ...(input.settings !== undefined ? { settings: input.settings } : {}),
      createdBy: operator.sub,
    });
    return { url: link.url, expires_at: link.expires_at, ...(link.sent_to ? { sent_to: link.sent_to } : {}) };
  }

  async listApps(): Promise<{ items: AppView[] }> {
    return { items: await this.deps.apps.list() };
  }

  async addApp(body: unknown): Promise<{ app: string; key: string; tenants: string[] }> {
    const input = validate(addAppBody(), body, 'app');
    return this.deps.apps.add({ app: input.app, tenants: input.tenants, ...(input.kinds ? { kinds: input.kinds } : {}) });
  }

  private async existingApp(app: string): Promise<string> {
    const id = parseAppId(app);
    if (!(await this.deps.apps.find(id))) throw new SesameError('not_found', `app "${id}" does not exist`, { details: { app: id } });
    return id;
  }

  async revokeApp(app: string): Promise<AppView> {
    const id = await this.existingApp(app);
    return appView(await this.deps.apps.revoke(id), this.deps.clock.now().getTime());
  }

  async rotateApp(app: string, body: unknown): Promise<{ app: string; key: string; previous_key_expires_at: string }> {
    const input = validate(rotateBody(), body ?? {}, 'rotation');
    const id = await this.existingApp(app);
    return this.deps.apps.rotate(id, input.overlap !== undefined ? { overlap: input.overlap } : {});
  }
}
