import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsSecretStore } from '../adapters/aws-secret-store.ts';
import { APP_CACHE_SECONDS, AppKeys, AppRecordCache, type AppLookup } from '../core/app-keys.ts';
import { systemClock, type Clock } from '../core/ports.ts';

/**
 * What the authorizer runs: app records read from Secrets Manager, kept APP_CACHE_SECONDS
 * per instance, and the key check. Nothing of tenants, credentials or platforms.
 */
export function authorizerSystem(options: { client?: SecretsManagerClient; clock?: Clock } = {}): { keys: AppKeys; lookup: AppLookup; cache: AppRecordCache } {
  const clock = options.clock ?? systemClock;
  const keys = new AppKeys(new AwsSecretStore(options.client ?? new SecretsManagerClient({})), clock);
  const cache = new AppRecordCache((app) => keys.find(app), clock, { ttlMs: APP_CACHE_SECONDS * 1000 });
  return { keys, lookup: cache.lookup, cache };
}
