import { describe, expect, it } from 'vitest';
import {
  actor,
  audit,
  AuditTrail,
  canonicalJson,
  checkAuditRecord,
  type AuditEntry,
  type AuditLog,
  type AuditRecord,
  parseAuditQuery,
  parseAuditTime,
  readAuditConfig,
  type Schedule,
} from '../../functions/core/audit.ts';
import { isSesameError, SesameError } from '../../functions/core/errors.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

const TIME = '2026-06-01T08:00:00.000Z';
const ID = '0123456789abcdef';
const stamped = (e: AuditEntry): Record<string, unknown> => ({ id: ID, time: TIME, ...e });
const base = () => stamped(audit.token({ app: 'billing', tenant: 'cfa-paris', credential: 'fla-employer', cached: true }));

/** Lets queued setImmediate callbacks (the trail's writer) run: event-loop turns, not time. */
const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

class ManualTimers {
  pending: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  readonly schedule: Schedule = (fn, ms) => {
    const t = { fn, ms, cancelled: false };
    this.pending.push(t);
    return { cancel: () => void (t.cancelled = true) };
  };
  get active() {
    return this.pending.filter((t) => !t.cancelled);
  }
  fire() {
    const due = this.active;
    this.pending = [];
    for (const t of due) t.fn();
  }
}

/** An audit log in memory whose writes can be held back (gate) or made to fail. */
class MemorySink implements AuditLog {
  batches: AuditRecord[][] = [];
  calls = 0;
  failWith: Error | undefined;
  private release: (() => void) | undefined;
  private gate: Promise<void> | undefined;
  hold() {
    this.gate = new Promise((resolve) => (this.release = resolve));
  }
  open() {
    this.release?.();
    this.gate = undefined;
  }
  async append(records: readonly AuditRecord[]) {
    this.calls += 1;
    if (this.gate) await this.gate;
    if (this.failWith) throw this.failWith;
    this.batches.push([...records]);
  }
  async query() {
    return { records: this.batches.flat().reverse(), cursor: undefined };
  }
  get written() {
    return this.batches.flat();
  }
}

function trail(options: { maxBuffer?: number; batchSize?: number } = {}) {
  const clock = new ManualClock();
  const timers = new ManualTimers();
  const sink = new MemorySink();
  const log = new MemoryLog();
  const t = new AuditTrail(sink, log, { clock, schedule: timers.schedule, flushIntervalMs: 1000, ...options });
  return { clock, timers, sink, log, t };
}

describe('the audit record guard', () => {
  const constructors: [string, AuditEntry][] = [
    ['a token served from the cache', audit.token({ app: 'billing', tenant: 'cfa-paris', credential: 'fla-employer', cached: true, kind: 'fla' })],
    ['a token refused', audit.token({ app: 'billing', tenant: 'cfa-paris', credential: 'opco-atlas', error: new SesameError('forbidden', 'no') })],
    ['an assertion', audit.assertion({ app: 'billing', tenant: 'cfa-bxl', credential: 'fla-employer' })],
    ['an admin change by an operator', audit.adminChange({ actor: actor.operator('5f0c-operateur@example.org'), operation: 'tenants.update', tenant: 'cfa-paris', changed: ['name', 'alert_emails'] })],
    ['an admin change from the CLI', audit.adminChange({ actor: actor.cli(), operation: 'credential.set', tenant: 'cfa-paris', credential: 'opco-atlas', version: '7c9e6679-7425-40de-944b-e07fc1f90ae7' })],
    ['a connect link created', audit.linkCreated({ actor: actor.operator('op-1'), tenant: 'cfa-paris', credential: 'opco-atlas', link: 'a'.repeat(64), expiresAt: TIME, fields: ['cfa_key'], sentTo: 'alertes@cfa.example' })],
    ['a connect link used', audit.linkUsed({ link: 'b'.repeat(64), tenant: 'cfa-paris', credential: 'chorus-piste', checked: true })],
    ['a connect submission refused', audit.linkUsed({ link: 'b'.repeat(64), tenant: 'cfa-paris', credential: 'chorus-piste', reason: 'check_failed' })],
    ['an app revoked', audit.appRevoked({ actor: actor.cli(), app: 'billing' })],
    ['a certificate refused', audit.certificateVerdict({ actor: actor.system('intake'), tenant: 'cfa-paris', credential: 'chorus-edi', verdict: 'rejected', source: 's3', errors: ['expired', 'chain_incomplete'], file: 'edi chain.p7b', sha256: 'c'.repeat(64) })],
    ['a health check', audit.healthCheck({ actor: actor.system('health'), tenant: 'cfa-paris', credential: 'chorus-piste', result: 'failed', upstreamStatus: 401, upstreamError: 'invalid_client' })],
    ['a rotation step', audit.rotation({ actor: actor.operator('op-1'), tenant: 'cfa-bxl', credential: 'fla-employer', step: 'activated' })],
  ];
  it.each(constructors)('accepts what the constructor makes for %s, keys sorted so that its JSON is canonical', (_what, entry) => {
    const c = checkAuditRecord(stamped(entry));
    expect(c.ok, JSON.stringify(c)).toBe(true);
    if (c.ok) expect(JSON.stringify(c.record)).toBe(canonicalJson(c.record));
  });

  const refusals: [string, (r: Record<string, unknown>) => void, string][] = [
    ['a field outside the record', (r) => (r.secret = 'x'), 'secret'],
    ['a key that is not a name', (r) => (r['Bearer abc def'] = 1), '(a key that is not a name)'],
    ['a details key outside the allow-list', (r) => (r.details = { password: 'hunter2' }), 'details.password'],
    ['a client secret in details', (r) => (r.details = { client_secret: 'x' }), 'details.client_secret'],
    ['a private key where a file name goes', (r) => (r.details = { file: '-----BEGIN PRIVATE KEY----- MIIE' }), 'details.file'],
    ['an app key where a file name goes', (r) => (r.details = { file: `sesame_billing_${'A'.repeat(43)}` }), 'details.file'],
    ['a JWT where an upstream error code goes', (r) => (r.details = { upstream_error: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' }), 'details.upstream_error'],
    ['a field list holding a value', (r) => (r.details = { changed: 'name=CFA Paris' }), 'details.changed'],
    ['an object as a detail', (r) => (r.details = { operation: { nested: true } }), 'details.operation'],
    ['a number out of its range', (r) => (r.details = { upstream_status: 42 }), 'details.upstream_status'],
    ['a boolean detail given as text', (r) => (r.details = { checked: 'yes' }), 'details.checked'],
    ['a control character', (r) => (r.details = { file: 'a\nb' }), 'details.file'],
    ['too many details', (r) => (r.details = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 1]))), 'details'],
    ['an unknown record type', (r) => (r.type = 'login'), 'type'],
    ['an unknown actor type', (r) => (r.actor = { type: 'robot', id: 'x' }), 'actor.type'],
    ['an actor with more than type and id', (r) => (r.actor = { type: 'app', id: 'billing', key: 'sesame_x' }), 'actor.key'],
    ['an app actor that is not an app id', (r) => (r.actor = { type: 'app', id: 'Billing App' }), 'actor.id'],
    ['a malformed tenant', (r) => (r.tenant = '../etc'), 'tenant'],
    ['a malformed credential', (r) => (r.credential = 'FLA_employer'), 'credential'],
    ['a token without its app', (r) => delete r.app, 'app'],
    ['a token without its tenant', (r) => delete r.tenant, 'tenant'],
    ['a code on a success', (r) => (r.code = 'forbidden'), 'code'],
    ['a code outside the closed set', (r) => ((r.outcome = 'refused'), (r.code = 'teapot')), 'code'],
    ['an unknown outcome', (r) => (r.outcome = 'maybe'), 'outcome'],
    ['cached on another type than token', (r) => ((r.type = 'assertion'), (r.cached = false)), 'cached'],
    ['a time that is not ISO UTC', (r) => (r.time = '01/06/2026'), 'time'],
    ['an id that is not 16 hex digits', (r) => (r.id = 'x'), 'id'],
  ];
  it.each(refusals)('refuses %s, naming the field', (_what, mutate, field) => {
    const r = base();
    mutate(r);
    const c = checkAuditRecord(r);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.field).toBe(field);
  });

  it('keeps details in key order, and leaves undefined details out of the constructors', () => {
    const c = checkAuditRecord({ ...base(), details: { operation: 'apps.add', changed: 'tenants', count: 2 } });
    expect(c.ok && Object.keys(c.record.details ?? {})).toEqual(['changed', 'count', 'operation']);
    expect(audit.adminChange({ actor: actor.cli(), operation: 'apps.add', app: 'billing' }).details).toEqual({ operation: 'apps.add' });
  });

  it('reads a failure as refused with its code for a 4xx, and as error for a 5xx or an unknown error', () => {
    const base = { app: 'billing', tenant: 'cfa-paris', credential: 'opco-atlas' };
    expect(audit.token({ ...base, cached: true, error: new SesameError('credential_expired', 'x') })).toMatchObject({ outcome: 'refused', code: 'credential_expired' });
    expect(audit.token({ ...base, cached: true, error: new SesameError('credential_expired', 'x') })).not.toHaveProperty('cached');
    expect(audit.token({ ...base, error: new SesameError('store_corrupt', 'x') })).toMatchObject({ outcome: 'error', code: 'store_corrupt' });
    expect(audit.assertion({ ...base, error: new TypeError('boom') })).toMatchObject({ outcome: 'error', code: 'internal' });
    expect(audit.certificateVerdict({ actor: actor.system('intake'), tenant: 'cfa-paris', credential: 'chorus-edi', verdict: 'accepted', source: 'console' }).outcome).toBe('ok');
    expect(audit.linkUsed({ link: 'f'.repeat(12), tenant: 't', credential: 'opco-atlas', reason: 'throttled' })).toMatchObject({ outcome: 'refused', details: { reason: 'throttled' } });
  });

  it('serialises a record canonically, whatever the order of its keys', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[2,{"e":0,"f":1}]},"b":1}');
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });
});

describe('the audit trail', () => {
  it('takes a record without writing it on the caller\'s path, and writes it when the interval fires', async () => {
    const { t, timers, sink, clock } = trail({ batchSize: 10 });
    expect(t.record(audit.token({ app: 'billing', tenant: 'cfa-paris', credential: 'opco-atlas', cached: false }))).toBe(true);
    expect(sink.calls).toBe(0);
    expect(timers.active.map((x) => x.ms)).toEqual([1000]);
    await turns();
    expect(sink.calls).toBe(0);
    timers.fire();
    expect(sink.calls).toBe(0);
    await turns();
    expect(sink.written).toHaveLength(1);
    expect(sink.written[0]).toMatchObject({ time: clock.now().toISOString(), type: 'token', outcome: 'ok', cached: false });
    expect(sink.written[0]?.id).toMatch(/^[0-9a-f]{16}$/);
    expect(t.stats).toMatchObject({ recorded: 1, written: 1, pending: 0, dropped: 0 });
  });

  it('writes as soon as a batch is full, without waiting for the interval, taking what is buffered by then in batches', async () => {
    const { t, sink, timers } = trail({ batchSize: 3 });
    for (let i = 0; i < 2; i++) t.record(audit.appRevoked({ actor: actor.cli(), app: `app-${i}` }));
    await turns();
    expect(sink.calls).toBe(0);
    for (let i = 2; i < 7; i++) t.record(audit.appRevoked({ actor: actor.cli(), app: `app-${i}` }));
    await turns(6);
    // Once running, the writer empties the buffer (group commit): the partial last batch does not wait.
    expect(sink.batches.map((b) => b.length)).toEqual([3, 3, 1]);
    expect(sink.written.map((r) => r.app)).toEqual(['app-0', 'app-1', 'app-2', 'app-3', 'app-4', 'app-5', 'app-6']);
    expect(timers.active).toHaveLength(0);
  });

  it('takes its batch size from the log unless one is given', async () => {
    const sink = Object.assign(new MemorySink(), { preferredBatch: 2 });
    const t = new AuditTrail(sink, new MemoryLog(), { clock: new ManualClock(), schedule: new ManualTimers().schedule });
    for (let i = 0; i < 5; i++) t.record(audit.appRevoked({ actor: actor.cli(), app: `app-${i}` }));
    await t.flush();
    expect(sink.batches.map((b) => b.length)).toEqual([2, 2, 1]);
    const given = new MemorySink();
    const u = new AuditTrail(Object.assign(given, { preferredBatch: 2 }), new MemoryLog(), { batchSize: 4, schedule: new ManualTimers().schedule });
    for (let i = 0; i < 5; i++) u.record(audit.appRevoked({ actor: actor.cli(), app: `app-${i}` }));
    await u.flush();
    expect(given.batches.map((b) => b.length)).toEqual([4, 1]);
  });

  it('resolves flush() under a stream of records that never stops, once those taken before it are written', async () => {
    let streaming = true;
    let t!: AuditTrail;
    // Every write brings a new record, as a busy server would: "until the buffer is empty" would never come.
    class Streaming extends MemorySink {
      override async append(records: readonly AuditRecord[]) {
        await super.append(records);
        // Bounded, so that a flush() that waits for the stream to end fails the test instead of never returning.
        if (streaming && this.calls < 5_000) t.record(audit.appRevoked({ actor: actor.cli(), app: 'more' }));
      }
    }
    const sink = new Streaming();
    t = new AuditTrail(sink, new MemoryLog(), { batchSize: 1, schedule: new ManualTimers().schedule });
    for (let i = 0; i < 3; i++) t.record(audit.appRevoked({ actor: actor.cli(), app: `app-${i}` }));
    await t.flush();
    expect(sink.calls).toBeLessThan(10);
    expect(sink.written.slice(0, 3).map((r) => r.app)).toEqual(['app-0', 'app-1', 'app-2']);
    streaming = false;
    await t.flush();
    expect(t.stats.pending).toBe(0);
  });

  it('drops and counts what comes while the buffer is full, warns once, and writes the rest when the log catches up', async () => {
    const { t, sink, log } = trail({ maxBuffer: 5, batchSize: 2 });
    sink.hold();
    const record = (i: number) => t.record(audit.appRevoked({ actor: actor.cli(), app: `app-${i}` }));
    expect([record(0), record(1)]).toEqual([true, true]);
    await turns();
    // Those two are being written (held); five more fill the buffer, three are dropped.
    const taken = Array.from({ length: 8 }, (_, i) => record(i + 2));
    expect(taken).toEqual([true, true, true, true, true, false, false, false]);
    expect(t.stats).toMatchObject({ recorded: 7, dropped: 3, pending: 7 });
    expect(log.lines.filter((l) => l.includes('audit buffer full'))).toHaveLength(1);
    sink.open();
    await t.flush();
    expect(sink.written.map((r) => r.app)).toEqual(['app-0', 'app-1', 'app-2', 'app-3', 'app-4', 'app-5', 'app-6']);
    expect(t.stats).toMatchObject({ written: 7, dropped: 3, pending: 0 });
    expect(log.lines.some((l) => l.includes('audit buffer has room again') && l.includes('"dropped":3'))).toBe(true);
    expect(t.takeCounts()).toEqual({ dropped: 3, refused: 0, failed: 0 });
    expect(t.takeCounts()).toEqual({ dropped: 0, refused: 0, failed: 0 });
  });

  it('logs and counts a failed write, never throws it, and writes later records once the log works again', async () => {
    const { t, sink, log } = trail({ batchSize: 2 });
    sink.failWith = new SesameError('store_corrupt', 'the audit log refuses new records: record #3 is missing');
    t.record(audit.appRevoked({ actor: actor.cli(), app: 'a' }));
    t.record(audit.appRevoked({ actor: actor.cli(), app: 'b' }));
    t.record(audit.appRevoked({ actor: actor.cli(), app: 'c' }));
    await expect(t.flush()).resolves.toBeUndefined();
    expect(t.stats).toMatchObject({ failed: 3, written: 0, pending: 0 });
    const error = log.lines.find((l) => l.includes('audit records could not be written'));
    expect(JSON.parse(error as string)).toMatchObject({ level: 'ERROR', count: 2, code: 'store_corrupt' });
    sink.failWith = undefined;
    t.record(audit.appRevoked({ actor: actor.cli(), app: 'd' }));
    await t.flush();
    expect(sink.written.map((r) => r.app)).toEqual(['d']);
    expect(t.takeCounts().failed).toBe(3);
  });

  it('stops waiting in flush() after its timeout, and keeps writing in the background', async () => {
    const { t, sink, timers } = trail();
    sink.hold();
    t.record(audit.appRevoked({ actor: actor.cli(), app: 'slow' }));
    let returned = false;
    const flushed = t.flush({ timeoutMs: 50 }).then(() => (returned = true));
    await turns();
    expect(returned).toBe(false);
    expect(timers.active.map((x) => x.ms)).toEqual([50]);
    timers.fire();
    await flushed;
    expect(t.stats.pending).toBe(1);
    sink.open();
    await t.flush();
    expect(sink.written).toHaveLength(1);
  });

  it('refuses a record with a field outside the allowed set, warning with the field and never the value', () => {
    const { t, log, sink } = trail();
    const leaky = { ...audit.adminChange({ actor: actor.cli(), operation: 'credential.set', tenant: 'cfa-paris' }), details: { operation: 'credential.set', api_key_secret: 'hunter2-do-not-log' } } as AuditEntry;
    expect(t.record(leaky)).toBe(false);
    expect(t.stats).toMatchObject({ refused: 1, recorded: 0, pending: 0 });
    expect(log.lines).toHaveLength(1);
    expect(JSON.parse(log.lines[0] as string)).toMatchObject({ level: 'WARN', message: 'audit record refused', field: 'details.api_key_secret', type: 'admin_change' });
    expect(log.lines.join('\n')).not.toContain('hunter2');
    expect(sink.calls).toBe(0);
  });
});

describe('audit queries from text', () => {
  const now = new Date('2026-06-10T12:00:00.000Z');
  it.each([
    ['7d', '2026-06-03T12:00:00.000Z'],
    ['24h', '2026-06-09T12:00:00.000Z'],
    ['30m', '2026-06-10T11:30:00.000Z'],
    ['2w', '2026-05-27T12:00:00.000Z'],
    ['2026-06-01', '2026-06-01T00:00:00.000Z'],
    ['2026-06-01T08:00:00+02:00', '2026-06-01T06:00:00.000Z'],
  ])('reads --since %s as %s', (text, iso) => {
    expect(parseAuditTime(text, now, 'since').toISOString()).toBe(iso);
  });

  it.each(['7days', 'yesterday', '2026-02-30', '2026-06-01T08:00:00', '-7d', ''])('refuses --since "%s" as invalid_request naming since', (text) => {
    const err = (() => {
      try {
        parseAuditTime(text, now, 'since');
      } catch (e) {
        return e;
      }
    })();
    expect(isSesameError(err, 'invalid_request') && err.details.field).toBe('since');
  });

  it('defaults since to 7 days back, and checks tenant, app, limit and the order of since and until', () => {
    expect(parseAuditQuery({}, now)).toEqual({ since: new Date('2026-06-03T12:00:00.000Z') });
    expect(parseAuditQuery({ tenant: 'cfa-paris', app: 'billing', limit: '50', until: '1d' }, now)).toMatchObject({ tenant: 'cfa-paris', app: 'billing', limit: 50 });
    const field = (q: Parameters<typeof parseAuditQuery>[0]) => {
      try {
        parseAuditQuery(q, now);
        return undefined;
      } catch (e) {
        return isSesameError(e) ? e.details.field : 'not a SesameError';
      }
    };
    expect(field({ tenant: 'CFA Paris' })).toBe('tenant');
    expect(field({ app: 'a/b' })).toBe('app');
    expect(field({ limit: '0' })).toBe('limit');
    expect(field({ limit: '1001' })).toBe('limit');
    expect(field({ limit: '1e3' })).toBe('limit');
    expect(field({ since: '1d', until: '2d' })).toBe('until');
    expect(field({ cursor: 'not a cursor!' })).toBe('cursor');
  });

  it('reads its retention and buffer settings from the environment, refusing a malformed one by name', () => {
    expect(readAuditConfig({})).toEqual({ retentionDays: 400, maxBuffer: 10_000, batchSize: undefined, flushIntervalMs: 1000 });
    expect(readAuditConfig({ SESAME_AUDIT_BATCH: '250' }).batchSize).toBe(250);
    expect(readAuditConfig({ SESAME_AUDIT_RETENTION_DAYS: '30' }).retentionDays).toBe(30);
    expect(() => readAuditConfig({ SESAME_AUDIT_RETENTION_DAYS: '0' })).toThrow(/SESAME_AUDIT_RETENTION_DAYS/);
  });
});

describe('facts that do not fit never cost the record', () => {
  it.each([
    ['an operator subject longer than the trail takes', () => audit.adminChange({ actor: actor.operator('x'.repeat(300)), operation: 'tenants.add', tenant: 'acme' }), (r: AuditRecord) => expect(r.actor.id).toMatch(/^sha256:[0-9a-f]{32}$/)],
    ['a changed field name that is not one', () => audit.adminChange({ actor: actor.cli(), operation: 'tenants.update', tenant: 'acme', changed: ['name', 'Bad-Key', 'alert_emails'] }), (r: AuditRecord) => expect(r.details?.changed).toBe('name,alert_emails')],
    ['an upstream error code with characters the trail refuses', () => audit.healthCheck({ actor: actor.system('expiry'), tenant: 'acme', credential: 'opco-atlas', result: 'failed', upstreamStatus: 401, upstreamError: 'a/b+c' }), (r: AuditRecord) => expect(r.details).toEqual({ result: 'failed', upstream_status: 401 })],
  ])('%s: kept, without it', (_what, make, check) => {
    const c = checkAuditRecord({ id: '0123456789abcdef', time: '2026-11-22T08:00:00.000Z', ...make() });
    expect(c.ok).toBe(true);
    if (c.ok) check(c.record);
  });
});
