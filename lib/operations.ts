import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { SecretsVault } from './secrets-vault.ts';

/** Dead-letter queue of an asynchronous function: failed events kept 14 days. */
export function deadLetterQueue(scope: Construct, id: string, of: string): sqs.Queue {
  // SQS-managed SSE: senders (Lambda, the scheduler) need sqs:SendMessage and no key permission; the queue policy only refuses plain HTTP.
  const queue = new sqs.Queue(scope, id, { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
  Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: `This queue is the dead-letter queue of ${of}.` });
  return queue;
}

/**
 * What tells the operators something is wrong: an operations topic and the alarms on it.
 * (Alerts about credentials go to the other topic, to the people who renew them.)
 */
export class Operations extends Construct {
  readonly topic: sns.Topic;
  private readonly action: actions.SnsAction;

  constructor(scope: Construct, id: string, props: { vault: SecretsVault; email?: string }) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Sesame operations', masterKey: props.vault.key, enforceSSL: true });
    this.allowAlarms(props.vault);
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    this.action = new actions.SnsAction(this.topic);
  }

  /**
   * CloudWatch publishes alarm actions as the service, not as a role of this account: the
   * topic policy (which enforceSSL makes explicit, replacing SNS's default) and the key
   * policy must both name it, or every alarm fails with an authorization error.
   */
  private allowAlarms(vault: SecretsVault): void {
    const stack = Stack.of(this);
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    // Only this account's alarms, so the service cannot be used as a confused deputy from another account.
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
    };
    // Alarm actions publish to this topic.
    this.topic.addToResourcePolicy(new iam.PolicyStatement({ sid: 'CloudWatchAlarmsPublish', principals: [cloudwatch], actions: ['sns:Publish'], resources: [this.topic.topicArn], conditions: fromOurAlarms }));
    // Publishing to a KMS-encrypted topic needs a data key, asked for with the publisher's (here the service's) permission.
    vault.key.addToResourcePolicy(new iam.PolicyStatement({ sid: 'CloudWatchAlarmsToEncryptedTopics', principals: [cloudwatch], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'], conditions: fromOurAlarms }));
  }

  private alarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, props);
    alarm.addAlarmAction(this.action);
    return alarm;
  }

  /** Any error, any throttle. */
  watchFunction(name: string, fn: lambda.IFunction): void {
    this.alarm(`${name}Errors`, { alarmDescription: `Sesame ${name}: the function failed`, metric: fn.metricErrors({ period: Duration.minutes(5) }), threshold: 1, evaluationPeriods: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING });
    this.alarm(`${name}Throttles`, { alarmDescription: `Sesame ${name}: invocations were throttled`, metric: fn.metricThrottles({ period: Duration.minutes(5) }), threshold: 1, evaluationPeriods: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING });
  }

  /** A message in a dead-letter queue is an event that was never handled. */
  watchQueue(name: string, queue: sqs.IQueue): void {
    this.alarm(`${name}Depth`, { alarmDescription: `Sesame ${name}: events in the dead-letter queue`, metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }), threshold: 1, evaluationPeriods: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING });
  }

  /** The daily check must run: 26 hourly periods without an invocation is an alarm. */
  watchDailyRun(name: string, fn: lambda.IFunction): void {
    this.alarm(`${name}NotRun`, {
      alarmDescription: `Sesame ${name}: has not run for 26 hours`,
      metric: fn.metricInvocations({ period: Duration.hours(1), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 26,
      datapointsToAlarm: 26,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }

  /** More than 5 % of answers are 5xx, in 2 of 3 five-minute periods. */
  watchApi(name: string, api: apigw.HttpApi): void {
    const rate = new cloudwatch.MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { errors: api.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }), requests: api.metricCount({ period: Duration.minutes(5), statistic: 'Sum' }) },
      period: Duration.minutes(5),
      label: '5xx rate (%)',
    });
    this.alarm(`${name}ServerErrorRate`, { alarmDescription: `Sesame ${name}: more than 5 % of answers are 5xx`, metric: rate, threshold: 5, evaluationPeriods: 3, datapointsToAlarm: 2, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING });
  }
}
