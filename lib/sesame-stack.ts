import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { SecretsVault } from './secrets-vault.ts';
import { TokenApi } from './token-api.ts';
import { Alerts } from './alerts.ts';
import { CertificateIntake } from './certificate-intake.ts';
import { ExpiryWatch, type AlertRecipients } from './expiry-watch.ts';
import { Operations } from './operations.ts';
import type { SesameConfig } from './config.ts';
import { TenantSecrets } from './tenant-secrets.ts';
import type * as iam from 'aws-cdk-lib/aws-iam';

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

  constructor(scope: Construct, id: string, props: SesameStackProps = {}) {
    const { config, ...stackProps } = props;
    super(scope, id, stackProps);
    const recipients: AlertRecipients = {
      ...(config?.operatorEmail ? { operatorEmail: config.operatorEmail } : {}),
      tenants: (config?.tenants ?? []).map((t) => ({ id: t.id, alertEmails: t.alertEmails })),
    };
    const chorusPolicyOids = config?.chorusPolicyOids;
    const operationsEmail = config?.operationsEmail ?? config?.operatorEmail;
    const { throttle, domain } = config ?? {};
    this.vault = new SecretsVault(this, 'Secrets');
    this.tokenApi = new TokenApi(this, 'TokenApi', { vault: this.vault, ...(throttle ? { throttle } : {}), ...(domain ? { domain } : {}) });
    this.alerts = new Alerts(this, 'Alerts', { vault: this.vault });
    this.intake = new CertificateIntake(this, 'CertificateIntake', { vault: this.vault, alerts: this.alerts, ...(chorusPolicyOids ? { chorusPolicyOids } : {}) });
    this.expiry = new ExpiryWatch(this, 'ExpiryWatch', { vault: this.vault, alerts: this.alerts, recipients });
    if (config) {
      new TenantSecrets(this, 'Tenants', {
        vault: this.vault,
        config,
        readers: [this.tokenApi.tokenFunction.role, this.intake.function.role, this.expiry.function.role].filter((r): r is iam.IRole => r !== undefined),
      });
    }
    const ops = new Operations(this, 'Operations', { vault: this.vault, ...(operationsEmail ? { email: operationsEmail } : {}) });
    ops.watchFunction('Token', this.tokenApi.tokenFunction);
    ops.watchFunction('Authorizer', this.tokenApi.authorizerFunction);
    ops.watchFunction('Certificate', this.intake.function);
    ops.watchFunction('Expiry', this.expiry.function);
    ops.watchQueue('CertificateDeadLetters', this.intake.deadLetterQueue);
    ops.watchQueue('ExpiryDeadLetters', this.expiry.deadLetterQueue);
    ops.watchDailyRun('Expiry', this.expiry.function);
    ops.watchApi('TokenApi', this.tokenApi.api);
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topic.topicArn, description: 'Set SESAME_ALERTS_TOPIC_ARN to this for sesame --aws expiry check' });
    new CfnOutput(this, 'IntakeBucket', { value: this.intake.bucket.bucketName, description: 'Set SESAME_BUCKET to this for sesame --aws cert upload' });
    new CfnOutput(this, 'KmsKeyArn', { value: this.vault.key.keyArn, description: 'Set SESAME_KMS_KEY_ID to this when filling credentials with sesame --aws' });
  }
}
