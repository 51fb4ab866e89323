import { type AttributeValue, BatchWriteItemCommand, DynamoDBClient, QueryCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import pRetry from 'p-retry';
import { auditLimit, type AuditLog, type AuditPage, type AuditQuery, type AuditRecord, checkAuditRecord, DEFAULT_RETENTION_DAYS } from '../core/audit.ts';
import { SesameError } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/ports.ts';

/**
 * The audit trail in the state table (lib/state-table.ts: `pk`, `sk`, `version`,
 * `expires_at` as the TTL attribute, `data` the JSON), beside connect links and the
 * shared token cache.
 *
 * Keys. Every record is one item under `audit#<yyyy-mm-dd>#<shard>` (its UTC day, and a
 * shard drawn at random among `shards`), with `sk = <ISO time>#<id>`: a day's records
 * spread over several partitions, so that a burst of token requests never makes one hot
 * partition, and `--since 7d` reads 8 days × `shards` partitions, newest first, by a
 * key range on `sk` (no Scan). A record with a tenant is written a second time under
 * `audit-tenant#<tenant>#<yyyy-mm-dd>#<shard>` (among `tenantShards`), so that one
 * tenant's trail reads its own partitions only, whatever the volume of the others: one
 * more write per record, instead of a read of everyone's records (a FilterExpression
 * pays for what it reads before filtering). An index would cost the same writes and
 * need the table's schema changed; copies keep it as it is. `app` is an attribute of
 * both items, filtered on (`--app`).
 *
 * Writes are BatchWriteItem calls of up to 25 items; items DynamoDB leaves unprocessed
 * (throttling) are sent again with jittered backoff (p-retry), then the write fails,
 * which the trail logs and counts. Every item expires `retentionDays` after its record
 * (TTL; hidden at once on reads, as the StateStore adapter does, since TTL deletion is
 * lazy).
 *
 * IAM: dynamodb:BatchWriteItem (writers: every function that records) and
 * dynamodb:Query (readers: the admin function, `sesame --aws audit`), on the table ARN.
 */
/** The partition key prefixes of audit items: IAM grants writers these and nothing else. */
export const AUDIT_KEY_PREFIXES = ['audit#', 'audit-tenant#'] as const;

export const AUDIT_TABLE_ACTIONS = ['dynamodb:BatchWriteItem', 'dynamodb:Query'] as const;

const BATCH_ITEMS = 25;
const SK = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{16}$/;
const DAY_MS = 86_400_000;
/** Records a little ahead of this clock (another container's) still show. */
const SKEW_MS = 5 * 60_000;
/** An sk bound above every sk of its millisecond: ids are hex. */
const AFTER_IDS = '#g';
const THROTTLED = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'InternalServerError', 'ServiceUnavailable']);

export interface DynamoAuditLogOptions {
  /** Days each record is kept (the item's TTL). Default 400. */
  retentionDays?: number;
  /** Partitions per day for all records. Default 8. */
  shards?: number;
  /** Partitions per day and tenant. Default 4. */
  tenantShards?: number;
  /** How many times unprocessed items are sent again. Default 6. */
  retries?: number;
  /** Backoff bounds between those tries. Default 25 ms to 1 s. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** What "now" is for hiding expired items and the default range. */
  clock?: Clock;
  /** Draws shards; Math.random by default. */
  random?: () => number;
}

class Unprocessed extends Error {
  constructor(readonly count: number) {
    super(`${count} audit item(s) left unprocessed by DynamoDB`);
  }
}

const dayOf = (iso: string) => iso.slice(0, 10);

export class DynamoAuditLog implements AuditLog {
  /** About 8 BatchWriteItem calls at once (two items for most records, 25 a call). */
  readonly preferredBatch = 100;
  readonly retentionDays: number;
  private readonly shards: number;
  private readonly tenantShards: number;
  private readonly retries: number;
  private readonly minDelay: number;
  private readonly maxDelay: number;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBClient = new DynamoDBClient({}),
    options: DynamoAuditLogOptions = {},
  ) {
    if (tableName === '') throw new SesameError('invalid_request', 'the state table name is empty (SESAME_STATE_TABLE)');
    const whole = (v: number | undefined, fallback: number, min: number, max: number, name: string) => {
      const n = v ?? fallback;
      if (!Number.isSafeInteger(n) || n < min || n > max) throw new SesameError('invalid_request', `audit log: ${name} must be a whole number from ${min} to ${max}`);
      return n;
    };
    this.retentionDays = whole(options.retentionDays, DEFAULT_RETENTION_DAYS, 1, 3650, 'retentionDays');
    this.shards = whole(options.shards, 8, 1, 100, 'shards');
    this.tenantShards = whole(options.tenantShards, 4, 1, 100, 'tenantShards');
    this.retries = whole(options.retries, 6, 0, 20, 'retries');
    this.minDelay = options.minRetryDelayMs ?? 25;
    this.maxDelay = options.maxRetryDelayMs ?? 1000;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  async append(records: readonly AuditRecord[]): Promise<void> {
    const requests: WriteRequest[] = [];
    for (const r of records) {
      const c = checkAuditRecord(r);
      if (!c.ok) throw new SesameError('invalid_request', `an audit record is refused: field ${c.field} ${c.reason}`);
      for (const item of this.items(c.record)) requests.push({ PutRequest: { Item: item } });
    }
    const chunks: WriteRequest[][] = [];
    for (let i = 0; i < requests.length; i += BATCH_ITEMS) chunks.push(requests.slice(i, i + BATCH_ITEMS));
    const results = await Promise.allSettled(chunks.map((chunk) => this.write(chunk)));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) {
      const first = (failed[0] as PromiseRejectedResult).reason as Error;
      throw new SesameError('internal', `audit: ${failed.length} of ${chunks.length} batch write(s) to the state table failed (${first.name}: ${first.message.slice(0, 200)})`, { cause: first });
    }
  }

  async query(q: AuditQuery): Promise<AuditPage> {
    const limit = auditLimit(q.limit);
    const now = this.clock.now().getTime();
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    // Nothing is kept beyond the retention, nor written in the future: the days walked stay within them, whatever is asked.
    const oldest = now - this.retentionDays * DAY_MS;
    const newest = now + SKEW_MS;
    const since = new Date(Math.max(q.since?.getTime() ?? oldest, oldest));
    const from = since.toISOString();
    let to = `${new Date(Math.min(q.until?.getTime() ?? newest, newest)).toISOString()}${AFTER_IDS}`;
    if (after !== undefined && after < to) to = after;
    if (to < from) return { records: [], cursor: undefined };
    const nowSeconds = Math.floor(now / 1000);
    const found: { sk: string; record: AuditRecord }[] = [];
    // Newest day first: a day's records are all newer than the day before's.
    for (let day = Date.parse(`${dayOf(to)}T00:00:00Z`); day >= Date.parse(`${dayOf(from)}T00:00:00Z`); day -= DAY_MS) {
      const d = new Date(day).toISOString().slice(0, 10);
      const pks = q.tenant === undefined ? range(this.shards).map((s) => `audit#${d}#${s}`) : range(this.tenantShards).map((s) => `audit-tenant#${q.tenant}#${d}#${s}`);
      // One more than the page, to know whether there is another; one more again for the cursor's own item, left out.
      const need = limit + 1 - found.length;
      const parts = await Promise.all(pks.map((pk) => this.queryPartition(pk, from, to, need + 1, q.app, nowSeconds)));
      const merged = parts
        .flat()
        .filter((i) => i.sk !== after)
        .sort((a, b) => (a.sk < b.sk ? 1 : a.sk > b.sk ? -1 : 0));
      found.push(...merged.slice(0, need));
      if (found.length > limit) break;
    }
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    return { records: page.map((i) => i.record), cursor: found.length > limit && last ? encodeCursor(last.sk) : undefined };
  }

  // ---------------------------------------------------------------- internals

  private items(r: AuditRecord): Record<string, AttributeValue>[] {
    const day = dayOf(r.time);
    const sk = `${r.time}#${r.id}`;
    const common: Record<string, AttributeValue> = {
      sk: { S: sk },
      version: { N: '1' },
      expires_at: { N: String(Math.floor(Date.parse(r.time) / 1000) + this.retentionDays * 86_400) },
      // Canonical: the guard's records have sorted keys.
      data: { S: JSON.stringify(r) },
      ...(r.tenant !== undefined ? { tenant: { S: r.tenant } } : {}),
      ...(r.app !== undefined ? { app: { S: r.app } } : {}),
    };
    const shard = (n: number) => Math.min(n - 1, Math.floor(this.random() * n));
    const items = [{ pk: { S: `${AUDIT_KEY_PREFIXES[0]}${day}#${shard(this.shards)}` }, ...common }];
    if (r.tenant !== undefined) items.push({ pk: { S: `${AUDIT_KEY_PREFIXES[1]}${r.tenant}#${day}#${shard(this.tenantShards)}` }, ...common });
    return items;
  }

  /** One batch, its unprocessed items sent again until none is left or the retries are spent. */
  private async write(chunk: WriteRequest[]): Promise<void> {
    let pending = chunk;
    await pRetry(
      async () => {
        const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }));
        const left = out.UnprocessedItems?.[this.tableName] ?? [];
        if (left.length > 0) {
          pending = left;
          throw new Unprocessed(left.length);
        }
      },
      {
        retries: this.retries,
        minTimeout: this.minDelay,
        maxTimeout: this.maxDelay,
        factor: 2,
        randomize: true,
        unref: true,
        shouldRetry: ({ error }) => error instanceof Unprocessed || THROTTLED.has(error.name),
      },
    );
  }

  private async queryPartition(pk: string, from: string, to: string, want: number, app: string | undefined, now: number): Promise<{ sk: string; record: AuditRecord }[]> {
    const out: { sk: string; record: AuditRecord }[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const res = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          FilterExpression: `(attribute_not_exists(#e) OR #e > :now)${app === undefined ? '' : ' AND #app = :app'}`,
          ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#e': 'expires_at', ...(app === undefined ? {} : { '#app': 'app' }) },
          ExpressionAttributeValues: { ':pk': { S: pk }, ':from': { S: from }, ':to': { S: to }, ':now': { N: String(now) }, ...(app === undefined ? {} : { ':app': { S: app } }) },
          ScanIndexForward: false,
          // Limit counts items read before the filter: with a filter, read on until enough match.
          Limit: want - out.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const raw of res.Items ?? []) out.push(fromItem(raw));
      start = res.LastEvaluatedKey;
    } while (start && out.length < want);
    return out;
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** An item as the adapter writes it, checked: anything else is store_corrupt, naming no key. */
function fromItem(raw: Record<string, AttributeValue>): { sk: string; record: AuditRecord } {
  const corrupt = (why: string) => new SesameError('store_corrupt', `an audit item of the state table is refused: ${why}`);
  const sk = raw.sk?.S;
  if (sk === undefined || !SK.test(sk)) throw corrupt('its sort key is not <time>#<id>');
  let data: unknown;
  try {
    data = JSON.parse(raw.data?.S ?? '');
  } catch {
    throw corrupt('data is not JSON');
  }
  const c = checkAuditRecord(data);
  if (!c.ok) throw corrupt(`field ${c.field} ${c.reason}`);
  if (`${c.record.time}#${c.record.id}` !== sk) throw corrupt('its sort key is not its record\'s');
  return { sk, record: c.record };
}

const encodeCursor = (sk: string) => Buffer.from(JSON.stringify({ sk }), 'utf8').toString('base64url');

function decodeCursor(cursor: string): string {
  const invalid = () => new SesameError('invalid_request', 'the audit cursor is not one this log returned', { details: { field: 'cursor' } });
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw invalid();
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.toString('base64url') !== cursor) throw invalid();
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).length !== 1) throw invalid();
  const sk = (v as { sk?: unknown }).sk;
  if (typeof sk !== 'string' || !SK.test(sk)) throw invalid();
  return sk;
}

/** The deployed trail's log: the state table, with the configured retention. */
export function dynamoAuditLog(table: string, config: { audit: { retentionDays: number } }, client?: DynamoDBClient): DynamoAuditLog {
  return new DynamoAuditLog(table, client, { retentionDays: config.audit.retentionDays });
}
