import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../core/config.ts';
import { systemClock, type Clock, type Log } from '../core/ports.ts';
import { AwsSecretStore, type SecretCreation } from './aws-secret-store.ts';
import { dynamoAuditLog } from './dynamo-audit-log.ts';
import { DynamoStateStore } from './dynamo-state-store.ts';
import { trustAnchorsOf, type SystemDeps } from './system.ts';

export interface AwsSystemOptions {
  client?: SecretsManagerClient;
  clock?: Clock;
  /** How to create a missing secret (the CLI); without it, the system never creates one. */
  creation?: () => Promise<SecretCreation>;
}

/**
 * What every deployed system stands on: Secrets Manager, and the state table (links,
 * audit trail) when the function is given it. Only these two clients: a function adds
 * the adapters it uses (S3, SNS, KMS), so that its bundle imports no other client.
 */
export function awsDeps(config: Config, log: Log, options: AwsSystemOptions = {}): SystemDeps {
  const clock = options.clock ?? systemClock;
  // One DynamoDB client for the links and the trail: a client costs its construction at every cold start.
  const dynamo = config.stateTable ? new DynamoDBClient({}) : undefined;
  const state = config.stateTable ? new DynamoStateStore(config.stateTable, dynamo, clock) : undefined;
  return {
    store: new AwsSecretStore(options.client ?? new SecretsManagerClient({}), options.creation ? { creation: options.creation } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    log,
    version: config.version,
    broker: config.broker,
    policyAllowList: config.policyAllowList,
    testPolicyOids: config.testPolicyOids,
    ...trustAnchorsOf(config),
    thresholds: config.thresholds,
    // Connect links (system.connect) exist only with the state table; its TTL hides expired items on the same clock.
    ...(state ? { state } : {}),
    // The audit trail lives in the state table: every function given the table records into it.
    ...(config.stateTable ? { auditLog: dynamoAuditLog(config.stateTable, config, dynamo), auditConfig: config.audit } : {}),
  };
}

/** The stack's key and resource policy for the secrets a function creates (tenants, apps, FLA link keys), when it is given them. */
export function secretCreationOf(config: Config): Pick<AwsSystemOptions, 'creation'> {
  const { kmsKeyId, secretPrincipals } = config;
  return kmsKeyId && secretPrincipals ? { creation: async () => ({ kmsKeyId, principals: secretPrincipals }) } : {};
}
