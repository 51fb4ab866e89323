import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { SecretsVault } from './secrets-vault.ts';

/** The alerts topic: refusals now, expiry warnings next; encrypted with the stack's key. */
export class Alerts extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: { vault: SecretsVault }) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Sesame alerts', masterKey: props.vault.key, enforceSSL: true });
  }

  /** Publish only, and the key use that publishing to an encrypted topic needs. */
  grantPublish(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.topic.topicArn] }));
  }
}
