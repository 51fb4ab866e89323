import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { TtlCache } from './cache.ts';
import { SesameError } from './errors.ts';
import { ID_PATTERN, parseAppId, parseTenantId } from './ids.ts';
import { KINDS } from './platforms/index.ts';
import type { Clock, SecretStore } from './ports.ts';
import type { Tenants } from './tenants.ts';
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

/** `app rotate --overlap`: how long the previous key keeps working. */
export const DEFAULT_OVERLAP = '24h';
export const MAX_OVERLAP_MS = 30 * 86_400_000;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m`, `24h`, `7d` (also `90s`), or `0` for at once; at most 30 days. */
export function parseOverlap(text: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  const n = Number(m?.[1]);
  if (!m || (m[2] === '' && n !== 0)) {
    throw new SesameError('invalid_request', `--overlap must be a duration such as 30m, 24h or 7d, or 0 to stop the previous key at once (not "${text.slice(0, 20)}")`, { details: { field: 'overlap' } });
  }
  const ms = m[2] === '' ? 0 : n * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms > MAX_OVERLAP_MS) throw new SesameError('invalid_request', `--overlap is at most 30d (not "${text.slice(0, 20)}")`, { details: { field: 'overlap' } });
  return ms;
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const appSchema = z.object({
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
export type AppRecord = z.infer<typeof appSchema>;

/** What `app list` shows: never a hash. */
export type AppSummary = {
  app: string;
  tenants: string[];
  kinds?: string[];
  created_at: string;
  key_created_at?: string;
  previous_key_created_at?: string;
  previous_key_expires_at?: string;
  revoked_at?: string;
};

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
const sha256 = (s: string): Buffer => hash('sha256', s, 'buffer');
const ZERO = Buffer.alloc(32);
const newKey = (app: string) => `sesame_${app}_${randomBytes(32).toString('base64url')}`;
const appTags = (app: string) => ({ 'sesame:app': app, 'sesame:type': 'app' });

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

export class Apps {
  constructor(
    private readonly store: SecretStore,
    private readonly tenants: Tenants,
    private readonly clock: Clock,
  ) {}

  /** Creates the app and returns its key: the only time the key exists outside the caller. */
  async add(input: { app: string; tenants: string[]; kinds?: string[] }): Promise<{ app: string; key: string; tenants: string[] }> {
    const app = parseAppId(input.app);
    if (input.tenants.length === 0) throw new SesameError('invalid_request', 'an app needs at least one tenant (--tenants t1,t2)', { details: { field: 'tenants' } });
    // Each tenant once: a list repeating one tenant costs one read, not one per repetition.
    for (const t of new Set(input.tenants)) await this.tenants.get(parseTenantId(t));
    for (const k of input.kinds ?? []) {
      if (!KINDS.includes(k)) throw new SesameError('invalid_request', `unknown kind "${k.slice(0, 40)}"`, { details: { field: 'kinds' } });
    }
    const existing = await this.find(app);
    if (existing && !existing.revoked_at) {
      throw new SesameError('conflict', `app "${app}" already exists: revoke it first (sesame app revoke ${app})`, { details: { app } });
    }
    const key = newKey(app);
    const record: AppRecord = {
      app,
      key_sha256: sha256(key).toString('hex'),
      tenants: [...new Set(input.tenants)].sort(),
      ...(input.kinds?.length ? { kinds: [...new Set(input.kinds)].sort() } : {}),
      created_at: this.clock.now().toISOString(),
    };
    await this.store.put(appSecretName(app), record, appTags(app));
    return { app, key, tenants: record.tenants };
  }

  /**
   * A new key, working at once; the current one keeps working for `overlap` (default
   * 24h, 0: stops at once). Rotating during an overlap replaces the previous key: the
   * oldest stops at once. Only hashes are kept; the new key is returned this once.
   */
  async rotate(app: string, options: { overlap?: string } = {}): Promise<{ app: string; key: string; previous_key_expires_at: string }> {
    const overlapMs = parseOverlap(options.overlap ?? DEFAULT_OVERLAP);
    const id = parseAppId(app);
    const record = await this.find(id);
    if (!record) throw new SesameError('invalid_request', `app "${id}" does not exist`, { details: { field: 'app' } });
    if (record.revoked_at) throw new SesameError('conflict', `app "${id}" is revoked: its keys cannot be rotated (sesame app add ${id} makes a new one)`, { details: { app: id } });
    const now = this.clock.now();
    const ends = new Date(now.getTime() + overlapMs).toISOString();
    const key = newKey(id);
    const { previous_key: _replaced, ...rest } = record;
    const rotated: AppRecord = {
      ...rest,
      key_sha256: sha256(key).toString('hex'),
      key_created_at: now.toISOString(),
      ...(overlapMs > 0 ? { previous_key: { key_sha256: record.key_sha256, created_at: record.key_created_at ?? record.created_at, expires_at: ends } } : {}),
    };
    await this.store.put(appSecretName(id), rotated, appTags(id));
    return { app: id, key, previous_key_expires_at: ends };
  }

  async revoke(app: string): Promise<AppRecord> {
    const record = await this.find(parseAppId(app));
    if (!record) throw new SesameError('invalid_request', `app "${app}" does not exist`, { details: { field: 'app' } });
    if (record.revoked_at) return record;
    // Every key of the app stops, the previous one of a rotation included.
    const { previous_key: _dropped, ...rest } = record;
    const revoked = { ...rest, revoked_at: this.clock.now().toISOString() };
    await this.store.put(appSecretName(record.app), revoked, { ...appTags(record.app), 'sesame:revoked': 'true' });
    return revoked;
  }

  async find(app: string): Promise<AppRecord | undefined> {
    const s = await this.store.get(appSecretName(app));
    return s ? validate(appSchema, s.value, `app ${app}`, 'store_corrupt') : undefined;
  }

  /** Apps with the dates of their keys: the previous key of a rotation while it still works. */
  async list(): Promise<AppSummary[]> {
    const now = this.clock.now().getTime();
    const out: AppSummary[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.store.list({ prefix: APP_PREFIX, ...(nextToken ? { nextToken } : {}) });
      for (const item of page.items) {
        const rec = await this.find(item.name.slice(APP_PREFIX.length));
        if (rec) {
          const { key_sha256: _omit, previous_key: prev, ...shown } = rec;
          const live = prev && !rec.revoked_at && now < Date.parse(prev.expires_at);
          out.push({ ...shown, ...(live ? { previous_key_created_at: prev.created_at, previous_key_expires_at: prev.expires_at } : {}) });
        }
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return out.sort((a, b) => a.app.localeCompare(b.app));
  }

  /**
   * Unknown, malformed, revoked and lapsed keys all end the same way: unauthorized. A
   * malformed key reads nothing; a well-formed one reads its app's record only.
   */
  async verify(key: string | undefined, lookup: AppLookup = (a) => this.find(a)): Promise<Principal> {
    // Built only on refusal: an Error captures a stack, too costly for every request.
    const refused = () => new SesameError('unauthorized', 'a valid app key is required: Authorization: Bearer <app key>');
    const m = KEY_PATTERN.exec(key ?? '');
    if (!m || !key) throw refused();
    const now = this.clock.now().getTime();
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

export function principalFromContext(ctx: Partial<AuthorizerContext> | undefined): Principal | undefined {
  if (!ctx || typeof ctx.app !== 'string' || ctx.app === '' || typeof ctx.tenants !== 'string') return undefined;
  const list = (s: string | undefined) => (s ?? '').split(',').filter(Boolean);
  const kinds = list(ctx.kinds);
  return { app: ctx.app, tenants: new Set(list(ctx.tenants)), kinds: kinds.length > 0 ? new Set(kinds) : undefined };
}
