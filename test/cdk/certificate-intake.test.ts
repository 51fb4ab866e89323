import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { render, statementsOf, synth } from './template.ts';

const { template } = synth();
const actions = (s: { Action: string | string[] }) => [s.Action].flat();

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
    const s = statementsOf(template, 'CertificateIntakeFunction');
    const s3 = s.filter((x) => actions(x).some((a) => a.startsWith('s3:')));
    expect(s3).toEqual([
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:DeleteObject'], Resource: expect.stringMatching(/\.Arn\}\/incoming\/\*$/) },
      { Effect: 'Allow', Action: 's3:PutObject', Resource: [expect.stringMatching(/\/accepted\/\*$/), expect.stringMatching(/\/rejected\/\*$/), expect.stringMatching(/\/reports\/\*$/)] },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: expect.stringMatching(/Bucket[0-9A-F]+\.Arn\}$/), Condition: { StringLike: { 's3:prefix': ['incoming/*'] } } },
    ]);
    const sm = s.filter((x) => actions(x).some((a) => a.startsWith('secretsmanager:')));
    expect(sm).toEqual([
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: [expect.stringMatching(/:secret:sesame\/\*$/), expect.stringMatching(/:secret:sesame-tenants\/\*$/)] },
      { Effect: 'Allow', Action: ['secretsmanager:PutSecretValue', 'secretsmanager:TagResource'], Resource: expect.stringMatching(/:secret:sesame\/\*$/) },
    ]);
    const sns = s.filter((x) => actions(x).some((a) => a.startsWith('sns:')));
    expect(sns).toEqual([{ Effect: 'Allow', Action: 'sns:Publish', Resource: expect.stringMatching(/^\$\{AlertsTopic[0-9A-F]+\}$/) }]);
    // Only X-Ray's actions, which have no resource-level permission, may name "*".
    const nonXray = s.filter((x) => !actions(x).every((a) => a.startsWith('xray:')));
    expect(JSON.stringify(nonXray)).not.toMatch(/secretsmanager:(CreateSecret|DeleteSecret)|s3:\*|"\*"/);
    expect(s.filter((x) => actions(x).every((a) => a.startsWith('xray:')))).toEqual([{ Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' }]);
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
