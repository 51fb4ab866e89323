import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { grantsOf, render, synth } from './template.ts';

const secret = (prefix: string) => `arn:\${AWS::Partition}:secretsmanager:eu-west-3:111122223333:secret:${prefix}*`;

const { template } = synth();

describe('the certificate intake stack', () => {
  it('keeps uploads in a private, versioned, KMS-encrypted bucket that refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } }] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('invokes the function for objects created under incoming/ only', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { LambdaFunctionConfigurations: [{ Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'incoming/' }] } }, LambdaFunctionArn: Match.anyValue() }] },
    });
  });

  it('grants the function exactly what the intake does, prefix by prefix', () => {
    const bucket = /\$\{CertificateIntakeBucket[0-9A-F]+\.Arn\}/.source;
    const key = /\$\{SecretsKey[0-9A-F]+\.Arn\}/.source;
    const via = (service: string) => ` if \\{"StringEquals":\\{"kms:ViaService":"${service}\\.eu-west-3\\.amazonaws\\.com"\\}\\}`;
    expect(grantsOf(template, 'CertificateIntakeFunction', ['dynamodb', 'kms', 's3', 'secretsmanager', 'sns', 'sqs'])).toEqual([
      // Its verdicts in the audit trail: adding audit items, nothing else of the state table.
      expect.stringMatching(/^dynamodb:BatchWriteItem \$\{StateTable[0-9A-F]+\.Arn\} if \{"ForAllValues:StringLike":\{"dynamodb:LeadingKeys":\["audit#\*","audit-tenant#\*"\]\}\}$/),
      // The bucket's SSE-KMS (read the upload, write copies and reports), Secrets Manager, and the alerts topic: each through its service only.
      expect.stringMatching(new RegExp(`^kms:Decrypt ${key}${via('dynamodb')}$`)),
      expect.stringMatching(new RegExp(`^kms:Decrypt ${key}${via('s3')}$`)),
      expect.stringMatching(new RegExp(`^kms:Decrypt ${key}${via('secretsmanager')}$`)),
      expect.stringMatching(new RegExp(`^kms:Decrypt ${key}${via('sns')}$`)),
      expect.stringMatching(new RegExp(`^kms:DescribeKey ${key}${via('dynamodb')}$`)),
      expect.stringMatching(new RegExp(`^kms:Encrypt ${key}${via('dynamodb')}$`)),
      expect.stringMatching(new RegExp(`^kms:GenerateDataKey ${key}${via('dynamodb')}$`)),
      expect.stringMatching(new RegExp(`^kms:GenerateDataKey ${key}${via('s3')}$`)),
      expect.stringMatching(new RegExp(`^kms:GenerateDataKey ${key}${via('secretsmanager')}$`)),
      expect.stringMatching(new RegExp(`^kms:GenerateDataKey ${key}${via('sns')}$`)),
      // Exact versions only: no plain GetObject nor DeleteObject (which would leave a readable prior version).
      expect.stringMatching(new RegExp(`^s3:DeleteObjectVersion ${bucket}/incoming/\\*$`)),
      expect.stringMatching(new RegExp(`^s3:GetObjectVersion ${bucket}/incoming/\\*$`)),
      expect.stringMatching(new RegExp(`^s3:ListBucketVersions ${bucket} if \\{"StringLike":\\{"s3:prefix":\\["incoming/\\*"\\]\\}\\}$`)),
      expect.stringMatching(new RegExp(`^s3:PutObject ${bucket}/accepted/\\*$`)),
      expect.stringMatching(new RegExp(`^s3:PutObject ${bucket}/rejected/\\*$`)),
      expect.stringMatching(new RegExp(`^s3:PutObject ${bucket}/reports/\\*$`)),
      `secretsmanager:DescribeSecret ${secret('sesame/')}`,
      `secretsmanager:GetSecretValue ${secret('sesame-tenants/')}`,
      `secretsmanager:GetSecretValue ${secret('sesame/')}`,
      `secretsmanager:PutSecretValue ${secret('sesame/')}`,
      `secretsmanager:TagResource ${secret('sesame/')}`,
      expect.stringMatching(/^sns:Publish \$\{AlertsTopic[0-9A-F]+\}$/),
      expect.stringMatching(/^sqs:SendMessage \$\{CertificateIntakeDeadLetters[0-9A-F]+\.Arn\}$/),
    ]);
    expect(grantsOf(template, 'CertificateIntakeFunction').join('\n')).not.toMatch(/CreateSecret|DeleteSecret|s3:\*|s3:GetObject |s3:DeleteObject |s3:HeadObject|s3:ListBucket /);
  });

  it('gives DescribeSecret to the certificate function only', () => {
    for (const fn of ['TokenApiToken', 'TokenApiAuthorizer', 'ExpiryWatchFunction']) {
      expect(grantsOf(template, fn, ['secretsmanager']).filter((g) => g.startsWith('secretsmanager:DescribeSecret'))).toEqual([]);
    }
  });

  it('names its bucket and topic in the function environment', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    const id = Object.keys(fns).find((k) => k.startsWith('CertificateIntakeFunction')) as string;
    const env = render(fns[id]!.Properties.Environment.Variables) as Record<string, string>;
    expect(env.SESAME_BUCKET).toMatch(/^\$\{CertificateIntakeBucket[0-9A-F]+\}$/);
    expect(env.SESAME_ALERTS_TOPIC_ARN).toMatch(/^\$\{AlertsTopic[0-9A-F]+\}$/);
  });

  it('encrypts the alerts topic with the stack key', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });
});
