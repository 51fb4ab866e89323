import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PutSecretValueCommand, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { S3Event } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsSecretStore } from '../../functions/adapters/aws-secret-store.ts';
import { buildSystem } from '../../functions/adapters/system.ts';
import { fakeS3 } from '../helpers/fake-s3.ts';
import { fakeSecretsManager } from '../helpers/fake-secrets-manager.ts';
import { MemoryLog } from '../helpers/memory-log.ts';
import { chorusChain, EKU, issue, p7b } from '../helpers/pki.ts';

/** The deployed certificate function over mocked S3, Secrets Manager and SNS: the exact commands it sends. */
const BUCKET = 'sesame-intake';
const TOPIC = 'arn:aws:sns:eu-west-3:111122223333:sesame-alerts';
process.env.AWS_REGION = 'eu-west-3';
process.env.SESAME_BUCKET = BUCKET;
process.env.SESAME_ALERTS_TOPIC_ARN = TOPIC;
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const s3 = fakeS3(BUCKET);
const sm = fakeSecretsManager(true);
const sns = mockClient(SNSClient);
sns.on(PublishCommand).resolves({ MessageId: 'm' });

const event = (key: string): S3Event => ({ Records: [{ s3: { bucket: { name: BUCKET }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+') } } }] }) as unknown as S3Event;
const upload = (key: string, bytes: Uint8Array | string) => s3.objects.set(key, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
const handler = async () => (await import('../../functions/certificate/handler.ts')).certificateHandler;

beforeAll(async () => {
  const seed = buildSystem({ store: new AwsSecretStore(sm.client), log: new MemoryLog(), version: 't' });
  await seed.tenants.put({ id: 'cfa-paris', name: 'CFA Paris' });
  await seed.credentials.set({ tenant: 'cfa-paris', credential: 'chorus-edi', fields: { usage: 'client' } });
});
beforeEach(() => {
  s3.mock.resetHistory();
  sm.mock.resetHistory();
  sns.resetHistory();
});

describe('the certificate function', () => {
  it('accepts: a new secret version with its expiry tag, the report, then the move to accepted/', async () => {
    const c = await chorusChain({ notAfter: new Date('2027-09-30T00:00:00Z') });
    upload('incoming/cfa-paris/chorus-edi/edi chain.p7b', p7b([c.leaf, c.inter, c.root]));
    const out = await (await handler())(event('incoming/cfa-paris/chorus-edi/edi chain.p7b'));
    expect(out).toEqual({ processed: 1, outcomes: [{ key: 'incoming/cfa-paris/chorus-edi/edi chain.p7b', outcome: 'accepted' }] });
    expect(s3.mock).toHaveReceivedCommandWith(HeadObjectCommand, { Bucket: BUCKET, Key: 'incoming/cfa-paris/chorus-edi/edi chain.p7b' });
    expect(s3.mock).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: BUCKET, Key: 'incoming/cfa-paris/chorus-edi/edi chain.p7b', Range: 'bytes=0-65536' });
    expect(sm.mock).toHaveReceivedCommandWith(PutSecretValueCommand, { SecretId: 'sesame/cfa-paris/chorus-edi' });
    expect(sm.mock).toHaveReceivedCommandWith(TagResourceCommand, { SecretId: 'sesame/cfa-paris/chorus-edi', Tags: expect.arrayContaining([{ Key: 'sesame:expires-at', Value: '2027-09-30T00:00:00.000Z' }]) });
    expect(s3.mock).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: BUCKET, Key: 'reports/cfa-paris/chorus-edi/edi chain.p7b.json', ContentType: 'application/json' });
    expect(s3.mock).toHaveReceivedCommandWith(CopyObjectCommand, { Bucket: BUCKET, Key: 'accepted/cfa-paris/chorus-edi/edi chain.p7b', CopySource: `${BUCKET}/incoming/cfa-paris/chorus-edi/edi%20chain.p7b` });
    expect(s3.mock).toHaveReceivedCommandWith(DeleteObjectCommand, { Bucket: BUCKET, Key: 'incoming/cfa-paris/chorus-edi/edi chain.p7b' });
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('does nothing on a second delivery of the same event', async () => {
    const out = await (await handler())(event('incoming/cfa-paris/chorus-edi/edi chain.p7b'));
    expect(out.outcomes[0]?.outcome).toBe('gone');
    expect(s3.mock).toHaveReceivedCommandTimes(HeadObjectCommand, 1);
    expect(s3.mock.calls()).toHaveLength(1);
    expect(sm.mock).not.toHaveReceivedCommand(PutSecretValueCommand);
  });

  it('refuses: no secret write, the object moved to rejected/, the refusal published with its attributes', async () => {
    const c = await chorusChain({ eku: [EKU.serverAuth] });
    upload('incoming/cfa-paris/chorus-edi/server.p7b', p7b([c.leaf, c.inter, c.root]));
    await (await handler())(event('incoming/cfa-paris/chorus-edi/server.p7b'));
    expect(sm.mock).not.toHaveReceivedCommand(PutSecretValueCommand);
    expect(s3.mock).toHaveReceivedCommandWith(CopyObjectCommand, { Key: 'rejected/cfa-paris/chorus-edi/server.p7b' });
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC,
      Subject: '[Sesame] Certificate refused for cfa-paris/chorus-edi',
      MessageAttributes: { tenant: { DataType: 'String', StringValue: 'cfa-paris' }, kind: { DataType: 'String', StringValue: 'chorus-edi' }, severity: { DataType: 'String', StringValue: 'warning' } },
    });
  });

  it('deletes an upload with a private key at once, without copying it anywhere', async () => {
    const cert = await issue({ subject: 'CN=x, C=FR' });
    upload('incoming/cfa-paris/chorus-edi/oops.pem', `${cert.pem}${cert.privatePem}`);
    await (await handler())(event('incoming/cfa-paris/chorus-edi/oops.pem'));
    expect(s3.mock).toHaveReceivedCommandWith(DeleteObjectCommand, { Key: 'incoming/cfa-paris/chorus-edi/oops.pem' });
    expect(s3.mock).not.toHaveReceivedCommand(CopyObjectCommand);
    expect([...s3.objects.keys()].filter((k) => k.includes('oops'))).toEqual(['reports/cfa-paris/chorus-edi/oops.pem.json']);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { MessageAttributes: expect.objectContaining({ severity: { DataType: 'String', StringValue: 'critical' } }) });
  });
});
