import { randomUUID } from 'node:crypto';
import { SingleFlight } from './cache.ts';
import { describeError, isSesameError, SesameError, type ErrorCode, type ErrorDetails } from './errors.ts';
import type { TokenResult } from './oauth.ts';
import type { Clock, Log, Sealer, StateItem, StateStore } from './ports.ts';

/**
 * The second level of the access-token cache, shared by every broker over one state
 * store (every Lambda container of the token function over the state table), so that
 * one credential costs one upstream call per token lifetime however many containers
 * ask. The broker's in-memory cache stays the first level.
 *
 * One item per credential and secret version: pk `token#<tenant>/<credential>`, sk
 * `v#<secret version>`. Keying by version rather than keeping the version in a single
 * item means that while containers still hold different versions of a rotated secret
 * (for up to the broker's secret cache TTL), each version has its own token instead of
 * the two overwriting each other at every request. The item holds the token sealed
 * (never in clear), its expiry, and while someone fetches one, a lease {owner, until}.
 *
 * To get a token: a fresh one (not within the refresh margin) is unsealed and served.
 * Otherwise the caller takes the lease with a conditional write (ifAbsent, or ifVersion
 * of what it read), calls upstream, and writes the sealed token under `ifVersion` of
 * its lease write: if its lease lapsed and someone took it over, that write fails and
 * the newer holder's token stands (fencing). Everyone else polls (bounded: at most
 * `maxLeasesWaited` leases of others, each bounded by its `until`) until the token
 * appears, the holder records a failure (which they share, rather than each retrying a
 * refusing or failing upstream in turn), or the lease lapses and one of them takes it.
 * A crashed holder's lease simply lapses.
 *
 * Availability comes before the saving: when the state store or the sealer fails, the
 * caller calls upstream directly (logged without secrets, counted in `counters`).
 *
 * Versions restart at 1 when an item expires and is written again, which would let a
 * holder from long ago match a new item's version (ABA). So every write keeps the item
 * at least `2 × lease` beyond the write, and a holder writes only within `2 × lease` of
 * taking its lease: while its write can land, the item cannot have been recreated.
 */
/**
 * The KMS encryption context of every data key that seals cached tokens: the token
 * function's KMS grant is conditioned on it (lib/state-table.ts), so that grant opens
 * nothing else the stack's key protects.
 */
export const TOKEN_CACHE_PURPOSE = { 'sesame:purpose': 'token-cache' } as const;

/** The partition keys of the cache's items all start so (the token function's DynamoDB grant is limited to them). */
export const TOKEN_ITEM_PREFIX = 'token#';

export interface SharedTokenKey {
  tenant: string;
  credential: string;
  /** The version of the secret the token is obtained with. */
  secretVersion: string;
}

export interface ObtainedToken {
  token: TokenResult;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface SharedToken extends ObtainedToken {
  /** False when this call made the upstream call itself. */
  cached: boolean;
}

export interface SharedTokenOptions {
  /** How long a holder may take before others may take over; more than one upstream attempt's timeout. */
  leaseSeconds: number;
  /** A token is served from the shared cache until this long before it expires (the broker's margin). */
  refreshMarginSeconds: number;
  /** How often a waiter reads the item again. */
  pollMs: number;
  /** Leases of others a caller waits on (a crashed holder's, then its successor's) before calling upstream itself. */
  maxLeasesWaited: number;
}

export const DEFAULT_SHARED_TOKEN_OPTIONS: SharedTokenOptions = {
  leaseSeconds: 15,
  refreshMarginSeconds: 60,
  pollMs: 100,
  maxLeasesWaited: 2,
};

export interface SharedTokenDeps {
  state: StateStore;
  sealer: Sealer;
  clock: Clock;
  log: Log;
  /** Waits between polls; tests advance a manual clock instead. */
  sleep?: (ms: number) => Promise<void>;
  /** Who takes leases: unique per instance by default. Stored in the item; not a secret. */
  owner?: string;
}

/** What happened, for metrics and tests; never anything about a token's value. */
export interface SharedTokenCounters {
  /** Tokens served from the shared cache. */
  hits: number;
  /** Leases taken (each one upstream call). */
  leases: number;
  /** Of those, leases of another owner that had lapsed. */
  takeovers: number;
  /** Calls that waited on another's lease. */
  waits: number;
  /** Upstream failures of another holder, shared rather than retried. */
  sharedFailures: number;
  /** Tokens not stored because the lease had been taken over (or was too old to write safely). */
  fenced: number;
  /** Valid tokens served during an upstream outage, though due for refresh. */
  stale: number;
  /** Direct upstream calls because the state store or the sealer failed, or the wait bound was reached. */
  fallbacks: number;
}

interface TokenRecord {
  secret_version: string;
  sealed: string;
  /** Epoch ms. */
  expires_at: number;
  obtained_at: number;
}

interface LeaseRecord {
  owner: string;
  /** Epoch ms. */
  taken: number;
  until: number;
}

interface FailureRecord {
  owner: string;
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
  retry_after?: number;
}

interface SharedRecord {
  token?: TokenRecord;
  lease?: LeaseRecord;
  failure?: FailureRecord;
}

/** Lost conditional writes in one call before it gives up on the shared cache. */
const MAX_CONFLICTS = 16;

/** Upstream outcomes a holder shares with those waiting on it. */
const SHARED_FAILURES: ReadonlySet<ErrorCode> = new Set(['upstream_rejected', 'upstream_unavailable']);

/**
 * The authenticated data of a sealed token: its item, and the times stored beside it in
 * clear. Whoever can write the item (another function granted the table) can then
 * neither extend a token's life nor put back an older token under newer times.
 */
const boundTo = (context: string, expiresAt: number, obtainedAt: number) => `${context}\n${expiresAt}\n${obtainedAt}`;

export class SharedTokenCache {
  readonly options: SharedTokenOptions;
  readonly owner: string;
  readonly counters: SharedTokenCounters = { hits: 0, leases: 0, takeovers: 0, waits: 0, sharedFailures: 0, fenced: 0, stale: 0, fallbacks: 0 };
  private readonly flights = new SingleFlight<SharedToken>();
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly deps: SharedTokenDeps,
    options: Partial<SharedTokenOptions> = {},
  ) {
    this.options = { ...DEFAULT_SHARED_TOKEN_OPTIONS, ...options };
    if (!(this.options.leaseSeconds > 0)) throw new RangeError('leaseSeconds must be positive');
    if (!(this.options.pollMs > 0)) throw new RangeError('pollMs must be positive');
    this.owner = deps.owner ?? randomUUID();
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * A token for the key: from the shared cache, from the holder of the lease, or from
   * `fetch` (called at most once per call, and at most once at a time per key in this
   * instance: concurrent callers share one run).
   */
  obtain(key: SharedTokenKey, fetch: () => Promise<ObtainedToken>): Promise<SharedToken> {
    const { pk, sk } = itemKey(key);
    return this.flights.run(`${pk}\n${sk}`, () => this.run(key, pk, sk, fetch));
  }

  private get leaseMs(): number {
    return this.options.leaseSeconds * 1000;
  }

  private now(): number {
    return this.deps.clock.now().getTime();
  }

  private async run(key: SharedTokenKey, pk: string, sk: string, fetch: () => Promise<ObtainedToken>): Promise<SharedToken> {
    const context = `${pk}\n${sk}`;
    const margin = this.options.refreshMarginSeconds * 1000;
    /** The lease of another this call is waiting on, and the item version that carried it. */
    let waitedOn: { owner: string; taken: number; version: number } | undefined;
    let leasesWaited = 0;
    let conflicts = 0;
    for (;;) {
      let item: StateItem | undefined;
      try {
        item = await this.deps.state.get(pk, sk);
      } catch (err) {
        return this.direct(key, 'state_read', err, fetch);
      }
      const now = this.now();
      const rec = parseRecord(item?.data, key.secretVersion);
      // Written since the lease this call waits on was taken (by its holder or a successor).
      const since = item !== undefined && waitedOn !== undefined && item.version > waitedOn.version;

      let token = rec.token && now < rec.token.expires_at ? rec.token : undefined;
      // Fresh, or obtained since the lease this call waited on: the newest token there is (a
      // token shorter-lived than the margin is never fresh, yet must not cost a call per waiter).
      // Not a token the waited-on holder merely carried over: it was obtained before that lease.
      if (token && (now < token.expires_at - margin || (waitedOn !== undefined && token.obtained_at >= waitedOn.taken))) {
        let opened: TokenResult | undefined;
        try {
          opened = await this.open(token, context, key);
        } catch (err) {
          return this.direct(key, 'sealer', err, fetch);
        }
        if (opened) {
          this.counters.hits += 1;
          return { token: opened, expiresAt: token.expires_at, cached: true };
        }
        token = undefined;
      }

      if (since && rec.failure && rec.failure.owner === waitedOn?.owner) {
        this.counters.sharedFailures += 1;
        const err = new SesameError(rec.failure.code, rec.failure.message, {
          details: rec.failure.details,
          ...(rec.failure.retry_after === undefined ? {} : { retryAfter: rec.failure.retry_after }),
        });
        return this.afterFailure(key, err, token, context);
      }

      const lease = rec.lease;
      if (lease && lease.owner !== this.owner && now < lease.until) {
        if (!waitedOn || waitedOn.owner !== lease.owner || waitedOn.taken !== lease.taken) {
          leasesWaited += 1;
          if (leasesWaited > this.options.maxLeasesWaited) {
            return this.direct(key, 'wait_bound', new SesameError('upstream_unavailable', `waited on ${this.options.maxLeasesWaited} leases of other instances`), fetch);
          }
          if (!waitedOn) this.counters.waits += 1;
          waitedOn = { owner: lease.owner, taken: lease.taken, version: (item as StateItem).version };
        }
        await this.sleep(Math.max(1, Math.min(this.options.pollMs, lease.until - now)));
        continue;
      }

      // Take the lease: nobody holds a live one (or only a leftover of this instance).
      const mine: LeaseRecord = { owner: this.owner, taken: now, until: now + this.leaseMs };
      let leaseItem: StateItem;
      try {
        leaseItem = await this.deps.state.put(
          { pk, sk, expiresAt: this.itemExpiry(now, token?.expires_at), data: { ...(token ? { token } : {}), lease: mine } },
          item ? { ifVersion: item.version } : { ifAbsent: true },
        );
      } catch (err) {
        // Someone else wrote first (took the lease, or stored a token): read again. Each
        // conflict is someone's progress, so this ends; the bound is for a store that only says conflict.
        if (isSesameError(err, 'conflict') && (conflicts += 1) <= MAX_CONFLICTS) continue;
        return this.direct(key, 'state_write', err, fetch);
      }
      this.counters.leases += 1;
      if (lease && lease.owner !== this.owner) this.counters.takeovers += 1;
      return this.hold(key, pk, sk, context, leaseItem.version, mine, token, fetch);
    }
  }

  /** This instance holds the lease: one upstream call, then the sealed token, fenced by the lease's version. */
  private async hold(key: SharedTokenKey, pk: string, sk: string, context: string, leaseVersion: number, lease: LeaseRecord, previous: TokenRecord | undefined, fetch: () => Promise<ObtainedToken>): Promise<SharedToken> {
    let got: ObtainedToken;
    try {
      got = await fetch();
    } catch (err) {
      await this.release(key, pk, sk, leaseVersion, previous, err);
      return this.afterFailure(key, err, previous, context);
    }
    const now = this.now();
    const result: SharedToken = { ...got, cached: false };
    if (now >= lease.taken + 2 * this.leaseMs) {
      // The item may have expired and been written again since: its version proves nothing now.
      this.counters.fenced += 1;
      this.deps.log.info('shared token cache: the lease is too old to write under; the token is served here only', ids(key));
      return result;
    }
    if (got.expiresAt <= now) {
      await this.release(key, pk, sk, leaseVersion, previous, undefined);
      return result;
    }
    let sealed: string;
    try {
      sealed = await this.deps.sealer.seal(JSON.stringify(got.token), boundTo(context, got.expiresAt, now));
    } catch (err) {
      this.counters.fallbacks += 1;
      this.deps.log.warn('shared token cache: could not seal the token; it is served here only', { ...ids(key), reason: 'sealer', ...safeError(err) });
      await this.release(key, pk, sk, leaseVersion, previous, undefined);
      return result;
    }
    try {
      const token: TokenRecord = { secret_version: key.secretVersion, sealed, expires_at: got.expiresAt, obtained_at: now };
      await this.deps.state.put({ pk, sk, expiresAt: this.itemExpiry(now, got.expiresAt), data: { token } }, { ifVersion: leaseVersion });
    } catch (err) {
      if (isSesameError(err, 'conflict')) {
        this.counters.fenced += 1;
        this.deps.log.info('shared token cache: the lease was taken over; the newer holder’s token stands', ids(key));
      } else {
        this.counters.fallbacks += 1;
        this.deps.log.warn('shared token cache: could not store the token; it is served here only', { ...ids(key), reason: 'state_write', ...safeError(err) });
      }
    }
    return result;
  }

  /**
   * Ends a lease whose upstream call failed, keeping the previous token (still valid
   * maybe, for others to fall back on) and the failure for those waiting on it.
   */
  private async release(key: SharedTokenKey, pk: string, sk: string, leaseVersion: number, previous: TokenRecord | undefined, err: unknown): Promise<void> {
    const now = this.now();
    const failure: FailureRecord | undefined =
      err instanceof SesameError && SHARED_FAILURES.has(err.code)
        ? { owner: this.owner, code: err.code, message: err.message, details: err.details, ...(err.retryAfter === undefined ? {} : { retry_after: err.retryAfter }) }
        : undefined;
    const token = previous && now < previous.expires_at ? previous : undefined;
    try {
      await this.deps.state.put({ pk, sk, expiresAt: this.itemExpiry(now, token?.expires_at), data: { ...(token ? { token } : {}), ...(failure ? { failure } : {}) } }, { ifVersion: leaseVersion });
    } catch (e) {
      // Taken over already, or the store is down: the lease lapses on its own either way.
      if (!isSesameError(e, 'conflict')) this.deps.log.warn('shared token cache: could not release a lease', { ...ids(key), ...safeError(e) });
    }
  }

  /**
   * An upstream failure (this instance's, or the holder's it waited on): during an
   * outage a token that has not expired is still better than none. Returns the token to
   * serve, or throws the failure.
   */
  private async afterFailure(key: SharedTokenKey, err: unknown, previous: TokenRecord | undefined, context: string): Promise<SharedToken> {
    if (isSesameError(err, 'upstream_unavailable') && previous && this.now() < previous.expires_at) {
      const opened = await this.open(previous, context, key).catch(() => undefined);
      if (opened && this.now() < previous.expires_at) {
        this.counters.stale += 1;
        this.deps.log.warn('upstream unavailable, serving the shared cached token', { ...ids(key), ...describeError(err) });
        return { token: opened, expiresAt: previous.expires_at, cached: true };
      }
    }
    throw err;
  }

  /** Undefined when the sealed token does not authenticate (then it is replaced); throws when the sealer is unavailable. */
  private async open(token: TokenRecord, context: string, key: SharedTokenKey): Promise<TokenResult | undefined> {
    let plain: string;
    try {
      plain = await this.deps.sealer.unseal(token.sealed, boundTo(context, token.expires_at, token.obtained_at));
    } catch (err) {
      if (!isSesameError(err, 'store_corrupt')) throw err;
      this.deps.log.warn('shared token cache: a stored token failed authentication; it will be replaced', ids(key));
      return undefined;
    }
    const parsed = parseToken(plain);
    if (!parsed) this.deps.log.warn('shared token cache: a stored token is malformed; it will be replaced', ids(key));
    return parsed;
  }

  private async direct(key: SharedTokenKey, reason: string, err: unknown, fetch: () => Promise<ObtainedToken>): Promise<SharedToken> {
    this.counters.fallbacks += 1;
    this.deps.log.warn('shared token cache unavailable, calling upstream directly', { ...ids(key), reason, ...safeError(err) });
    return { ...(await fetch()), cached: false };
  }

  /** Epoch seconds: the token's end, and never less than two leases from now (see the ABA note above). */
  private itemExpiry(now: number, tokenExpiresAt: number | undefined): number {
    return Math.ceil(Math.max(tokenExpiresAt ?? 0, now + 2 * this.leaseMs) / 1000);
  }
}

export function itemKey(key: SharedTokenKey): { pk: string; sk: string } {
  return { pk: `${TOKEN_ITEM_PREFIX}${key.tenant}/${key.credential}`, sk: `v#${key.secretVersion}` };
}

const ids = (key: SharedTokenKey) => ({ tenant: key.tenant, credential: key.credential });

/** The error's code and message, never a stack or a payload. */
function safeError(err: unknown): Record<string, unknown> {
  const { stack: _stack, ...rest } = describeError(err);
  return rest;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** What of the item can be used; anything malformed counts as absent (and is overwritten by the next lease). */
function parseRecord(data: Record<string, unknown> | undefined, secretVersion: string): SharedRecord {
  if (!data) return {};
  const out: SharedRecord = {};
  const { token, lease, failure } = data;
  if (isObject(token) && token.secret_version === secretVersion && typeof token.sealed === 'string' && isTime(token.expires_at) && isTime(token.obtained_at)) {
    out.token = { secret_version: secretVersion, sealed: token.sealed, expires_at: token.expires_at, obtained_at: token.obtained_at };
  }
  if (isObject(lease) && typeof lease.owner === 'string' && isTime(lease.taken) && isTime(lease.until)) {
    out.lease = { owner: lease.owner, taken: lease.taken, until: lease.until };
  }
  if (isObject(failure) && typeof failure.owner === 'string' && typeof failure.code === 'string' && SHARED_FAILURES.has(failure.code as ErrorCode) && typeof failure.message === 'string' && isObject(failure.details)) {
    const details = Object.fromEntries(Object.entries(failure.details).filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v))) as ErrorDetails;
    out.failure = { owner: failure.owner, code: failure.code as ErrorCode, message: failure.message, details, ...(isTime(failure.retry_after) ? { retry_after: failure.retry_after } : {}) };
  }
  return out;
}

function parseToken(plain: string): TokenResult | undefined {
  let v: unknown;
  try {
    v = JSON.parse(plain);
  } catch {
    return undefined;
  }
  if (!isObject(v) || typeof v.accessToken !== 'string' || v.accessToken === '' || typeof v.tokenType !== 'string') return undefined;
  return {
    accessToken: v.accessToken,
    tokenType: v.tokenType,
    expiresIn: typeof v.expiresIn === 'number' ? v.expiresIn : undefined,
    scope: typeof v.scope === 'string' ? v.scope : undefined,
  };
}
