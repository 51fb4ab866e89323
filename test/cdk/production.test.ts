import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../lib/config.ts';
import { SECRET_PRINCIPALS_OUTPUT, secretPolicyStatement } from '../../functions/core/secret-policy.ts';
import { nagFindings } from './nag.ts';
import { render, synth } from './template.ts';

const config = loadConfig('sesame.config.example.json');
const { template } = synth({ config });
const withDomain = synth({ config: { ...config, domain: { name: 'api.sesame.example', certificateArn: 'arn:aws:acm:eu-west-3:111122223333:certificate/abc' } } }).template;

describe('sesame.config.json', () => {
  it('is validated, each error naming its field', () => {
    const base = { adminRoleArn: 'arn:aws:iam::111122223333:role/Admin', tenants: [{ id: 'cfa', name: 'CFA', credentials: [{ id: 'fla' }] }] };
    expect(() => parseConfig(base)).not.toThrow();
    for (const [input, field] of [
      [{ ...base, adminRoleArn: 'admin' }, 'adminRoleArn'],
      [{ ...base, operatorEmail: 'nope' }, 'operatorEmail'],
      [{ ...base, tenants: [{ id: 'CFA', name: 'x' }] }, 'tenants.0.id'],
      [{ ...base, tenants: [{ id: 'cfa', name: 'x', credentials: [{ id: 'opco-nowhere' }] }] }, 'tenants.0.credentials.0.id'],
      [{ ...base, tenants: [{ id: 'cfa', name: 'x', credentials: [{ id: 'fla', environment: 'sandbox' }] }] }, 'tenants.0.credentials.0.environment'],
      [{ ...base, tenants: [base.tenants[0], base.tenants[0]] }, 'tenants.1.id'],
      [{ ...base, surprise: true }, 'surprise'],
      [{ ...base, expiryThresholds: [] }, 'expiryThresholds'],
      [{ ...base, expiryThresholds: [30, 1.5] }, 'expiryThresholds.1'],
      [{ ...base, expiryThresholds: [-1] }, 'expiryThresholds.0'],
      [{ ...base, expiryThresholds: [3651] }, 'expiryThresholds.0'],
      [{ ...base, expiryThresholds: [30, 7, 30] }, 'expiryThresholds.2'],
      [{ ...base, testPolicyOids: ['1.2.3', 'test'] }, 'testPolicyOids.1'],
    ] as const) {
      expect(() => parseConfig(input), field).toThrowError(expect.objectContaining({ details: { field } }));
    }
  });

  it('leaves expiry thresholds to the functions and lists no test policy unless told', () => {
    const base = { adminRoleArn: 'arn:aws:iam::111122223333:role/Admin' };
    expect(parseConfig(base)).not.toHaveProperty('expiryThresholds');
    expect(parseConfig(base).testPolicyOids).toEqual([]);
    expect(parseConfig({ ...base, expiryThresholds: [0, 3650], testPolicyOids: ['1.2.250.1'] })).toMatchObject({ expiryThresholds: [0, 3650], testPolicyOids: ['1.2.250.1'] });
  });

  it('passes expiry thresholds and test policy OIDs to the functions that use them, and only when set', () => {
    const envOf = (t: typeof template, prefix: string) => {
      const fns = t.findResources('AWS::Lambda::Function');
      return fns[Object.keys(fns).find((k) => k.startsWith(prefix)) as string]!.Properties.Environment.Variables as Record<string, unknown>;
    };
    const set = synth({ config: { ...config, expiryThresholds: [30, 7, 0], testPolicyOids: ['1.2.250.1.1', '1.2.250.1.2'] } }).template;
    expect(envOf(set, 'ExpiryWatchFunction').SESAME_EXPIRY_THRESHOLDS).toBe('30,7,0');
    expect(envOf(set, 'CertificateIntakeFunction').SESAME_TEST_POLICY_OIDS).toBe('1.2.250.1.1,1.2.250.1.2');
    // Independent of what the example config sets: none of them, and no config at all.
    for (const t of [synth({ config: { ...config, testPolicyOids: [], expiryThresholds: undefined } }).template, synth().template]) {
      expect(envOf(t, 'ExpiryWatchFunction')).not.toHaveProperty('SESAME_EXPIRY_THRESHOLDS');
      expect(envOf(t, 'CertificateIntakeFunction')).not.toHaveProperty('SESAME_TEST_POLICY_OIDS');
    }
    for (const fn of ['TokenApiToken', 'TokenApiAuthorizer', 'CertificateIntakeFunction']) expect(envOf(set, fn)).not.toHaveProperty('SESAME_EXPIRY_THRESHOLDS');
    for (const fn of ['TokenApiToken', 'TokenApiAuthorizer', 'ExpiryWatchFunction']) expect(envOf(set, fn)).not.toHaveProperty('SESAME_TEST_POLICY_OIDS');
  });
});

describe('the production stack', () => {
  it('creates one secret per declared credential, a placeholder retained with the stack key and its tags', () => {
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    const names = Object.values(secrets).map((s) => s.Properties.Name).sort();
    expect(names).toEqual([
      'sesame-tenants/cfa-bruxelles',
      'sesame-tenants/cfa-paris',
      'sesame/cfa-bruxelles/fla-employer',
      'sesame/cfa-bruxelles/fla-employer-acc',
      'sesame/cfa-paris/chorus-edi',
      'sesame/cfa-paris/chorus-piste',
      'sesame/cfa-paris/opco-atlas',
      'sesame/cfa-paris/opco-ocapiat',
    ]);
    for (const s of Object.values(secrets)) {
      expect(s.DeletionPolicy).toBe('Retain');
      expect(s.UpdateReplacePolicy).toBe('Retain');
      expect(s.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SecretsKey/), 'Arn'] });
    }
    const atlas = Object.values(secrets).find((s) => s.Properties.Name === 'sesame/cfa-paris/opco-atlas');
    expect(JSON.parse(atlas?.Properties.SecretString)).toEqual({ tenant: 'cfa-paris', credential: 'opco-atlas', kind: 'opco-atlas', placeholder: true });
    expect(atlas?.Properties.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'sesame:tenant', Value: 'cfa-paris' },
        { Key: 'sesame:kind', Value: 'opco-atlas' },
        { Key: 'sesame:credential', Value: 'opco-atlas' },
        { Key: 'sesame:environment', Value: 'production' },
      ]),
    );
    expect(JSON.parse(Object.values(secrets).find((s) => s.Properties.Name === 'sesame/cfa-bruxelles/fla-employer-acc')?.Properties.SecretString).placeholder).toBe(true);
  });

  it('puts no secret value in the template', () => {
    const json = JSON.stringify(template.toJSON());
    expect(json).not.toMatch(/PRIVATE KEY|client_secret|cfa_key|api_key_secret|account_password/);
  });

  const functionRoles = [
    expect.stringMatching(/^\$\{TokenApiTokenRole[0-9A-F]+\.Arn\}$/),
    expect.stringMatching(/^\$\{TokenApiAuthorizerRole[0-9A-F]+\.Arn\}$/),
    expect.stringMatching(/^\$\{CertificateIntakeFunctionRole[0-9A-F]+\.Arn\}$/),
    expect.stringMatching(/^\$\{ExpiryWatchFunctionRole[0-9A-F]+\.Arn\}$/),
    expect.stringMatching(/^\$\{ConsoleAdminRole[0-9A-F]+\.Arn\}$/),
    expect.stringMatching(/^\$\{ConnectFunctionRole[0-9A-F]+\.Arn\}$/),
  ];
  const cfnExecRole = 'arn:${AWS::Partition}:iam::111122223333:role/cdk-*-cfn-exec-role-*';

  it('denies the secrets to everyone but the six functions that use them, the admin role and CDK’s deployment role, with the CLI’s statement', () => {
    const policies = Object.values(template.findResources('AWS::SecretsManager::ResourcePolicy'));
    expect(policies).toHaveLength(8);
    for (const p of policies) {
      expect(render(p.Properties.ResourcePolicy.Statement)).toEqual([secretPolicyStatement([...functionRoles, 'arn:aws:iam::111122223333:role/SesameAdmin', cfnExecRole])]);
    }
  });

  it('outputs the allowed principals for sesame --aws, with and without a config', () => {
    const outputs = template.findOutputs(SECRET_PRINCIPALS_OUTPUT);
    expect(Object.keys(outputs)).toEqual([SECRET_PRINCIPALS_OUTPUT]);
    const value = render(outputs[SECRET_PRINCIPALS_OUTPUT]!.Value) as string;
    expect(value.split(',')).toEqual([...functionRoles, 'arn:aws:iam::111122223333:role/SesameAdmin', cfnExecRole]);
    expect(outputs[SECRET_PRINCIPALS_OUTPUT]!.Description).toMatch(/sesame --aws/);
    // Without a config there is no admin role, but the CLI still needs the functions' roles.
    const bare = render(synth().template.findOutputs(SECRET_PRINCIPALS_OUTPUT)[SECRET_PRINCIPALS_OUTPUT]!.Value) as string;
    expect(bare.split(',')).toEqual([...functionRoles, cfnExecRole]);
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual([
      'AlertsTopicArn',
      expect.stringMatching(/^ConsoleUrl/),
      expect.stringMatching(/^ConsoleUserPoolId/),
      'IntakeBucket',
      'KmsKeyArn',
      SECRET_PRINCIPALS_OUTPUT,
      'StateTable',
      expect.stringMatching(/^TokenApiUrl/),
    ]);
  });

  it('encrypts secrets, bucket and both topics with one customer-managed key that rotates', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.resourcePropertiesCountIs('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() }, 2);
    template.hasResourceProperties('AWS::S3::Bucket', { BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } })] } });
  });

  it('traces every function and names its Powertools service', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Runtime === 'nodejs22.x');
    expect(fns.map((f) => f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).sort()).toEqual(['sesame-admin', 'sesame-authorizer', 'sesame-certificate', 'sesame-connect', 'sesame-console', 'sesame-expiry', 'sesame-token']);
    for (const f of fns) expect(f.Properties.TracingConfig).toEqual({ Mode: 'Active' });
  });

  it('keeps failed asynchronous events in dead-letter queues', () => {
    const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig')).map((r) => render(r.Properties) as { MaximumRetryAttempts: number; DestinationConfig: { OnFailure: { Destination: string } } });
    expect(configs.map((c) => [c.MaximumRetryAttempts, c.DestinationConfig.OnFailure.Destination]).sort()).toEqual([
      [2, expect.stringMatching(/^\$\{CertificateIntakeDeadLetters[0-9A-F]+\.Arn\}$/)],
      [2, expect.stringMatching(/^\$\{ExpiryWatchDeadLetters[0-9A-F]+\.Arn\}$/)],
    ]);
    template.hasResourceProperties('AWS::Scheduler::Schedule', { Target: Match.objectLike({ DeadLetterConfig: { Arn: Match.anyValue() } }) });
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 }, 2);
  });

  it('throttles the API and writes JSON access logs without any header', () => {
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]?.Properties;
    expect(stage.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
    const format = JSON.parse(stage.AccessLogSettings.Format);
    expect(Object.keys(format)).toEqual(['requestId', 'time', 'ip', 'route', 'status', 'latencyMs', 'app', 'operator', 'authorizerError', 'integrationError']);
    expect(stage.AccessLogSettings.Format).not.toMatch(/header|authorization/i);
  });

  it('raises an alarm on the operations topic for every failure mode', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    expect(alarms.map((a) => a.AlarmDescription).sort()).toEqual(
      [
        'Sesame Admin: invocations were throttled',
        'Sesame Admin: the function failed',
        'Sesame Console: invocations were throttled',
        'Sesame Console: the function failed',
        'Sesame Connect: invocations were throttled',
        'Sesame Connect: the function failed',
        'Sesame Authorizer: invocations were throttled',
        'Sesame Authorizer: the function failed',
        'Sesame Certificate: invocations were throttled',
        'Sesame Certificate: the function failed',
        'Sesame CertificateDeadLetters: events in the dead-letter queue',
        'Sesame Expiry: has not run for 26 hours',
        'Sesame Expiry: invocations were throttled',
        'Sesame Expiry: the function failed',
        'Sesame ExpiryDeadLetters: events in the dead-letter queue',
        'Sesame Token: invocations were throttled',
        'Sesame Token: the function failed',
        'Sesame TokenApi: more than 5 % of answers are 5xx',
      ].sort(),
    );
    for (const a of alarms) expect(a.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^OperationsTopic/) }]);
    expect(alarms.find((a) => a.AlarmDescription.includes('26 hours'))).toMatchObject({ Period: 3600, EvaluationPeriods: 26, DatapointsToAlarm: 26, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching', MetricName: 'Invocations' });
    const rate = alarms.find((a) => a.AlarmDescription.includes('5xx'));
    expect(rate.Metrics.find((m: { Expression?: string }) => m.Expression)?.Expression).toBe('IF(requests > 0, 100 * errors / requests, 0)');
    expect(rate).toMatchObject({ Threshold: 5, EvaluationPeriods: 3, DatapointsToAlarm: 2 });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@integrator.example', TopicArn: { Ref: Match.stringLikeRegexp('^OperationsTopic') } });
  });

  it('maps an optional custom domain onto the API', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    withDomain.hasResourceProperties('AWS::ApiGatewayV2::DomainName', { DomainName: 'api.sesame.example', DomainNameConfigurations: [Match.objectLike({ CertificateArn: 'arn:aws:acm:eu-west-3:111122223333:certificate/abc' })] });
    withDomain.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['with the example config', { config }],
    ['without a config', {}],
  ])('reports no unacknowledged error or warning %s', (_label, props) => {
    const { findings, threw } = nagFindings(props);
    expect(findings).toEqual([]);
    expect(threw).toBe(false);
  });
});
