import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutResourcePolicyCommand,
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
import { secretPolicyDocument } from '../../functions/core/secret-policy.ts';

const client = new SecretsManagerClient({ region: 'eu-west-3', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const sm = mockClient(client);
const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });

beforeEach(() => sm.reset());

/**
 * Exact commands, where the order and the parameters are the point and an emulator
 * could not fail the way AWS can. Behaviour against a real API: test/aws/.
 */
const creation = async () => ({ kmsKeyId: 'arn:aws:kms:eu-west-3:111122223333:key/k', principals: ['arn:aws:iam::111122223333:role/SesameAdmin'] });

describe('AwsSecretStore sends exactly these commands', () => {
  it('creates a missing secret with the stack key and its tags, then its resource policy', async () => {
    sm.on(PutSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ VersionId: 'v1' });
    sm.on(PutResourcePolicyCommand).resolves({});
    const store = new AwsSecretStore(client, { creation });
    expect(await store.put('sesame/acme/fla', { a: 1 }, { 'sesame:tenant': 'acme' })).toEqual({ version: 'v1' });
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 1);
    expect(sm).toHaveReceivedCommandWith(CreateSecretCommand, {
      Name: 'sesame/acme/fla',
      SecretString: '{"a":1}',
      KmsKeyId: 'arn:aws:kms:eu-west-3:111122223333:key/k',
      Tags: [{ Key: 'sesame:tenant', Value: 'acme' }],
    });
    expect(sm).toHaveReceivedCommandWith(PutResourcePolicyCommand, {
      SecretId: 'sesame/acme/fla',
      BlockPublicPolicy: true,
      ResourcePolicy: JSON.stringify(secretPolicyDocument(['arn:aws:iam::111122223333:role/SesameAdmin'])),
    });
    expect(sm).not.toHaveReceivedCommand(TagResourceCommand);
  });

  it('deletes a secret at once when its resource policy cannot be set, and says so', async () => {
    sm.on(PutSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ VersionId: 'v1' });
    sm.on(PutResourcePolicyCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    sm.on(DeleteSecretCommand).resolves({});
    const err = await new AwsSecretStore(client, { creation }).put('sesame/acme/fla', { a: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'internal', message: expect.stringMatching(/resource policy could not be set \(AccessDeniedException\)/) });
    expect(sm).toHaveReceivedCommandWith(DeleteSecretCommand, { SecretId: 'sesame/acme/fla', ForceDeleteWithoutRecovery: true });
  });

  it('creates nothing when it cannot tell which key and policy to use', async () => {
    sm.on(PutSecretValueCommand).rejects(notFound());
    const refuse = async () => {
      throw new Error('no key');
    };
    await expect(new AwsSecretStore(client, { creation: refuse }).put('sesame/acme/fla', { a: 1 })).rejects.toThrow('no key');
    await expect(new AwsSecretStore(client).put('sesame/acme/fla', { a: 1 })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(sm).not.toHaveReceivedCommand(CreateSecretCommand);
  });

  it('sets the resource policy again on every write it could have created, healing an interrupted creation', async () => {
    sm.on(PutSecretValueCommand).resolves({ VersionId: 'v2' });
    sm.on(PutResourcePolicyCommand).resolves({});
    await new AwsSecretStore(client, { creation }).put('sesame/acme/fla', { a: 2 });
    expect(sm).toHaveReceivedCommandWith(PutResourcePolicyCommand, { SecretId: 'sesame/acme/fla', BlockPublicPolicy: true });
    expect(sm).not.toHaveReceivedCommand(CreateSecretCommand);
  });

  it('still writes an existing secret when the principals cannot be found, without touching its policy', async () => {
    sm.on(PutSecretValueCommand).resolves({ VersionId: 'v3' });
    const unknown = async () => {
      throw new Error('no stack');
    };
    expect(await new AwsSecretStore(client, { creation: unknown }).put('sesame/acme/fla', { a: 3 })).toEqual({ version: 'v3' });
    expect(sm).not.toHaveReceivedCommand(PutResourcePolicyCommand);
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

  it('lists 100 per page with a name filter, keeps exact prefixes only, and passes the token on', async () => {
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
