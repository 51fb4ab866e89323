import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { buildConsoleSync } from '../functions/console/build.ts';
import { acknowledgeWildcard } from './acknowledge.ts';
import type { Alerts } from './alerts.ts';
import type { ConsoleConfig, ExternalIssuer } from './config.ts';
import { certificateRules, sesameFunction } from './function.ts';
import { SECRET_PREFIXES, type SecretsVault } from './secrets-vault.ts';

/** Where the console's files sit beside its bundle (/var/task/console). */
export const CONSOLE_DIR = 'console';
/** The admin API's routes: everything under it goes through the operators' JWT authorizer. */
export const ADMIN_ROUTE = '/v1/admin/{proxy+}';
/** The console's routes: the page and its assets, public (they hold no data; the data comes from the admin API). */
export const CONSOLE_ROUTES = ['/console', '/console/{proxy+}'] as const;
/** Scopes the console asks Cognito for (and an external issuer, unless the config says otherwise). */
export const DEFAULT_SCOPE = 'openid email profile';

export interface OperatorConsoleProps {
  /** The token API's HTTP API, which gets the admin and console routes, and its public base URL (no trailing slash). */
  api: apigw.HttpApi;
  url: string;
  vault: SecretsVault;
  alerts: Alerts;
  /** The certificate intake bucket: console uploads land where the S3 intake puts files. */
  bucket: s3.IBucket;
  /** sesame.config.json's `console`; without it, a Cognito user pool with no operator yet. */
  console?: ConsoleConfig;
  /** The same certificate rules as the S3 intake (lib/certificate-intake.ts), since uploads run the same code. */
  chorusPolicyOids?: string[];
  testPolicyOids?: string[];
  chorusTrustAnchorsFile?: string;
  thresholds?: number[];
}

/**
 * The operator console: who the operators are, the admin API and the page.
 *
 * - Identity: the stack's own Cognito user pool (no self sign-up, TOTP required, operators
 *   from the config invited by email), or an external OpenID Connect issuer named in the
 *   config. Either way API Gateway's JWT authorizer checks every `/v1/admin/*` call
 *   (issuer, audience, expiry, signature) before the admin function runs.
 * - The admin function: the admin API (functions/admin/handler.ts), with the grants listed
 *   below, each with its reason.
 * - The console function: serves the built page (functions/console/) and its config.
 *
 * Why a function on the same HTTP API, not S3 + CloudFront: the page and the admin API
 * share one origin, so there is no CORS to open and the Content-Security-Policy and other
 * headers are set by our code, the same locally (`sesame dev`) and in AWS; there is no
 * distribution, origin access control or cache invalidation to run; and the assets are
 * under 100 KB, which a function serves from its bundle in a few milliseconds.
 */
export class OperatorConsole extends Construct {
  readonly adminFunction: LambdaFunction;
  readonly consoleFunction: LambdaFunction;
  /** The JWT issuer and audience the admin routes require. */
  readonly issuer: string;
  readonly audience: string;
  /** The console's address: `<api url>/console/`. */
  readonly url: string;
  /** Only with the stack's own user pool. */
  readonly userPool?: cognito.UserPool;
  readonly client?: cognito.UserPoolClient;
  readonly domain?: cognito.UserPoolDomain;
  readonly adminRoutes: apigw.HttpRoute[];
  readonly consoleRoutes: apigw.HttpRoute[];

  constructor(scope: Construct, id: string, props: OperatorConsoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.url = `${props.url}/console/`;
    const external = props.console && 'issuer' in props.console ? props.console : undefined;

    // --- Who the operators are -------------------------------------------------------
    let consoleEnv: Record<string, string>;
    if (external) {
      this.issuer = external.issuer;
      this.audience = external.audience;
      consoleEnv = externalEnv(external);
    } else {
      const cognitoConfig = props.console && 'cognito' in props.console ? props.console.cognito : { adminEmails: [] };
      const { userPool, client, domain } = this.operatorPool(props.url, cognitoConfig.domainPrefix ?? derivedDomainPrefix(stack), cognitoConfig.adminEmails);
      this.userPool = userPool;
      this.client = client;
      this.domain = domain;
      // The `iss` of the pool's tokens; Cognito access tokens carry no `aud` but `client_id`, which API Gateway checks instead.
      this.issuer = `https://cognito-idp.${stack.region}.${stack.urlSuffix}/${userPool.userPoolId}`;
      this.audience = client.userPoolClientId;
      consoleEnv = {
        SESAME_CONSOLE_ISSUER: this.issuer,
        SESAME_CONSOLE_CLIENT_ID: client.userPoolClientId,
        SESAME_CONSOLE_SCOPE: DEFAULT_SCOPE,
        // The hosted UI's origin: the console exchanges the code for tokens there (token endpoint), so its CSP lets it connect.
        SESAME_CONSOLE_CONNECT_SRC: domain.baseUrl(),
      };
      new CfnOutput(this, 'UserPoolId', { value: userPool.userPoolId, description: 'The operators’ Cognito user pool: add an operator with aws cognito-idp admin-create-user --user-pool-id <this> --username <email>' });
    }

    // --- The admin API ----------------------------------------------------------------
    const rules = certificateRules(props);
    this.adminFunction = sesameFunction(this, 'Admin', 'functions/admin/handler.ts', {
      description: 'Sesame admin API (operator console)',
      serviceName: 'sesame-admin',
      memorySize: 1024,
      // API Gateway waits 30 s at most for an integration.
      timeout: Duration.seconds(29),
      environment: {
        // New tenant and app secrets: the stack's key, never the AWS-managed one (SESAME_SECRET_PRINCIPALS is added by the stack).
        SESAME_KMS_KEY_ID: props.vault.key.keyArn,
        SESAME_BUCKET: props.bucket.bucketName,
        SESAME_ALERTS_TOPIC_ARN: props.alerts.topic.topicArn,
        ...rules.environment,
        // An external issuer signs in more people than the operators: the admin function keeps to this list.
        ...(external ? { SESAME_ADMIN_OPERATORS: external.operators.join(',') } : {}),
      },
      files: rules.files,
    });
    this.grantAdmin(this.adminFunction, props);

    // --- The page ---------------------------------------------------------------------
    this.consoleFunction = consoleFunction(this, 'Page', consoleEnv);

    // --- Routes on the shared HTTP API ------------------------------------------------
    // Both integrations add a lambda:InvokeFunction permission for apigateway.amazonaws.com scoped to this API and route path.
    const authorizer = new HttpJwtAuthorizer('Operators', this.issuer, { jwtAudience: [this.audience], identitySource: ['$request.header.Authorization'] });
    this.adminRoutes = props.api.addRoutes({ path: ADMIN_ROUTE, methods: [apigw.HttpMethod.ANY], integration: new HttpLambdaIntegration('Admin', this.adminFunction), authorizer });
    const page = new HttpLambdaIntegration('Console', this.consoleFunction);
    this.consoleRoutes = CONSOLE_ROUTES.flatMap((path) => props.api.addRoutes({ path, methods: [apigw.HttpMethod.GET], integration: page }));
    for (const route of this.consoleRoutes) {
      Validations.of(route).acknowledge({ id: 'AwsSolutions-APIG4', reason: 'The console page and its static assets are public by design: they hold no data, which comes from /v1/admin/* behind the JWT authorizer once the operator has logged in.' });
    }
    new CfnOutput(this, 'Url', { value: this.url, description: 'The operator console' });
  }

  /** The operators' Cognito user pool, its hosted UI and the console's public client. */
  private operatorPool(apiUrl: string, domainPrefix: string, adminEmails: string[]): { userPool: cognito.UserPool; client: cognito.UserPoolClient; domain: cognito.UserPoolDomain } {
    const userPool = new cognito.UserPool(this, 'Operators', {
      userPoolName: `${Stack.of(this).stackName}-operators`,
      // Operators are invited (config or admin-create-user), never self-registered.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      mfa: cognito.Mfa.REQUIRED,
      // An authenticator app: no SMS (SIM swapping, and no SNS spending limit to manage).
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: { minLength: 14, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true, tempPasswordValidity: Duration.days(3), passwordHistorySize: 5 },
      // No SMS recovery either: the verified email only.
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      // Threat protection (compromised credentials, risky sign-ins) blocks, not just logs; a handful of operators make its per-user price negligible.
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      userInvitation: {
        emailSubject: 'Sesame: your operator account / votre compte opérateur',
        emailBody: [
          'Bonjour, un compte opérateur Sesame a été créé pour vous.<br>',
          'Identifiant : {username}<br>Mot de passe temporaire : {####}<br>',
          `Connectez-vous sur ${apiUrl}/console/ : vous choisirez un mot de passe et configurerez une application d’authentification (TOTP).<br><br>`,
          'Hello, a Sesame operator account was created for you.<br>',
          'Username: {username}<br>Temporary password: {####}<br>',
          `Sign in at ${apiUrl}/console/: you will choose a password and set up an authenticator app (TOTP).`,
        ].join(''),
      },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const domain = userPool.addDomain('HostedUi', { cognitoDomain: { domainPrefix } });
    const client = userPool.addClient('Console', {
      userPoolClientName: 'sesame-console',
      // A browser app: a public client, authorization code with PKCE (Cognito checks the code_verifier whenever a code_challenge was sent).
      generateSecret: false,
      // The hosted UI signs in with SRP (the password never leaves the browser in clear); no password or custom flows for scripts.
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [`${apiUrl}/console/callback`],
        logoutUrls: [`${apiUrl}/console/`],
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      // Short-lived tokens: a stolen access token is worth 15 minutes; a session lasts a working day at most.
      accessTokenValidity: Duration.minutes(15),
      idTokenValidity: Duration.minutes(15),
      refreshTokenValidity: Duration.hours(8),
      // Each refresh token is used once (a public client cannot keep a secret); 10 s for two tabs refreshing together.
      refreshTokenRotationGracePeriod: Duration.seconds(10),
      // Time to sign in, including the first TOTP set-up.
      authSessionValidity: Duration.minutes(10),
    });
    // The operators listed in the config: Cognito emails each a temporary password; the first sign-in sets a password and TOTP.
    for (const email of adminEmails) {
      new cognito.CfnUserPoolUser(this, `Operator-${email.toLowerCase()}`, {
        userPoolId: userPool.userPoolId,
        username: email.toLowerCase(),
        userAttributes: [
          { name: 'email', value: email.toLowerCase() },
          // The address comes from the stack's owners: verified, so that account recovery can use it.
          { name: 'email_verified', value: 'true' },
        ],
        desiredDeliveryMediums: ['EMAIL'],
      });
    }
    return { userPool, client, domain };
  }

  /**
   * What the admin API does, and nothing more: read and list every Sesame secret (never
   * delete one), write new versions and tags, create tenant and app secrets as the CLI
   * does, and run console certificate uploads as the S3 intake does.
   */
  private grantAdmin(fn: LambdaFunction, props: OperatorConsoleProps): void {
    const { vault } = props;
    const all = [SECRET_PREFIXES.credentials, SECRET_PREFIXES.tenants, SECRET_PREFIXES.apps];
    // The overview comes from names and tags, page by page; ListSecrets has no resource-level permission in IAM.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:ListSecrets'], resources: ['*'] }));
    // A credential's fields (secret ones redacted before they leave the function), a tenant's record, an app's summary; current and previous versions.
    vault.grantRead(fn, ...all);
    // Tags and versions without the value (a credential's expiry, alert and certificate-verdict tags).
    vault.grantDescribe(fn, ...all);
    // New versions and tags: an edited tenant, an accepted certificate, a rotated or revoked app key, the certificate verdict.
    vault.grantWrite(fn, ...all);
    // Creating a tenant or an app, as `sesame --aws` does: under those prefixes only, and only with the stack's key
    // (the new secret's tags need secretsmanager:TagResource, granted above; encrypting it kms:GenerateDataKey and kms:Decrypt, granted above).
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:CreateSecret'],
        resources: [vault.arnFor(SECRET_PREFIXES.tenants), vault.arnFor(SECRET_PREFIXES.apps)],
        conditions: { StringEquals: { 'secretsmanager:KmsKeyArn': vault.key.keyArn } },
      }),
    );
    // The resource policy of every Sesame secret (secretPolicyDocument): set on a secret it creates, and set again on each
    // write, as the CLI's store does (a creation cut short must not leave a secret without it). Never a public policy.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:PutResourcePolicy'],
        resources: all.map((p) => vault.arnFor(p)),
        conditions: { Bool: { 'secretsmanager:BlockPublicPolicy': 'true' } },
      }),
    );
    // No secretsmanager:DeleteSecret: if setting the policy of a secret it just created fails, the store's clean-up is
    // refused and the secret stays, encrypted with the stack's key, until its next write sets the policy again.

    // Console uploads: the file lands in accepted/ or rejected/ and its report in reports/ (functions/core/intake.ts);
    // a file holding a private key is never written, so there is nothing to purge.
    const objects = (prefix: string) => props.bucket.arnForObjects(`${prefix}*`);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [objects('accepted/'), objects('rejected/'), objects('reports/')] }));
    // The credential page's last certificate report (reports/_latest/…).
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [objects('reports/')] }));
    // A credential never uploaded for has no report: S3 answers a GetObject on a missing key with 404 only to a caller
    // that may list the bucket, else 403 (an s3:prefix condition never matches a GetObject, which carries no prefix).
    // Listing shows object names (tenant/credential/file), which the function already knows from the secrets' names.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.bucket.bucketArn] }));
    // The bucket is SSE-KMS: reading a report needs Decrypt, writing a data key; through S3 only.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [vault.key.keyArn], conditions: vault.via('s3') }));
    // A refused upload is announced to the tenant's contacts, as from the S3 intake.
    props.alerts.grantPublish(fn);

    const role = fn.role as iam.IRole;
    acknowledgeWildcard(role, '*', 'ListSecrets has no resource-level permission in IAM (it returns names and tags, never values); X-Ray actions neither.');
    const bucketId = Stack.of(this).getLogicalId(props.bucket.node.defaultChild as s3.CfnBucket);
    for (const prefix of ['accepted', 'rejected', 'reports']) {
      acknowledgeWildcard(role, `<${bucketId}.Arn>/${prefix}/*`, `Uploads and reports are named ${prefix}/{tenant}/{credential}/{file}: the prefix is the unit of access.`);
    }
  }
}

/** The console's environment for an external issuer. */
function externalEnv(c: ExternalIssuer): Record<string, string> {
  return {
    SESAME_CONSOLE_ISSUER: c.issuer,
    SESAME_CONSOLE_CLIENT_ID: c.clientId,
    SESAME_CONSOLE_SCOPE: c.scope ?? DEFAULT_SCOPE,
    ...(c.resource ? { SESAME_CONSOLE_RESOURCE: c.resource } : {}),
    ...(c.connectSrc?.length ? { SESAME_CONSOLE_CONNECT_SRC: c.connectSrc.join(' ') } : {}),
  };
}

/**
 * The console function: functions/console/handler.ts, with the page built by
 * functions/console/build.ts shipped beside the bundle in `console/`. The page is built
 * only when the stack is bundled (`cdk synth`, `cdk deploy`), not for assertion tests.
 */
export function consoleFunction(scope: Construct, id: string, environment: Record<string, string>): LambdaFunction {
  const bundled = Stack.of(scope).bundlingRequired;
  const built = bundled ? mkdtempSync(join(tmpdir(), 'sesame-console-')) : undefined;
  try {
    if (built) buildConsoleSync(built);
    // Its role may write its logs and traces, nothing else: it reads only its own files.
    return sesameFunction(scope, id, 'functions/console/handler.ts', {
      description: 'Sesame operator console (static page)',
      serviceName: 'sesame-console',
      memorySize: 256,
      timeout: Duration.seconds(5),
      environment,
      ...(built ? { files: [{ source: built, name: CONSOLE_DIR }] } : {}),
    });
  } finally {
    // Bundling runs while the function is constructed: the files are in the asset by now.
    if (built) rmSync(built, { recursive: true, force: true });
  }
}

/**
 * `<stack name>-<account id>`: unique per region (Cognito's namespace for prefixes) as long
 * as one account deploys one stack of that name there; lower-case, without the words
 * Cognito refuses.
 */
export function derivedDomainPrefix(stack: Stack): string {
  const base =
    stack.stackName
      .toLowerCase()
      .replace(/aws|amazon|cognito/g, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 48)
      .replace(/-+$/, '') || 'sesame';
  return Token.isUnresolved(stack.account) ? Fn.join('-', [base, stack.account]) : `${base}-${stack.account}`;
}
