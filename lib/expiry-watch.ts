import { Duration, Stack, TimeZone } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { acknowledgeWildcard, stackChildren } from './acknowledge.ts';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { deadLetterQueue } from './operations.ts';
import { Construct } from 'constructs';
import type { Alerts } from './alerts.ts';
import { sesameFunction } from './function.ts';
import { SECRET_PREFIXES, type SecretsVault } from './secrets-vault.ts';

export interface AlertRecipients {
  /** Receives every alert. */
  operatorEmail?: string;
  /** Each address receives its own tenant's alerts only (a filter policy on `tenant`). */
  tenants?: { id: string; alertEmails: string[] }[];
}

/** The daily expiry check (06:00 Europe/Paris) and who its alerts reach. */
export class ExpiryWatch extends Construct {
  readonly function: NodejsFunction;
  readonly schedule: scheduler.Schedule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: { vault: SecretsVault; alerts: Alerts; recipients?: AlertRecipients; thresholds?: number[] }) {
    super(scope, id);
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters', 'the expiry schedule and function');
    this.function = sesameFunction(this, 'Function', 'functions/expiry/handler.ts', {
      deadLetterQueue: this.deadLetterQueue,
      description: 'Sesame expiry watch',
      serviceName: 'sesame-expiry',
      timeout: Duration.minutes(5),
      environment: {
        SESAME_ALERTS_TOPIC_ARN: props.alerts.topic.topicArn,
        ...(props.thresholds?.length ? { SESAME_EXPIRY_THRESHOLDS: props.thresholds.join(',') } : {}),
      },
    });
    const fn = this.function;
    // ListSecrets has no resource-level permission in IAM: "*" is the only form AWS accepts.
    // It returns names and tags, never values.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:ListSecrets'], resources: ['*'] }));
    props.vault.grantRead(fn, SECRET_PREFIXES.credentials, SECRET_PREFIXES.tenants);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:TagResource'], resources: [props.vault.arnFor(SECRET_PREFIXES.credentials)] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [props.vault.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sns.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
    props.alerts.grantPublish(fn);

    this.schedule = new scheduler.Schedule(this, 'Daily', {
      description: 'Sesame expiry check, every day at 06:00 Paris time',
      schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '6', timeZone: TimeZone.EUROPE_PARIS }),
      target: new targets.LambdaInvoke(fn, { retryAttempts: 2, deadLetterQueue: this.deadLetterQueue }),
    });

    const fnId = Stack.of(this).getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
    for (const role of stackChildren(this, 'SchedulerRoleForTarget')) {
      acknowledgeWildcard(role, `<${fnId}.Arn>:*`, 'CDK’s scheduler role may invoke any version of the expiry function, and only that function.');
    }
    acknowledgeWildcard(fn.role as iam.IRole, '*', 'ListSecrets has no resource-level permission in IAM (it returns names and tags, never values); X-Ray actions neither.');

    const topic = props.alerts.topic;
    if (props.recipients?.operatorEmail) topic.addSubscription(new subscriptions.EmailSubscription(props.recipients.operatorEmail));
    for (const t of props.recipients?.tenants ?? []) {
      for (const email of t.alertEmails) {
        topic.addSubscription(
          new subscriptions.EmailSubscription(email, { filterPolicy: { tenant: sns.SubscriptionFilter.stringFilter({ allowlist: [t.id] }) } }),
        );
      }
    }
  }
}
