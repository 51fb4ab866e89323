import { describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
useEmulator();
import { type BatchWriteItemCommandOutput, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { AUDIT_TABLE_ACTIONS, DynamoAuditLog } from '../../functions/adapters/dynamo-audit-log.ts';
import { type AuditRecord, AuditTrail, actor, audit } from '../../functions/core/audit.ts';
import { isSesameError } from '../../functions/core/errors.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { createStateTable } from './fixtures.ts';

const client = new DynamoDBClient({});
let counter = 0;
/** A token record of the tenant, or with `null` an app revocation (a record without a tenant). */
function rec(time: string, tenant: string | null = 'cfa-paris', app = 'billing'): AuditRecord {
  counter += 1;
  const id = counter.toString(16).padStart(16, '0');
  return tenant === null
    ? { id, time, type: 'app_revoked', actor: { type: 'cli', id: 'cli' }, app, outcome: 'ok' }
    : { id, time, type: 'token', actor: { type: 'app', id: app }, tenant, credential: 'opco-atlas', app, outcome: 'ok', cached: false };
}
const minutes = (start: string, i: number) => new Date(Date.parse(start) + i * 60_000).toISOString();
/** A clock after every record of these tests. */
const clock = () => new ManualClock(Date.parse('2026-06-05T00:00:00Z'));

async function scan(table: string) {
  return ((await client.send(new ScanCommand({ TableName: table }))).Items ?? []).map((i) => ({
    pk: i.pk?.S as string,
    sk: i.sk?.S as string,
    expiresAt: Number(i.expires_at?.N),
    tenant: i.tenant?.S,
    data: JSON.parse(i.data?.S as string) as AuditRecord,
  }));
}

describe('DynamoAuditLog on the AWS emulator', () => {
  it('writes a batch of more than 25 records, a copy under the tenant for those that have one, and reads them all back newest first', async () => {
    const table = await createStateTable();
    const log = new DynamoAuditLog(table, client, { clock: clock() });
    const records = Array.from({ length: 40 }, (_, i) => rec(minutes('2026-06-01T08:00:00.000Z', i), i % 4 === 0 ? null : 'cfa-paris'));
    await log.append(records);
    const items = await scan(table);
    expect(items).toHaveLength(40 + 30);
    expect(items.filter((i) => i.pk.startsWith('audit-tenant#cfa-paris#2026-06-01#'))).toHaveLength(30);
    const page = await log.query({ since: new Date('2026-06-01T00:00:00Z'), limit: 1000 });
    expect(page.records.map((r) => r.id)).toEqual([...records].reverse().map((r) => r.id));
    expect(page.records[0]).toEqual(records[39]);
    expect(page.cursor).toBeUndefined();
  });

  it('sets the TTL attribute to the record\'s time plus the retention (400 days by default)', async () => {
    const table = await createStateTable();
    const r = rec('2026-06-01T08:00:00.000Z');
    await new DynamoAuditLog(table, client).append([r]);
    const [main, copy] = (await scan(table)).sort((a, b) => (a.pk < b.pk ? -1 : 1));
    const expected = Math.floor(Date.parse(r.time) / 1000) + 400 * 86_400;
    expect(main).toMatchObject({ sk: `${r.time}#${r.id}`, expiresAt: expected, data: r });
    expect(main?.pk).toMatch(/^audit#2026-06-01#[0-7]$/);
    expect(copy).toMatchObject({ sk: main?.sk, expiresAt: expected, tenant: 'cfa-paris' });
    expect(copy?.pk).toMatch(/^audit-tenant#cfa-paris#2026-06-01#[0-3]$/);
    const short = await createStateTable();
    await new DynamoAuditLog(short, client, { retentionDays: 30 }).append([r]);
    for (const i of await scan(short)) expect(i.expiresAt).toBe(Math.floor(Date.parse(r.time) / 1000) + 30 * 86_400);
  });

  it('spreads one day\'s records over its shards, so that no single partition takes them all', async () => {
    const table = await createStateTable();
    let n = 0;
    // Two draws a record (its item, then its tenant copy), both from the same step of 8.
    const log = new DynamoAuditLog(table, client, { shards: 8, tenantShards: 4, random: () => ((Math.floor(n++ / 2) % 8) + 0.5) / 8 });
    await log.append(Array.from({ length: 16 }, (_, i) => rec(minutes('2026-06-01T08:00:00.000Z', i))));
    const pks = new Set((await scan(table)).map((i) => i.pk));
    expect([...pks].filter((p) => p.startsWith('audit#')).sort()).toEqual(Array.from({ length: 8 }, (_, s) => `audit#2026-06-01#${s}`));
    expect([...pks].filter((p) => p.startsWith('audit-tenant#'))).toHaveLength(4);
  });

  it('answers by tenant, app, since and until across day boundaries, page by page', async () => {
    const table = await createStateTable();
    const log = new DynamoAuditLog(table, client, { clock: clock() });
    // Around two midnights, three tenants and two apps.
    const times = ['2026-06-01T23:58:00.000Z', '2026-06-01T23:59:59.999Z', '2026-06-02T00:00:00.000Z', '2026-06-02T12:00:00.000Z', '2026-06-02T23:59:00.000Z', '2026-06-03T00:01:00.000Z', '2026-06-03T08:00:00.000Z'];
    const records = times.flatMap((t, i) => [rec(t, 'cfa-paris', i % 2 ? 'billing' : 'payroll'), rec(t, 'cfa-lyon', 'billing'), rec(t, null, 'billing')]);
    await log.append(records);
    const paris = await log.query({ tenant: 'cfa-paris', since: new Date('2026-06-01T23:59:00Z'), limit: 100 });
    expect(paris.records.map((r) => r.time)).toEqual([...times.slice(1)].reverse());
    expect(paris.records.every((r) => r.tenant === 'cfa-paris')).toBe(true);
    const window = await log.query({ tenant: 'cfa-paris', app: 'billing', since: new Date('2026-06-01T00:00:00Z'), until: new Date('2026-06-03T00:01:00Z') });
    expect(window.records.map((r) => r.time)).toEqual(['2026-06-03T00:01:00.000Z', '2026-06-02T12:00:00.000Z', '2026-06-01T23:59:59.999Z']);
    const everyone = await log.query({ app: 'billing', since: new Date('2026-06-02T00:00:00Z') });
    expect(everyone.records).toHaveLength(5 * 2 + 2);
    // Pages of 4 over everything, across the three days: each record once, newest first.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await log.query({ since: new Date('2026-06-01T00:00:00Z'), limit: 4, ...(cursor ? { cursor } : {}) });
      expect(page.records.length).toBeLessThanOrEqual(4);
      seen.push(...page.records.map((r) => `${r.time}#${r.id}`));
      cursor = page.cursor;
    } while (cursor);
    expect(seen).toEqual(records.map((r) => `${r.time}#${r.id}`).sort().reverse());
    const bad = await log.query({ cursor: 'eyJzayI6Im5vIn0' }).catch((e: unknown) => e);
    expect(isSesameError(bad, 'invalid_request')).toBe(true);
  });

  it('hides records past their retention, before DynamoDB\'s TTL deletes them', async () => {
    const table = await createStateTable();
    const c = new ManualClock(Date.parse('2026-06-01T09:00:00Z'));
    const log = new DynamoAuditLog(table, client, { retentionDays: 1, clock: c });
    await log.append([rec('2026-06-01T08:00:00.000Z')]);
    expect((await log.query({ since: new Date('2026-06-01T00:00:00Z') })).records).toHaveLength(1);
    c.set('2026-06-02T08:00:00Z');
    expect((await log.query({ since: new Date('2026-06-01T00:00:00Z') })).records).toHaveLength(0);
  });

  it('sends again the items DynamoDB leaves unprocessed, until every one is written', async () => {
    const table = await createStateTable();
    let calls = 0;
    // The real table, but the first answer of each batch says half of it was throttled (and writes only the rest).
    const flaky = {
      send: async (command: { input: unknown; constructor: { name: string } }) => {
        if (command.constructor.name !== 'BatchWriteItemCommand') return client.send(command as never);
        calls += 1;
        const input = command.input as { RequestItems: Record<string, unknown[]> };
        const requests = input.RequestItems[table] as unknown[];
        if (calls > 2 || requests.length < 2) return client.send(command as never);
        const half = Math.ceil(requests.length / 2);
        const { BatchWriteItemCommand } = await import('@aws-sdk/client-dynamodb');
        await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests.slice(0, half) as never } }));
        return { UnprocessedItems: { [table]: requests.slice(half) } } as unknown as BatchWriteItemCommandOutput;
      },
    } as unknown as DynamoDBClient;
    const log = new DynamoAuditLog(table, flaky, { clock: clock(), minRetryDelayMs: 1, maxRetryDelayMs: 5 });
    const records = Array.from({ length: 20 }, (_, i) => rec(minutes('2026-06-02T08:00:00.000Z', i)));
    await log.append(records);
    expect(calls).toBeGreaterThan(2);
    expect(await scan(table)).toHaveLength(40);
    expect((await log.query({ since: new Date('2026-06-02T00:00:00Z') })).records).toHaveLength(20);
  });

  it('fails the write when items stay unprocessed after the retries, and the trail counts it without throwing', async () => {
    const table = await createStateTable();
    const stuck = { send: async (command: { input: { RequestItems: Record<string, unknown[]> } }) => ({ UnprocessedItems: command.input.RequestItems }) } as unknown as DynamoDBClient;
    const log = new DynamoAuditLog(table, stuck, { retries: 2, minRetryDelayMs: 1, maxRetryDelayMs: 2 });
    const err = await log.append([rec('2026-06-02T08:00:00.000Z')]).catch((e: unknown) => e);
    expect(isSesameError(err, 'internal')).toBe(true);
    expect((err as Error).message).toContain('unprocessed');
    const logLines = new MemoryLog();
    const trail = new AuditTrail(log, logLines);
    expect(trail.record(audit.appRevoked({ actor: actor.cli(), app: 'billing' }))).toBe(true);
    await trail.flush();
    expect(trail.stats).toMatchObject({ failed: 1, written: 0 });
    expect(logLines.lines.some((l) => l.includes('audit records could not be written'))).toBe(true);
  });

  it('needs only BatchWriteItem and Query on the table', () => {
    expect([...AUDIT_TABLE_ACTIONS]).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:Query']);
  });
});
