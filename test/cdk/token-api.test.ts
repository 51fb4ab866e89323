import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/core/api.ts';
import { statementsOf, synth } from './template.ts';

const { template } = synth();
const secretArn = (prefix: string) => `arn:\${AWS::Partition}:secretsmanager:eu-west-3:111122223333:secret:${prefix}*`;
const actions = (s: { Action: string | string[] }) => [s.Action].flat();

describe('the token API stack', () => {
  it('runs every Sesame function (token, authorizer, certificate, expiry) on Node 22, ARM64, with source maps', () => {
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Architectures: ['arm64'], Environment: { Variables: Match.objectLike({ NODE_OPTIONS: '--enable-source-maps' }) } }, 4);
  });

  it('routes exactly the API routes, with the authorizer on the authenticated ones only', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationType]);
    expect(routes.sort()).toEqual(ROUTES.map((r) => [`${r.method} ${r.path}`, r.auth ? 'CUSTOM' : 'NONE']).sort());
  });

  it('uses a simple-response Lambda authorizer cached per Authorization header for 5 minutes', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization'],
      AuthorizerResultTtlInSeconds: 300,
    });
  });

  it('lets the token function read credentials and tenants, and nothing else', () => {
    const s = statementsOf(template, 'TokenApiToken');
    const sm = s.filter((x) => actions(x).some((a) => a.startsWith('secretsmanager:')));
    expect(sm).toEqual([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: [secretArn('sesame/'), secretArn('sesame-tenants/')] }]);
    const kms = s.filter((x) => actions(x).some((a) => a.startsWith('kms:')));
    expect(kms).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: expect.stringMatching(/^\$\{SecretsKey[0-9A-F]+\.Arn\}$/), Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-3.amazonaws.com' } } },
    ]);
    expect(JSON.stringify(s)).not.toContain('sesame-apps/');
  });

  it('lets the authorizer read app records only', () => {
    const s = statementsOf(template, 'TokenApiAuthorizer');
    const sm = s.filter((x) => actions(x).some((a) => a.startsWith('secretsmanager:')));
    expect(sm).toEqual([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn('sesame-apps/') }]);
  });

  it('grants no wildcard resource for Secrets Manager or KMS to any function', () => {
    for (const fn of ['TokenApiToken', 'TokenApiAuthorizer']) {
      for (const st of statementsOf(template, fn)) {
        if (actions(st).some((a) => a.startsWith('secretsmanager:') || a.startsWith('kms:'))) expect([st.Resource].flat()).not.toContain('*');
      }
    }
  });

  it('encrypts with a customer-managed key that rotates and outlives the stack', () => {
    template.hasResource('AWS::KMS::Key', { Properties: { EnableKeyRotation: true }, DeletionPolicy: 'Retain' });
  });

  it('keeps function logs for three months', () => {
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 4);
  });
});
