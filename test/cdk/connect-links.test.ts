import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { SECRET_PRINCIPALS_OUTPUT } from '../../functions/core/secret-policy.ts';
import { PENDING_KEY_PREFIX } from '../../functions/core/connect.ts';
import { CONNECT_CSS_PATH } from '../../functions/connect/page.ts';
import { loadConfig } from '../../lib/config.ts';
import { CONNECT_ROUTES } from '../../lib/connect-links.ts';
import { STATE_TABLE_ACTIONS } from '../../lib/state-table.ts';
import { nagFindings } from './nag.ts';
import { grantsOf, render, synth } from './template.ts';

const example = loadConfig('sesame.config.example.json');
const { template } = synth({ config: example });
const bare = synth().template;

type Resource = { Type: string; Properties: Record<string, unknown> };
const resources = (t: Template, type: string) => Object.entries(t.findResources(type)) as [string, Resource][];
const connectFn = (t: Template) => {
  const found = resources(t, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('ConnectFunction'));
  expect(found).toHaveLength(1);
  return found[0]!;
};
const envOf = (t: Template) => render((connectFn(t)[1].Properties.Environment as { Variables: Record<string, unknown> }).Variables) as Record<string, string>;
/** Logical ids without their hash: `${SecretsKey317DCF40.Arn}` → `${SecretsKey.Arn}`. */
const unhashed = (g: string) => g.replace(/\$\{([A-Za-z0-9]+?)[0-9A-F]{8}(\.[A-Za-z]+)?\}/g, '${$1$2}');
const secret = (prefix: string) => `arn:\${AWS::Partition}:secretsmanager:eu-west-3:111122223333:secret:${prefix}*`;
const via = (service: string) => ` if {"StringEquals":{"kms:ViaService":"${service}.eu-west-3.amazonaws.com"}}`;

describe('the connect routes on the HTTP API', () => {
  for (const [label, t] of [
    ['with the example config', template],
    ['without a config', bare],
  ] as const) {
    const routes = resources(t, 'AWS::ApiGatewayV2::Route').map(([, r]) => render(r.Properties) as { RouteKey: string; AuthorizationType?: string; AuthorizerId?: string; Target: string });
    const integrations = resources(t, 'AWS::ApiGatewayV2::Integration').filter(([, r]) => /^\$\{ConnectFunction[0-9A-F]{8}\.Arn\}$/.test(String(render(r.Properties.IntegrationUri))));

    it(`serves the page, its submission, FLA's certificate and the stylesheet, with no authorizer: the link is the capability (${label})`, () => {
      const connect = routes.filter((r) => r.RouteKey.split(' ')[1]?.startsWith('/connect'));
      expect(connect.map((r) => [r.RouteKey, r.AuthorizationType ?? 'NONE']).sort()).toEqual(
        [
          ['GET /connect/{token}', 'NONE'],
          ['POST /connect/{token}', 'NONE'],
          ['GET /connect/{token}/certificate.cer', 'NONE'],
          ['GET /connect/assets/{file}', 'NONE'],
        ].sort(),
      );
      for (const r of connect) expect(r.AuthorizerId).toBeUndefined();
      // One integration, to the connect function, and only these routes reach it.
      expect(integrations).toHaveLength(1);
      const target = `integrations/\${${integrations[0]![0]}}`;
      expect(routes.filter((r) => r.Target === target).map((r) => r.RouteKey).sort()).toEqual(connect.map((r) => r.RouteKey).sort());
      expect(CONNECT_ROUTES.map((r) => `${r.method} ${r.path}`).sort()).toEqual(connect.map((r) => r.RouteKey).sort());
    });

    it(`lets API Gateway invoke the connect function from its own routes only (${label})`, () => {
      const permissions = resources(t, 'AWS::Lambda::Permission').map(([, p]) => render(p.Properties) as Record<string, string>);
      const sources = permissions.filter((p) => /^\$\{ConnectFunction[0-9A-F]{8}\.Arn\}$/.test(p.FunctionName ?? '')).map((p) => p.SourceArn?.replace(/^.*:\$\{TokenApi[0-9A-F]+\}/, ''));
      expect(sources.sort()).toEqual(['/*/*/connect/{token}', '/*/*/connect/{token}', '/*/*/connect/{token}/certificate.cer', '/*/*/connect/assets/{file}'].sort());
    });
  }

  it('matches the stylesheet path the page links to', () => {
    expect(CONNECT_CSS_PATH).toMatch(/^\/connect\/assets\/[^/]+$/);
  });

  it('logs the route key in the access logs, never the raw path, which holds the token', () => {
    const stage = resources(template, 'AWS::ApiGatewayV2::Stage')[0]![1].Properties as { AccessLogSettings: { Format: string } };
    const format = JSON.parse(stage.AccessLogSettings.Format) as Record<string, string>;
    expect(format.route).toBe('$context.routeKey');
    expect(stage.AccessLogSettings.Format).not.toMatch(/\$context\.(path|resourcePath)|rawPath|requestOverride|\$input|querystring/i);
  });
});

describe('the connect function', () => {
  it('is granted exactly what a link’s page and submission do, each resource under the stack’s prefixes', () => {
    const grants = grantsOf(template, 'ConnectFunction')
      .filter((g) => !/^(logs|xray):/.test(g))
      .map(unhashed);
    expect(grants).toEqual(
      [
        // Never the token cache's nor the audit trail's items through the state grant.
        'DENY dynamodb:ConditionCheckItem ${StateTable.Arn} if {"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["token#*","audit#*","audit-tenant#*"]}}',
        'DENY dynamodb:DeleteItem ${StateTable.Arn} if {"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["token#*","audit#*","audit-tenant#*"]}}',
        'DENY dynamodb:GetItem ${StateTable.Arn} if {"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["token#*","audit#*","audit-tenant#*"]}}',
        'DENY dynamodb:PutItem ${StateTable.Arn} if {"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["token#*","audit#*","audit-tenant#*"]}}',
        // Links used, in the audit trail: adding audit items only.
        'dynamodb:BatchWriteItem ${StateTable.Arn} if {"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["audit#*","audit-tenant#*"]}}',
        // The link records and the throttles' counters, in the state table; its key through DynamoDB only.
        ...STATE_TABLE_ACTIONS.map((a) => `${a} \${StateTable.Arn}`),
        ...['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'].map((a) => `${a} \${SecretsKey.Arn}${via('dynamodb')}`),
        // The credential, the tenant's name, FLA's pending key pair.
        ...['sesame/', 'sesame-tenants/', PENDING_KEY_PREFIX].map((p) => `secretsmanager:GetSecretValue ${secret(p)}`),
        'kms:Decrypt ${SecretsKey.Arn}' + via('secretsmanager'),
        // A placeholder's environment, from its tags.
        `secretsmanager:DescribeSecret ${secret('sesame/')}`,
        // The credential's new version and tags; the pending key written and emptied.
        ...['sesame/', PENDING_KEY_PREFIX].flatMap((p) => [`secretsmanager:PutSecretValue ${secret(p)}`, `secretsmanager:TagResource ${secret(p)}`]),
        'kms:GenerateDataKey ${SecretsKey.Arn}' + via('secretsmanager'),
        // The pending key created with the stack's key only, and the Sesame resource policy, never a public one.
        `secretsmanager:CreateSecret ${secret(PENDING_KEY_PREFIX)} if {"StringEquals":{"secretsmanager:KmsKeyArn":"\${SecretsKey.Arn}"}}`,
        ...['sesame/', PENDING_KEY_PREFIX].map((p) => `secretsmanager:PutResourcePolicy ${secret(p)} if {"Bool":{"secretsmanager:BlockPublicPolicy":"true"}}`),
        // The pending key pair destroyed once the credential holds it.
        `secretsmanager:DeleteSecret ${secret(PENDING_KEY_PREFIX)}`,
        // Chorus EDI certificates where the intake puts them.
        's3:PutObject ${CertificateIntakeBucket.Arn}/accepted/*',
        's3:PutObject ${CertificateIntakeBucket.Arn}/rejected/*',
        's3:PutObject ${CertificateIntakeBucket.Arn}/reports/*',
        'kms:GenerateDataKey ${SecretsKey.Arn}' + via('s3'),
        // The operator told, on the alerts topic.
        'sns:Publish ${AlertsTopic}',
        'kms:Decrypt ${SecretsKey.Arn}' + via('sns'),
        'kms:GenerateDataKey ${SecretsKey.Arn}' + via('sns'),
      ].sort(),
    );
    expect(grantsOf(bare, 'ConnectFunction').map(unhashed)).toEqual(grantsOf(template, 'ConnectFunction').map(unhashed));
  });

  it('lists no secret, reads no object back, and creates and deletes secrets under the pending-key prefix only', () => {
    const grants = grantsOf(template, 'ConnectFunction');
    expect(grants.filter((g) => g.startsWith('secretsmanager:DeleteSecret')).map((g) => g.split(' ')[1])).toEqual([secret(PENDING_KEY_PREFIX)]);
    expect(grants.filter((g) => /ListSecrets|secretsmanager:Delete(?!Secret arn:\$\{AWS::Partition\}:secretsmanager:[^ ]*:secret:sesame-connect\/\*$)|s3:Delete|Restore|Rotate|Replica|UpdateSecret|GetResourcePolicy|dynamodb:(Scan|UpdateItem|BatchGet|BatchWriteItem(?! [^ ]+ if \{"ForAllValues:StringLike":\{"dynamodb:LeadingKeys":\["audit#\*","audit-tenant#\*"\]\}\}$))|s3:(GetObject|ListBucket)/.test(g))).toEqual([]);
    expect(grants.filter((g) => g.startsWith('secretsmanager:CreateSecret')).map((g) => g.split(' ')[1])).toEqual([secret(PENDING_KEY_PREFIX)]);
    expect(grants.filter((g) => g.startsWith('secretsmanager:') && g.includes(':secret:sesame-apps/'))).toEqual([]);
    for (const g of grants.filter((x) => x.split(' ')[1]?.endsWith('*') && !/^(logs|xray):/.test(x))) {
      expect(g).toMatch(/:secret:(sesame\/|sesame-tenants\/|sesame-connect\/)\*( if .*)?$|^s3:PutObject \$\{CertificateIntakeBucket[0-9A-F]+\.Arn\}\/(accepted|rejected|reports)\/\*$/);
    }
  });

  it('is told the state table, the API’s URL, the stack’s key, the bucket, the alerts topic and the secrets’ principals', () => {
    const principals = render(template.findOutputs(SECRET_PRINCIPALS_OUTPUT)[SECRET_PRINCIPALS_OUTPUT]!.Value) as string;
    const api = resources(template, 'AWS::ApiGatewayV2::Api');
    expect(api).toHaveLength(1);
    expect(envOf(template)).toEqual({
      SESAME_VERSION: expect.any(String),
      POWERTOOLS_SERVICE_NAME: 'sesame-connect',
      POWERTOOLS_METRICS_NAMESPACE: 'Sesame',
      SESAME_STATE_TABLE: expect.stringMatching(/^\$\{StateTable[0-9A-F]+\}$/),
      SESAME_PUBLIC_URL: `\${${api[0]![0]}.ApiEndpoint}`,
      SESAME_KMS_KEY_ID: expect.stringMatching(/^\$\{SecretsKey[0-9A-F]+\.Arn\}$/),
      SESAME_BUCKET: expect.stringMatching(/^\$\{CertificateIntakeBucket[0-9A-F]+\}$/),
      SESAME_ALERTS_TOPIC_ARN: expect.stringMatching(/^\$\{AlertsTopic[0-9A-F]+\}$/),
      SESAME_SECRET_PRINCIPALS: principals,
      ...(example.expiryThresholds ? { SESAME_EXPIRY_THRESHOLDS: example.expiryThresholds.join(',') } : {}),
    });
    expect(principals.split(',')).toContainEqual(expect.stringMatching(/^\$\{ConnectFunctionRole[0-9A-F]+\.Arn\}$/));
  });

  it('builds its links on the custom domain when the API has one', () => {
    const t = synth({ config: { ...example, domain: { name: 'api.sesame.example', certificateArn: 'arn:aws:acm:eu-west-3:111122223333:certificate/abc' } } }).template;
    expect(envOf(t).SESAME_PUBLIC_URL).toBe('https://api.sesame.example');
  });

  it('applies the certificate rules of the config, as the intake does', () => {
    const t = synth({ config: { ...example, chorusPolicyOids: ['1.2.250.1.1'], testPolicyOids: ['1.2.250.1.2'] } }).template;
    expect(envOf(t)).toMatchObject({ SESAME_CHORUS_POLICY_OIDS: '1.2.250.1.1', SESAME_TEST_POLICY_OIDS: '1.2.250.1.2' });
    expect(envOf(bare)).not.toHaveProperty('SESAME_CHORUS_TRUST_ANCHORS');
  });

  it('answers within API Gateway’s 30 s and is watched by the operations alarms', () => {
    expect(connectFn(template)[1].Properties.Timeout).toBe(29);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties.AlarmDescription as string);
    expect(alarms).toEqual(expect.arrayContaining(['Sesame Connect: the function failed', 'Sesame Connect: invocations were throttled']));
  });
});

describe('cdk-nag AwsSolutions with the connect links', () => {
  it.each([
    ['with the example config', { config: example }],
    ['without a config', {}],
  ])('reports no unacknowledged error or warning %s', (_label, props) => {
    const { findings, threw } = nagFindings(props);
    expect(findings).toEqual([]);
    expect(threw).toBe(false);
  });
});
