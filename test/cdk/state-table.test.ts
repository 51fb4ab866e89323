import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { STATE_TABLE_ACTIONS, StateTable } from '../../lib/state-table.ts';
import { nagFindings } from './nag.ts';
import { render, synth } from './template.ts';

const { template } = synth({ config: loadConfig('sesame.config.example.json') });

const tables = () => Object.entries(template.findResources('AWS::DynamoDB::Table'));

describe('the state table', () => {
  it('is one on-demand table keyed pk/sk (strings), expiring items through TTL on expires_at', () => {
    expect(tables()).toHaveLength(1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      GlobalSecondaryIndexes: Match.absent(),
      LocalSecondaryIndexes: Match.absent(),
      StreamSpecification: Match.absent(),
    });
  });

  it('is encrypted with the stack’s customer-managed key, with point-in-time recovery, and survives the stack', () => {
    const [id, table] = tables()[0]!;
    expect(id).toMatch(/^StateTable[0-9A-F]+$/);
    expect(render(table.Properties.SSESpecification)).toEqual({ SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: expect.stringMatching(/^\$\{SecretsKey[0-9A-F]+\.Arn\}$/) });
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });

  it('is granted to the functions that write link records only: connect, admin (links from the console) and expiry (links in alerts); to the token function for its token items; and to the intake for audit records only', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const holders = policies
      .filter((p) => (p.Properties.PolicyDocument.Statement as { Action: string | string[] }[]).some((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:'))))
      .flatMap((p) => (p.Properties.Roles as { Ref: string }[]).map((r) => r.Ref));
    expect(holders.sort()).toEqual([expect.stringMatching(/^CertificateIntakeFunctionRole[0-9A-F]{8}$/), expect.stringMatching(/^ConnectFunctionRole[0-9A-F]{8}$/), expect.stringMatching(/^ConsoleAdminRole[0-9A-F]{8}$/), expect.stringMatching(/^ExpiryWatchFunctionRole[0-9A-F]{8}$/), expect.stringMatching(/^TokenApiTokenRole[0-9A-F]{8}$/)]);
  });

  it('outputs its name as StateTable, for SESAME_STATE_TABLE', () => {
    const outputs = template.findOutputs('StateTable');
    expect(render(outputs.StateTable?.Value)).toMatch(/^\$\{StateTable[0-9A-F]+\}$/);
    expect(outputs.StateTable?.Description).toMatch(/SESAME_STATE_TABLE/);
  });

  it('grants a function exactly the five item actions on the table, but on token and audit items, and the key through DynamoDB only', () => {
    const stack = new Stack(new App(), 'Grant', { env: { account: '111122223333', region: 'eu-west-3' } });
    const state = new StateTable(stack, 'State', { key: new kms.Key(stack, 'Key') });
    const role = new iam.Role(stack, 'FnRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    state.grantReadWrite(role);
    const [policy] = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
    expect(render(policy!.Properties.PolicyDocument.Statement)).toEqual([
      { Effect: 'Allow', Action: [...STATE_TABLE_ACTIONS], Resource: expect.stringMatching(/^\$\{StateTable[0-9A-F]+\.Arn\}$/) },
      {
        Effect: 'Deny',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'],
        Resource: expect.stringMatching(/^\$\{StateTable[0-9A-F]+\.Arn\}$/),
        Condition: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['token#*', 'audit#*', 'audit-tenant#*'] } },
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: expect.stringMatching(/^\$\{Key[0-9A-F]+\.Arn\}$/),
        Condition: { StringEquals: { 'kms:ViaService': 'dynamodb.eu-west-3.amazonaws.com' } },
      },
    ]);
    expect(STATE_TABLE_ACTIONS).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem']);
  });

  it('draws no cdk-nag AwsSolutions finding', () => {
    const { findings, threw } = nagFindings({ config: loadConfig('sesame.config.example.json') });
    expect(findings.filter((f) => f.path.includes('/State/'))).toEqual([]);
    expect(threw).toBe(false);
  }, 60_000);
});
