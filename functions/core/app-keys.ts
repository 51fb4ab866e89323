import { hash, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { TtlCache } from './cache.ts';
import { SesameError } from './errors.ts';
import { ID_PATTERN } from './ids.ts';
import { nowMs, type Clock, type SecretStore } from './ports.ts';
import { once } from './once.ts';
import { validate } from './validate.ts';

/**
 * App keys: `sesame_<app>_<43 base64url chars>` (256 random bits). The app id in
 * the key lets the verifier fetch one record; only the SHA-256 of the key is stored,
 * which is enough for a key this random (no password-style stretching needed).
 */
export const APP_PREFIX = 'sesame-apps/';
export const appSecretName = (app: string) => `${APP_PREFIX}${app}`;
const KEY_PATTERN = /^sesame_([a-z0-9-]{1,64})_([A-Za-z0-9_-]{43})$/;

/**
 * How long a revoked key can still be accepted in AWS, end to end: API Gateway caches
 * the authorizer's verdict per Authorization header for AUTHORIZER_CACHE_SECONDS, and
 * each authorizer instance keeps app records for APP_CACHE_SECONDS. Locally, nothing
 * is cached past a change of the record: a revocation holds from the next request.
 */
export const AUTHORIZER_CACHE_SECONDS = 30;
export const APP_CACHE_SECONDS = 30;
export const REVOCATION_BOUND_SECONDS = AUTHORIZER_CACHE_SECONDS + APP_CACHE_SECONDS;

const appSchema = once(() => {
  const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
  return z.object({
    app: z.string().regex(ID_PATTERN),
    key_sha256: sha256Hex,
    tenants: z.array(z.string().regex(ID_PATTERN)),
    kinds: z.array(z.string()).optional(),
    created_at: z.string(),
    /** When the current key was made by a rotation (absent: at created_at). */
    key_created_at: z.string().optional(),
    /** The key a rotation replaced: accepted until expires_at, then refused. */
    previous_key: z.object({ key_sha256: sha256Hex, created_at: z.string(), expires_at: z.string() }).optional(),
    revoked_at: z.string().optional(),
  });
});
export type AppRecord = z.infer<ReturnType<typeof appSchema>>;

/**
 * Reads an app record. `usable` says whether a cached copy will do: a cache that holds
 * a copy it rejects reads the record again (a key that matches no cached hash may be
 * one made since), so a new key works at once.
 */
export type AppLookup = (app: string, usable?: (record: AppRecord) => boolean) => Promise<AppRecord | undefined>;

export interface Principal {
  app: string;
  tenants: ReadonlySet<string>;
  /** Undefined: every kind of the allowed tenants. */
  kinds: ReadonlySet<string> | undefined;
}

// One-shot: no Hash object per request.
export const sha256 = (s: string): Buffer => hash('sha256', s, 'buffer');
const ZERO = Buffer.alloc(32);

/** What verification needs of a record, decoded once per record (records are never mutated). */
interface Verifiable {
  current: Buffer;
  previous: Buffer;
  /** Epoch ms; -Infinity without a previous key. */
  previousUntil: number;
  principal: Principal;
  /**
   * Keys already found to match this record, with their end (Infinity: the current
   * key), so that a cached record does not hash the same key at every request. Only
   * matching keys enter: at most the two of the record, whatever junk is presented.
   */
  accepted: Map<string, number>;
}
const verifiable = new WeakMap<AppRecord, Verifiable>();
function prepared(record: AppRecord): Verifiable {
  let v = verifiable.get(record);
  if (!v) {
    const prev = record.previous_key;
    v = {
      current: Buffer.from(record.key_sha256, 'hex'),
      previous: prev ? Buffer.from(prev.key_sha256, 'hex') : ZERO,
      previousUntil: prev ? Date.parse(prev.expires_at) : Number.NEGATIVE_INFINITY,
      principal: { app: record.app, tenants: new Set(record.tenants), kinds: record.kinds ? new Set(record.kinds) : undefined },
      accepted: new Map(),
    };
    verifiable.set(record, v);
  }
  return v;
}

/**
 * Until when `key` is accepted by the record: Infinity for its current key, the end of
 * the overlap for the previous one, undefined for anything else. Both hashes are
 * compared in constant time, even without a record, so that timing tells nothing apart.
 */
function keyEnd(record: AppRecord | undefined, key: string): number | undefined {
  const v = record ? prepared(record) : undefined;
  const known = v?.accepted.get(key);
  if (known !== undefined) return known;
  const presented = sha256(key);
  const current = timingSafeEqual(presented, v ? v.current : ZERO);
  const previous = timingSafeEqual(presented, v ? v.previous : ZERO);
  if (!v || !(current || previous)) return undefined;
  const end = current ? Number.POSITIVE_INFINITY : v.previousUntil;
  if (v.accepted.size < 2) v.accepted.set(key, end);
  return end;
}

export function bearerKey(authorization: string | undefined): string | undefined {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  return m?.[1];
}

/** Built only on refusal: an Error captures a stack, too costly for every request. */
const refused = () => new SesameError('unauthorized', 'a valid app key is required: Authorization: Bearer <app key>');

/**
 * What an authorizer needs of the apps: their records and the check of a key, nothing
 * of their management (Apps), so that the authorizer's bundle holds no platform.
 */
export class AppKeys {
  constructor(
    protected readonly store: SecretStore,
    protected readonly clock: Clock,
  ) {}

  async find(app: string): Promise<AppRecord | undefined> {
    const s = await this.store.get(appSecretName(app));
    return s ? validate(appSchema(), s.value, `app ${app}`, 'store_corrupt') : undefined;
  }

  /**
   * Unknown, malformed, revoked and lapsed keys all end the same way: unauthorized. A
   * malformed key reads nothing; a well-formed one reads its app's record only.
   */
  async verify(key: string | undefined, lookup: AppLookup = (a) => this.find(a)): Promise<Principal> {
    const m = KEY_PATTERN.exec(key ?? '');
    if (!m || !key) throw refused();
    const now = nowMs(this.clock);
    let matched: AppRecord | undefined;
    const accepts = (r: AppRecord | undefined) => {
      const ok = now < (keyEnd(r, key) ?? Number.NEGATIVE_INFINITY);
      if (ok) matched = r;
      return ok;
    };
    const record = await lookup(m[1] as string, accepts);
    // Checked even when the app is unknown, so that timing does not tell apps apart.
    const ok = (record !== undefined && record === matched) || accepts(record);
    if (!ok || !record || record.revoked_at) throw refused();
    return prepared(record).principal;
  }
}

export interface AppCacheOptions {
  /** How long a record is kept at most; a lookup's own duration counts against it. */
  ttlMs: number;
  maxEntries?: number;
  /**
   * A cheap fingerprint of the stored record (locally: its file's identity), taken
   * before each read: a cached copy is used only while the fingerprint is unchanged,
   * so a change made by another process shows at the next lookup. Undefined: unknown,
   * and nothing is served from cache.
   */
  stamp?: (app: string) => string | undefined;
}

/**
 * App records for authorizers, cached per app in a bounded LRU. Only records that
 * exist are kept, so junk keys (malformed, unknown apps, wrong secrets) add nothing:
 * the cache never holds more entries than there are apps, nor more than maxEntries.
 */
export class AppRecordCache {
  private readonly entries: TtlCache<{ record: AppRecord; stamp: string | undefined }>;

  constructor(
    private readonly read: (app: string) => Promise<AppRecord | undefined>,
    private readonly clock: Clock,
    private readonly options: AppCacheOptions,
  ) {
    this.entries = new TtlCache(clock, options.maxEntries ?? 1_000);
  }

  get size(): number {
    return this.entries.size;
  }

  readonly lookup: AppLookup = async (app, usable) => {
    const stamp = this.options.stamp?.(app);
    const hit = this.entries.get(app);
    if (hit && (!this.options.stamp || (stamp !== undefined && hit.stamp === stamp)) && (!usable || usable(hit.record))) return hit.record;
    const started = this.clock.now().getTime();
    const record = await this.read(app);
    if (!record || (this.options.stamp && stamp === undefined)) {
      this.entries.delete(app);
      return record;
    }
    // Counted from before the read: the copy is never older than ttlMs.
    this.entries.set(app, { record, stamp }, this.options.ttlMs - (this.clock.now().getTime() - started));
    return record;
  };
}

/** What the authorizer hands API Gateway: strings only, as every API Gateway flavour accepts. */
export interface AuthorizerContext {
  app: string;
  tenants: string;
  kinds: string;
}

export function principalToContext(p: Principal): AuthorizerContext {
  return { app: p.app, tenants: [...p.tenants].join(','), kinds: p.kinds ? [...p.kinds].join(',') : '' };
}

/** Principals already parsed from a context, by its strings: an app's requests share one (bounded, emptied when full). */
const parsedPrincipals = new Map<string, Principal>();
const PARSED_PRINCIPALS = 1_000;

export function principalFromContext(ctx: Partial<AuthorizerContext> | undefined): Principal | undefined {
  if (!ctx || typeof ctx.app !== 'string' || ctx.app === '' || typeof ctx.tenants !== 'string') return undefined;
  const key = `${ctx.app}\n${ctx.tenants}\n${typeof ctx.kinds === 'string' ? ctx.kinds : ''}`;
  const known = parsedPrincipals.get(key);
  if (known) return known;
  const parsed = parsePrincipal(ctx.app, ctx.tenants, ctx.kinds);
  if (parsedPrincipals.size >= PARSED_PRINCIPALS) parsedPrincipals.clear();
  parsedPrincipals.set(key, parsed);
  return parsed;
}

function parsePrincipal(app: string, tenants: string, kindList: string | undefined): Principal {
  const list = (s: string | undefined) => (s ?? '').split(',').filter(Boolean);
  const kinds = list(kindList);
  return { app, tenants: new Set(list(tenants)), kinds: kinds.length > 0 ? new Set(kinds) : undefined };
}
