import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TOKEN_CACHE_PURPOSE, TOKEN_ITEM_PREFIX } from '../functions/core/shared-tokens.ts';
import { AUDIT_KEY_PREFIXES } from '../functions/adapters/dynamo-audit-log.ts';

/**
 * The schema the DynamoDB adapter (functions/adapters/dynamo-state-store.ts) relies on,
 * shared with the emulator tests that create the same table by hand.
 */
export const STATE_TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB deletes the item some time after (the adapter hides it at once). */
  timeToLiveAttribute: 'expires_at',
} as const;

/** The DynamoDB actions the StateStore port needs, and no other (no Scan, no UpdateItem, no batch calls). */
export const STATE_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'] as const;

/** What the shared token cache does on the table: read an item, write one conditionally. Nothing else. */
export const TOKEN_CACHE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem'] as const;

/**
 * The state table of DESIGN.md: small records with optimistic concurrency (connect
 * links first), keyed `pk`/`sk`, expiring through TTL on `expires_at`, encrypted with
 * the stack's customer-managed key, with point-in-time recovery, kept when the stack
 * is deleted. No function may use it until granted with grantReadWrite().
 */
export class StateTable extends Construct {
  readonly table: dynamodb.Table;
  private readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: { key: kms.IKey }) {
    super(scope, id);
    this.key = props.key;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: STATE_TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: STATE_TABLE_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: STATE_TABLE_SCHEMA.timeToLiveAttribute,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Link records are what proves a link was used: they outlive a deleted stack, as the secrets do.
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /**
   * What the shared token cache (functions/core/shared-tokens.ts) needs, and nothing
   * more: GetItem and PutItem on items whose partition key starts with `token#` (the
   * `dynamodb:LeadingKeys` condition: the token function cannot read or write a link or
   * an audit record), the table's key through DynamoDB, and the key itself for the data
   * keys that seal tokens, only under the cache's encryption context (so this grant
   * decrypts nothing else the key protects: not a secret, not another item).
   */
  grantTokenCache(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...TOKEN_CACHE_ACTIONS],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${TOKEN_ITEM_PREFIX}*`] } },
      }),
    );
    this.grantKeyViaDynamo(grantee);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // GenerateDataKey: a data key to seal new tokens; Decrypt: the data key of a token another container sealed.
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: Object.fromEntries(Object.entries(TOKEN_CACHE_PURPOSE).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': Object.keys(TOKEN_CACHE_PURPOSE) },
        },
      }),
    );
  }

  /**
   * Adding audit records (functions/adapters/dynamo-audit-log.ts) and nothing else:
   * BatchWriteItem on items whose partition key starts with `audit#` or `audit-tenant#`
   * only, so that a function recording what it did can neither read the trail nor touch
   * a link or a token item through this grant.
   */
  grantAuditWrite(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:BatchWriteItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': AUDIT_KEY_PREFIXES.map((p) => `${p}*`) } },
      }),
    );
    this.grantKeyViaDynamo(grantee);
  }

  /**
   * What a function needs to use the StateStore port on this table, and nothing more
   * (not table.grantReadWriteData(), which adds Scan, UpdateItem, the batch calls and
   * stream reads). The table has no index: the table ARN is the only resource.
   */
  grantReadWrite(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // GetItem: get(); PutItem: put() (conditional writes are ConditionExpressions on it); DeleteItem: delete();
        // Query: query() within one partition; ConditionCheckItem: conditions inside transactions, for callers that
        // make a write depend on a state item (a link still unused).
        actions: [...STATE_TABLE_ACTIONS],
        resources: [this.table.tableArn],
      }),
    );
    // Not the token cache's items (sealed tokens, leases) nor the audit trail's: those have their own, narrower grants.
    // The trail stays readable by Query (the admin API's audit route); nothing granted here writes or deletes it.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [`${TOKEN_ITEM_PREFIX}*`, ...AUDIT_KEY_PREFIXES.map((p) => `${p}*`)] } },
      }),
    );
    this.grantKeyViaDynamo(grantee);
  }

  private grantKeyViaDynamo(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // DynamoDB decrypts the table's key with the caller's permission (Decrypt, DescribeKey to check the key's state)
        // and uses Encrypt/GenerateDataKey on writes; only through DynamoDB in this region, never directly.
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}
