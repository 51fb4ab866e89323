import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { grantsOf, render, roleGrantsOf, synth } from './template.ts';

const { template } = synth({ config: loadConfig('sesame.config.example.json') });
const FUNCTIONS = ['TokenApiToken', 'TokenApiAuthorizer', 'CertificateIntakeFunction', 'ExpiryWatchFunction'];
const fromOurAlarms = {
  StringEquals: { 'aws:SourceAccount': '111122223333' },
  ArnLike: { 'aws:SourceArn': 'arn:${AWS::Partition}:cloudwatch:eu-west-3:111122223333:alarm:*' },
};

interface Doc {
  Statement: { Sid?: string; Effect: string; Principal?: unknown; Action: string | string[]; Resource: unknown; Condition?: unknown }[];
}
/** The properties of the one resource whose logical id starts with `prefix`. */
const only = (resources: Record<string, Record<string, unknown>>, prefix: string): unknown => {
  const ids = Object.keys(resources).filter((k) => k.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return resources[ids[0] as string]!.Properties;
};

describe('encrypted destinations', () => {
  it('lets CloudWatch alarms use the key for the encrypted operations topic, from this account’s alarms only', () => {
    const key = only(template.findResources('AWS::KMS::Key'), 'SecretsKey') as { KeyPolicy: Doc };
    const forCloudWatch = (render(key.KeyPolicy) as Doc).Statement.filter((s) => JSON.stringify(s.Principal).includes('cloudwatch'));
    expect(forCloudWatch).toEqual([
      expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*', Condition: fromOurAlarms }),
    ]);
  });

  it('lets CloudWatch alarms publish to the operations topic, from this account’s alarms only', () => {
    const policy = only(template.findResources('AWS::SNS::TopicPolicy'), 'OperationsTopicPolicy') as { PolicyDocument: Doc };
    const allows = (render(policy.PolicyDocument) as Doc).Statement.filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      expect.objectContaining({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: expect.stringMatching(/^\$\{OperationsTopic[0-9A-F]+\}$/), Condition: fromOurAlarms }),
    ]);
    // The alarms are the topic's only publishers.
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    for (const a of alarms) expect(render(a.Properties.AlarmActions)).toEqual([expect.stringMatching(/^\$\{OperationsTopic[0-9A-F]+\}$/)]);
  });

  it('gives each publisher of the alerts topic the key through SNS, and nothing publishes to it without', () => {
    const key = /\$\{SecretsKey[0-9A-F]+\.Arn\}/.source;
    const viaSns = new RegExp(`^kms:(Decrypt|GenerateDataKey) ${key} if \\{"StringEquals":\\{"kms:ViaService":"sns\\.eu-west-3\\.amazonaws\\.com"\\}\\}$`);
    for (const fn of FUNCTIONS) {
      const g = grantsOf(template, fn, ['sns', 'kms']);
      const publishes = g.some((x) => x.startsWith('sns:Publish'));
      expect(g.filter((x) => viaSns.test(x)), fn).toHaveLength(publishes ? 2 : 0);
    }
    expect(['CertificateIntakeFunction', 'ExpiryWatchFunction', 'ConsoleAdmin'].every((fn) => grantsOf(template, fn, ['sns']).length === 1)).toBe(true);
    const admin = grantsOf(template, 'ConsoleAdmin', ['sns', 'kms']);
    expect(admin.filter((x) => viaSns.test(x))).toHaveLength(2);
  });

  it('sends failed events to the SQS-managed dead-letter queues with sqs:SendMessage only', () => {
    for (const [fn, queue] of [['CertificateIntakeFunction', 'CertificateIntakeDeadLetters'], ['ExpiryWatchFunction', 'ExpiryWatchDeadLetters']]) {
      expect(grantsOf(template, fn as string, ['sqs'])).toEqual([expect.stringMatching(new RegExp(`^sqs:SendMessage \\$\\{${queue}[0-9A-F]+\\.Arn\\}$`))]);
    }
    expect(roleGrantsOf(template, 'SchedulerRoleForTarget', ['sqs'])).toEqual([expect.stringMatching(/^sqs:SendMessage \$\{ExpiryWatchDeadLetters[0-9A-F]+\.Arn\}$/)]);
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { SqsManagedSseEnabled: true }, 2);
    template.resourceCountIs('AWS::SQS::Queue', 2);
  });

  it('lets the scheduler invoke the expiry function as targeted, not every version of it, and only from this account', () => {
    expect(roleGrantsOf(template, 'SchedulerRoleForTarget')).toEqual([
      expect.stringMatching(/^lambda:InvokeFunction \$\{ExpiryWatchFunction[0-9A-F]+\.Arn\}$/),
      expect.stringMatching(/^sqs:SendMessage \$\{ExpiryWatchDeadLetters[0-9A-F]+\.Arn\}$/),
    ]);
    const roles = template.findResources('AWS::IAM::Role');
    const trust = render(roles[Object.keys(roles).find((k) => k.startsWith('SchedulerRoleForTarget')) as string]!.Properties.AssumeRolePolicyDocument) as Doc;
    expect(trust.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': '111122223333', 'aws:SourceArn': 'arn:${AWS::Partition}:scheduler:eu-west-3:111122223333:schedule-group/default' } },
      }),
    ]);
  });
});

describe('every grant in the template', () => {
  it('lets no function create, restore, rotate or re-policy a secret, nor delete any but a connect link\'s pending key pair', () => {
    const allowed = new Set(['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:TagResource', 'secretsmanager:DescribeSecret', 'secretsmanager:ListSecrets']);
    const pendingDeletion = /^secretsmanager:DeleteSecret arn:\$\{AWS::Partition\}:secretsmanager:eu-west-3:111122223333:secret:sesame-connect\/\*$/;
    for (const fn of FUNCTIONS) {
      const grants = grantsOf(template, fn, ['secretsmanager']);
      expect(grants.filter((g) => !allowed.has(g.split(' ')[0] as string) && !pendingDeletion.test(g)), fn).toEqual([]);
    }
    // The admin API creates tenants and apps and sets their resource policy, as the CLI does (test/cdk/operator-console.test.ts); it never deletes, restores or rotates.
    const admin = grantsOf(template, 'ConsoleAdmin', ['secretsmanager']).filter((g) => !pendingDeletion.test(g)).map((g) => g.split(' ')[0] as string);
    expect([...new Set(admin.filter((a) => !allowed.has(a)))].sort()).toEqual(['secretsmanager:CreateSecret', 'secretsmanager:PutResourcePolicy']);
  });

  it('lets no role but CDK’s deploy-time handler hold an AWS managed policy', () => {
    const withManaged = Object.entries(template.findResources('AWS::IAM::Role')).filter(([, r]) => r.Properties.ManagedPolicyArns);
    expect(withManaged.map(([id]) => id)).toEqual([expect.stringMatching(/^BucketNotificationsHandler/)]);
    expect(roleGrantsOf(template, 'BucketNotificationsHandler')).toEqual([expect.stringMatching(/^s3:PutBucketNotification \$\{CertificateIntakeBucket[0-9A-F]+\.Arn\}$/)]);
  });

  it('scopes every Lambda invoke permission to its one source', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).map((p) => render(p.Properties) as Record<string, string>);
    for (const p of permissions) {
      expect(p.Action).toBe('lambda:InvokeFunction');
      if (p.Principal === 's3.amazonaws.com') {
        expect(p).toMatchObject({ SourceAccount: '111122223333', SourceArn: expect.stringMatching(/^\$\{CertificateIntakeBucket[0-9A-F]+\.Arn\}$/), FunctionName: expect.stringMatching(/^\$\{CertificateIntakeFunction[0-9A-F]+\.Arn\}$/) });
      } else {
        expect(p.Principal).toBe('apigateway.amazonaws.com');
        expect(p.SourceArn).toMatch(/^arn:\$\{AWS::Partition\}:execute-api:eu-west-3:111122223333:\$\{TokenApi[0-9A-F]+\}\/(\*\/\*\/v1\/|\*\/\*\/console(\/|$)|\*\/\*\/connect\/|authorizers\/)/);
      }
    }
    expect(permissions.filter((p) => p.Principal === 's3.amazonaws.com')).toHaveLength(1);
  });
});
