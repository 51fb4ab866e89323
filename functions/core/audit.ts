import { createHash, randomFillSync } from 'node:crypto';
import { describeError, ERROR_STATUS, type ErrorCode, SesameError } from './errors.ts';
import { CREDENTIAL_ID_PATTERN, ID_PATTERN } from './ids.ts';
import { systemClock, type Clock, type Log } from './ports.ts';

/**
 * The audit trail: one record per token or assertion vended, admin change, connect link
 * created or used, app revoked, certificate verdict (and health checks and rotations),
 * never a secret value.
 *
 * A record is a closed shape: a field outside it, or a value that does not fit its field,
 * refuses the whole record (dropped, with a warning naming the field and never the value),
 * so that a secret cannot reach the trail through `details` by mistake: details keys come
 * from an allow-list, each with the shape of its value (an id, an enum, a list of names, a
 * date, a small number), and every string is also checked for what secrets look like.
 *
 * AuditTrail keeps records off the caller's path: record() is synchronous and only pushes
 * onto a bounded buffer; batches are written in the background (when a batch is full, or
 * after an interval) and by flush(). A full buffer drops records and counts them; a failed
 * write is logged and counted; neither is ever thrown to the caller.
 */

export const AUDIT_TYPES = [
  'token',
  'assertion',
  'admin_change',
  'link_created',
  'link_used',
  'app_revoked',
  'certificate_verdict',
  'health_check',
  'rotation',
] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

export const ACTOR_TYPES = ['app', 'operator', 'cli', 'link', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export const OUTCOMES = ['ok', 'refused', 'error'] as const;
export type AuditOutcome = (typeof OUTCOMES)[number];

export interface AuditActor {
  type: ActorType;
  /** app: the app id; operator: the OIDC subject; cli: "cli"; link: the link hash's first 12 hex digits; system: the function ("intake", "expiry", "health"). */
  id: string;
}

export type AuditDetails = Record<string, string | number | boolean>;

export interface AuditRecord {
  /** 16 hex digits, random: with `time`, the record's key in the state table. */
  id: string;
  /** ISO 8601, milliseconds, UTC. */
  time: string;
  type: AuditType;
  actor: AuditActor;
  tenant?: string;
  credential?: string;
  app?: string;
  outcome: AuditOutcome;
  /** The stable error code of a refusal or an error (errors.ts). */
  code?: ErrorCode;
  /** Tokens only: served from the cache. */
  cached?: boolean;
  details?: AuditDetails;
}

/** What a call site gives: the trail stamps `id` and `time`. */
export type AuditEntry = Omit<AuditRecord, 'id' | 'time'>;

export interface AuditQuery {
  tenant?: string;
  app?: string;
  /** Inclusive. */
  since?: Date;
  /** Inclusive. */
  until?: Date;
  /** 1 to MAX_AUDIT_LIMIT, default DEFAULT_AUDIT_LIMIT. */
  limit?: number;
  /** From a previous page: records older than the last one it returned. */
  cursor?: string;
}

export interface AuditPage {
  /** Newest first. */
  records: AuditRecord[];
  /** Set when older records may match: pass it back for the next page. */
  cursor: string | undefined;
}

/**
 * Where records go: the state table in AWS, an HMAC-chained file locally.
 * (A port: it belongs in ports.ts beside StateStore once wired.)
 */
export interface AuditLog {
  /** Writes the records in order; throws when they could not all be written. */
  append(records: readonly AuditRecord[]): Promise<void>;
  /** How many records one append takes best: the trail's batch size unless one is configured. */
  readonly preferredBatch?: number;
  query(query: AuditQuery): Promise<AuditPage>;
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;
export const DEFAULT_RETENTION_DAYS = 400;

// ---------------------------------------------------------------- the guard

/** `screen`: also refused when it looks like secret material (shapes loose enough to hold some). */
type Rule = { type: 'string'; pattern: RegExp; max: number; screen: boolean } | { type: 'number'; min: number; max: number } | { type: 'boolean' };

const str = (pattern: RegExp, max = 64, screen = true): Rule => ({ type: 'string', pattern, max, screen });
const int = (min: number, max: number): Rule => ({ type: 'number', min, max });
const oneOf = (...values: string[]): Rule => str(new RegExp(`^(?:${values.join('|')})$`), 32, false);
const NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** Field names or error codes, comma-separated: never values. */
const NAMES = /^[a-z][a-z0-9_]{0,63}(?:,[a-z][a-z0-9_]{0,63}){0,31}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;
const RECORD_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
const MAX_DETAILS = 16;

/**
 * The only keys `details` may hold, each with the shape of its value. A new fact needs
 * a line here, which is where a reviewer sees what the trail may hold.
 */
export const DETAIL_RULES: Readonly<Record<string, Rule>> = {
  /** admin_change: what was done, e.g. tenants.update, apps.add, credential.set. */
  operation: str(/^[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*){0,3}$/),
  /** Names of the fields that changed (never their values). */
  changed: str(NAMES, 400),
  /** Names of the fields a link asks for. */
  fields: str(NAMES, 400),
  /** Certificate report error and warning codes. */
  errors: str(NAMES, 400),
  warnings: str(NAMES, 400),
  verdict: oneOf('accepted', 'unchanged', 'rejected', 'deleted'),
  result: oneOf('ok', 'failed', 'not_testable'),
  step: oneOf('next_stored', 'activated', 'retired', 'stored'),
  /** A short reason code: invalid, check_failed, throttled, gone… */
  reason: str(NAME),
  kind: str(CREDENTIAL_ID_PATTERN, 64, false),
  environment: str(/^[a-z]{1,32}$/, 32, false),
  /** A secret version id. */
  version: str(/^[A-Za-z0-9-]{1,64}$/),
  /** A connect link: its hash's first 12 hex digits, as the logs name it. */
  link: str(/^[0-9a-f]{12}$/, 12, false),
  /** A certificate's SHA-256 fingerprint (public). */
  sha256: str(/^[0-9a-f]{64}$/, 64, false),
  expires_at: str(ISO_TIME, 32, false),
  previous_key_expires_at: str(ISO_TIME, 32, false),
  upstream_status: int(100, 599),
  /** The upstream's OAuth error code (invalid_client…). */
  upstream_error: str(/^[A-Za-z0-9_.:-]{1,64}$/),
  status: int(100, 599),
  checked: { type: 'boolean' },
  /** An uploaded file's name. */
  file: str(/^(?!\.{1,2}$)[^/\\\u0000-\u001f\u007f]{1,120}$/, 120),
  /** Where a link was sent: one of the tenant's alert addresses. */
  sent_to: str(/^[^\s@]{1,64}@[^\s@]{1,190}$/, 254),
  /** Which app key: the current one, the previous one during an overlap, the next one of a rotation. */
  key: oneOf('current', 'previous', 'next'),
  overlap_seconds: int(0, 31 * 86_400),
  /** Where a certificate came from. */
  source: oneOf('s3', 'console', 'link', 'cli'),
  profile: str(/^[a-z][a-z-]{0,31}$/, 32, false),
  count: int(0, 1_000_000_000),
  ms: int(0, 86_400_000),
};

/** What secret material looks like, refused in any loosely shaped string even where the shape would allow it. */
const SECRET_LOOKS = /-----BEGIN|\bsesame_[a-z0-9-]+_[A-Za-z0-9_-]{16}|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8}/;
const CONTROL = /[\u0000-\u001f\u007f]/;

const RECORD_FIELDS = new Set(['id', 'time', 'type', 'actor', 'tenant', 'credential', 'app', 'outcome', 'code', 'cached', 'details']);
const TYPES: ReadonlySet<string> = new Set(AUDIT_TYPES);
const ACTORS: ReadonlySet<string> = new Set(ACTOR_TYPES);
const OUTCOME_SET: ReadonlySet<string> = new Set(OUTCOMES);
/** The fields each type must carry. */
const REQUIRED: Record<AuditType, readonly ('tenant' | 'credential' | 'app')[]> = {
  token: ['tenant', 'credential', 'app'],
  assertion: ['tenant', 'credential', 'app'],
  admin_change: [],
  link_created: ['tenant', 'credential'],
  link_used: ['tenant', 'credential'],
  app_revoked: ['app'],
  certificate_verdict: ['tenant', 'credential'],
  health_check: ['tenant', 'credential'],
  rotation: ['tenant', 'credential'],
};
/** An actor's id by its type; ids (a-z, 0-9, "-") and hex cannot hold what SECRET_LOOKS finds, so only free text is screened. */
const ACTOR_ID: Record<ActorType, { pattern: RegExp; screen: boolean }> = {
  app: { pattern: ID_PATTERN, screen: false },
  // An OIDC subject is the issuer's choice: a UUID, an email, an opaque string.
  operator: { pattern: /^[^\u0000-\u001f\u007f]{1,200}$/, screen: true },
  cli: { pattern: /^[^\u0000-\u001f\u007f]{1,64}$/, screen: true },
  link: { pattern: /^[0-9a-f]{12}$/, screen: false },
  system: { pattern: ID_PATTERN, screen: false },
};

export type AuditCheck = { ok: true; record: AuditRecord } | { ok: false; field: string; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A key as it may appear in a warning: a name, never something that could be a value. */
const fieldName = (k: string) => (/^[A-Za-z0-9_.-]{1,40}$/.test(k) ? k : '(a key that is not a name)');

function checkString(value: unknown, pattern: RegExp, max: number, screen: boolean): string | undefined {
  if (typeof value !== 'string') return 'is not a string';
  if (value.length > max) return `is longer than ${max} characters`;
  if (CONTROL.test(value)) return 'holds control characters';
  if (!pattern.test(value)) return 'does not have the shape of this field';
  if (screen && SECRET_LOOKS.test(value)) return 'looks like secret material';
  return undefined;
}

/**
 * The record as the trail may keep it, or the first field that refuses it and why (in
 * words that never quote the value). The record comes back with its keys sorted (and
 * its actor's and details'), so that JSON.stringify() of it is its canonical JSON.
 */
export function checkAuditRecord(value: unknown): AuditCheck {
  return isObject(value) ? check(value, value.id, value.time) : { ok: false, field: 'record', reason: 'is not an object' };
}

/** The guard, with id and time apart: record() stamps them without copying the entry. */
function check(v: Record<string, unknown>, id: unknown, time: unknown): AuditCheck {
  const no = (field: string, reason: string): AuditCheck => ({ ok: false, field, reason });
  for (const k in v) if (!RECORD_FIELDS.has(k)) return no(fieldName(k), 'is not a field of audit records');
  if (typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id)) return no('id', 'is not 16 hex digits');
  if (typeof time !== 'string' || !RECORD_TIME.test(time)) return no('time', 'is not an ISO 8601 UTC time with milliseconds');
  if (typeof v.type !== 'string' || !TYPES.has(v.type)) return no('type', 'is not an audit record type');
  const type = v.type as AuditType;
  const a = v.actor;
  if (!isObject(a)) return no('actor', 'is not an object');
  for (const k in a) if (k !== 'type' && k !== 'id') return no(`actor.${fieldName(k)}`, 'is not a field of an actor');
  if (typeof a.type !== 'string' || !ACTORS.has(a.type)) return no('actor.type', 'is not an actor type');
  const actorRule = ACTOR_ID[a.type as ActorType];
  const actorWhy = checkString(a.id, actorRule.pattern, 200, actorRule.screen);
  if (actorWhy) return no('actor.id', actorWhy);
  if (v.tenant !== undefined) {
    const why = checkString(v.tenant, ID_PATTERN, 64, false);
    if (why) return no('tenant', why);
  }
  if (v.credential !== undefined) {
    const why = checkString(v.credential, CREDENTIAL_ID_PATTERN, 128, false);
    if (why) return no('credential', why);
  }
  if (v.app !== undefined) {
    const why = checkString(v.app, ID_PATTERN, 64, false);
    if (why) return no('app', why);
  }
  for (const f of REQUIRED[type]) if (v[f] === undefined) return no(f, `is required in ${type} records`);
  if (typeof v.outcome !== 'string' || !OUTCOME_SET.has(v.outcome)) return no('outcome', 'is not ok, refused or error');
  if (v.code !== undefined) {
    if (v.outcome === 'ok') return no('code', 'is only for refused or error outcomes');
    if (typeof v.code !== 'string' || !Object.hasOwn(ERROR_STATUS, v.code)) return no('code', 'is not a Sesame error code');
  }
  if (v.cached !== undefined) {
    if (type !== 'token') return no('cached', 'is only for token records');
    if (typeof v.cached !== 'boolean') return no('cached', 'is not a boolean');
  }
  let details: AuditDetails | undefined;
  if (v.details !== undefined) {
    if (!isObject(v.details)) return no('details', 'is not an object');
    const keys = Object.keys(v.details);
    if (keys.length > MAX_DETAILS) return no('details', `holds more than ${MAX_DETAILS} keys`);
    if (keys.length > 0) details = {};
    for (const k of keys.sort()) {
      const rule = Object.hasOwn(DETAIL_RULES, k) ? DETAIL_RULES[k] : undefined;
      if (!rule) return no(`details.${fieldName(k)}`, 'is not an allowed detail');
      const d = v.details[k];
      if (rule.type === 'boolean') {
        if (typeof d !== 'boolean') return no(`details.${k}`, 'is not a boolean');
      } else if (rule.type === 'number') {
        if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < rule.min || d > rule.max) return no(`details.${k}`, `is not a whole number from ${rule.min} to ${rule.max}`);
      } else {
        const why = checkString(d, rule.pattern, rule.max, rule.screen);
        if (why) return no(`details.${k}`, why);
      }
      (details as AuditDetails)[k] = d as string | number | boolean;
    }
  }
  // Assigned in sorted key order (not spread: this runs on the caller's path).
  const record = { actor: { id: a.id as string, type: a.type as ActorType } } as AuditRecord;
  if (v.app !== undefined) record.app = v.app as string;
  if (v.cached !== undefined) record.cached = v.cached;
  if (v.code !== undefined) record.code = v.code as ErrorCode;
  if (v.credential !== undefined) record.credential = v.credential as string;
  if (details) record.details = details;
  record.id = id;
  record.outcome = v.outcome as AuditOutcome;
  if (v.tenant !== undefined) record.tenant = v.tenant as string;
  record.time = time;
  record.type = type;
  return { ok: true, record };
}

// ---------------------------------------------------------------- constructors

/** How a failure reads in the trail: a refusal (4xx) with its code, or an error. */
export function outcomeOf(err: unknown): { outcome: AuditOutcome; code: ErrorCode } {
  if (err instanceof SesameError) return { outcome: err.status < 500 ? 'refused' : 'error', code: err.code };
  return { outcome: 'error', code: 'internal' };
}

const result = (error: unknown): Pick<AuditEntry, 'outcome' | 'code'> => (error === undefined ? { outcome: 'ok' } : outcomeOf(error));
const opt = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));
const withDetails = (d: Record<string, string | number | boolean | undefined>): Pick<AuditEntry, 'details'> => {
  const kept = Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) as AuditDetails;
  return Object.keys(kept).length > 0 ? { details: kept } : {};
};

/**
 * An operator's subject as the trail can hold it: as it is when it fits, else a stable
 * SHA-256 prefix, so that an issuer's unusual subject never costs the record.
 */
const operatorId = (sub: string) => (/^[^\u0000-\u001f\u007f]{1,200}$/.test(sub) && !SECRET_LOOKS.test(sub) ? sub : `sha256:${createHash('sha256').update(sub, 'utf8').digest('hex').slice(0, 32)}`);
/** Only what the rules take: a name that does not fit is left out rather than the record refused. */
const names = (list: readonly string[] | undefined) => (list ?? []).filter((n) => NAME.test(n)).slice(0, 32);
const upstreamCode = (code: string | undefined) => (code !== undefined && /^[A-Za-z0-9_.:-]{1,64}$/.test(code) ? code : undefined);

export const actor = {
  app: (id: string): AuditActor => ({ type: 'app', id }),
  operator: (sub: string): AuditActor => ({ type: 'operator', id: operatorId(sub) }),
  cli: (id = 'cli'): AuditActor => ({ type: 'cli', id }),
  /** The link's hash (hex): its first 12 digits, as the logs name it. */
  link: (hash: string): AuditActor => ({ type: 'link', id: hash.slice(0, 12) }),
  system: (fn: string): AuditActor => ({ type: 'system', id: fn }),
};

/**
 * One constructor per record type, so that a call site stays one line:
 * `trail.record(audit.token({ app, tenant, credential, cached }))`, or with `error: err`
 * in a catch. `error` gives the outcome (refused or error) and the stable code.
 */
export const audit = {
  token(i: { app: string; tenant: string; credential: string; cached?: boolean; error?: unknown; kind?: string }): AuditEntry {
    return { type: 'token', actor: actor.app(i.app), tenant: i.tenant, credential: i.credential, app: i.app, ...result(i.error), ...opt('cached', i.error === undefined ? i.cached : undefined), ...withDetails({ kind: i.kind }) };
  },
  assertion(i: { app: string; tenant: string; credential: string; error?: unknown }): AuditEntry {
    return { type: 'assertion', actor: actor.app(i.app), tenant: i.tenant, credential: i.credential, app: i.app, ...result(i.error) };
  },
  /** An operator's (or the CLI's) change: tenants, credentials, apps (added, rotated). */
  adminChange(i: { actor: AuditActor; operation: string; tenant?: string; credential?: string; app?: string; changed?: readonly string[]; version?: string; error?: unknown; details?: AuditDetails }): AuditEntry {
    return {
      type: 'admin_change',
      actor: i.actor,
      ...opt('tenant', i.tenant),
      ...opt('credential', i.credential),
      ...opt('app', i.app),
      ...result(i.error),
      ...withDetails({ ...i.details, operation: i.operation, changed: names(i.changed).length > 0 ? names(i.changed).join(',') : undefined, version: i.version }),
    };
  },
  linkCreated(i: { actor: AuditActor; tenant: string; credential: string; link: string; expiresAt: string; fields: readonly string[]; sentTo?: string; error?: unknown }): AuditEntry {
    return { type: 'link_created', actor: i.actor, tenant: i.tenant, credential: i.credential, ...result(i.error), ...withDetails({ link: i.link.slice(0, 12), expires_at: i.expiresAt, fields: i.fields.join(','), sent_to: i.sentTo }) };
  },
  /** A submission through a link: stored (ok), or refused with a reason (invalid, check_failed, throttled). */
  linkUsed(i: { link: string; tenant: string; credential: string; reason?: string; checked?: boolean; version?: string; error?: unknown }): AuditEntry {
    const outcome = i.error !== undefined ? outcomeOf(i.error) : i.reason !== undefined ? { outcome: 'refused' as const } : { outcome: 'ok' as const };
    return { type: 'link_used', actor: actor.link(i.link), tenant: i.tenant, credential: i.credential, ...outcome, ...withDetails({ link: i.link.slice(0, 12), reason: i.reason, checked: i.checked, version: i.version }) };
  },
  appRevoked(i: { actor: AuditActor; app: string; error?: unknown }): AuditEntry {
    return { type: 'app_revoked', actor: i.actor, app: i.app, ...result(i.error) };
  },
  certificateVerdict(i: { actor: AuditActor; tenant: string; credential: string; verdict: 'accepted' | 'unchanged' | 'rejected' | 'deleted'; source: 's3' | 'console' | 'link' | 'cli'; errors?: readonly string[]; warnings?: readonly string[]; sha256?: string; file?: string; expiresAt?: string }): AuditEntry {
    const refused = i.verdict === 'rejected' || i.verdict === 'deleted';
    return {
      type: 'certificate_verdict',
      actor: i.actor,
      tenant: i.tenant,
      credential: i.credential,
      outcome: refused ? 'refused' : 'ok',
      ...withDetails({ verdict: i.verdict, source: i.source, errors: i.errors?.length ? i.errors.join(',') : undefined, warnings: i.warnings?.length ? i.warnings.join(',') : undefined, sha256: i.sha256, file: i.file, expires_at: i.expiresAt }),
    };
  },
  healthCheck(i: { actor: AuditActor; tenant: string; credential: string; result: 'ok' | 'failed' | 'not_testable'; upstreamStatus?: number; upstreamError?: string; error?: unknown }): AuditEntry {
    const outcome = i.error !== undefined ? outcomeOf(i.error) : { outcome: i.result === 'failed' ? ('refused' as const) : ('ok' as const) };
    return { type: 'health_check', actor: i.actor, tenant: i.tenant, credential: i.credential, ...outcome, ...withDetails({ result: i.result, upstream_status: i.upstreamStatus, upstream_error: upstreamCode(i.upstreamError) }) };
  },
  rotation(i: { actor: AuditActor; tenant: string; credential: string; step: 'next_stored' | 'activated' | 'retired' | 'stored'; version?: string; error?: unknown }): AuditEntry {
    return { type: 'rotation', actor: i.actor, tenant: i.tenant, credential: i.credential, ...result(i.error), ...withDetails({ step: i.step, version: i.version }) };
  },
};

// ---------------------------------------------------------------- the trail

/** A timer the trail can cancel; injected in tests so that nothing waits on real time. */
export type Schedule = (fn: () => void, ms: number) => { cancel(): void };

export const realSchedule: Schedule = (fn, ms) => {
  const t = setTimeout(fn, ms);
  // A pending flush must not keep a CLI process (or a test) alive.
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

export interface AuditTrailOptions {
  clock?: Clock;
  /** Records held at most, waiting to be written; beyond, records are dropped and counted. Default 10,000. */
  maxBuffer?: number;
  /** Records per write, at most. Default: the log's preferredBatch, else 100. */
  batchSize?: number | undefined;
  /** A partial batch is written this long after its first record. Default 1000 ms. */
  flushIntervalMs?: number;
  schedule?: Schedule;
}

export interface AuditStats {
  /** Accepted into the buffer. */
  recorded: number;
  written: number;
  /** Buffer full. */
  dropped: number;
  /** Refused by the guard. */
  refused: number;
  /** Lost to a failed write. */
  failed: number;
  /** Waiting in the buffer, or being written. */
  pending: number;
}

/** Environment: SESAME_AUDIT_RETENTION_DAYS (1..3650, default 400), SESAME_AUDIT_BUFFER, SESAME_AUDIT_BATCH, SESAME_AUDIT_FLUSH_MS. */
export interface AuditConfig {
  retentionDays: number;
  maxBuffer: number;
  /** Undefined: each log's preferred batch (1000 records locally, 100 for DynamoDB). */
  batchSize: number | undefined;
  flushIntervalMs: number;
}

export function readAuditConfig(env: NodeJS.ProcessEnv = process.env): AuditConfig {
  const whole = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new SesameError('invalid_request', `environment variable ${name} must be a whole number from ${min} to ${max}, got "${raw.slice(0, 32)}"`);
    return n;
  };
  return {
    retentionDays: whole('SESAME_AUDIT_RETENTION_DAYS', DEFAULT_RETENTION_DAYS, 1, 3650),
    maxBuffer: whole('SESAME_AUDIT_BUFFER', 10_000, 1, 1_000_000),
    batchSize: env.SESAME_AUDIT_BATCH ? whole('SESAME_AUDIT_BATCH', 0, 1, 5000) : undefined,
    flushIntervalMs: whole('SESAME_AUDIT_FLUSH_MS', 1000, 1, 60_000),
  };
}

/** Random ids from a pool refilled 512 at a time: one randomBytes() call per record costs more than the rest of record(). */
const ID_POOL = Buffer.alloc(4096);
let idOffset = ID_POOL.length;
function nextId(): string {
  if (idOffset >= ID_POOL.length) {
    randomFillSync(ID_POOL);
    idOffset = 0;
  }
  idOffset += 8;
  return ID_POOL.toString('hex', idOffset - 8, idOffset);
}

/** What the core records into: the trail, or nothing (a system without an audit log). */
export type AuditSink = Pick<AuditTrail, 'record'>;

/** The trail over a log, with the configured buffer and batches: every system builds it so. */
export function auditTrailOf(sink: AuditLog, log: Log, clock: Clock, config?: AuditConfig): AuditTrail {
  return new AuditTrail(sink, log, { clock, ...(config ? { maxBuffer: config.maxBuffer, flushIntervalMs: config.flushIntervalMs, ...(config.batchSize !== undefined ? { batchSize: config.batchSize } : {}) } : {}) });
}

export class AuditTrail {
  private readonly clock: Clock;
  private readonly maxBuffer: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly schedule: Schedule;
  private buffer: AuditRecord[] = [];
  private inFlight = 0;
  private writing: Promise<void> | undefined;
  private timer: { cancel(): void } | undefined;
  /** Whether records are being dropped now: warned once per episode, not once per record. */
  private dropping = 0;
  private readonly counts = { recorded: 0, written: 0, dropped: 0, refused: 0, failed: 0 };
  private readonly reported = { dropped: 0, refused: 0, failed: 0 };
  /** flush() calls waiting for that many records to be done (written or failed). */
  private waiters: { target: number; resolve: () => void }[] = [];
  /** The time of the last record: many records share a millisecond under load. */
  private lastMs = Number.NaN;
  private lastIso = '';

  constructor(
    private readonly sink: AuditLog,
    private readonly log: Log,
    options: AuditTrailOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.maxBuffer = Math.max(1, options.maxBuffer ?? 10_000);
    this.batchSize = Math.max(1, options.batchSize ?? sink.preferredBatch ?? 100);
    this.flushIntervalMs = Math.max(1, options.flushIntervalMs ?? 1000);
    this.schedule = options.schedule ?? realSchedule;
  }

  /**
   * Takes a record for writing, without waiting for anything: true when it was taken,
   * false when the guard refused it or the buffer was full. Never throws.
   */
  record(entry: AuditEntry): boolean {
    const ms = this.clock.now().getTime();
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastIso = new Date(ms).toISOString();
    }
    // The entry's own id or time, if a caller gave one, would be ignored: the trail stamps both.
    const checked = isObject(entry) ? check(entry, nextId(), this.lastIso) : ({ ok: false, field: 'record', reason: 'is not an object' } as const);
    if (!checked.ok) {
      this.counts.refused += 1;
      const type = typeof entry?.type === 'string' && (AUDIT_TYPES as readonly string[]).includes(entry.type) ? entry.type : undefined;
      this.log.warn('audit record refused', { field: checked.field, reason: checked.reason, ...(type ? { type } : {}) });
      return false;
    }
    if (this.buffer.length >= this.maxBuffer) {
      this.counts.dropped += 1;
      if (this.dropping === 0) this.log.warn('audit buffer full: records are dropped until it drains', { max_buffer: this.maxBuffer });
      this.dropping += 1;
      return false;
    }
    this.buffer.push(checked.record);
    this.counts.recorded += 1;
    if (this.buffer.length >= this.batchSize) this.kick();
    else if (!this.timer && !this.writing) this.timer = this.schedule(() => this.onTimer(), this.flushIntervalMs);
    return true;
  }

  /**
   * Resolves once every record taken before the call is written (or its write failed),
   * or after `timeoutMs`, when writing goes on in the background. Never throws. Handlers
   * that end with the request (Lambda) call it before returning, as their environment
   * is frozen afterwards.
   */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    this.cancelTimer();
    // Records are written in order: once this many are done (written or failed), all taken before the call are.
    // Not "until the buffer is empty", which under a steady stream of records would never come.
    const target = this.counts.recorded;
    const drained = this.counts.written + this.counts.failed >= target ? Promise.resolve() : new Promise<void>((resolve) => this.waiters.push({ target, resolve }));
    // Not awaiting the writer itself: under a steady stream it never stops.
    if (!this.writing) this.kick();
    if (options.timeoutMs === undefined) return drained;
    let timer: { cancel(): void } | undefined;
    await Promise.race([drained, new Promise<void>((resolve) => (timer = this.schedule(resolve, options.timeoutMs as number)))]);
    timer?.cancel();
  }

  get stats(): AuditStats {
    return { ...this.counts, pending: this.buffer.length + this.inFlight };
  }

  /** Dropped, refused and failed records since the last call: what to add to the metrics. */
  takeCounts(): { dropped: number; refused: number; failed: number } {
    const out = { dropped: this.counts.dropped - this.reported.dropped, refused: this.counts.refused - this.reported.refused, failed: this.counts.failed - this.reported.failed };
    this.reported.dropped = this.counts.dropped;
    this.reported.refused = this.counts.refused;
    this.reported.failed = this.counts.failed;
    return out;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.kick();
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Starts the background writer unless it runs: on the next turn of the event loop, never on the caller's stack. */
  private kick(): void {
    if (this.writing) return;
    this.cancelTimer();
    this.writing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.drain())
      .finally(() => {
        this.writing = undefined;
        // A record that came between the drain's end and here: at once if a batch is full or a flush() waits.
        if (this.buffer.length >= this.batchSize || (this.buffer.length > 0 && this.waiters.length > 0)) this.kick();
        else if (this.buffer.length > 0 && !this.timer) this.timer = this.schedule(() => this.onTimer(), this.flushIntervalMs);
      });
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      this.inFlight = batch.length;
      try {
        await this.sink.append(batch);
        this.counts.written += batch.length;
      } catch (err) {
        this.counts.failed += batch.length;
        // The error's code and words only: adapters never put a record's content in them.
        this.log.error('audit records could not be written', { count: batch.length, ...describeError(err) });
      } finally {
        this.inFlight = 0;
      }
      if (this.waiters.length > 0) {
        const done = this.counts.written + this.counts.failed;
        this.waiters = this.waiters.filter((w) => (w.target <= done ? (w.resolve(), false) : true));
      }
      if (this.dropping > 0 && this.buffer.length < this.maxBuffer) {
        this.log.warn('audit buffer has room again', { dropped: this.dropping });
        this.dropping = 0;
      }
    }
  }
}

// ---------------------------------------------------------------- queries

const DURATION = /^(\d{1,6})([smhdw])$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * A point in time for --since / --until and the admin API: a duration back from now
 * (`90s`, `30m`, `24h`, `7d`, `2w`), a date (`2026-06-01`, midnight UTC) or an ISO 8601
 * time with its zone. Anything else is invalid_request naming the field.
 */
export function parseAuditTime(text: string, now: Date, field: string): Date {
  const t = text.trim();
  const m = DURATION.exec(t);
  if (m) return new Date(now.getTime() - Number(m[1]) * (UNIT_MS[m[2] as string] as number));
  if (DATE_ONLY.test(t)) {
    const d = new Date(`${t}T00:00:00Z`);
    // Not a day that rolls over (2026-02-30 would be 2 March).
    if (!Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === t) return d;
  } else if (DATE_TIME.test(t)) {
    const d = new Date(t);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new SesameError('invalid_request', `${field} must be a duration back from now (30m, 24h, 7d, 2w) or a date (2026-06-01, 2026-06-01T08:00:00Z), not "${t.slice(0, 40)}"`, { details: { field } });
}

/** The query of the admin API and the CLI from their text parameters; `since` defaults to 7 days back. */
export function parseAuditQuery(q: { tenant?: string | undefined; app?: string | undefined; since?: string | undefined; until?: string | undefined; limit?: string | number | undefined; cursor?: string | undefined }, now: Date): AuditQuery {
  const bad = (field: string, why: string) => new SesameError('invalid_request', `${field} ${why}`, { details: { field } });
  if (q.tenant !== undefined && !ID_PATTERN.test(q.tenant)) throw bad('tenant', 'must be a tenant id (a-z, 0-9 and "-", 1 to 64 characters)');
  if (q.app !== undefined && !ID_PATTERN.test(q.app)) throw bad('app', 'must be an app id (a-z, 0-9 and "-", 1 to 64 characters)');
  const since = parseAuditTime(q.since ?? '7d', now, 'since');
  const until = q.until !== undefined ? parseAuditTime(q.until, now, 'until') : undefined;
  if (until && until < since) throw bad('until', 'is before since');
  let limit: number | undefined;
  if (q.limit !== undefined) {
    limit = typeof q.limit === 'number' ? q.limit : /^\d{1,7}$/.test(q.limit) ? Number(q.limit) : Number.NaN;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) throw bad('limit', `must be a whole number from 1 to ${MAX_AUDIT_LIMIT}`);
  }
  if (q.cursor !== undefined && (q.cursor.length === 0 || q.cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(q.cursor))) throw bad('cursor', 'is not a cursor this API returned');
  return {
    ...(q.tenant !== undefined ? { tenant: q.tenant } : {}),
    ...(q.app !== undefined ? { app: q.app } : {}),
    since,
    ...(until ? { until } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
  };
}

/** The limit of a query, checked (both adapters). */
export function auditLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_AUDIT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) throw new SesameError('invalid_request', `limit must be a whole number from 1 to ${MAX_AUDIT_LIMIT}`, { details: { field: 'limit' } });
  return limit;
}

/** Whether a record matches a query's filters (the adapters' own ranges do the rest). */
export function matchesAudit(r: AuditRecord, q: AuditQuery): boolean {
  if (q.tenant !== undefined && r.tenant !== q.tenant) return false;
  if (q.app !== undefined && r.app !== q.app) return false;
  const t = Date.parse(r.time);
  if (q.since && t < q.since.getTime()) return false;
  if (q.until && t > q.until.getTime()) return false;
  return true;
}

/** JSON with object keys sorted, no spaces: the bytes a record's hash is computed over. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
