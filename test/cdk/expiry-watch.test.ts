import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config.ts';
import { grantsOf, synth } from './template.ts';

const { template } = synth({
  config: parseConfig({
    adminRoleArn: 'arn:aws:iam::111122223333:role/SesameAdmin',
    operatorEmail: 'ops@integrator.example',
    tenants: [
      { id: 'cfa-paris', name: 'CFA Paris', alertEmails: ['direction@cfa-paris.example'] },
      { id: 'cfa-bxl', name: 'CFA Bruxelles', alertEmails: ['it@cfa-bxl.example', 'rh@cfa-bxl.example'] },
    ],
  }),
});

describe('the expiry watch stack', () => {
  it('runs the check every day at 06:00 Paris time through EventBridge Scheduler', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'ENABLED',
      Target: Match.objectLike({ Arn: Match.anyValue(), RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 2 }) }),
    });
  });

  it('lets the function list secrets, read and tag credentials, read tenants, publish, and destroy pending key pairs of links no longer usable', () => {
    const secret = (prefix: string) => `arn:\${AWS::Partition}:secretsmanager:eu-west-3:111122223333:secret:${prefix}*`;
    expect(grantsOf(template, 'ExpiryWatchFunction', ['secretsmanager', 'sns'])).toEqual([
      `secretsmanager:DeleteSecret ${secret('sesame-connect/')}`,
      `secretsmanager:GetSecretValue ${secret('sesame-tenants/')}`,
      `secretsmanager:GetSecretValue ${secret('sesame/')}`,
      'secretsmanager:ListSecrets *',
      `secretsmanager:TagResource ${secret('sesame/')}`,
      expect.stringMatching(/^sns:Publish \$\{AlertsTopic[0-9A-F]+\}$/),
    ]);
  });

  it('subscribes each tenant address with a filter on its tenant, and the operator to everything', () => {
    const subs = Object.values(template.findResources('AWS::SNS::Subscription')).map((r) => r.Properties);
    expect(subs.map((p) => [p.Endpoint, p.FilterPolicy ?? null]).sort()).toEqual(
      [
        ['direction@cfa-paris.example', { tenant: ['cfa-paris'] }],
        ['it@cfa-bxl.example', { tenant: ['cfa-bxl'] }],
        ['ops@integrator.example', null],
        ['ops@integrator.example', null],
        ['rh@cfa-bxl.example', { tenant: ['cfa-bxl'] }],
      ].sort(),
    );
    expect(subs.every((p) => p.Protocol === 'email')).toBe(true);
  });
});
