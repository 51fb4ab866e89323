import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/core/api.ts';
import { APP_CACHE_SECONDS } from '../../functions/core/apps.ts';
import { grantsOf, synth } from './template.ts';

const { template } = synth();
const secretArn = (prefix: string) => `arn:\${AWS::Partition}:secretsmanager:eu-west-3:111122223333:secret:${prefix}*`;

describe('the token API stack', () => {
  it('runs every Sesame function (token, authorizer, certificate, expiry, admin, console, connect) on Node 22, ARM64, with source maps', () => {
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Architectures: ['arm64'], Environment: { Variables: Match.objectLike({ POWERTOOLS_METRICS_NAMESPACE: 'Sesame', NODE_OPTIONS: Match.absent() }) } }, 7);
  });

  it('routes exactly the API routes, with the authorizer on the authenticated ones only, beside the console’s (test/cdk/operator-console.test.ts) and the connect links’ (test/cdk/connect-links.test.ts)', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationType]);
    const console = [
      ['ANY /v1/admin/{proxy+}', 'JWT'],
      ['GET /console', 'NONE'],
      ['GET /console/{proxy+}', 'NONE'],
      ['GET /connect/{token}', 'NONE'],
      ['POST /connect/{token}', 'NONE'],
      ['GET /connect/{token}/certificate.cer', 'NONE'],
      ['GET /connect/assets/{file}', 'NONE'],
    ];
    expect(routes.sort()).toEqual([...ROUTES.map((r) => [`${r.method} ${r.path}`, r.auth ? 'CUSTOM' : 'NONE']), ...console].sort());
  });

  it('uses a simple-response Lambda authorizer cached per Authorization header for 30 s', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization'],
      AuthorizerResultTtlInSeconds: 30,
    });
  });

  it('refuses a revoked key within 60 s end to end: API Gateway verdict cache plus the authorizer app-record cache', () => {
    const authorizers = Object.values(template.findResources('AWS::ApiGatewayV2::Authorizer', { Properties: { AuthorizerType: 'REQUEST' } }));
    expect(authorizers).toHaveLength(1);
    const verdictTtl = authorizers[0]?.Properties.AuthorizerResultTtlInSeconds as number;
    expect(verdictTtl + APP_CACHE_SECONDS).toBeLessThanOrEqual(60);
  });

  it('lets the token function read credentials and tenants, and nothing else but its shared token cache (test/cdk/shared-token-cache.test.ts)', () => {
    const cache = (g: string) => g.includes('dynamodb.eu-west-3') || g.includes('kms:EncryptionContext:sesame:purpose');
    expect(grantsOf(template, 'TokenApiToken', ['secretsmanager', 'kms', 's3', 'sns']).filter((g) => !cache(g))).toEqual([
      expect.stringMatching(/^kms:Decrypt \$\{SecretsKey[0-9A-F]+\.Arn\} if \{"StringEquals":\{"kms:ViaService":"secretsmanager\.eu-west-3\.amazonaws\.com"\}\}$/),
      `secretsmanager:GetSecretValue ${secretArn('sesame-tenants/')}`,
      `secretsmanager:GetSecretValue ${secretArn('sesame/')}`,
    ]);
  });

  it('lets the authorizer read app records only', () => {
    expect(grantsOf(template, 'TokenApiAuthorizer', ['secretsmanager'])).toEqual([`secretsmanager:GetSecretValue ${secretArn('sesame-apps/')}`]);
  });

  it('lets each function write its own logs and traces, nothing more of those services', () => {
    for (const fn of ['TokenApiToken', 'TokenApiAuthorizer', 'CertificateIntakeFunction', 'ExpiryWatchFunction', 'ConsoleAdmin', 'ConsolePage', 'ConnectFunction']) {
      const g = grantsOf(template, fn, ['logs', 'xray']);
      expect(g.filter((x) => x.startsWith('xray:'))).toEqual(['xray:PutTelemetryRecords *', 'xray:PutTraceSegments *']);
      expect(g.filter((x) => x.startsWith('logs:')).every((x) => new RegExp(`^logs:(CreateLogStream|PutLogEvents) \\$\\{${fn}Logs[0-9A-F]+\\.Arn\\}(:log-stream:\\*)?$`).test(x))).toBe(true);
    }
  });

  it('grants no wildcard resource for Secrets Manager or KMS to any function but ListSecrets', () => {
    for (const fn of ['TokenApiToken', 'TokenApiAuthorizer', 'CertificateIntakeFunction', 'ExpiryWatchFunction', 'ConsoleAdmin', 'ConsolePage', 'ConnectFunction']) {
      expect(grantsOf(template, fn, ['secretsmanager', 'kms', 's3']).filter((g) => g.endsWith(' *') && g !== 'secretsmanager:ListSecrets *')).toEqual([]);
    }
  });

  it('encrypts with a customer-managed key that rotates and outlives the stack', () => {
    template.hasResource('AWS::KMS::Key', { Properties: { EnableKeyRotation: true }, DeletionPolicy: 'Retain' });
  });

  it('keeps function logs for three months', () => {
    // Seven functions and the API's access logs.
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 8);
  });
});
