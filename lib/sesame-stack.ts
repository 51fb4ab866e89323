import { CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { resolve } from 'node:path';
import { trustAnchorsFrom } from '../functions/core/trust-anchors.ts';
import { SECRET_PRINCIPALS_OUTPUT } from '../functions/core/secret-policy.ts';
import { SecretsVault } from './secrets-vault.ts';
import { TokenApi } from './token-api.ts';
import { Alerts } from './alerts.ts';
import { CertificateIntake } from './certificate-intake.ts';
import { ExpiryWatch, type AlertRecipients } from './expiry-watch.ts';
import { Operations } from './operations.ts';
import { OperatorConsole } from './operator-console.ts';
import type { SesameConfig } from './config.ts';
import { TenantSecrets } from './tenant-secrets.ts';
import { StateTable } from './state-table.ts';
import { ConnectLinks } from './connect-links.ts';
import { PENDING_KEY_PREFIX } from '../functions/core/connect.ts';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/** The one Sesame stack: capabilities composed over one secrets vault. */
export interface SesameStackProps extends StackProps {
  /** sesame.config.json, validated (lib/config.ts). Without it: no declared tenants nor recipients. */
  config?: SesameConfig;
}

export class SesameStack extends Stack {
  readonly vault: SecretsVault;
  readonly tokenApi: TokenApi;
  readonly alerts: Alerts;
  readonly intake: CertificateIntake;
  readonly expiry: ExpiryWatch;
  readonly operatorConsole: OperatorConsole;
  /** Connect links and other small records; a function uses it only once granted (StateTable.grantReadWrite). */
  readonly state: StateTable;
  /** The connect link pages (`/connect/{token}` on the token API's HTTP API). */
  readonly connectLinks: ConnectLinks;
  /**
   * Who may touch any Sesame secret at all (the resource policy of every secret, declared
   * here or created by `sesame --aws`, the admin API or a connect link): the six functions
   * that use secrets, the admin role, and CDK's deployment role, which creates and updates the
   * declared secrets.
   */
  readonly secretPrincipals: string[];

  constructor(scope: Construct, id: string, props: SesameStackProps = {}) {
    const { config, ...stackProps } = props;
    super(scope, id, stackProps);
    const recipients: AlertRecipients = {
      ...(config?.operatorEmail ? { operatorEmail: config.operatorEmail } : {}),
      tenants: (config?.tenants ?? []).map((t) => ({ id: t.id, alertEmails: t.alertEmails })),
    };
    const { chorusPolicyOids, testPolicyOids, expiryThresholds: thresholds } = config ?? {};
    // Read and checked now: a bad bundle stops the synth, naming the field, rather than every upload later.
    const chorusTrustAnchorsFile = config?.chorusTrustAnchors ? resolve(config.chorusTrustAnchors) : undefined;
    if (chorusTrustAnchorsFile) trustAnchorsFrom(chorusTrustAnchorsFile, 'sesame.config.json: field "chorusTrustAnchors"');
    const operationsEmail = config?.operationsEmail ?? config?.operatorEmail;
    const { throttle, domain } = config ?? {};
    this.vault = new SecretsVault(this, 'Secrets');
    this.state = new StateTable(this, 'State', { key: this.vault.key });
    this.tokenApi = new TokenApi(this, 'TokenApi', { vault: this.vault, state: this.state, ...(throttle ? { throttle } : {}), ...(domain ? { domain } : {}) });
    this.alerts = new Alerts(this, 'Alerts', { vault: this.vault });
    this.intake = new CertificateIntake(this, 'CertificateIntake', { vault: this.vault, alerts: this.alerts, ...(chorusPolicyOids ? { chorusPolicyOids } : {}), ...(testPolicyOids ? { testPolicyOids } : {}), ...(chorusTrustAnchorsFile ? { chorusTrustAnchorsFile } : {}) });
    this.expiry = new ExpiryWatch(this, 'ExpiryWatch', { vault: this.vault, alerts: this.alerts, recipients, ...(thresholds ? { thresholds } : {}) });
    this.operatorConsole = new OperatorConsole(this, 'Console', {
      api: this.tokenApi.api,
      url: this.tokenApi.url,
      vault: this.vault,
      alerts: this.alerts,
      bucket: this.intake.bucket,
      ...(config?.console ? { console: config.console } : {}),
      ...(chorusPolicyOids ? { chorusPolicyOids } : {}),
      ...(testPolicyOids ? { testPolicyOids } : {}),
      ...(chorusTrustAnchorsFile ? { chorusTrustAnchorsFile } : {}),
      ...(thresholds ? { thresholds } : {}),
    });
    this.connectLinks = new ConnectLinks(this, 'Connect', {
      api: this.tokenApi.api,
      url: this.tokenApi.url,
      vault: this.vault,
      state: this.state,
      alerts: this.alerts,
      bucket: this.intake.bucket,
      ...(chorusPolicyOids ? { chorusPolicyOids } : {}),
      ...(testPolicyOids ? { testPolicyOids } : {}),
      ...(chorusTrustAnchorsFile ? { chorusTrustAnchorsFile } : {}),
      ...(thresholds ? { thresholds } : {}),
    });

    // Operators create connect links from the console, and renewal alerts carry fresh ones:
    // both functions write link records (never a secret) and build the links' URLs.
    for (const fn of [this.operatorConsole.adminFunction, this.expiry.function]) {
      this.state.grantReadWrite(fn);
      fn.addEnvironment('SESAME_STATE_TABLE', this.state.tableName);
      fn.addEnvironment('SESAME_PUBLIC_URL', this.tokenApi.url);
      // A newer link replaces an FLA link's key pair; the expiry run sweeps those of links no longer usable.
      this.vault.grantDelete(fn, PENDING_KEY_PREFIX);
    }

    // The audit trail (functions/core/audit.ts) is in the state table: every function that does something records it.
    // The intake gets the table for its certificate verdicts only.
    this.intake.function.addEnvironment('SESAME_STATE_TABLE', this.state.tableName);
    for (const fn of [this.tokenApi.tokenFunction, this.intake.function, this.expiry.function, this.operatorConsole.adminFunction, this.connectLinks.function]) this.state.grantAuditWrite(fn);

    // The console function touches no secret: it is not among them.
    const functions: lambda.IFunction[] = [this.tokenApi.tokenFunction, this.tokenApi.authorizerFunction, this.intake.function, this.expiry.function, this.operatorConsole.adminFunction, this.connectLinks.function];
    this.secretPrincipals = [
      ...functions.map((fn) => {
        if (!fn.role) throw new Error(`${fn.node.path} has no role`);
        return fn.role.roleArn;
      }),
      ...(config ? [config.adminRoleArn] : []),
      `arn:${this.partition}:iam::${this.account}:role/cdk-*-cfn-exec-role-*`,
    ];
    if (config) new TenantSecrets(this, 'Tenants', { vault: this.vault, config, allowed: this.secretPrincipals });
    // The admin API creates tenant and app secrets with the same resource policy as the CLI and the stack.
    this.operatorConsole.adminFunction.addEnvironment('SESAME_SECRET_PRINCIPALS', Fn.join(',', this.secretPrincipals));
    // A connect link for FLA creates its pending key secret with that same policy.
    this.connectLinks.function.addEnvironment('SESAME_SECRET_PRINCIPALS', Fn.join(',', this.secretPrincipals));

    const ops = new Operations(this, 'Operations', { vault: this.vault, ...(operationsEmail ? { email: operationsEmail } : {}) });
    ops.watchFunction('Token', this.tokenApi.tokenFunction);
    ops.watchFunction('Authorizer', this.tokenApi.authorizerFunction);
    ops.watchFunction('Certificate', this.intake.function);
    ops.watchFunction('Expiry', this.expiry.function);
    ops.watchFunction('Admin', this.operatorConsole.adminFunction);
    ops.watchFunction('Console', this.operatorConsole.consoleFunction);
    ops.watchFunction('Connect', this.connectLinks.function);
    ops.watchQueue('CertificateDeadLetters', this.intake.deadLetterQueue);
    ops.watchQueue('ExpiryDeadLetters', this.expiry.deadLetterQueue);
    ops.watchDailyRun('Expiry', this.expiry.function);
    ops.watchApi('TokenApi', this.tokenApi.api);
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topic.topicArn, description: 'Set SESAME_ALERTS_TOPIC_ARN to this for sesame --aws expiry check' });
    new CfnOutput(this, 'IntakeBucket', { value: this.intake.bucket.bucketName, description: 'Set SESAME_BUCKET to this for sesame --aws cert upload' });
    new CfnOutput(this, 'StateTable', { value: this.state.tableName, description: 'Set SESAME_STATE_TABLE to this for sesame --aws connect' });
    new CfnOutput(this, 'KmsKeyArn', { value: this.vault.key.keyArn, description: 'Set SESAME_KMS_KEY_ID to this when filling credentials with sesame --aws' });
    new CfnOutput(this, SECRET_PRINCIPALS_OUTPUT, {
      value: Fn.join(',', this.secretPrincipals),
      description: 'The principals allowed on Sesame secrets, comma-separated: sesame --aws applies them in the resource policy of every secret it creates',
    });
  }
}
