import { GetSecretValueCommand, ListSecretsCommand, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeAll, describe, expect, it } from 'vitest';
import { AwsSecretStore } from '../../functions/adapters/aws-secret-store.ts';
import { buildSystem } from '../../functions/adapters/system.ts';
import { fakeSecretsManager } from '../helpers/fake-secrets-manager.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

/** The deployed expiry function over mocked Secrets Manager and SNS. */
const TOPIC = 'arn:aws:sns:eu-west-3:111122223333:sesame-alerts';
process.env.AWS_REGION = 'eu-west-3';
process.env.SESAME_ALERTS_TOPIC_ARN = TOPIC;
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const sm = fakeSecretsManager(true);
const sns = mockClient(SNSClient);
sns.on(PublishCommand).resolves({ MessageId: 'm' });

beforeAll(async () => {
  const seed = buildSystem({ store: new AwsSecretStore(sm.client), log: new MemoryLog(), version: 't' });
  await seed.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
  const soon = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);
  const far = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
  await seed.credentials.set({ tenant: 'cfa-paris', credential: 'opco-atlas', fields: { cfa_key: 'k', expires_at: soon } });
  for (let i = 0; i < 150; i++) await seed.credentials.set({ tenant: 'cfa-paris', credential: `opco-akto-${i}`, fields: { cfa_key: 'k', expires_at: far } });
  sm.mock.resetHistory();
});

describe('the expiry function', () => {
  it('lists by pages of 100, decrypts only what is due, publishes with filterable attributes, then tags', async () => {
    const { expiryHandler } = await import('../../functions/expiry/handler.ts');
    const summary = await expiryHandler({});
    expect(summary).toMatchObject({ checked: 151, alerting: 1, errors: 0, pages: 2 });
    expect(sm.mock).toHaveReceivedCommandTimes(ListSecretsCommand, 2);
    expect(sm.mock).toHaveReceivedNthCommandWith(ListSecretsCommand, 1, { Filters: [{ Key: 'name', Values: ['sesame/'] }], MaxResults: 100 });
    const reads = sm.mock.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId);
    expect(reads.sort()).toEqual(['sesame-tenants/cfa-paris', 'sesame/cfa-paris/opco-atlas']);
    const publish = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(publish).toMatchObject({
      TopicArn: TOPIC,
      Subject: '[Sesame] Atlas CFA key of cfa-paris/opco-atlas expires in 5 days',
      MessageAttributes: { tenant: { DataType: 'String', StringValue: 'cfa-paris' }, kind: { DataType: 'String', StringValue: 'opco-atlas' }, severity: { DataType: 'String', StringValue: 'warning' } },
    });
    expect((publish?.Subject ?? '').length).toBeLessThanOrEqual(100);
    expect(publish?.Message).toMatch(/^Client : cfa-paris \(CFA Paris\)[\s\S]*Clé CFA Atlas : expire le[\s\S]*---[\s\S]*Atlas CFA key: expires on/);
    expect(sm.mock).toHaveReceivedCommandWith(TagResourceCommand, { SecretId: 'sesame/cfa-paris/opco-atlas', Tags: expect.arrayContaining([{ Key: 'sesame:alert-level', Value: '7' }]) });
  });

  it('sends nothing the second time the same day', async () => {
    sns.resetHistory();
    const { expiryHandler } = await import('../../functions/expiry/handler.ts');
    expect((await expiryHandler({})).alerting).toBe(0);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });
});
