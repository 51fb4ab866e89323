import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PENDING_KEY_PREFIX } from '../functions/core/connect.ts';
import { acknowledgeWildcard } from './acknowledge.ts';
import type { Alerts } from './alerts.ts';
import { certificateRules, sesameFunction } from './function.ts';
import { SECRET_PREFIXES, type SecretsVault } from './secrets-vault.ts';
import type { StateTable } from './state-table.ts';

/**
 * The connect function's routes (functions/connect/connect.ts): the page and its
 * submission, FLA's generated certificate, and the page's stylesheet. No authorizer: the
 * link (256 random bits in the path) is the capability, checked by the function.
 */
export const CONNECT_ROUTES = [
  { method: apigw.HttpMethod.GET, path: '/connect/{token}' },
  { method: apigw.HttpMethod.POST, path: '/connect/{token}' },
  { method: apigw.HttpMethod.GET, path: '/connect/{token}/certificate.cer' },
  { method: apigw.HttpMethod.GET, path: '/connect/assets/{file}' },
] as const;

export interface ConnectLinksProps {
  /** The shared HTTP API (the token API's), and its public base URL (no trailing slash): the links are built on it. */
  api: apigw.HttpApi;
  url: string;
  vault: SecretsVault;
  state: StateTable;
  alerts: Alerts;
  /** Chorus EDI certificates handed over through a link land where the S3 intake puts files. */
  bucket: s3.IBucket;
  chorusPolicyOids?: string[];
  testPolicyOids?: string[];
  /** The same certificate rules as the S3 intake (lib/certificate-intake.ts), since EDI hand-overs run the same code. */
  chorusTrustAnchorsFile?: string;
  thresholds?: number[];
}

/**
 * Connect links in AWS (DESIGN.md, "Console and connect links"): a client's own
 * administrator opens `<api url>/connect/<token>`, follows the platform's steps and hands
 * one credential over. The link records live in the state table (only the token's hash);
 * the function writes the credential's new version, and for FLA keeps the generated key
 * pair under `sesame-connect/<hash>` until the client id comes back. SESAME_SECRET_PRINCIPALS
 * is added by the stack, which lists this function's role among the secrets' principals.
 */
export class ConnectLinks extends Construct {
  readonly function: LambdaFunction;
  readonly routes: apigw.HttpRoute[];

  constructor(scope: Construct, id: string, props: ConnectLinksProps) {
    super(scope, id);
    const rules = certificateRules(props);
    this.function = sesameFunction(this, 'Function', 'functions/connect/handler.ts', {
      description: 'Sesame connect links (one-time credential hand-over pages)',
      serviceName: 'sesame-connect',
      // FLA: an RSA 3072 key pair generated on a link's first open.
      memorySize: 1024,
      // API Gateway waits 30 s at most for an integration.
      timeout: Duration.seconds(29),
      environment: {
        SESAME_STATE_TABLE: props.state.tableName,
        // The links' base URL (functions/core/connect.ts): the shared API's, where these routes are.
        SESAME_PUBLIC_URL: props.url,
        // The pending FLA key's secret: the stack's key, never the AWS-managed one.
        SESAME_KMS_KEY_ID: props.vault.key.keyArn,
        SESAME_BUCKET: props.bucket.bucketName,
        SESAME_ALERTS_TOPIC_ARN: props.alerts.topic.topicArn,
        ...rules.environment,
      },
      files: rules.files,
    });
    this.grant(this.function, props);

    // Each integration adds a lambda:InvokeFunction permission for apigateway.amazonaws.com scoped to this API and route path.
    const integration = new HttpLambdaIntegration('Connect', this.function);
    this.routes = CONNECT_ROUTES.flatMap((r) => props.api.addRoutes({ path: r.path, methods: [r.method], integration }));
    for (const route of this.routes) {
      Validations.of(route).acknowledge({ id: 'AwsSolutions-APIG4', reason: 'Connect links carry no login by design: the token in the path (256 random bits, stored only as a hash, used once, time-limited) is the capability, and the function checks it; the stylesheet holds no data.' });
    }
  }

  /**
   * What a link's page and submission do, and nothing more: read the link and count
   * submissions in the state table, read the tenant and the credential, write the
   * credential's new version, keep FLA's pending key, land an EDI certificate where the
   * intake does, and tell the operator. Never list a secret; delete none but a pending
   * key pair once its link is used or replaced.
   */
  private grant(fn: LambdaFunction, props: ConnectLinksProps): void {
    const { vault } = props;
    const pending = PENDING_KEY_PREFIX;
    // Link records (by the token's hash), marked used with a conditional write; the per-link and per-source throttles.
    props.state.grantReadWrite(fn);
    // The credential (its environment and the fields it keeps, never shown), the tenant's name, FLA's pending key pair.
    vault.grantRead(fn, SECRET_PREFIXES.credentials, SECRET_PREFIXES.tenants, pending);
    // A declared placeholder's environment is in its tags only; the certificate verdict reads the expiry tag.
    vault.grantDescribe(fn, SECRET_PREFIXES.credentials);
    // The credential's new version and tags (the previous one kept as AWSPREVIOUS); the pending key written, then emptied once used.
    vault.grantWrite(fn, SECRET_PREFIXES.credentials, pending);
    // FLA: the pending key pair is a new secret per link, under its own prefix only, and only with the stack's key
    // (its tags need secretsmanager:TagResource and encrypting it kms:GenerateDataKey, granted above).
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:CreateSecret'],
        resources: [vault.arnFor(pending)],
        conditions: { StringEquals: { 'secretsmanager:KmsKeyArn': vault.key.keyArn } },
      }),
    );
    // The resource policy of every Sesame secret (secretPolicyDocument): set on the pending key it creates, and set again
    // on each write, as the CLI's and the admin function's store does when it may create secrets. Never a public policy.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:PutResourcePolicy'],
        resources: [vault.arnFor(SECRET_PREFIXES.credentials), vault.arnFor(pending)],
        conditions: { Bool: { 'secretsmanager:BlockPublicPolicy': 'true' } },
      }),
    );
    // The pending key pair is destroyed once the credential holds it (a put would keep it as AWSPREVIOUS).
    vault.grantDelete(fn, pending);
    // Chorus EDI: the certificate lands in accepted/ or rejected/ and its report in reports/ (functions/core/intake.ts),
    // as from the S3 intake and the console; a file holding a private key is never written.
    const objects = (prefix: string) => props.bucket.arnForObjects(`${prefix}*`);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [objects('accepted/'), objects('rejected/'), objects('reports/')] }));
    // The bucket is SSE-KMS: a single PutObject needs a data key; through S3 only.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [vault.key.keyArn], conditions: vault.via('s3') }));
    // The operator is told a credential was handed over; a refused certificate is announced as from the intake.
    props.alerts.grantPublish(fn);

    const role = fn.role as iam.IRole;
    const bucketId = Stack.of(this).getLogicalId(props.bucket.node.defaultChild as s3.CfnBucket);
    for (const prefix of ['accepted', 'rejected', 'reports']) {
      acknowledgeWildcard(role, `<${bucketId}.Arn>/${prefix}/*`, `Uploads and reports are named ${prefix}/{tenant}/{credential}/{file}: the prefix is the unit of access.`);
    }
  }
}

