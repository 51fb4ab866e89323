import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { SesameError } from '../core/errors.ts';
import type { SecretListing, SecretStore, SecretVersion, Tags } from '../core/ports.ts';
import { secretPolicyDocument } from '../core/secret-policy.ts';

/**
 * What a new secret needs: the stack's KMS key (never the AWS-managed default key) and
 * the principals its resource policy lets in. Resolved only when a secret is created.
 */
export interface SecretCreation {
  kmsKeyId: string;
  principals: string[];
}

const toAwsTags = (tags: Tags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/**
 * Secrets Manager: one secret per name, JSON body. PutSecretValue makes a new
 * version and Secrets Manager moves the old one to AWSPREVIOUS, so nothing is lost.
 */
export class AwsSecretStore implements SecretStore {
  /**
   * `creation`: how to create a missing secret. Without it (the functions, which are not
   * allowed to create secrets anyway) a write to a missing secret is refused.
   */
  constructor(
    private readonly client: SecretsManagerClient = new SecretsManagerClient({}),
    private readonly options: { creation?: () => Promise<SecretCreation> } = {},
  ) {}

  private async read(name: string, stage: 'AWSCURRENT' | 'AWSPREVIOUS'): Promise<SecretVersion | undefined> {
    let out;
    try {
      out = await this.client.send(new GetSecretValueCommand({ SecretId: name, ...(stage === 'AWSPREVIOUS' ? { VersionStage: stage } : {}) }));
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
    if (out.SecretString === undefined) throw new SesameError('store_corrupt', `secret ${name} has no string value`);
    let value: unknown;
    try {
      value = JSON.parse(out.SecretString);
    } catch {
      // Never the parser's message: it can quote the secret text.
      throw new SesameError('store_corrupt', `secret ${name} does not hold JSON`);
    }
    return { name, value, version: out.VersionId ?? 'unknown', createdAt: out.CreatedDate };
  }

  get(name: string) {
    return this.read(name, 'AWSCURRENT');
  }

  getPrevious(name: string) {
    return this.read(name, 'AWSPREVIOUS');
  }

  async put(name: string, value: unknown, tags: Tags = {}): Promise<{ version: string }> {
    const SecretString = JSON.stringify(value);
    const ClientRequestToken = randomUUID();
    try {
      const out = await this.client.send(new PutSecretValueCommand({ SecretId: name, SecretString, ClientRequestToken }));
      if (Object.keys(tags).length > 0) await this.tag(name, tags);
      // A creation cut short between CreateSecret and PutResourcePolicy left a secret
      // without its policy: whoever may create secrets sets it again on every write.
      // Without the principals (no stack found), the value is written all the same.
      const creation = this.options.creation ? await this.options.creation().catch(() => undefined) : undefined;
      if (creation) await this.putPolicy(name, creation.principals);
      return { version: out.VersionId ?? ClientRequestToken };
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    if (!this.options.creation) throw new SesameError('invalid_request', `secret ${name} does not exist, and this process does not create secrets`);
    // Resolved before anything is written: a missing key or policy leaves nothing behind.
    const { kmsKeyId, principals } = await this.options.creation();
    const out = await this.client.send(
      new CreateSecretCommand({
        Name: name,
        SecretString,
        ClientRequestToken,
        KmsKeyId: kmsKeyId,
        ...(Object.keys(tags).length > 0 ? { Tags: toAwsTags(tags) } : {}),
      }),
    );
    try {
      await this.putPolicy(name, principals);
    } catch (err) {
      // A secret without its policy must not stay behind: remove it, then say why.
      await this.client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true })).catch(() => undefined);
      throw new SesameError('internal', `secret ${name} was not created: its resource policy could not be set (${(err as Error).name})`, { cause: err });
    }
    return { version: out.VersionId ?? ClientRequestToken };
  }

  private async putPolicy(name: string, principals: string[]): Promise<void> {
    await this.client.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: JSON.stringify(secretPolicyDocument(principals)), BlockPublicPolicy: true }));
  }

  async delete(name: string): Promise<boolean> {
    try {
      await this.client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
      return true;
    } catch (err) {
      if ((err as Error).name === 'ResourceNotFoundException') return false;
      throw err;
    }
  }

  async tag(name: string, tags: Tags): Promise<void> {
    await this.client.send(new TagResourceCommand({ SecretId: name, Tags: toAwsTags(tags) }));
  }

  async tags(name: string): Promise<Tags | undefined> {
    try {
      const out = await this.client.send(new DescribeSecretCommand({ SecretId: name }));
      return Object.fromEntries((out.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
  }

  async list(options: { prefix: string; nextToken?: string; pageSize?: number }): Promise<SecretListing> {
    const out = await this.client.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: [options.prefix] }],
        MaxResults: Math.min(Math.max(options.pageSize ?? 100, 1), 100),
        ...(options.nextToken ? { NextToken: options.nextToken } : {}),
      }),
    );
    const items = (out.SecretList ?? [])
      // The name filter is a case-insensitive prefix match: keep exact prefixes only.
      .filter((s) => s.Name?.startsWith(options.prefix))
      .map((s) => ({ name: s.Name as string, tags: Object.fromEntries((s.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])) }));
    return { items, nextToken: out.NextToken };
  }
}
