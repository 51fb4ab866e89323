import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { SesameError } from '../core/errors.ts';
import type { SecretListing, SecretStore, SecretVersion, Tags } from '../core/ports.ts';

const toAwsTags = (tags: Tags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/**
 * Secrets Manager: one secret per name, JSON body. PutSecretValue makes a new
 * version and Secrets Manager moves the old one to AWSPREVIOUS, so nothing is lost.
 */
export class AwsSecretStore implements SecretStore {
  constructor(
    private readonly client: SecretsManagerClient = new SecretsManagerClient({}),
    private readonly options: { kmsKeyId?: string } = {},
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
      return { version: out.VersionId ?? ClientRequestToken };
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    const out = await this.client.send(
      new CreateSecretCommand({
        Name: name,
        SecretString,
        ClientRequestToken,
        ...(this.options.kmsKeyId ? { KmsKeyId: this.options.kmsKeyId } : {}),
        ...(Object.keys(tags).length > 0 ? { Tags: toAwsTags(tags) } : {}),
      }),
    );
    return { version: out.VersionId ?? ClientRequestToken };
  }

  async tag(name: string, tags: Tags): Promise<void> {
    await this.client.send(new TagResourceCommand({ SecretId: name, Tags: toAwsTags(tags) }));
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
