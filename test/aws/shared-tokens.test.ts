import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
const { env: emulatorEnv } = useEmulator();
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { awsSystem } from '../../functions/adapters/aws-system.ts';
import { readConfig } from '../../functions/core/config.ts';
import { itemKey } from '../../functions/core/shared-tokens.ts';
import { startOAuthServer, type OAuthServer } from '../../functions/local/oauth-server.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { startBrokers, stopBrokers, type BrokerProc } from '../helpers/shared-broker-procs.ts';
import { createStateTable, PRINCIPALS } from './fixtures.ts';

/**
 * K broker processes, each the system the token function builds in one Lambda container
 * (awsSystem: DynamoStateStore and KmsSealer on the emulator's DynamoDB and KMS), in
 * front of a real OAuth2 server on loopback that counts the token requests it gets.
 */
const TENANT = 'acme';
const CREDENTIAL = 'chorus-piste';
const CLIENT_SECRET = `piste-${'c5'.repeat(12)}`;

interface Issued {
  token: string;
  at: number;
  expiresIn: number;
}

interface World {
  oauth: OAuthServer;
  issued: Issued[];
  /** With `hold`: the first token request, kept unanswered until `release()` (or forever). */
  firstRequest: Promise<void>;
  release(): void;
  childEnv: Record<string, string>;
  table: string;
}

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function world(options: { ttlSeconds: number; hold: boolean; env?: Record<string, string> }): Promise<World> {
  const keyArn = (await new KMSClient({}).send(new CreateKeyCommand({ Description: 'Sesame test key' }))).KeyMetadata?.Arn as string;
  const table = await createStateTable();
  const issued: Issued[] = [];
  let held: { req: IncomingMessage; res: ServerResponse; next: RequestListener } | undefined;
  let seen!: () => void;
  const firstRequest = new Promise<void>((resolve) => (seen = resolve));
  let first = true;
  const oauth = await startOAuthServer({
    clients: [{ client_id: 'piste-client', auth: 'client_secret_post', client_secret: CLIENT_SECRET, scope: 'openid' }],
    tokenTtlSeconds: options.ttlSeconds,
    wrap: (next) => (req, res) => {
      if (req.method !== 'POST' || !req.url?.startsWith('/token')) return next(req, res);
      // What the server answered, and when: the truth a served token is checked against.
      const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
      res.end = ((chunk: unknown, ...rest: unknown[]) => {
        if (res.statusCode === 200 && chunk) {
          const body = JSON.parse(Buffer.from(chunk as string).toString('utf8')) as { access_token: string; expires_in: number };
          issued.push({ token: body.access_token, at: Date.now(), expiresIn: body.expires_in });
        }
        return end(chunk, ...rest);
      }) as ServerResponse['end'];
      if (options.hold && first) {
        first = false;
        held = { req, res, next };
        seen();
        return;
      }
      first = false;
      next(req, res);
    },
  });
  cleanups.push(() => oauth.close());
  const system = awsSystem(readConfig(process.env), new MemoryLog(), { creation: async () => ({ kmsKeyId: keyArn, principals: PRINCIPALS }) });
  await system.tenants.put({ id: TENANT, name: 'ACME' });
  await system.credentials.set({
    tenant: TENANT,
    credential: CREDENTIAL,
    environment: 'sandbox',
    fields: { client_id: 'piste-client', client_secret: CLIENT_SECRET, account_login: 'TECH', account_password: 'pw', token_endpoint: oauth.tokenEndpoint },
  });
  return {
    oauth,
    issued,
    firstRequest,
    release: () => held && held.next(held.req, held.res),
    table,
    childEnv: { ...emulatorEnv, SESAME_STATE_TABLE: table, SESAME_TOKEN_CACHE_KEY: keyArn, SESAME_SHARED_TOKEN_CACHE: 'on', ...options.env },
  };
}

async function brokers(k: number, w: World): Promise<BrokerProc[]> {
  const procs = await startBrokers(k, w.childEnv);
  cleanups.push(() => stopBrokers(procs));
  expect(procs.every((p) => typeof p.owner === 'string')).toBe(true);
  return procs;
}

/** The cache item as DynamoDB holds it (the partition's one item: its sort key names the secret version). */
async function item(table: string) {
  const { pk } = itemKey({ tenant: TENANT, credential: CREDENTIAL, secretVersion: '-' });
  const out = await new DynamoDBClient({}).send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: pk } }, ConsistentRead: true }));
  expect(out.Items).toHaveLength(1);
  const raw = out.Items?.[0]?.data?.S as string;
  return { raw, data: JSON.parse(raw) as { lease?: { owner: string; taken: number; until: number } } };
}

// Eight processes on the emulator on a loaded two-core CI machine: their start alone can take a while.
describe('the shared token cache across broker processes on the AWS emulator', { timeout: 180_000 }, () => {
  it('makes exactly one upstream call for 8 instances × 200 concurrent cold requests', async () => {
    // The held call must outlast the slowest instance's arrival, however loaded the machine:
    // with the default 5 s upstream timeout, the holder would retry, be answered, and a late
    // instance would find the token instead of waiting on the lease.
    const w = await world({ ttlSeconds: 3600, hold: true, env: { SESAME_UPSTREAM_TIMEOUT_MS: '60000', SESAME_UPSTREAM_ATTEMPTS: '1', SESAME_TOKEN_LEASE_SECONDS: '120' } });
    const procs = await brokers(8, w);
    for (const p of procs) p.send({ op: 'burst', tenant: TENANT, credential: CREDENTIAL, n: 200 });
    await w.firstRequest;
    const { data } = await item(w.table);
    const holder = procs.find((p) => p.owner === data.lease?.owner) as BrokerProc;
    expect(holder).toBeDefined();
    // Every other instance is waiting on the holder's lease before its upstream call is let through.
    await Promise.all(procs.filter((p) => p !== holder).map((p) => p.next((l) => l.waiting === true, 60_000)));
    w.release();
    const bursts = await Promise.all(procs.map((p) => p.next((l) => l.op === 'burst')));

    expect(w.oauth.tokenRequests()).toBe(1);
    const tokens = new Set(bursts.flatMap((b) => b.tokens as string[]));
    expect(tokens).toEqual(new Set([w.issued[0]?.token]));
    for (const [i, b] of bursts.entries()) {
      expect(b.statuses, `instance ${i}`).toEqual(Array(200).fill(200));
      const counters = b.counters as Record<string, number>;
      expect(counters.fallbacks, JSON.stringify(b.warnings)).toBe(0);
      if (procs[i] === holder) expect(counters).toMatchObject({ leases: 1, hits: 0 });
      else expect({ leases: counters.leases, waits: counters.waits, cached: b.cached }).toEqual({ leases: 0, waits: 1, cached: 200 });
    }
    // In the table: the token sealed under a KMS data key, never in clear.
    const { raw } = await item(w.table);
    expect(raw).toMatch(/"sealed":"k1\./);
    expect(raw).not.toContain(w.issued[0]?.token);
  });

  it('lets another instance finish within a lease time of the lease lapsing when the holder is killed mid-call', async () => {
    const LEASE = 5;
    const w = await world({ ttlSeconds: 3600, hold: true, env: { SESAME_TOKEN_LEASE_SECONDS: String(LEASE), SESAME_UPSTREAM_TIMEOUT_MS: '4000', SESAME_UPSTREAM_ATTEMPTS: '1' } });
    const procs = await brokers(8, w);
    for (const p of procs) p.send({ op: 'burst', tenant: TENANT, credential: CREDENTIAL, n: 50 });
    await w.firstRequest;
    const { data } = await item(w.table);
    const lease = data.lease as { owner: string; taken: number; until: number };
    expect(lease.until - lease.taken).toBe(LEASE * 1000);
    const holder = procs.find((p) => p.owner === lease.owner) as BrokerProc;
    holder.kill('SIGKILL');
    const survivors = procs.filter((p) => p !== holder);
    const bursts = await Promise.all(survivors.map((p) => p.next((l) => l.op === 'burst', 30_000)));

    // The held call (the dead holder's) and the one of the instance that took over.
    expect(w.oauth.tokenRequests()).toBe(2);
    expect(w.issued).toHaveLength(1);
    for (const b of bursts) {
      expect(b.statuses).toEqual(Array(50).fill(200));
      expect(b.tokens).toEqual([w.issued[0]?.token]);
    }
    const counters = bursts.map((b) => b.counters as Record<string, number>);
    expect(counters.map((c) => c.takeovers).sort()).toEqual([0, 0, 0, 0, 0, 0, 1]);
    expect(counters.reduce((n, c) => n + (c.fallbacks as number), 0)).toBe(0);
    const doneAt = Math.max(...bursts.map((b) => b.done_at as number));
    // Nobody went around the lease, and the takeover finished within one lease time of its end.
    expect(doneAt).toBeGreaterThanOrEqual(lease.until);
    expect(doneAt - lease.until).toBeLessThan(LEASE * 1000);
  });

  it('never serves a token past its expiry, with tokens living 3 s refreshed by one instance for all', async () => {
    const TTL = 3;
    const FOR_MS = 6_000;
    const K = 4;
    const w = await world({
      ttlSeconds: TTL,
      hold: false,
      env: { SESAME_TOKEN_REFRESH_MARGIN: '1', SESAME_TOKEN_LEASE_SECONDS: '2', SESAME_UPSTREAM_TIMEOUT_MS: '1500' },
    });
    const procs = await brokers(K, w);
    for (const p of procs) p.send({ op: 'serve', tenant: TENANT, credential: CREDENTIAL, n: 10, every_ms: 20, for_ms: FOR_MS });
    const runs = await Promise.all(procs.map((p) => p.next((l) => l.op === 'serve', 30_000)));

    const truth = new Map(w.issued.map((i) => [i.token, i.at + i.expiresIn * 1000]));
    let served = 0;
    for (const r of runs) {
      expect(r.errors).toEqual({});
      for (const s of r.served as { token: string; expires_at: number; last: number; count: number }[]) {
        const expiry = truth.get(s.token);
        expect(expiry, 'a token the server issued').toBeDefined();
        expect(s.last, 'served before the server’s expiry').toBeLessThan(expiry as number);
        expect(s.last, 'served before the expiry the broker announced').toBeLessThan(s.expires_at);
        served += s.count;
      }
    }
    expect(served).toBeGreaterThan(K * 50);
    // Each token is fresh for TTL − margin = 2 s: about one call per 2 s for all K instances, not K.
    const windows = Math.ceil(FOR_MS / ((TTL - 1) * 1000));
    expect(w.oauth.tokenRequests()).toBeGreaterThanOrEqual(2);
    expect(w.oauth.tokenRequests()).toBeLessThanOrEqual(windows + K);
  });
});
