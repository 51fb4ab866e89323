import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Duration, TimeZone } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { acknowledgeWildcard } from './acknowledge.ts';
import * as iam from 'aws-cdk-lib/aws-iam';
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
  readonly function: LambdaFunction;
  readonly schedule: scheduler.Schedule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: { vault: SecretsVault; alerts: Alerts; recipients?: AlertRecipients; thresholds?: number[] }) {
    super(scope, id);
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters', 'the expiry schedule and function');
    this.function = sesameFunction(this, 'Function', 'functions/expiry/handler.ts', {
      deadLetterQueue: this.deadLetterQueue,
      description: 'Sesame expiry watch',
      serviceName: 'sesame-expiry',
      // The expiry check reads tags (seconds); the health check after it spaces its calls to each platform (minutes).
      timeout: Duration.minutes(15),
      environment: {
        SESAME_ALERTS_TOPIC_ARN: props.alerts.topic.topicArn,
        ...(props.thresholds?.length ? { SESAME_EXPIRY_THRESHOLDS: props.thresholds.join(',') } : {}),
      },
    });
    const fn = this.function;
    // ListSecrets has no resource-level permission in IAM: "*" is the only form AWS accepts.
    // It returns names and tags, never values.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:ListSecrets'], resources: ['*'] }));
    // The credentials that are due, and their tenants' records, to write the alert.
    props.vault.grantRead(fn, SECRET_PREFIXES.credentials, SECRET_PREFIXES.tenants);
    // The alert state lives in the credential's tags, so that each run starts from what was sent.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:TagResource'], resources: [props.vault.arnFor(SECRET_PREFIXES.credentials)] }));
    // Expiry warnings go to the alerts topic.
    props.alerts.grantPublish(fn);

    // The scheduler invokes through a role (CDK's per-target singleton, trusted by scheduler.amazonaws.com
    // for this account's default schedule group only); the function needs no resource policy for it.
    this.schedule = new scheduler.Schedule(this, 'Daily', {
      description: 'Sesame expiry check, every day at 06:00 Paris time',
      schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '6', timeZone: TimeZone.EUROPE_PARIS }),
      target: new InvokeUnqualified(fn, { retryAttempts: 2, deadLetterQueue: this.deadLetterQueue }),
    });
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

/**
 * LambdaInvoke, granting what the schedule invokes and nothing more: CDK's grantInvoke
 * adds `<function>:*`, every version and alias, while the target is the unqualified ARN.
 * (The base class adds sqs:SendMessage on the dead-letter queue, the one call the
 * scheduler makes there; the queue is SQS-managed SSE, so no key use.)
 */
class InvokeUnqualified extends targets.LambdaInvoke {
  private readonly target: lambda.IFunction;

  constructor(target: lambda.IFunction, props: targets.ScheduleTargetBaseProps) {
    super(target, props);
    this.target = target;
  }

  protected override addTargetActionToRole(role: iam.IRole): void {
    // Invoking the function, unqualified, as the schedule's target.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.target.functionArn] }));
  }
}
