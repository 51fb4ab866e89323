import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { buildSystem, type System } from '../../functions/adapters/system.ts';
import { awsSystem } from '../../functions/adapters/aws-system.ts';
import { makeAuthorizerHandler } from '../../functions/authorizer/authorizer.ts';
import { APP_CACHE_SECONDS, AUTHORIZER_CACHE_SECONDS, REVOCATION_BOUND_SECONDS } from '../../functions/core/apps.ts';
import { TtlCache } from '../../functions/core/cache.ts';
import { readConfig } from '../../functions/core/config.ts';
import { ManualClock } from '../helpers/clock.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { MemorySecretStore } from '../helpers/memory-secret-store.ts';

/**
 * The authorizer's caches: how long a revoked key lives in AWS, that a rotated key works
 * at once, and that junk keys cannot grow memory (counted in entries, not bytes).
 */
describe('TtlCache', () => {
  it('is an LRU: a read makes an entry the most recently used, and the least recently used goes when full', () => {
    const cache = new TtlCache<number>(new ManualClock(), 3);
    for (const k of ['a', 'b', 'c']) cache.set(k, 1, 1_000);
    expect(cache.get('a')).toBe(1);
    cache.set('d', 1, 1_000);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((k) => cache.get(k))).toEqual([1, 1, 1]);
  });

  it('never holds more than maxEntries, whatever is written', () => {
    const cache = new TtlCache<string>(new ManualClock(), 100);
    for (let i = 0; i < 10_000; i++) cache.set(`k${i}`, 'v', 60_000);
    expect(cache.size).toBe(100);
  });

  it('expires on the injected clock, and a zero TTL drops what was there', () => {
    const clock = new ManualClock();
    const cache = new TtlCache<string>(clock, 10);
    cache.set('a', 'v', 1_000);
    clock.advance(999);
    expect(cache.get('a')).toBe('v');
    clock.advance(1);
    expect(cache.get('a')).toBeUndefined();
    cache.set('b', 'v', 1_000);
    cache.set('b', 'w', 0);
    expect(cache.get('b')).toBeUndefined();
  });
});

describe('the revocation bound in AWS', () => {
  it('is at most 60 s: API Gateway verdict cache plus authorizer app-record cache', () => {
    expect(REVOCATION_BOUND_SECONDS).toBe(AUTHORIZER_CACHE_SECONDS + APP_CACHE_SECONDS);
    expect(REVOCATION_BOUND_SECONDS).toBeLessThanOrEqual(60);
  });

  describe('the deployed authorizer (awsSystem, Secrets Manager mocked)', () => {
    const sm = mockClient(SecretsManagerClient);
    const key = `sesame_billing_${randomBytes(32).toString('base64url')}`;
    const record = (extra: Record<string, string> = {}) => ({
      SecretString: JSON.stringify({ app: 'billing', key_sha256: createHash('sha256').update(key).digest('hex'), tenants: ['acme'], created_at: '2026-01-01T00:00:00Z', ...extra }),
      VersionId: 'v',
    });
    let clock: ManualClock;
    let system: System;
    const reads = () => sm.commandCalls(GetSecretValueCommand).length;
    const authorized = async (k: string) => (await makeAuthorizerHandler(system.apps, new MemoryLog(), system.appLookup)({ headers: { authorization: `Bearer ${k}` } })).isAuthorized;

    beforeEach(() => {
      process.env.AWS_REGION = 'eu-west-3';
      sm.reset();
      sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
      sm.on(GetSecretValueCommand, { SecretId: 'sesame-apps/billing' }).resolves(record());
      clock = new ManualClock();
      system = awsSystem(readConfig({}), new MemoryLog(), { client: new SecretsManagerClient({ region: 'eu-west-3' }), clock });
    });
    afterAll(() => sm.restore());

    it(`reads a revoked record again after APP_CACHE_SECONDS (${APP_CACHE_SECONDS} s) at most`, async () => {
      expect(await authorized(key)).toBe(true);
      expect(await authorized(key)).toBe(true);
      expect(reads()).toBe(1);
      sm.on(GetSecretValueCommand, { SecretId: 'sesame-apps/billing' }).resolves(record({ revoked_at: '2026-06-01T08:00:00Z' }));
      clock.advance(APP_CACHE_SECONDS * 1000 - 1);
      expect(await authorized(key)).toBe(true);
      clock.advance(1);
      expect(await authorized(key)).toBe(false);
      expect(reads()).toBe(2);
    });

    it('counts the cache time from before the read, so a slow read does not stretch the bound', async () => {
      sm.on(GetSecretValueCommand, { SecretId: 'sesame-apps/billing' }).callsFake(() => {
        clock.advance(5_000);
        return record();
      });
      expect(await authorized(key)).toBe(true);
      clock.advance(APP_CACHE_SECONDS * 1000 - 5_000);
      expect(await authorized(key)).toBe(true);
      expect(reads()).toBe(2);
    });
  });
});

describe('the app-record cache', () => {
  let clock: ManualClock;
  let store: MemorySecretStore;
  let system: System;
  beforeEach(async () => {
    clock = new ManualClock();
    store = new MemorySecretStore();
    system = buildSystem({ store, log: new MemoryLog(), version: 't', clock });
    await system.tenants.put({ id: 'acme', name: 'Acme' });
  });
  const authorize = (authorization: string) => makeAuthorizerHandler(system.apps, new MemoryLog(), system.appLookup)({ headers: { authorization } });

  it('holds nothing for 10,000 junk keys: malformed, unknown apps, wrong secrets of a real app, any case of "Bearer"', async () => {
    const { key } = await system.apps.add({ app: 'billing', tenants: ['acme'] });
    expect((await authorize(`Bearer ${key}`)).isAuthorized).toBe(true);
    expect(system.appCache.size).toBe(1);
    const junk = (i: number) => {
      const secret = randomBytes(32).toString('base64url');
      switch (i % 5) {
        case 0:
          return `Bearer ${'x'.repeat(8_000)}${i}`;
        case 1:
          return `Bearer sesame_junk-${i}_${secret}`;
        case 2:
          return `bearer sesame_billing_${secret}`;
        case 3:
          return `BEARER sesame_app-${i}_${secret}`;
        default:
          return `Basic ${key}`;
      }
    };
    const before = store.calls.get;
    for (let i = 0; i < 10_000; i++) expect((await authorize(junk(i))).isAuthorized).toBe(false);
    expect(system.appCache.size).toBe(1);
    // Malformed keys read nothing; a well-formed one reads its app's record once.
    expect(store.calls.get - before).toBe(6_000);
  });

  it('is bounded in entries even with many real apps', async () => {
    const small = buildSystem({ store, log: new MemoryLog(), version: 't', clock });
    const keys = [];
    for (let i = 0; i < 1_100; i++) keys.push((await small.apps.add({ app: `app-${i}`, tenants: ['acme'] })).key);
    for (const k of keys) await small.apps.verify(k, small.appLookup);
    expect(small.appCache.size).toBe(1_000);
  });

  it('serves a rotated key at once, though the record of the old one is cached', async () => {
    const { key: old } = await system.apps.add({ app: 'billing', tenants: ['acme'] });
    expect((await authorize(`Bearer ${old}`)).isAuthorized).toBe(true);
    const { key } = await system.apps.rotate('billing', { overlap: '30m' });
    expect((await authorize(`Bearer ${key}`)).isAuthorized).toBe(true);
    expect((await authorize(`Bearer ${old}`)).isAuthorized).toBe(true);
    clock.advance(30 * 60_000);
    expect((await authorize(`Bearer ${old}`)).isAuthorized).toBe(false);
    expect((await authorize(`Bearer ${key}`)).isAuthorized).toBe(true);
  });

  it('serves the key of an app added again after its revocation at once', async () => {
    await system.apps.add({ app: 'billing', tenants: ['acme'] });
    await system.apps.revoke('billing');
    const { key } = await system.apps.add({ app: 'billing', tenants: ['acme'] });
    expect((await authorize(`Bearer ${key}`)).isAuthorized).toBe(true);
  });
});
