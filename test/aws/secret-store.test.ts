import { describe, expect, it } from 'vitest';
import { useEmulator } from './emulator.ts';
useEmulator();
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsSecretStore } from '../../functions/adapters/aws-secret-store.ts';
import { secretStoreContract } from '../adapters/secret-store.contract.ts';
import { deploy, PRINCIPALS, secretState } from './fixtures.ts';
import { secretPolicyDocument } from '../../functions/core/secret-policy.ts';

const store = (creation?: { kmsKeyId: string; principals: string[] }) => new AwsSecretStore(new SecretsManagerClient({}), creation ? { creation: async () => creation } : {});

secretStoreContract('AwsSecretStore on the AWS emulator', async () => {
  const { kmsKeyArn } = await deploy({ outputs: false });
  return store({ kmsKeyId: kmsKeyArn, principals: PRINCIPALS });
});

describe('AwsSecretStore on the AWS emulator', () => {
  it('creates each secret with the stack key, its tags, and the deny-all-but resource policy', async () => {
    const { kmsKeyArn } = await deploy({ outputs: false });
    await store({ kmsKeyId: kmsKeyArn, principals: PRINCIPALS }).put('sesame-apps/billing', { app: 'billing' }, { 'sesame:type': 'app' });
    const state = await secretState('sesame-apps/billing');
    expect(state.kmsKeyId).toBe(kmsKeyArn);
    expect(state.tags).toEqual({ 'sesame:type': 'app' });
    expect(state.policy).toEqual(secretPolicyDocument(PRINCIPALS));
    expect(state.versions).toEqual([{ id: expect.any(String), stages: ['AWSCURRENT'] }]);
  });

  it('keeps the previous version as AWSPREVIOUS on every write', async () => {
    const { kmsKeyArn } = await deploy({ outputs: false });
    const s = store({ kmsKeyId: kmsKeyArn, principals: PRINCIPALS });
    const v1 = await s.put('sesame/acme/opco-atlas', { n: 1 });
    const v2 = await s.put('sesame/acme/opco-atlas', { n: 2 });
    const stages = Object.fromEntries((await secretState('sesame/acme/opco-atlas')).versions.map((v) => [v.id, v.stages]));
    expect(stages[v1.version]).toEqual(['AWSPREVIOUS']);
    expect(stages[v2.version]).toEqual(['AWSCURRENT']);
  });

  it('refuses to create a secret without being told how, and creates nothing', async () => {
    await expect(store().put('sesame/acme/fla', { a: 1 })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(store().get('sesame/acme/fla')).resolves.toBeUndefined();
  });

  it('refuses a body that is not JSON as store_corrupt, without quoting it', async () => {
    await new SecretsManagerClient({}).send(new CreateSecretCommand({ Name: 'sesame/acme/bad', SecretString: 'hunter2-not-json' }));
    const err = await store().get('sesame/acme/bad').catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'store_corrupt' });
    expect((err as Error).message).not.toContain('hunter2');
  });
});
