import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ADMIN_ROUTES } from '../../functions/core/admin-api.ts';
import { ROUTES } from '../../functions/core/api.ts';
import { SECRET_PRINCIPALS_OUTPUT } from '../../functions/core/secret-policy.ts';
import { loadConfig, parseConfig, type SesameConfig } from '../../lib/config.ts';
import { nagFindings } from './nag.ts';
import { grantsOf, render, synth } from './template.ts';

const example = loadConfig('sesame.config.example.json');
const cognitoConfig: SesameConfig = { ...example, console: { cognito: { domainPrefix: 'sesame-ops-test', adminEmails: ['Alice@Integrator.example', 'bob@integrator.example'] } } };
const externalConfig: SesameConfig = {
  ...example,
  console: { issuer: 'https://login.microsoftonline.com/0000-tenant/v2.0', audience: 'api://sesame-admin', clientId: 'console-client-id', scope: 'openid api://sesame-admin/operate', connectSrc: ['https://graph.example'], operators: ['ops@integrator.example', '7f3a-sub'] },
};
const withCognito = synth({ config: cognitoConfig }).template;
const withExternal = synth({ config: externalConfig }).template;
const bare = synth().template;

type Resource = { Type: string; Properties: Record<string, unknown> };
const resources = (t: Template, type: string) => Object.entries(t.findResources(type)) as [string, Resource][];
const one = (t: Template, type: string, prefix = ''): Resource => {
  const found = resources(t, type).filter(([id]) => id.startsWith(prefix));
  expect(found.map(([id]) => id)).toHaveLength(1);
  return found[0]![1];
};
const envOf = (t: Template, prefix: string) => render((one(t, 'AWS::Lambda::Function', prefix).Properties.Environment as { Variables: Record<string, unknown> }).Variables) as Record<string, string>;
const apiUrl = (t: Template) => {
  const apis = resources(t, 'AWS::ApiGatewayV2::Api');
  expect(apis).toHaveLength(1);
  return `\${${apis[0]![0]}.ApiEndpoint}`;
};

/** A route key's path as a regular expression, with API Gateway's matching: {x} one segment, {x+} the rest. */
const matcher = (path: string) => new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\\\+\}/g, '.+').replace(/\{[^}]+\}/g, '[^/]+')}$`);
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'x');

it('matches paths as API Gateway does', () => {
  expect(matcher('/v1/tenants/{tenant}/credentials/{credential}/token').test('/v1/tenants/a/credentials/b/token')).toBe(true);
  expect(matcher('/v1/tenants/{tenant}/credentials/{credential}/token').test('/v1/tenants/a/b/credentials/c/token')).toBe(false);
  expect(matcher('/v1/admin/{proxy+}').test('/v1/admin/tenants/a/credentials/b')).toBe(true);
  expect(matcher('/v1/admin/{proxy+}').test('/v1/admin/')).toBe(false);
  expect(matcher('/v1/openapi.json').test('/v1/openapiXjson')).toBe(false);
});

describe('the operators’ Cognito user pool', () => {
  it('takes no self sign-up, requires TOTP, a strong password and recovery by email only', () => {
    for (const t of [withCognito, bare]) {
      const pool = one(t, 'AWS::Cognito::UserPool').Properties;
      expect(pool.AdminCreateUserConfig).toMatchObject({ AllowAdminCreateUserOnly: true });
      expect(pool.MfaConfiguration).toBe('ON');
      expect(pool.EnabledMfas).toEqual(['SOFTWARE_TOKEN_MFA']);
      expect(pool.Policies).toEqual({
        PasswordPolicy: { MinimumLength: 14, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true, TemporaryPasswordValidityDays: 3, PasswordHistorySize: 5 },
      });
      expect(pool.AccountRecoverySetting).toEqual({ RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] });
      expect(pool.UsernameAttributes).toEqual(['email']);
      // Compromised credentials and risky sign-ins are blocked, not only logged.
      expect(pool.UserPoolTier).toBe('PLUS');
      expect(pool.UserPoolAddOns).toEqual({ AdvancedSecurityMode: 'ENFORCED' });
      expect(pool.DeletionProtection).toBe('ACTIVE');
    }
    expect(Object.values(withCognito.findResources('AWS::Cognito::UserPool'))[0]!.DeletionPolicy).toBe('Retain');
  });

  it('invites the operators listed in the config by email, and nobody without a config', () => {
    const users = resources(withCognito, 'AWS::Cognito::UserPoolUser').map(([, r]) => render(r.Properties));
    expect(users).toEqual(
      ['alice@integrator.example', 'bob@integrator.example'].map((email) => ({
        UserPoolId: expect.stringMatching(/^\$\{ConsoleOperators[0-9A-F]+\}$/),
        Username: email,
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'email_verified', Value: 'true' },
        ],
        DesiredDeliveryMediums: ['EMAIL'],
      })),
    );
    bare.resourceCountIs('AWS::Cognito::UserPoolUser', 0);
    const { console: _shown, ...withoutConsole } = example;
    synth({ config: withoutConsole }).template.resourceCountIs('AWS::Cognito::UserPoolUser', 0);
  });

  it('has a hosted-UI domain whose prefix comes from the config, else from the stack name and account', () => {
    expect(one(withCognito, 'AWS::Cognito::UserPoolDomain').Properties.Domain).toBe('sesame-ops-test');
    expect(one(bare, 'AWS::Cognito::UserPoolDomain').Properties.Domain).toBe('test-111122223333');
  });

  it('has one public client for the console: authorization code (with PKCE), no secret, its callback and logout URLs, short tokens', () => {
    const client = render(one(withCognito, 'AWS::Cognito::UserPoolClient').Properties);
    expect(client).toEqual({
      ClientName: 'sesame-console',
      UserPoolId: expect.stringMatching(/^\$\{ConsoleOperators[0-9A-F]+\}$/),
      GenerateSecret: false,
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      CallbackURLs: [`${apiUrl(withCognito)}/console/callback`],
      LogoutURLs: [`${apiUrl(withCognito)}/console/`],
      SupportedIdentityProviders: ['COGNITO'],
      // SRP only, and no ALLOW_REFRESH_TOKEN_AUTH: refresh tokens rotate instead.
      ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH'],
      RefreshTokenRotation: { Feature: 'ENABLED', RetryGracePeriodSeconds: 10 },
      PreventUserExistenceErrors: 'ENABLED',
      EnableTokenRevocation: true,
      AccessTokenValidity: 15,
      IdTokenValidity: 15,
      RefreshTokenValidity: 480,
      TokenValidityUnits: { AccessToken: 'minutes', IdToken: 'minutes', RefreshToken: 'minutes' },
      AuthSessionValidity: 10,
    });
    withCognito.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
  });

  it('registers the custom domain’s URLs when the API has one', () => {
    const t = synth({ config: { ...cognitoConfig, domain: { name: 'api.sesame.example', certificateArn: 'arn:aws:acm:eu-west-3:111122223333:certificate/abc' } } }).template;
    expect(one(t, 'AWS::Cognito::UserPoolClient').Properties).toMatchObject({ CallbackURLs: ['https://api.sesame.example/console/callback'], LogoutURLs: ['https://api.sesame.example/console/'] });
  });
});

describe('the routes on the HTTP API', () => {
  for (const [label, t] of [
    ['with Cognito', withCognito],
    ['with an external issuer', withExternal],
    ['without a config', bare],
  ] as const) {
    const routes = resources(t, 'AWS::ApiGatewayV2::Route').map(([, r]) => render(r.Properties) as { RouteKey: string; AuthorizationType?: string; AuthorizerId?: string; Target: string });
    const jwt = resources(t, 'AWS::ApiGatewayV2::Authorizer').filter(([, r]) => r.Properties.AuthorizerType === 'JWT');
    const integrations = resources(t, 'AWS::ApiGatewayV2::Integration').map(([id, r]) => [id, render(r.Properties.IntegrationUri)] as const);
    const integrationOf = (fnPrefix: string) => integrations.filter(([, uri]) => new RegExp(`^\\$\\{${fnPrefix}[0-9A-F]{8}\\.Arn\\}$`).test(String(uri))).map(([id]) => `integrations/\${${id}}`);

    it(`puts every /v1/admin route behind the JWT authorizer, and routes the admin function nowhere else (${label})`, () => {
      expect(jwt).toHaveLength(1);
      const authorizerId = `\${${jwt[0]![0]}}`;
      const admin = routes.filter((r) => r.RouteKey.split(' ')[1]?.startsWith('/v1/admin'));
      expect(admin.map((r) => r.RouteKey)).toEqual(['ANY /v1/admin/{proxy+}']);
      for (const r of admin) expect(r).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: authorizerId });
      // The admin function's only integration, and every route to it, carry the authorizer.
      const adminTargets = integrationOf('ConsoleAdmin');
      expect(adminTargets).toHaveLength(1);
      for (const r of routes.filter((x) => adminTargets.includes(x.Target))) expect(r.AuthorizationType).toBe('JWT');
      // The JWT authorizer protects nothing but the admin API.
      expect(routes.filter((r) => r.AuthorizationType === 'JWT').map((r) => r.RouteKey)).toEqual(['ANY /v1/admin/{proxy+}']);
    });

    it(`lets no route without the JWT authorizer match any admin API path, nor catch everything (${label})`, () => {
      const open = routes.filter((r) => r.AuthorizationType !== 'JWT');
      expect(routes.map((r) => r.RouteKey)).not.toContain('$default');
      for (const route of ADMIN_ROUTES) {
        const path = concrete(route.path);
        const reaching = routes.filter((r) => {
          const [method, pattern] = r.RouteKey.split(' ') as [string, string];
          return (method === 'ANY' || method === route.method) && matcher(pattern).test(path);
        });
        expect(reaching.length, `${route.method} ${route.path}`).toBeGreaterThan(0);
        expect(reaching.filter((r) => open.includes(r)).map((r) => r.RouteKey), `${route.method} ${route.path}`).toEqual([]);
      }
      // Nor a path under /v1/admin that the admin API does not list yet.
      for (const r of open) expect(matcher(r.RouteKey.split(' ')[1]!).test('/v1/admin/anything/else')).toBe(false);
    });

    it(`serves the console page and assets without an authorizer, from the console function (${label})`, () => {
      const page = routes.filter((r) => r.RouteKey.includes('/console'));
      expect(page.map((r) => [r.RouteKey, r.AuthorizationType ?? 'NONE']).sort()).toEqual([
        ['GET /console', 'NONE'],
        ['GET /console/{proxy+}', 'NONE'],
      ]);
      const consoleTargets = integrationOf('ConsolePage');
      expect(consoleTargets).toHaveLength(1);
      for (const r of page) expect(r.Target).toBe(consoleTargets[0]);
      // Exactly the token API's routes, the admin API's, the console's and the connect links' (test/cdk/connect-links.test.ts).
      const connect = ['GET /connect/{token}', 'POST /connect/{token}', 'GET /connect/{token}/certificate.cer', 'GET /connect/assets/{file}'];
      expect(routes.map((r) => r.RouteKey).sort()).toEqual([...ROUTES.map((x) => `${x.method} ${x.path}`), 'ANY /v1/admin/{proxy+}', 'GET /console', 'GET /console/{proxy+}', ...connect].sort());
    });

    it(`lets API Gateway invoke the admin and console functions from their own routes only (${label})`, () => {
      const permissions = resources(t, 'AWS::Lambda::Permission').map(([, p]) => render(p.Properties) as Record<string, string>);
      const sources = (fn: string) => permissions.filter((p) => new RegExp(`^\\$\\{${fn}[0-9A-F]{8}\\.Arn\\}$`).test(p.FunctionName ?? '')).map((p) => p.SourceArn?.replace(/^.*:\$\{TokenApi[0-9A-F]+\}/, ''));
      expect(sources('ConsoleAdmin')).toEqual(['/*/*/v1/admin/{proxy+}']);
      expect(sources('ConsolePage')?.sort()).toEqual(['/*/*/console', '/*/*/console/{proxy+}']);
    });
  }

  it('checks Cognito’s issuer and the console client as audience', () => {
    const authorizer = render(one(withCognito, 'AWS::ApiGatewayV2::Authorizer', 'TokenApiOperators').Properties);
    expect(authorizer).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Issuer: expect.stringMatching(/^https:\/\/cognito-idp\.eu-west-3\.\$\{AWS::URLSuffix\}\/\$\{ConsoleOperators[0-9A-F]+\}$/),
        Audience: [expect.stringMatching(/^\$\{ConsoleOperatorsConsole[0-9A-F]+\}$/)],
      },
    });
  });

  it('checks the external issuer and audience from the config, and creates no user pool for it', () => {
    const authorizer = render(one(withExternal, 'AWS::ApiGatewayV2::Authorizer', 'TokenApiOperators').Properties);
    expect(authorizer).toMatchObject({ AuthorizerType: 'JWT', JwtConfiguration: { Issuer: 'https://login.microsoftonline.com/0000-tenant/v2.0', Audience: ['api://sesame-admin'] } });
    for (const type of ['AWS::Cognito::UserPool', 'AWS::Cognito::UserPoolClient', 'AWS::Cognito::UserPoolDomain', 'AWS::Cognito::UserPoolUser']) withExternal.resourceCountIs(type, 0);
  });

  it('logs the operator (the JWT subject) of each call, never a header', () => {
    const stage = one(withCognito, 'AWS::ApiGatewayV2::Stage').Properties as { AccessLogSettings: { Format: string } };
    const format = JSON.parse(stage.AccessLogSettings.Format) as Record<string, string>;
    expect(format.operator).toBe('$context.authorizer.claims.sub');
    expect(stage.AccessLogSettings.Format).not.toMatch(/header|authorization/i);
  });
});

describe('the console function', () => {
  it('is told the Cognito issuer, client, scopes and hosted-UI origin, and no resource indicator', () => {
    const env = envOf(withCognito, 'ConsolePage');
    expect(env).toEqual({
      SESAME_VERSION: expect.any(String),
      POWERTOOLS_SERVICE_NAME: 'sesame-console',
      POWERTOOLS_METRICS_NAMESPACE: 'Sesame',
      SESAME_CONSOLE_ISSUER: expect.stringMatching(/^https:\/\/cognito-idp\.eu-west-3\.\$\{AWS::URLSuffix\}\/\$\{ConsoleOperators[0-9A-F]+\}$/),
      SESAME_CONSOLE_CLIENT_ID: expect.stringMatching(/^\$\{ConsoleOperatorsConsole[0-9A-F]+\}$/),
      SESAME_CONSOLE_SCOPE: 'openid email profile',
      SESAME_CONSOLE_CONNECT_SRC: expect.stringMatching(/^https:\/\/\$\{ConsoleOperatorsHostedUi[0-9A-F]+\}\.auth\.eu-west-3\.amazoncognito\.com$/),
    });
  });

  it('gives the admin function the operators of an external issuer, and no list with the stack’s user pool', () => {
    expect(envOf(withExternal, 'ConsoleAdmin').SESAME_ADMIN_OPERATORS).toBe('ops@integrator.example,7f3a-sub');
    expect(envOf(withCognito, 'ConsoleAdmin').SESAME_ADMIN_OPERATORS).toBeUndefined();
  });

  it('is told the external issuer, client, scope, resource and extra origins from the config', () => {
    const env = envOf(withExternal, 'ConsolePage');
    expect(env).toMatchObject({
      SESAME_CONSOLE_ISSUER: 'https://login.microsoftonline.com/0000-tenant/v2.0',
      SESAME_CONSOLE_CLIENT_ID: 'console-client-id',
      SESAME_CONSOLE_SCOPE: 'openid api://sesame-admin/operate',
      SESAME_CONSOLE_CONNECT_SRC: 'https://graph.example',
    });
    expect(env).not.toHaveProperty('SESAME_CONSOLE_RESOURCE');
    const minimal = synth({ config: { ...example, console: { issuer: 'https://id.example', audience: 'sesame-admin', clientId: 'c', resource: 'sesame-admin', operators: ['ops@integrator.example'] } } }).template;
    expect(envOf(minimal, 'ConsolePage')).toMatchObject({ SESAME_CONSOLE_SCOPE: 'openid email profile', SESAME_CONSOLE_RESOURCE: 'sesame-admin' });
    expect(envOf(minimal, 'ConsolePage')).not.toHaveProperty('SESAME_CONSOLE_CONNECT_SRC');
  });

  it('may write its logs and traces, and nothing else', () => {
    const grants = grantsOf(withCognito, 'ConsolePage');
    expect(grants.filter((g) => !/^(logs|xray):/.test(g))).toEqual([]);
    expect(grants.filter((g) => g.startsWith('xray:'))).toEqual(['xray:PutTelemetryRecords *', 'xray:PutTraceSegments *']);
  });
});

describe('the admin function', () => {
  const secret = (prefix: string) => `arn:\${AWS::Partition}:secretsmanager:eu-west-3:111122223333:secret:${prefix}*`;
  /** Logical ids without their hash: `${SecretsKey317DCF40.Arn}` → `${SecretsKey.Arn}`. */
  const unhashed = (g: string) => g.replace(/\$\{([A-Za-z0-9]+?)[0-9A-F]{8}(\.[A-Za-z]+)?\}/g, '${$1$2}');
  const via = (service: string) => ` if {"StringEquals":{"kms:ViaService":"${service}.eu-west-3.amazonaws.com"}}`;
  const prefixes = ['sesame-apps/', 'sesame-tenants/', 'sesame/'];

  it('is granted exactly what the admin API does, each resource under the stack’s prefixes', () => {
    const grants = grantsOf(withCognito, 'ConsoleAdmin').filter((g) => !/^(logs|xray):/.test(g)).map(unhashed);
    expect(grants).toEqual(
      [
        // Read and list every Sesame secret: names and tags page by page, values (redacted before they leave), versions.
        'secretsmanager:ListSecrets *',
        ...prefixes.map((p) => `secretsmanager:GetSecretValue ${secret(p)}`),
        ...prefixes.map((p) => `secretsmanager:DescribeSecret ${secret(p)}`),
        'kms:Decrypt ${SecretsKey.Arn}' + via('secretsmanager'),
        // New versions and tags of existing secrets.
        ...prefixes.map((p) => `secretsmanager:PutSecretValue ${secret(p)}`),
        ...prefixes.map((p) => `secretsmanager:TagResource ${secret(p)}`),
        'kms:GenerateDataKey ${SecretsKey.Arn}' + via('secretsmanager'),
        // Tenants and apps created as the CLI does: with the stack's key only, and the Sesame resource policy, never a public one.
        ...['sesame-apps/', 'sesame-tenants/'].map((p) => `secretsmanager:CreateSecret ${secret(p)} if {"StringEquals":{"secretsmanager:KmsKeyArn":"\${SecretsKey.Arn}"}}`),
        ...prefixes.map((p) => `secretsmanager:PutResourcePolicy ${secret(p)} if {"Bool":{"secretsmanager:BlockPublicPolicy":"true"}}`),
        // A new connect link replaces the credential's earlier one, and destroys that one's pending FLA key pair.
        `secretsmanager:DeleteSecret ${secret('sesame-connect/')}`,
        // Console uploads where the S3 intake puts them, and the last report read back.
        's3:PutObject ${CertificateIntakeBucket.Arn}/accepted/*',
        's3:PutObject ${CertificateIntakeBucket.Arn}/rejected/*',
        's3:PutObject ${CertificateIntakeBucket.Arn}/reports/*',
        's3:GetObject ${CertificateIntakeBucket.Arn}/reports/*',
        's3:ListBucket ${CertificateIntakeBucket.Arn}',
        'kms:Decrypt ${SecretsKey.Arn}' + via('s3'),
        'kms:GenerateDataKey ${SecretsKey.Arn}' + via('s3'),
        // Refusals announced on the alerts topic.
        'sns:Publish ${AlertsTopic}',
        'kms:Decrypt ${SecretsKey.Arn}' + via('sns'),
        'kms:GenerateDataKey ${SecretsKey.Arn}' + via('sns'),
        // Never the token cache's nor the audit trail's items through the state grant.
        'DENY dynamodb:ConditionCheckItem ${StateTable.Arn} if {"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["token#*","audit#*","audit-tenant#*"]}}',
        'DENY dynamodb:DeleteItem ${StateTable.Arn} if {"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["token#*","audit#*","audit-tenant#*"]}}',
        'DENY dynamodb:GetItem ${StateTable.Arn} if {"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["token#*","audit#*","audit-tenant#*"]}}',
        'DENY dynamodb:PutItem ${StateTable.Arn} if {"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["token#*","audit#*","audit-tenant#*"]}}',
        // Its changes in the audit trail: adding audit items only.
        'dynamodb:BatchWriteItem ${StateTable.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["audit#*","audit-tenant#*"]}}',
        // Connect links created from the console: link records in the state table, its key through DynamoDB only.
        ...['ConditionCheckItem', 'DeleteItem', 'GetItem', 'PutItem', 'Query'].map((a) => `dynamodb:${a} \${StateTable.Arn}`),
        ...['Decrypt', 'DescribeKey', 'Encrypt', 'GenerateDataKey'].map((a) => `kms:${a} \${SecretsKey.Arn}` + via('dynamodb')),
      ].sort(),
    );
    // Whatever the identity provider.
    expect(grantsOf(withExternal, 'ConsoleAdmin').map(unhashed)).toEqual(grantsOf(withCognito, 'ConsoleAdmin').map(unhashed));
  });

  it('holds no wildcard resource beyond ListSecrets, the stack’s secret prefixes and the bucket’s prefixes, and deletes nothing but pending key pairs', () => {
    const grants = grantsOf(withCognito, 'ConsoleAdmin', ['secretsmanager', 'kms', 's3', 'sns']);
    const pending = grants.filter((g) => /^secretsmanager:DeleteSecret [^ ]*:secret:sesame-connect\/\*$/.test(g));
    expect(pending).toHaveLength(1);
    for (const g of grants.filter((x) => x.split(' ')[1]?.includes('*') && !pending.includes(x))) {
      expect(g).toMatch(/^secretsmanager:ListSecrets \*$|:secret:(sesame\/|sesame-tenants\/|sesame-apps\/)\*( if .*)?$|^s3:(PutObject|GetObject) \$\{CertificateIntakeBucket[0-9A-F]+\.Arn\}\/(accepted|rejected|reports)\/\*$/);
    }
    expect(grants.filter((g) => !pending.includes(g)).filter((g) => /Delete|Restore|Rotate|Replica|UpdateSecret|CancelRotate|ValidateResourcePolicy|GetResourcePolicy|GetObjectVersion|PutBucket/.test(g))).toEqual([]);
  });

  it('is among the principals of every Sesame secret, and creates secrets with that same list and the stack’s key', () => {
    const principals = render(withCognito.findOutputs(SECRET_PRINCIPALS_OUTPUT)[SECRET_PRINCIPALS_OUTPUT]!.Value) as string;
    expect(principals.split(',')).toContainEqual(expect.stringMatching(/^\$\{ConsoleAdminRole[0-9A-F]+\.Arn\}$/));
    expect(principals.split(',')).not.toContainEqual(expect.stringMatching(/ConsolePage/));
    for (const p of Object.values(withCognito.findResources('AWS::SecretsManager::ResourcePolicy'))) {
      const statement = render(p.Properties.ResourcePolicy.Statement) as { Condition: { ArnNotLike: { 'aws:PrincipalArn': string[] } } }[];
      expect(statement[0]!.Condition.ArnNotLike['aws:PrincipalArn'].join(',')).toBe(principals);
    }
    const env = envOf(withCognito, 'ConsoleAdmin');
    expect(env).toMatchObject({
      SESAME_SECRET_PRINCIPALS: principals,
      SESAME_KMS_KEY_ID: expect.stringMatching(/^\$\{SecretsKey[0-9A-F]+\.Arn\}$/),
      SESAME_BUCKET: expect.stringMatching(/^\$\{CertificateIntakeBucket[0-9A-F]+\}$/),
      SESAME_ALERTS_TOPIC_ARN: expect.stringMatching(/^\$\{AlertsTopic[0-9A-F]+\}$/),
      POWERTOOLS_SERVICE_NAME: 'sesame-admin',
    });
    expect(Object.keys(env).filter((k) => k.startsWith('SESAME_CONSOLE_'))).toEqual([]);
  });

  it('applies the certificate rules and expiry thresholds of the config, as the intake and the expiry watch do', () => {
    const t = synth({ config: { ...example, chorusPolicyOids: ['1.2.250.1.1'], testPolicyOids: ['1.2.250.1.2'], expiryThresholds: [30, 7, 0] } }).template;
    expect(envOf(t, 'ConsoleAdmin')).toMatchObject({ SESAME_CHORUS_POLICY_OIDS: '1.2.250.1.1', SESAME_TEST_POLICY_OIDS: '1.2.250.1.2', SESAME_EXPIRY_THRESHOLDS: '30,7,0' });
    expect(envOf(bare, 'ConsoleAdmin')).not.toHaveProperty('SESAME_EXPIRY_THRESHOLDS');
    expect(envOf(bare, 'ConsoleAdmin')).not.toHaveProperty('SESAME_CHORUS_TRUST_ANCHORS');
  });

  it('answers within API Gateway’s 30 s and is watched by the operations alarms', () => {
    expect(one(withCognito, 'AWS::Lambda::Function', 'ConsoleAdmin').Properties.Timeout).toBe(29);
    const alarms = Object.values(withCognito.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties.AlarmDescription as string);
    expect(alarms).toEqual(expect.arrayContaining(['Sesame Admin: the function failed', 'Sesame Admin: invocations were throttled', 'Sesame Console: the function failed', 'Sesame Console: invocations were throttled']));
  });
});

describe('sesame.config.json’s console', () => {
  const base = { adminRoleArn: 'arn:aws:iam::111122223333:role/Admin' };

  it('is a Cognito user pool or an external issuer, each error naming its field', () => {
    for (const ok of [
      { cognito: { domainPrefix: 'sesame-ops', adminEmails: ['a@b.example'] } },
      { cognito: {} },
      { issuer: 'https://accounts.example', audience: 'sesame-admin', clientId: 'abc', operators: ['ops@integrator.example'] },
      { issuer: 'https://login.example/tenant/v2.0', audience: 'api://x', clientId: 'abc', scope: 'openid', resource: 'api://x', connectSrc: ['https://token.example:8443'], operators: ['7f3a-sub'] },
    ]) {
      expect(() => parseConfig({ ...base, console: ok }), JSON.stringify(ok)).not.toThrow();
    }
    for (const [input, field, message] of [
      [{}, 'console', /either "cognito" or "issuer"/],
      [{ cognito: { domainPrefix: 'Sesame' } }, 'console.cognito.domainPrefix', /a-z, 0-9/],
      [{ cognito: { domainPrefix: 'my-aws-ops' } }, 'console.cognito.domainPrefix', /must not contain "aws"/],
      [{ cognito: { domainPrefix: '-ops' } }, 'console.cognito.domainPrefix', /not starting or ending/],
      [{ cognito: { adminEmails: ['nope'] } }, 'console.cognito.adminEmails.0', /email/],
      [{ cognito: { adminEmails: ['a@b.example', 'A@B.example'] } }, 'console.cognito.adminEmails.1', /repeats/],
      [{ cognito: {}, issuer: 'https://id.example' }, 'console.issuer', /cannot be combined with "cognito"/],
      [{ issuer: 'https://id.example', clientId: 'c' }, 'console.audience', /is required/],
      [{ issuer: 'https://id.example', audience: 'a' }, 'console.clientId', /is required/],
      [{ audience: 'a', clientId: 'c' }, 'console.issuer', /is required/],
      [{ issuer: 'http://id.example', audience: 'a', clientId: 'c' }, 'console.issuer', /https URL/],
      [{ issuer: 'https://id.example', audience: '', clientId: 'c' }, 'console.audience', /empty/],
      [{ issuer: 'https://id.example', audience: 'a', clientId: 'c', connectSrc: ['https://x.example/path'], operators: ['o'] }, 'console.connectSrc.0', /origin/],
      [{ issuer: 'https://id.example', audience: 'a', clientId: 'c' }, 'console.operators', /is required/],
      [{ issuer: 'https://id.example', audience: 'a', clientId: 'c', operators: [] }, 'console.operators', /at least one operator/],
    ] as const) {
      const run = () => parseConfig({ ...base, console: input });
      expect(run, field).toThrowError(expect.objectContaining({ details: { field } }));
      expect(run, field).toThrowError(message);
    }
    // Unknown keys are refused too (validate() names the key itself).
    expect(() => parseConfig({ ...base, console: { cognito: { surprise: 1 } } })).toThrowError(/unknown field "surprise"/);
    expect(() => parseConfig({ ...base, console: { issuer: 'https://id.example', audience: 'a', clientId: 'c', secret: 'x' } })).toThrowError(/unknown field "secret"/);
  });

  it('defaults to no console section (a user pool without operators), and the example shows one', () => {
    expect(parseConfig(base)).not.toHaveProperty('console');
    expect(parseConfig({ ...base, console: { cognito: {} } }).console).toEqual({ cognito: { adminEmails: [] } });
    expect(example.console).toEqual({ cognito: { domainPrefix: expect.any(String), adminEmails: [expect.stringMatching(/@/)] } });
  });
});

describe('cdk-nag AwsSolutions with the console', () => {
  it.each([
    ['with Cognito and operators', { config: cognitoConfig }],
    ['with an external issuer', { config: externalConfig }],
  ])('reports no unacknowledged error or warning %s', (_label, props) => {
    const { findings, threw } = nagFindings(props);
    expect(findings).toEqual([]);
    expect(threw).toBe(false);
  });
});
