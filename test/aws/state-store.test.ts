import { beforeEach, describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
useEmulator();
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoStateStore } from '../../functions/adapters/dynamo-state-store.ts';
import { isSesameError } from '../../functions/core/errors.ts';
import { ManualClock, stateStoreContract } from '../adapters/state-store.contract.ts';
import { createStateTable as createTable } from './fixtures.ts';

const client = new DynamoDBClient({});

// Made after the emulator is wiped (useEmulator's beforeEach runs first): every store of one test shares it.
let shared = '';
beforeEach(async () => {
  shared = await createTable();
});
stateStoreContract('DynamoStateStore on the AWS emulator', async (clock) => new DynamoStateStore(shared, client, clock));

describe('DynamoStateStore on the AWS emulator', () => {
  it('stores the item as the table schema says: string keys, numeric version and expires_at, data as a JSON string', async () => {
    const table = await createTable();
    expect((await client.send(new DescribeTimeToLiveCommand({ TableName: table }))).TimeToLiveDescription).toMatchObject({ AttributeName: 'expires_at', TimeToLiveStatus: 'ENABLED' });
    expect((await client.send(new DescribeTableCommand({ TableName: table }))).Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    const clock = new ManualClock();
    const store = new DynamoStateStore(table, client, clock);
    await store.put({ pk: 'link#abc', sk: 'link', expiresAt: clock.seconds + 60, data: { tenant: 'acme' } });
    const raw = (await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'link#abc' }, sk: { S: 'link' } } }))).Item;
    expect(raw).toEqual({ pk: { S: 'link#abc' }, sk: { S: 'link' }, version: { N: '1' }, expires_at: { N: String(clock.seconds + 60) }, data: { S: '{"tenant":"acme"}' } });
  });

  it('refuses an item that is not what the adapter writes as store_corrupt, naming no key', async () => {
    const table = await createTable();
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'link#tokenhash' }, sk: { S: 'link' }, version: { N: '1' }, data: { S: 'not json' } } }));
    const err = await new DynamoStateStore(table, client).get('link#tokenhash', 'link').catch((e: unknown) => e);
    expect(isSesameError(err, 'store_corrupt')).toBe(true);
    expect((err as Error).message).not.toContain('tokenhash');
  });

  it('answers a query whose first items all expired with the live ones after them, in one page', async () => {
    const clock = new ManualClock();
    const store = new DynamoStateStore(await createTable(), client, clock);
    for (let i = 0; i < 12; i += 1) await store.put({ pk: 'tenant#acme', sk: `link#${String(i).padStart(2, '0')}`, data: { i }, ...(i < 9 ? { expiresAt: clock.seconds + 1 } : {}) });
    clock.advance(1);
    const page = await store.query('tenant#acme', { prefix: 'link#', limit: 3 });
    expect(page.items.map((i) => i.sk)).toEqual(['link#09', 'link#10', 'link#11']);
  });
});
