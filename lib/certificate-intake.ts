import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { deadLetterQueue } from './operations.ts';
import { acknowledgeWildcard, stackChildren } from './acknowledge.ts';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import { Construct } from 'constructs';
import type { Alerts } from './alerts.ts';
import { certificateRules, sesameFunction } from './function.ts';
import { SECRET_PREFIXES, type SecretsVault } from './secrets-vault.ts';


/**
 * Certificate intake: operators upload to `incoming/{tenant}/{credential}/`, the function
 * checks each file and moves it to `accepted/` or `rejected/`, with a report in `reports/`.
 */
export class CertificateIntake extends Construct {
  readonly bucket: s3.Bucket;
  readonly function: LambdaFunction;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: { vault: SecretsVault; alerts: Alerts; chorusPolicyOids?: string[]; testPolicyOids?: string[]; /** A PEM bundle of Chorus Pro's trusted (RGS*) CAs, already checked. */ chorusTrustAnchorsFile?: string }) {
    super(scope, id);
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ expiration: Duration.days(365) }],
    });
    Validations.of(accessLogs).acknowledge({ id: 'AwsSolutions-S1', reason: 'This is the access-log bucket of the intake bucket; logging it into itself would loop.' });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      // S3 log delivery writes through the access-log bucket's policy, limited to this bucket as source (cdk.json's serverAccessLogsUseBucketPolicy).
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'intake/',
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.vault.key,
      bucketKeyEnabled: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      // Refused files and old versions are evidence for a while, not forever.
      lifecycleRules: [
        { prefix: 'rejected/', expiration: Duration.days(180) },
        { noncurrentVersionExpiration: Duration.days(365) },
      ],
    });

    // S3 invokes asynchronously: after two retries a failed event is kept for the operators.
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetters', 'the certificate function');
    const rules = certificateRules(props);
    this.function = sesameFunction(this, 'Function', 'functions/certificate/handler.ts', {
      deadLetterQueue: this.deadLetterQueue,
      description: 'Sesame certificate intake',
      serviceName: 'sesame-certificate',
      memorySize: 1024,
      timeout: Duration.seconds(30),
      environment: {
        SESAME_BUCKET: this.bucket.bucketName,
        SESAME_ALERTS_TOPIC_ARN: props.alerts.topic.topicArn,
        ...rules.environment,
      },
      files: rules.files,
    });
    const fn = this.function;
    const objects = (prefix: string) => this.bucket.arnForObjects(`${prefix}*`);
    // Whether an upload still exists, decided from its versions. Not HeadObject: S3
    // answers 403, not 404, on a missing key unless the caller holds s3:ListBucket as S3
    // evaluates it for that request, and a ListBucket limited by s3:prefix never matches a
    // HeadObject (the request carries no s3:prefix). So a redelivered event, whose object
    // was already moved, would fail instead of ending as "gone". Limited to incoming/.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucketVersions'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': ['incoming/*'] } } }));
    // Reading the exact version an event names, also as the source of the copy to accepted/ or rejected/.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObjectVersion'], resources: [objects('incoming/')] }));
    // Deleting exact versions: a plain delete only adds a marker, and a refused private key would stay readable.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObjectVersion'], resources: [objects('incoming/')] }));
    // The copy's destination, and the report of each decision.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [objects('accepted/'), objects('rejected/'), objects('reports/')] }));
    // The bucket is SSE-KMS: reading needs Decrypt, writing (copies, reports) a data key; through S3 only.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.vault.key.keyArn], conditions: props.vault.via('s3') }));
    // Checks an upload against the credential it is for, and the tenant's record.
    props.vault.grantRead(fn, SECRET_PREFIXES.credentials, SECRET_PREFIXES.tenants);
    // A declared placeholder's sesame:environment tag, when its body names no environment.
    props.vault.grantDescribe(fn, SECRET_PREFIXES.credentials);
    // An accepted certificate becomes the credential's new version and expiry tag.
    props.vault.grantWrite(fn, SECRET_PREFIXES.credentials);
    // Refusals are announced to the tenant's contacts.
    props.alerts.grantPublish(fn);

    // S3 invokes the function (a Lambda permission scoped to this bucket and account); no SNS or SQS in between, so no key use.
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(fn), { prefix: 'incoming/' });

    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    for (const prefix of ['incoming', 'accepted', 'rejected', 'reports']) {
      if (fn.role) acknowledgeWildcard(fn.role, `<${bucketId}.Arn>/${prefix}/*`, `Uploads are named ${prefix}/{tenant}/{credential}/{file}: the prefix is the unit of access.`);
    }
    // CDK's deploy-time handler: s3:PutBucketNotification on this bucket, and logs through the managed policy.
    for (const handler of stackChildren(this, 'BucketNotificationsHandler')) {
      Validations.of(handler).acknowledge({ id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'CDK’s own handler that configures bucket notifications at deploy time; its role is not configurable.' });
    }
  }
}
