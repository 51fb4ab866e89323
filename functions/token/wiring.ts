import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsSecretStore } from '../adapters/aws-secret-store.ts';
import { dynamoAuditLog } from '../adapters/dynamo-audit-log.ts';
import { DynamoStateStore } from '../adapters/dynamo-state-store.ts';
import { FetchHttpClient } from '../adapters/fetch-http-client.ts';
import { kmsSharedTokens } from '../adapters/kms-sealer.ts';
import { Api } from '../core/api.ts';
import { auditTrailOf, type AuditTrail } from '../core/audit.ts';
import { Broker } from '../core/broker.ts';
import type { Config } from '../core/config.ts';
import { Credentials } from '../core/credentials.ts';
import { systemClock, type Clock, type HttpClient, type Log } from '../core/ports.ts';
import type { SharedTokenCache } from '../core/shared-tokens.ts';
import { Tenants } from '../core/tenants.ts';

export interface TokenSystem {
  api: Api;
  broker: Broker;
  audit?: AuditTrail;
  sharedTokens?: SharedTokenCache;
}

/**
 * What the token function runs, and nothing more: the credentials' store, the broker
 * (with the shared cache where the stack gives its key) and the audit trail. Its bundle
 * holds no certificate parser, no operator API and no client it never calls.
 */
export function tokenSystem(config: Config, log: Log, options: { client?: SecretsManagerClient; clock?: Clock; http?: HttpClient } = {}): TokenSystem {
  const clock = options.clock ?? systemClock;
  const store = new AwsSecretStore(options.client ?? new SecretsManagerClient({}));
  const credentials = new Credentials(store, new Tenants(store, clock), clock);
  // One DynamoDB client for the shared cache and the trail.
  const dynamo = config.stateTable ? new DynamoDBClient({}) : undefined;
  const state = config.stateTable ? new DynamoStateStore(config.stateTable, dynamo, clock) : undefined;
  const sharedTokens = state ? kmsSharedTokens(config, state, log, clock) : undefined;
  const broker = new Broker({ credentials, http: options.http ?? new FetchHttpClient(), clock, log, ...(sharedTokens ? { shared: sharedTokens } : {}) }, config.broker);
  const audit = config.stateTable ? auditTrailOf(dynamoAuditLog(config.stateTable, config, dynamo), log, clock, config.audit) : undefined;
  return { api: new Api(broker, log, config.version, audit), broker, ...(audit ? { audit } : {}), ...(sharedTokens ? { sharedTokens } : {}) };
}
