import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsSecretStore } from '../../functions/adapters/aws-secret-store.ts';

const client = new SecretsManagerClient({ region: 'eu-west-3', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const sm = mockClient(client);
const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });

beforeEach(() => sm.reset());

describe('AwsSecretStore sends exactly these commands', () => {
  it('creates a missing secret with the stack key and its tags in one call after a failed put', async () => {
    sm.on(PutSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ VersionId: 'v1' });
    const store = new AwsSecretStore(client, { kmsKeyId: 'arn:aws:kms:eu-west-3:111122223333:key/k' });
    expect(await store.put('sesame/acme/fla', { a: 1 }, { 'sesame:tenant': 'acme' })).toEqual({ version: 'v1' });
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 1);
    expect(sm).toHaveReceivedCommandWith(CreateSecretCommand, {
      Name: 'sesame/acme/fla',
      SecretString: '{"a":1}',
      KmsKeyId: 'arn:aws:kms:eu-west-3:111122223333:key/k',
      Tags: [{ Key: 'sesame:tenant', Value: 'acme' }],
    });
    expect(sm).not.toHaveReceivedCommand(TagResourceCommand);
  });

  it('writes a new version of an existing secret, then its tags', async () => {
    sm.on(PutSecretValueCommand).resolves({ VersionId: 'v2' });
    sm.on(TagResourceCommand).resolves({});
    const store = new AwsSecretStore(client);
    expect(await store.put('sesame/acme/fla', { a: 2 }, { 'sesame:expires-at': 'none' })).toEqual({ version: 'v2' });
    expect(sm).toHaveReceivedCommandWith(PutSecretValueCommand, { SecretId: 'sesame/acme/fla', SecretString: '{"a":2}' });
    expect(sm).toHaveReceivedCommandWith(TagResourceCommand, { SecretId: 'sesame/acme/fla', Tags: [{ Key: 'sesame:expires-at', Value: 'none' }] });
    expect(sm).not.toHaveReceivedCommand(CreateSecretCommand);
    expect(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input.ClientRequestToken).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reads the current version, and the previous one by its stage', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'sesame/acme/fla' }).resolves({ SecretString: '{"n":2}', VersionId: 'v2' });
    sm.on(GetSecretValueCommand, { SecretId: 'sesame/acme/fla', VersionStage: 'AWSPREVIOUS' }).resolves({ SecretString: '{"n":1}', VersionId: 'v1' });
    const store = new AwsSecretStore(client);
    expect(await store.get('sesame/acme/fla')).toMatchObject({ value: { n: 2 }, version: 'v2' });
    expect(await store.getPrevious('sesame/acme/fla')).toMatchObject({ value: { n: 1 }, version: 'v1' });
    expect(sm).toHaveReceivedNthCommandWith(GetSecretValueCommand, 1, { SecretId: 'sesame/acme/fla' });
  });

  it('answers undefined for a missing secret and refuses a non-JSON body without quoting it', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'sesame/acme/none' }).rejects(notFound());
    sm.on(GetSecretValueCommand, { SecretId: 'sesame/acme/bad' }).resolves({ SecretString: 'hunter2-not-json', VersionId: 'v' });
    const store = new AwsSecretStore(client);
    expect(await store.get('sesame/acme/none')).toBeUndefined();
    const err = await store.get('sesame/acme/bad').catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'store_corrupt' });
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('lists 100 per page with a name filter and passes the token on', async () => {
    sm.on(ListSecretsCommand).resolves({
      SecretList: [
        { Name: 'sesame/acme/fla', Tags: [{ Key: 'sesame:kind', Value: 'fla' }] },
        { Name: 'SESAME/other', Tags: [] },
      ],
      NextToken: 'n2',
    });
    const store = new AwsSecretStore(client);
    const page = await store.list({ prefix: 'sesame/', nextToken: 'n1' });
    expect(sm).toHaveReceivedCommandWith(ListSecretsCommand, { Filters: [{ Key: 'name', Values: ['sesame/'] }], MaxResults: 100, NextToken: 'n1' });
    expect(page).toEqual({ items: [{ name: 'sesame/acme/fla', tags: { 'sesame:kind': 'fla' } }], nextToken: 'n2' });
  });
});
