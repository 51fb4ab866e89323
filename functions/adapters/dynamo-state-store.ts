import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import {
  checkCondition,
  checkExpiresAt,
  checkKey,
  checkLimit,
  decodeCursor,
  encodeCursor,
  epochSeconds,
  isLive,
  serialiseData,
} from './state-keys.ts';
import { SesameError } from '../core/errors.ts';
import type { Clock, StateCondition, StateItem, StateStore } from '../core/ports.ts';
import { systemClock } from '../core/ports.ts';

/**
 * The state table in DynamoDB (lib/state-table.ts): keys `pk` and `sk` (strings),
 * `version` (N), `expires_at` (N, the table's TTL attribute) and `data`.
 *
 * `data` is a string holding the JSON the caller gave, not a map: it round-trips any
 * JSON exactly (a map would need marshalling, and DynamoDB numbers differ from
 * JavaScript's: -0, precision), its size is the size checked before the write, and no
 * one queries or updates a field of it in place (the functions are not granted
 * UpdateItem). The cost, no server-side filter on a data field, is none here.
 *
 * Conditions are ConditionExpressions, so DynamoDB decides who wins; an expired item
 * still in the table (TTL deletion is lazy, up to days) counts as absent in every
 * condition, and is filtered out of reads. A write without condition reads the
 * current version and writes under `version = read` (retried a few times when it lost
 * a race), which keeps `version` increasing by one with PutItem alone.
 */
const ITEM_NAMES = { '#pk': 'pk', '#v': 'version', '#e': 'expires_at' } as const;
const UNCONDITIONAL_ATTEMPTS = 8;

export class DynamoStateStore implements StateStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBClient = new DynamoDBClient({}),
    private readonly clock: Clock = systemClock,
  ) {
    if (tableName === '') throw new SesameError('invalid_request', 'the state table name is empty (SESAME_STATE_TABLE)');
  }

  async get(pk: string, sk: string): Promise<StateItem | undefined> {
    checkKey('pk', pk);
    checkKey('sk', sk);
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: key(pk, sk), ConsistentRead: true }));
    if (!out.Item) return undefined;
    const item = fromDynamo(out.Item);
    return isLive(item, this.now()) ? item : undefined;
  }

  async put(item: Omit<StateItem, 'version'>, condition?: StateCondition): Promise<StateItem> {
    const pk = checkKey('pk', item.pk);
    const sk = checkKey('sk', item.sk);
    const expiresAt = checkExpiresAt(item.expiresAt);
    const data = serialiseData(item.data);
    checkCondition(condition);
    if (condition !== undefined) return this.write(pk, sk, expiresAt, data, condition);
    // No condition: the next version after whatever is there now, under `version = read`.
    for (let attempt = 1; ; attempt += 1) {
      const current = await this.get(pk, sk);
      try {
        return await this.write(pk, sk, expiresAt, data, current ? { ifVersion: current.version } : { ifAbsent: true });
      } catch (err) {
        if (!(err instanceof SesameError && err.code === 'conflict') || attempt >= UNCONDITIONAL_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  async query(pk: string, options: { prefix?: string; limit?: number; cursor?: string } = {}): Promise<{ items: StateItem[]; cursor: string | undefined }> {
    checkKey('pk', pk);
    const prefix = checkKey('prefix', options.prefix ?? '', true);
    const limit = checkLimit(options.limit);
    let start: Record<string, AttributeValue> | undefined = options.cursor === undefined ? undefined : key(pk, decodeCursor(options.cursor, pk, prefix));
    const now = this.now();
    const items: StateItem[] = [];
    // Limit counts the items read before the filter drops expired ones: read on until the page is full or the partition ends.
    while (items.length < limit) {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: prefix === '' ? '#pk = :pk' : '#pk = :pk AND begins_with(#sk, :prefix)',
          FilterExpression: 'attribute_not_exists(#e) OR #e > :now',
          ExpressionAttributeNames: prefix === '' ? { '#pk': 'pk', '#e': 'expires_at' } : { '#pk': 'pk', '#sk': 'sk', '#e': 'expires_at' },
          ExpressionAttributeValues: { ':pk': { S: pk }, ':now': { N: String(now) }, ...(prefix === '' ? {} : { ':prefix': { S: prefix } }) },
          ConsistentRead: true,
          Limit: limit - items.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const raw of out.Items ?? []) {
        const item = fromDynamo(raw);
        if (isLive(item, now)) items.push(item);
      }
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    // Full page: the last item read is where the next page starts (it may turn out empty).
    const last = start ? fromKey(start) : undefined;
    return { items, cursor: last ? encodeCursor(last.pk, last.sk) : undefined };
  }

  async delete(pk: string, sk: string, condition?: StateCondition): Promise<void> {
    checkKey('pk', pk);
    checkKey('sk', sk);
    checkCondition(condition);
    const expression = condition === undefined ? undefined : conditionExpression(condition, this.now());
    try {
      await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: key(pk, sk), ...(expression ?? {}) }));
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw conflict(condition);
      throw err;
    }
  }

  // ---------------------------------------------------------------- internals

  private now(): number {
    return epochSeconds(this.clock.now());
  }

  private async write(pk: string, sk: string, expiresAt: number | undefined, data: string, condition: NonNullable<StateCondition>): Promise<StateItem> {
    const version = 'ifVersion' in condition ? condition.ifVersion + 1 : 1;
    const Item: Record<string, AttributeValue> = {
      ...key(pk, sk),
      version: { N: String(version) },
      ...(expiresAt === undefined ? {} : { expires_at: { N: String(expiresAt) } }),
      data: { S: data },
    };
    try {
      await this.client.send(new PutItemCommand({ TableName: this.tableName, Item, ...conditionExpression(condition, this.now()) }));
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw conflict(condition);
      throw err;
    }
    return { pk, sk, version, ...(expiresAt === undefined ? {} : { expiresAt }), data: JSON.parse(data) as Record<string, unknown> };
  }
}

const key = (pk: string, sk: string): Record<string, AttributeValue> => ({ pk: { S: pk }, sk: { S: sk } });

/** The condition as DynamoDB evaluates it; an item past its expiry counts as absent. */
function conditionExpression(
  condition: NonNullable<StateCondition>,
  now: number,
): { ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, AttributeValue> } {
  if ('ifVersion' in condition) {
    return {
      ConditionExpression: '#v = :v AND (attribute_not_exists(#e) OR #e > :now)',
      ExpressionAttributeNames: { '#v': ITEM_NAMES['#v'], '#e': ITEM_NAMES['#e'] },
      ExpressionAttributeValues: { ':v': { N: String(condition.ifVersion) }, ':now': { N: String(now) } },
    };
  }
  return {
    ConditionExpression: 'attribute_not_exists(#pk) OR #e <= :now',
    ExpressionAttributeNames: { '#pk': ITEM_NAMES['#pk'], '#e': ITEM_NAMES['#e'] },
    ExpressionAttributeValues: { ':now': { N: String(now) } },
  };
}

function conflict(condition: StateCondition): SesameError {
  return condition !== undefined && 'ifAbsent' in condition
    ? new SesameError('conflict', 'the state item already exists')
    : new SesameError('conflict', 'the state item changed (or is gone) since it was read');
}

function fromKey(raw: Record<string, AttributeValue>): { pk: string; sk: string } {
  const pk = raw.pk?.S;
  const sk = raw.sk?.S;
  if (pk === undefined || sk === undefined) throw new SesameError('store_corrupt', 'the state table returned a key without pk and sk strings');
  return { pk, sk };
}

/** An item as stored, checked: anything else is store_corrupt, naming no key (a pk may derive from a token). */
function fromDynamo(raw: Record<string, AttributeValue>): StateItem {
  const corrupt = (why: string) => new SesameError('store_corrupt', `a state table item is refused: ${why}`);
  const { pk, sk } = fromKey(raw);
  const version = Number(raw.version?.N);
  if (!Number.isSafeInteger(version) || version < 1) throw corrupt('no valid version');
  let expiresAt: number | undefined;
  if (raw.expires_at !== undefined) {
    expiresAt = Number(raw.expires_at.N);
    if (!Number.isSafeInteger(expiresAt)) throw corrupt('expires_at is not a whole number');
  }
  if (raw.data?.S === undefined) throw corrupt('no data string');
  let data: unknown;
  try {
    data = JSON.parse(raw.data.S);
  } catch {
    throw corrupt('data is not JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw corrupt('data is not an object');
  return { pk, sk, version, ...(expiresAt === undefined ? {} : { expiresAt }), data: data as Record<string, unknown> };
}
