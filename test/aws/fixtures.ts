import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeSecretCommand, GetResourcePolicyCommand, GetSecretValueCommand, ListSecretVersionIdsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SECRET_PRINCIPALS_OUTPUT } from '../../functions/core/secret-policy.ts';
import { STATE_TABLE_SCHEMA } from '../../lib/state-table.ts';
import { ACCOUNT, REGION } from './emulator.ts';

/** The roles the stack would create, as ARNs: what the secrets' resource policy allows. */
export const PRINCIPALS = [
  `arn:aws:iam::${ACCOUNT}:role/Sesame-TokenApiTokenRole`,
  `arn:aws:iam::${ACCOUNT}:role/Sesame-TokenApiAuthorizerRole`,
  `arn:aws:iam::${ACCOUNT}:role/Sesame-CertificateIntakeFunctionRole`,
  `arn:aws:iam::${ACCOUNT}:role/Sesame-ExpiryWatchFunctionRole`,
  `arn:aws:iam::${ACCOUNT}:role/SesameAdmin`,
];

export interface Deployment {
  stackName: string;
  kmsKeyArn: string;
  bucket: string;
  topicArn: string;
  /** An SQS queue subscribed to the alerts topic (raw delivery off: SNS envelopes). */
  queueUrl: string;
  /** Environment of a deployed function (what the stack sets). */
  functionEnv: Record<string, string>;
}

/**
 * What `cdk deploy` leaves behind, as far as Sesame's code sees it: the stack's KMS key,
 * the versioned intake bucket, the alerts topic (here with an SQS subscriber, to read
 * what was published), and a CloudFormation stack named `stackName` with Sesame's outputs.
 */
export async function deploy(options: { stackName?: string; outputs?: boolean; extraOutputs?: Record<string, string> } = {}): Promise<Deployment> {
  const stackName = options.stackName ?? 'Sesame';
  const key = await new KMSClient({}).send(new CreateKeyCommand({ Description: 'Sesame test key' }));
  const kmsKeyArn = key.KeyMetadata?.Arn as string;
  const s3 = new S3Client({});
  const bucket = `sesame-intake-${Math.random().toString(36).slice(2, 10)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const sns = new SNSClient({});
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'sesame-alerts', Attributes: { KmsMasterKeyId: kmsKeyArn } }))).TopicArn as string;
  const sqs = new SQSClient({});
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'sesame-alerts-inbox' }))).QueueUrl as string;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string;
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
  if (options.outputs !== false) {
    const outputs = { KmsKeyArn: kmsKeyArn, IntakeBucket: bucket, AlertsTopicArn: topicArn, [SECRET_PRINCIPALS_OUTPUT]: PRINCIPALS.join(','), ...options.extraOutputs };
    const template = {
      Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
      Outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { Value: v }])),
    };
    await new CloudFormationClient({}).send(new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify(template) }));
  }
  return { stackName, kmsKeyArn, bucket, topicArn, queueUrl, functionEnv: { SESAME_BUCKET: bucket, SESAME_ALERTS_TOPIC_ARN: topicArn } };
}

/** Every message published to the alerts topic so far, in order, as SNS delivered it. */
export async function receivedAlerts(queueUrl: string): Promise<{ subject: string; message: string; attributes: Record<string, string> }[]> {
  const sqs = new SQSClient({});
  const out: { subject: string; message: string; attributes: Record<string, string> }[] = [];
  for (;;) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (!r.Messages?.length) return out;
    for (const m of r.Messages) {
      const env = JSON.parse(m.Body as string) as { Subject: string; Message: string; MessageAttributes?: Record<string, { Value: string }> };
      out.push({ subject: env.Subject, message: env.Message, attributes: Object.fromEntries(Object.entries(env.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value])) });
    }
  }
}

/** What Secrets Manager really holds for a name: value, tags, stages, KMS key, resource policy. */
export async function secretState(name: string) {
  const sm = new SecretsManagerClient({});
  const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
  const value = await sm.send(new GetSecretValueCommand({ SecretId: name }));
  const versions = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
  const policy = await sm.send(new GetResourcePolicyCommand({ SecretId: name }));
  return {
    kmsKeyId: d.KmsKeyId,
    tags: Object.fromEntries((d.Tags ?? []).map((t) => [t.Key, t.Value])),
    value: JSON.parse(value.SecretString as string) as Record<string, unknown>,
    versions: (versions.Versions ?? []).map((v) => ({ id: v.VersionId, stages: v.VersionStages ?? [] })),
    policy: policy.ResourcePolicy ? (JSON.parse(policy.ResourcePolicy) as { Statement: unknown[] }) : undefined,
  };
}

/** Every version and delete marker under a key, exactly that key. */
export async function objectVersions(bucket: string, key: string) {
  const r = await new S3Client({}).send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return {
    versions: (r.Versions ?? []).filter((v) => v.Key === key),
    deleteMarkers: (r.DeleteMarkers ?? []).filter((v) => v.Key === key),
  };
}

/** The state table as lib/state-table.ts declares it (keys, TTL attribute), under a fresh name. */
export async function createStateTable(): Promise<string> {
  const dynamo = new DynamoDBClient({});
  const name = `sesame-state-${Math.random().toString(36).slice(2, 10)}`;
  await dynamo.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [
        { AttributeName: STATE_TABLE_SCHEMA.partitionKey, AttributeType: 'S' },
        { AttributeName: STATE_TABLE_SCHEMA.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: STATE_TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: STATE_TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await dynamo.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: STATE_TABLE_SCHEMA.timeToLiveAttribute, Enabled: true } }));
  return name;
}
