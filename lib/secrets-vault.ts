import { Arn, ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledgeWildcard, secretPattern } from './acknowledge.ts';
import { APP_PREFIX } from '../functions/core/apps.ts';
import { CREDENTIAL_PREFIX } from '../functions/core/credentials.ts';
import { TENANT_PREFIX } from '../functions/core/tenants.ts';

/** Secret name prefixes, as the core names secrets; each function is granted only the ones it reads. */
export const SECRET_PREFIXES = {
  credentials: CREDENTIAL_PREFIX,
  tenants: TENANT_PREFIX,
  apps: APP_PREFIX,
} as const;

/**
 * Where credentials live: Secrets Manager entries under fixed prefixes, encrypted
 * with a customer-managed key of this stack.
 */
export class SecretsVault extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // CDK's default key policy gives the account root kms:*: that is what lets IAM
    // policies in this account grant the key at all, and keeps the key manageable.
    this.key = new kms.Key(this, 'Key', {
      description: 'Sesame: encrypts tenant credentials, app keys and tenant records',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** ARN pattern of every secret under a prefix (Secrets Manager appends a random suffix). */
  arnFor(prefix: string): string {
    return Arn.format({ service: 'secretsmanager', resource: 'secret', resourceName: `${prefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }, Stack.of(this));
  }

  /** `kms:ViaService` for this stack's region: the key is usable only through that service's calls. */
  via(service: string): Record<string, Record<string, string>> {
    return { StringEquals: { 'kms:ViaService': `${service}.${Stack.of(this).region}.amazonaws.com` } };
  }

  /** Read-only: the current value of secrets under these prefixes, and decryption through Secrets Manager only. */
  grantRead(grantee: iam.IGrantable, ...prefixes: string[]): void {
    this.acknowledgePrefixes(grantee, prefixes);
    // Reading a value is the function's job; the prefix keeps each function to its own kind of secret.
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: prefixes.map((p) => this.arnFor(p)) }));
    // Secrets Manager decrypts a value with the caller's own permission on the key.
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.key.keyArn], conditions: this.via('secretsmanager') }));
  }

  /** Metadata only (tags, versions, never the value): DescribeSecret needs no key use. */
  grantDescribe(grantee: iam.IGrantable, ...prefixes: string[]): void {
    this.acknowledgePrefixes(grantee, prefixes);
    // Reading a secret's tags (e.g. sesame:environment of a placeholder) without its value.
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:DescribeSecret'], resources: prefixes.map((p) => this.arnFor(p)) }));
  }

  /** New versions and tags of existing secrets under these prefixes: never create or delete. */
  grantWrite(grantee: iam.IGrantable, ...prefixes: string[]): void {
    this.acknowledgePrefixes(grantee, prefixes);
    // New versions and tags of secrets that exist; creating, deleting or re-policying them is the administrators' job.
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:PutSecretValue', 'secretsmanager:TagResource'], resources: prefixes.map((p) => this.arnFor(p)) }));
    // Secrets Manager encrypts a new version under a data key it asks for with the caller's permission.
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [this.key.keyArn], conditions: this.via('secretsmanager') }));
  }

  /**
   * Destroying secrets under these prefixes, for those that must not outlive their use
   * (a connect link's pending key pair): never a credential's, a tenant's or an app's.
   */
  grantDelete(grantee: iam.IGrantable, ...prefixes: string[]): void {
    this.acknowledgePrefixes(grantee, prefixes);
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:DeleteSecret'], resources: prefixes.map((p) => this.arnFor(p)) }));
  }

  private acknowledgePrefixes(grantee: iam.IGrantable, prefixes: string[]): void {
    const role = grantee.grantPrincipal instanceof iam.Role ? grantee.grantPrincipal : undefined;
    if (!role) return;
    for (const p of prefixes) acknowledgeWildcard(role, secretPattern(this, p), `Secret names are ${p}{tenant}/…: the prefix is the unit of access, and Secrets Manager appends a random suffix to every ARN.`);
  }
}
