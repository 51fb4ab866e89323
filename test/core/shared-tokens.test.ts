import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchHttpClient } from '../../functions/adapters/fetch-http-client.ts';
import { LocalSealer } from '../../functions/adapters/local-sealer.ts';
import { LocalStateStore } from '../../functions/adapters/local-state-store.ts';
import { localSystem } from '../../functions/adapters/local-system.ts';
import { awsSystem } from '../../functions/adapters/aws-system.ts';
import type { Principal } from '../../functions/core/apps.ts';
import { Broker } from '../../functions/core/broker.ts';
import { readConfig } from '../../functions/core/config.ts';
import { isSesameError, SesameError } from '../../functions/core/errors.ts';
import type { Sealer, StateCondition, StateItem, StateStore } from '../../functions/core/ports.ts';
import { itemKey, SharedTokenCache, type ObtainedToken, type SharedTokenKey, type SharedTokenOptions } from '../../functions/core/shared-tokens.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { startScriptedServer, tokenBody, type ScriptedServer } from '../helpers/scripted-token-server.ts';
import { tempSystem } from '../helpers/system.ts';

/**
 * The shared token cache over the real local state store (files, locks shared by
 * processes) and the local sealer, several SharedTokenCache instances standing for
 * several containers. Time is a ManualClock; a waiter's sleep parks it until the store
 * is written or the test moves time on, so nothing depends on how fast this machine is.
 */
const LEASE = 15;

/**
 * Waiters park here; any write to the store, or the test, wakes them to read again. A
 * waiter whose last read began before a write it did not see goes round at once, so no
 * wake is ever missed.
 */
class Scheduler {
  private parked: (() => void)[] = [];
  /** Writes (and test wakes) so far. */
  generation = 0;
  wake(): void {
    this.generation += 1;
    const all = this.parked;
    this.parked = [];
    for (const r of all) r();
  }
  /** A store and a sleep for one instance (one flight at a time, as the cache runs per key). */
  hooks(inner: StateStore): { state: StateStore; sleep: (ms: number) => Promise<void> } {
    let readAt = -1;
    const state = new WatchedStore(inner, this, () => (readAt = this.generation));
    const sleep = (_ms: number) => (this.generation > readAt ? Promise.resolve() : new Promise<void>((resolve) => this.parked.push(resolve)));
    return { state, sleep };
  }
  get waiting(): number {
    return this.parked.length;
  }
}

/** The real local store, telling the scheduler after each write (what a poll would see). */
class WatchedStore implements StateStore {
  constructor(
    readonly inner: StateStore,
    private readonly scheduler: Scheduler,
    private readonly onRead: () => void,
  ) {}
  get(pk: string, sk: string) {
    this.onRead();
    return this.inner.get(pk, sk);
  }
  async put(item: Omit<StateItem, 'version'>, condition?: StateCondition) {
    try {
      return await this.inner.put(item, condition);
    } finally {
      this.scheduler.wake();
    }
  }
  query(pk: string, options?: { prefix?: string; limit?: number; cursor?: string }) {
    return this.inner.query(pk, options);
  }
  delete(pk: string, sk: string, condition?: StateCondition) {
    return this.inner.delete(pk, sk, condition);
  }
}

/** An upstream whose answers the test releases: counts calls, each call a distinct token. */
class Upstream {
  calls = 0;
  private pending: { resolve: (v: ObtainedToken) => void; reject: (e: unknown) => void; n: number }[] = [];
  constructor(private readonly clock: ManualClock) {}
  /** A fetch that waits for release(). */
  held = (): Promise<ObtainedToken> => {
    this.calls += 1;
    const n = this.calls;
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject, n }));
  };
  /** A fetch that answers at once, with a token living `seconds`. */
  answering = (seconds = 3600) => async (): Promise<ObtainedToken> => {
    this.calls += 1;
    return this.token(this.calls, seconds);
  };
  token(n: number, seconds = 3600): ObtainedToken {
    return { token: { accessToken: `at-${n}-${'s3cr3t'.repeat(4)}`, tokenType: 'Bearer', expiresIn: seconds, scope: undefined }, expiresAt: this.clock.now().getTime() + seconds * 1000 };
  }
  release(seconds = 3600): void {
    const p = this.pending.shift();
    if (!p) throw new Error('no upstream call is pending');
    p.resolve(this.token(p.n, seconds));
  }
  fail(err: unknown): void {
    const p = this.pending.shift();
    if (!p) throw new Error('no upstream call is pending');
    p.reject(err);
  }
  get waiting(): number {
    return this.pending.length;
  }
}

/** Until the state files' reads and writes let `cond` hold: a condition to reach, not a time to wait (bounded, to fail rather than hang). */
async function until(what: string, cond: () => boolean): Promise<void> {
  const limit = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > limit) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

async function setup(options: Partial<SharedTokenOptions> = {}) {
  const home = await mkdtemp(join(tmpdir(), 'sesame-shared-'));
  const clock = new ManualClock();
  const scheduler = new Scheduler();
  const log = new MemoryLog();
  const sealer = new LocalSealer(randomBytes(32));
  const upstream = new Upstream(clock);
  /** One more container: its own store object on the same files, as another process has. */
  const instance = (over: { sealer?: Sealer } = {}) =>
    new SharedTokenCache({ ...scheduler.hooks(new LocalStateStore(home, clock)), sealer: over.sealer ?? sealer, clock, log }, { leaseSeconds: LEASE, refreshMarginSeconds: 60, pollMs: 100, ...options });
  const raw = new LocalStateStore(home, clock);
  return { home, clock, scheduler, log, sealer, upstream, instance, raw };
}

const key: SharedTokenKey = { tenant: 'acme', credential: 'chorus-piste', secretVersion: 'v1' };

describe('the shared token cache', () => {
  it('makes exactly one upstream call for a cold credential asked at once through three instances, 50 callers each', async () => {
    const { upstream, instance, scheduler } = await setup();
    const caches = [instance(), instance(), instance()];
    const results = caches.flatMap((c) => Array.from({ length: 50 }, () => c.obtain(key, upstream.held)));
    // One holds the lease and calls upstream; the two others wait on it.
    await until('one upstream call and two waiters', () => upstream.waiting === 1 && scheduler.waiting === 2);
    upstream.release();
    const got = await Promise.all(results);
    expect(upstream.calls).toBe(1);
    expect(new Set(got.map((g) => g.token.accessToken)).size).toBe(1);
    expect(got.filter((g) => !g.cached)).toHaveLength(50);
    expect(caches.map((c) => c.counters.leases).sort()).toEqual([0, 0, 1]);
    expect(caches.reduce((n, c) => n + c.counters.waits, 0)).toBe(2);
  });

  it('serves a later instance from the shared cache without calling upstream, and unseals what another sealed', async () => {
    const { upstream, instance } = await setup();
    const first = await instance().obtain(key, upstream.answering());
    const later = instance();
    const again = await later.obtain(key, upstream.answering());
    expect(again).toEqual({ ...first, cached: true });
    expect(upstream.calls).toBe(1);
    expect(later.counters.hits).toBe(1);
  });

  it('keeps only the sealed token in the state files, never the token itself', async () => {
    const { upstream, instance, home } = await setup();
    const { token } = await instance().obtain(key, upstream.answering());
    const dir = join(home, 'state');
    const text = (await Promise.all((await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => readFile(join(dir, f), 'utf8')))).join('\n');
    expect(text).toMatch(/sealed\\?":\\?"l1\./);
    expect(text).not.toContain(token.accessToken);
    expect(text).not.toContain('s3cr3t');
  });

  it('lets another instance take over when the holder’s lease lapses, and the late holder does not overwrite its token', async () => {
    const { upstream, instance, scheduler, clock, log } = await setup();
    const [a, b, c] = [instance(), instance(), instance()];
    const slow = a.obtain(key, upstream.held);
    await until('a holds the lease', () => upstream.waiting === 1);
    const waiting = b.obtain(key, upstream.answering());
    await until('b waits', () => scheduler.waiting === 1);
    // Not yet: one millisecond before the lease ends, b still waits.
    clock.advance(LEASE * 1000 - 1);
    scheduler.wake();
    await until('b waits again', () => scheduler.waiting === 1);
    expect(upstream.calls).toBe(1);
    clock.advance(1);
    scheduler.wake();
    const taken = await waiting;
    expect(taken).toMatchObject({ cached: false, token: { accessToken: expect.stringMatching(/^at-2-/) } });
    expect(b.counters.takeovers).toBe(1);
    // The first holder answers at last: its own callers get its token, the table keeps b's.
    upstream.release();
    expect((await slow).token.accessToken).toMatch(/^at-1-/);
    expect(a.counters.fenced).toBe(1);
    expect((await c.obtain(key, upstream.answering())).token.accessToken).toBe(taken.token.accessToken);
    expect(upstream.calls).toBe(2);
    expect(log.lines.join('\n')).not.toContain('s3cr3t');
  });

  it('stores the token of a holder slower than its lease when nobody took over', async () => {
    const { upstream, instance, clock } = await setup();
    const slow = instance().obtain(key, upstream.held);
    await until('the lease is held', () => upstream.waiting === 1);
    clock.advance((LEASE + 5) * 1000);
    upstream.release();
    const got = await slow;
    expect((await instance().obtain(key, upstream.answering())).token.accessToken).toBe(got.token.accessToken);
    expect(upstream.calls).toBe(1);
  });

  it('does not write under a lease taken two lease lengths ago, when the item may have been made anew with the same version', async () => {
    const { upstream, instance, clock, scheduler } = await setup();
    const [a, b] = [instance(), instance()];
    const late = a.obtain(key, upstream.held);
    await until('a holds', () => upstream.waiting === 1);
    // The item outlives a's lease by one lease length, then is gone: b makes it again, at version 1 as a did.
    clock.advance(2 * LEASE * 1000);
    const fresh = b.obtain(key, upstream.held);
    await until('b holds', () => upstream.waiting === 2);
    upstream.release();
    await late;
    expect(a.counters.fenced).toBe(1);
    upstream.release();
    const got = await fresh;
    expect(b.counters.fenced).toBe(0);
    expect((await instance().obtain(key, upstream.answering())).token.accessToken).toBe(got.token.accessToken);
    expect(upstream.calls).toBe(2);
    expect(scheduler.waiting).toBe(0);
  });

  it('gives a waiter the holder’s new token, not the old one its lease carried over', async () => {
    const { upstream, instance, scheduler, clock } = await setup();
    const old = await instance().obtain(key, upstream.answering(120));
    clock.advance(61_000);
    const holding = instance().obtain(key, upstream.held);
    await until('a refresh is under way', () => upstream.waiting === 1);
    const waiter = instance().obtain(key, upstream.answering());
    await until('the waiter waits', () => scheduler.waiting === 1);
    scheduler.wake();
    await until('the waiter waits again', () => scheduler.waiting === 1);
    upstream.release();
    const [held, waited] = await Promise.all([holding, waiter]);
    expect(waited.token.accessToken).toBe(held.token.accessToken);
    expect(waited.token.accessToken).not.toBe(old.token.accessToken);
    expect(upstream.calls).toBe(2);
  });

  it('waits on at most two leases of others, then calls upstream itself', async () => {
    const { upstream, instance, scheduler, clock, log } = await setup();
    const [a, b, c] = [instance(), instance(), instance()];
    void a.obtain(key, upstream.held).catch(() => undefined);
    await until('a holds', () => upstream.waiting === 1);
    const waiting = c.obtain(key, upstream.answering());
    await until('c waits on a', () => scheduler.waiting === 1);
    // a's lease lapses; b takes over (and hangs too) before c reads again.
    clock.advance(LEASE * 1000);
    void b.obtain(key, upstream.held).catch(() => undefined);
    await until('b holds', () => upstream.waiting === 2);
    scheduler.wake();
    await until('c waits on b', () => scheduler.waiting === 1);
    clock.advance(LEASE * 1000);
    // A third holder: c has waited long enough.
    void instance().obtain(key, upstream.held).catch(() => undefined);
    await until('a third holds', () => upstream.waiting === 3);
    scheduler.wake();
    expect((await waiting).cached).toBe(false);
    expect(c.counters.fallbacks).toBe(1);
    expect(log.lines.some((l) => l.includes('"reason":"wait_bound"'))).toBe(true);
  });

  it('never serves a token at or past its expiry, nor within the refresh margin', async () => {
    const { upstream, instance, clock } = await setup({ refreshMarginSeconds: 0 });
    const short = await instance().obtain(key, upstream.answering(10));
    clock.advance(9_999);
    expect((await instance().obtain(key, upstream.answering(10))).token.accessToken).toBe(short.token.accessToken);
    clock.advance(1);
    const next = await instance().obtain(key, upstream.answering(10));
    expect(next).toMatchObject({ cached: false });
    expect(next.token.accessToken).not.toBe(short.token.accessToken);
    expect(upstream.calls).toBe(2);

    const m = await setup({ refreshMarginSeconds: 60 });
    await m.instance().obtain(key, m.upstream.answering(120));
    m.clock.advance(60_000);
    expect((await m.instance().obtain(key, m.upstream.answering(120))).cached).toBe(false);
    expect(m.upstream.calls).toBe(2);
  });

  it('serves a token still valid but due for refresh while upstream is down, and never one past its expiry', async () => {
    const { upstream, instance, clock } = await setup();
    const first = await instance().obtain(key, upstream.answering(120));
    clock.advance(90_000);
    const down = () => Promise.reject(new SesameError('upstream_unavailable', 'the token endpoint answered 503'));
    const b = instance();
    expect(await b.obtain(key, down)).toEqual({ ...first, cached: true });
    expect(b.counters.stale).toBe(1);
    clock.advance(30_000);
    const err = await instance().obtain(key, down).catch((e: unknown) => e);
    expect(isSesameError(err, 'upstream_unavailable')).toBe(true);
  });

  it('hands the holder’s upstream refusal to those waiting on it instead of each trying in turn', async () => {
    const { upstream, instance, scheduler } = await setup();
    const a = instance();
    const b = instance();
    const held = a.obtain(key, upstream.held).catch((e: unknown) => e);
    await until('a holds', () => upstream.waiting === 1);
    const waiting = b.obtain(key, upstream.answering()).catch((e: unknown) => e);
    await until('b waits', () => scheduler.waiting === 1);
    upstream.fail(new SesameError('upstream_rejected', 'the token endpoint refused the request (401 invalid_client)', { details: { upstream_status: 401, upstream_error: 'invalid_client' } }));
    const [ea, eb] = await Promise.all([held, waiting]);
    expect(isSesameError(ea, 'upstream_rejected')).toBe(true);
    expect(isSesameError(eb, 'upstream_rejected')).toBe(true);
    expect((eb as SesameError).details).toEqual({ upstream_status: 401, upstream_error: 'invalid_client' });
    expect(upstream.calls).toBe(1);
    expect(b.counters.sharedFailures).toBe(1);
    // The failure is not a cache: the next request tries upstream again.
    await instance().obtain(key, upstream.answering());
    expect(upstream.calls).toBe(2);
  });

  it('gives a new secret version its own token, and keeps the old version’s for whoever still holds it', async () => {
    const { upstream, instance } = await setup();
    const v1 = await instance().obtain(key, upstream.answering());
    const v2 = await instance().obtain({ ...key, secretVersion: 'v2' }, upstream.answering());
    expect(v2.cached).toBe(false);
    expect(v2.token.accessToken).not.toBe(v1.token.accessToken);
    expect((await instance().obtain(key, upstream.answering())).token.accessToken).toBe(v1.token.accessToken);
    expect((await instance().obtain({ ...key, secretVersion: 'v2' }, upstream.answering())).token.accessToken).toBe(v2.token.accessToken);
    expect(upstream.calls).toBe(2);
  });

  it('replaces a stored token that fails authentication (altered, or moved to another item)', async () => {
    const { upstream, instance, raw, log } = await setup();
    await instance().obtain(key, upstream.answering());
    const { pk, sk } = itemKey(key);
    const item = (await raw.get(pk, sk)) as StateItem;
    const token = item.data.token as { sealed: string };
    const other = itemKey({ ...key, credential: 'chorus-piste-2' });
    // The same sealed value under another credential's item: its context differs.
    await raw.put({ pk: other.pk, sk: other.sk, data: item.data });
    const parts = token.sealed.split('.');
    const ct = Buffer.from(parts[2] as string, 'base64url');
    ct[0] = (ct[0] as number) ^ 1;
    parts[2] = ct.toString('base64url');
    await raw.put({ pk, sk, data: { token: { ...token, sealed: parts.join('.') } } }, { ifVersion: item.version });
    expect((await instance().obtain(key, upstream.answering())).cached).toBe(false);
    expect((await instance().obtain({ ...key, credential: 'chorus-piste-2' }, upstream.answering())).cached).toBe(false);
    expect(upstream.calls).toBe(3);
    expect(log.lines.filter((l) => l.includes('failed authentication'))).toHaveLength(2);
  });

  it('calls upstream directly when the state store fails, logging why without any secret', async () => {
    const { upstream, clock, log, sealer } = await setup();
    const file = join(await mkdtemp(join(tmpdir(), 'sesame-broken-')), 'not-a-folder');
    await writeFile(file, 'x');
    const broken = new SharedTokenCache({ state: new LocalStateStore(file, clock), sealer, clock, log });
    const got = await broken.obtain(key, upstream.answering());
    expect(got.cached).toBe(false);
    expect(upstream.calls).toBe(1);
    expect(broken.counters.fallbacks).toBe(1);
    const line = log.lines.find((l) => l.includes('calling upstream directly')) as string;
    expect(JSON.parse(line)).toMatchObject({ level: 'WARN', tenant: 'acme', credential: 'chorus-piste', reason: 'state_read' });
    expect(line).not.toContain('s3cr3t');
    expect(line).not.toContain('stack');
  });

  it('calls upstream directly when the sealer fails, and frees the lease at once for the next instance', async () => {
    const { upstream, instance, log } = await setup();
    const unavailable: Sealer = {
      seal: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:4566')),
      unseal: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:4566')),
    };
    const a = instance({ sealer: unavailable });
    const b = instance({ sealer: unavailable });
    expect((await a.obtain(key, upstream.answering())).cached).toBe(false);
    // b does not wait for a lease that a no longer needs.
    expect((await b.obtain(key, upstream.answering())).cached).toBe(false);
    expect(b.counters.waits).toBe(0);
    expect(a.counters.fallbacks + b.counters.fallbacks).toBe(2);
    expect(log.lines.filter((l) => l.includes('"reason":"sealer"'))).toHaveLength(2);
    expect(log.lines.join('\n')).not.toContain('s3cr3t');
  });
});

describe('the broker with a shared token cache', () => {
  const clock = new ManualClock();
  const me: Principal = { app: 'billing', tenants: new Set(['acme']), kinds: undefined };
  let upstream: ScriptedServer;
  let cleanup: () => Promise<void>;
  let system: Awaited<ReturnType<typeof tempSystem>>['system'];
  beforeAll(async () => {
    upstream = await startScriptedServer([{ status: 200, body: tokenBody('shared-at-1', 3600) }, { status: 200, body: tokenBody('shared-at-2', 3600) }]);
    ({ system, cleanup } = await tempSystem({ clock }));
    await system.tenants.put({ id: 'acme', name: 'ACME' });
    await system.credentials.set({ tenant: 'acme', credential: 'chorus-piste', environment: 'sandbox', fields: { client_id: 'cid', client_secret: 'csecret', account_login: 'TECH', account_password: 'pw', token_endpoint: upstream.url } });
  });
  afterAll(async () => {
    await upstream.close();
    await cleanup();
  });

  it('keeps memory first and the shared cache second: two brokers, 100 concurrent requests each, one upstream call', async () => {
    const home = await mkdtemp(join(tmpdir(), 'sesame-shared-broker-'));
    const scheduler = new Scheduler();
    const sealer = new LocalSealer(randomBytes(32));
    const log = new MemoryLog();
    const brokers = [1, 2].map(() => {
      const shared = new SharedTokenCache({ ...scheduler.hooks(new LocalStateStore(home, clock)), sealer, clock, log });
      return { shared, broker: new Broker({ credentials: system.credentials, http: new FetchHttpClient(), clock, log, shared }) };
    });
    const answers = await Promise.all(brokers.flatMap(({ broker }) => Array.from({ length: 100 }, () => broker.token(me, 'acme', 'chorus-piste'))));
    expect(upstream.requests).toHaveLength(1);
    expect(new Set(answers.map((a) => a.access_token))).toEqual(new Set(['shared-at-1']));
    // One broker called upstream (its 100 callers shared that call), the other had it from the shared cache.
    expect(answers.filter((a) => !a.cached)).toHaveLength(100);
    expect(brokers.map((b) => b.shared.counters.leases).sort()).toEqual([0, 1]);
    // Memory first: asking again touches neither the shared cache nor upstream.
    const hits = brokers.map((b) => b.shared.counters.hits);
    for (const { broker } of brokers) expect((await broker.token(me, 'acme', 'chorus-piste')).cached).toBe(true);
    expect(brokers.map((b) => b.shared.counters.hits)).toEqual(hits);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('the shared token cache’s configuration and wiring', () => {
  it('is on by default with 15 s leases, off with SESAME_SHARED_TOKEN_CACHE=off, and refuses a lease no longer than an upstream attempt', () => {
    expect(readConfig({}).sharedTokens).toEqual({ enabled: true, leaseSeconds: 15, kmsKeyId: undefined });
    expect(readConfig({ SESAME_SHARED_TOKEN_CACHE: 'off', SESAME_TOKEN_CACHE_KEY: 'arn:aws:kms:eu-west-3:111122223333:key/k' }).sharedTokens).toEqual({
      enabled: false,
      leaseSeconds: 15,
      kmsKeyId: 'arn:aws:kms:eu-west-3:111122223333:key/k',
    });
    const bad = (env: Record<string, string>) => {
      try {
        readConfig(env);
      } catch (err) {
        return isSesameError(err, 'invalid_request') ? err.message : String(err);
      }
      return undefined;
    };
    expect(bad({ SESAME_SHARED_TOKEN_CACHE: 'sometimes' })).toMatch(/SESAME_SHARED_TOKEN_CACHE must be "on" or "off"/);
    expect(bad({ SESAME_TOKEN_LEASE_SECONDS: '5', SESAME_UPSTREAM_TIMEOUT_MS: '5000' })).toMatch(/SESAME_TOKEN_LEASE_SECONDS \(5\) must be longer than one upstream attempt/);
    expect(bad({ SESAME_TOKEN_LEASE_SECONDS: '5', SESAME_UPSTREAM_TIMEOUT_MS: '5000', SESAME_SHARED_TOKEN_CACHE: 'off' })).toBeUndefined();
    expect(bad({ SESAME_TOKEN_LEASE_SECONDS: '0' })).toMatch(/SESAME_TOKEN_LEASE_SECONDS must be a number from 1 to 300/);
  });

  it('gives the AWS broker a shared cache only with the state table and the sealing key, and never when turned off', () => {
    const key = 'arn:aws:kms:eu-west-3:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const aws = (env: Record<string, string>) => awsSystem(readConfig(env), new MemoryLog()).sharedTokens;
    expect(aws({ SESAME_STATE_TABLE: 'sesame-state', SESAME_TOKEN_CACHE_KEY: key, SESAME_TOKEN_LEASE_SECONDS: '20' })?.options).toMatchObject({ leaseSeconds: 20, refreshMarginSeconds: 60 });
    expect(aws({ SESAME_STATE_TABLE: 'sesame-state' })).toBeUndefined();
    expect(aws({ SESAME_TOKEN_CACHE_KEY: key })).toBeUndefined();
    expect(aws({ SESAME_STATE_TABLE: 'sesame-state', SESAME_TOKEN_CACHE_KEY: key, SESAME_SHARED_TOKEN_CACHE: 'off' })).toBeUndefined();
  });

  it('shares tokens between local systems on one SESAME_HOME, as sesame dev and the CLI run, unless turned off', async () => {
    const home = await mkdtemp(join(tmpdir(), 'sesame-shared-local-'));
    const upstream = await startScriptedServer([{ status: 200, body: tokenBody('local-at-1', 3600) }, { status: 200, body: tokenBody('local-at-2', 3600) }]);
    try {
      const clock = new ManualClock();
      const me: Principal = { app: 'billing', tenants: new Set(['acme']), kinds: undefined };
      const first = await localSystem(readConfig({ SESAME_HOME: home }), new MemoryLog(), { clock });
      await first.tenants.put({ id: 'acme', name: 'ACME' });
      await first.credentials.set({ tenant: 'acme', credential: 'chorus-piste', environment: 'sandbox', fields: { client_id: 'cid', client_secret: 'csecret', account_login: 'TECH', account_password: 'pw', token_endpoint: upstream.url } });
      expect(await first.broker.token(me, 'acme', 'chorus-piste')).toMatchObject({ access_token: 'local-at-1', cached: false });
      const second = await localSystem(readConfig({ SESAME_HOME: home }), new MemoryLog(), { clock });
      expect(await second.broker.token(me, 'acme', 'chorus-piste')).toMatchObject({ access_token: 'local-at-1', cached: true });
      expect(upstream.requests).toHaveLength(1);
      const off = await localSystem(readConfig({ SESAME_HOME: home, SESAME_SHARED_TOKEN_CACHE: 'off' }), new MemoryLog(), { clock });
      expect(off.sharedTokens).toBeUndefined();
      expect(await off.broker.token(me, 'acme', 'chorus-piste')).toMatchObject({ access_token: 'local-at-2', cached: false });
    } finally {
      await upstream.close();
    }
  });
});

describe('a shared token item written by someone else', () => {
  it('is not served when the expiry stored beside the sealed token was moved: the times are authenticated with it', async () => {
    const home = await mkdtemp(join(tmpdir(), 'sesame-shared-forged-'));
    const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
    const state = new LocalStateStore(home, clock);
    const cache = new SharedTokenCache({ state, sealer: new LocalSealer(randomBytes(32)), clock, log: new MemoryLog(), sleep: async (ms) => clock.advance(ms) });
    const key = { tenant: 'acme', credential: 'chorus-piste', secretVersion: 'v1' };
    let calls = 0;
    const fetch = async () => {
      calls += 1;
      return { token: { accessToken: `AT-${calls}`, tokenType: 'Bearer', expiresIn: 300, scope: undefined }, expiresAt: clock.now().getTime() + 300_000 };
    };
    await cache.obtain(key, fetch);
    // A function granted the table (not this cache's code) pushes the clear expiry a year ahead.
    const { pk, sk } = itemKey(key);
    const item = (await state.get(pk, sk)) as StateItem;
    const forged = { ...(item.data.token as object), expires_at: clock.now().getTime() + 365 * 86_400_000 };
    await state.put({ pk, sk, expiresAt: (item.expiresAt as number) + 86_400 * 365, data: { ...item.data, token: forged } }, { ifVersion: item.version });
    clock.advance(3_600_000);
    const got = await cache.obtain(key, fetch);
    expect(got).toMatchObject({ cached: false, token: { accessToken: 'AT-2' } });
    expect(calls).toBe(2);
  });
});
