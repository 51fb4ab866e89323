import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { SecretsVault } from './secrets-vault.ts';

/** The alerts topic: refusals now, expiry warnings next; encrypted with the stack's key. */
export class Alerts extends Construct {
  readonly topic: sns.Topic;
  private readonly vault: SecretsVault;

  constructor(scope: Construct, id: string, props: { vault: SecretsVault }) {
    super(scope, id);
    this.vault = props.vault;
    // No publish statement in the topic policy: publishers are this account's function
    // roles, which SNS lets publish on their identity policy alone (grantPublish).
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Sesame alerts', masterKey: props.vault.key, enforceSSL: true });
  }

  /** Publish only, and the key use that publishing to an encrypted topic needs. */
  grantPublish(grantee: iam.IGrantable): void {
    // Refusals and expiry warnings go to this topic only.
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.topic.topicArn] }));
    // SNS encrypts each message under a data key it asks KMS for with the publisher's permission.
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.vault.key.keyArn], conditions: this.vault.via('sns') }));
  }
}
