import { AssetHashType, DockerImage, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { cpSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageVersion } from '../functions/core/config.ts';

const ROOT = join(import.meta.dirname, '..');

/** What a function may set beside what sesameFunction sets for all. */
export type SesameFunctionProps = Partial<Omit<lambda.FunctionProps, 'code' | 'handler' | 'runtime' | 'role'>>;

/**
 * A function's asset: esbuild, as an ESM bundle for Node 22 with the AWS SDK left to the
 * runtime, split at each dynamic `import()` (chunks/), so that what a function loads
 * only for some requests (the certificate parser, the key generator) is neither loaded
 * nor parsed at its start. CDK's NodejsFunction bundles to one file and cannot split.
 */
export function bundleFunction(entry: string, outdir: string, files: { source: string; name: string }[] = []): void {
  buildSync({
    entryPoints: { index: entry },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    mainFields: ['module', 'main'],
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    // Stack traces need the map's positions, not the sources: the map stays a fraction of its size.
    sourcemap: true,
    sourcesContent: false,
    // Some dependencies still call require(): give each ESM file one.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    external: ['@aws-sdk/*'],
    logLevel: 'warning',
  });
  for (const f of files) cpSync(f.source, join(outdir, f.name), { recursive: true });
}

/**
 * Every Sesame function: ESM bundle (bundleFunction), ARM64, Node 22, X-Ray tracing, and
 * a role of its own that may write to its log group only (no AWS managed policy).
 */
export function sesameFunction(
  scope: Construct,
  id: string,
  entry: string,
  props: SesameFunctionProps & {
    serviceName: string;
    /** For asynchronous triggers: two retries, then the event is kept here. */
    deadLetterQueue?: sqs.IQueue;
    /**
     * Files or whole directories shipped beside the bundle (in /var/task/<name>): data too
     * large for environment variables (4 KB in all), or static assets a function serves.
     * `source` must exist when the stack is bundled (built before, e.g. the console's files).
     */
    files?: { source: string; name: string }[];
  },
): lambda.Function {
  const { serviceName, deadLetterQueue, files = [], ...rest } = props;
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: logs.RetentionDays.THREE_MONTHS });
  const role = new iam.Role(scope, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `Sesame ${serviceName}` });
  // Its own log group only: the group exists already, so no logs:CreateLogGroup.
  role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn, `${logGroup.logGroupArn}:log-stream:*`] }));
  const code = lambda.Code.fromAsset(ROOT, {
    // Hashed from the bundle: the same sources give the same asset, whatever else the repository holds.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: bundling is local (esbuild is a dependency) and fails loudly rather than falling back.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
      // Names the entry: CDK keys its asset cache on these options, one asset per function.
      command: ['esbuild', relative(ROOT, join(ROOT, entry)), ...files.map((f) => f.name)],
      local: {
        tryBundle: (outputDir: string) => {
          bundleFunction(join(ROOT, entry), outputDir, files);
          return true;
        },
      },
    },
  });
  const fn = new lambda.Function(scope, id, {
    code,
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 512,
    timeout: Duration.seconds(20),
    role,
    logGroup,
    // Active tracing grants xray:PutTraceSegments and PutTelemetryRecords on "*": X-Ray has no resource-level permission.
    tracing: lambda.Tracing.ACTIVE,
    ...(deadLetterQueue ? { retryAttempts: 2, onFailure: sendOnlyDestination(role, deadLetterQueue) } : {}),
    ...rest,
    // No NODE_OPTIONS=--enable-source-maps: Node parses every map at load, about 5 ms of
    // each cold start; the maps stay in the asset, for a stack trace read offline or for
    // a function given that option while it is being debugged.
    environment: {
      SESAME_VERSION: packageVersion(),
      POWERTOOLS_SERVICE_NAME: serviceName,
      POWERTOOLS_METRICS_NAMESPACE: 'Sesame',
      ...rest.environment,
    },
  });
  Validations.of(role).acknowledge(
    { id: 'AwsSolutions-IAM5[Resource::<' + Stack.of(scope).getLogicalId(logGroup.node.defaultChild as logs.CfnLogGroup) + '.Arn>:log-stream:*]', reason: 'Log streams are created at run time; the wildcard stays inside this function’s own log group.' },
    { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permission; added by Lambda active tracing.' },
  );
  Validations.of(fn).acknowledge({ id: 'AwsSolutions-L1', reason: 'nodejs22.x is the runtime this project targets and tests against (local development on Node 20/22); moving to a newer runtime is a deliberate, tested change.' });
  return fn;
}

/** What the functions that judge certificates or dates are told (the intake, the admin API's uploads, connect links). */
export interface CertificateRules {
  chorusPolicyOids?: string[] | undefined;
  testPolicyOids?: string[] | undefined;
  /** A PEM bundle of Chorus Pro's trusted (RGS*) CAs, already checked. */
  chorusTrustAnchorsFile?: string | undefined;
  thresholds?: number[] | undefined;
}

const TRUST_ANCHORS_FILE = 'chorus-trust-anchors.pem';

/**
 * Those rules as a function's environment, and the trust anchor bundle as a file shipped
 * beside the bundle (in Lambda's task root): environment variables cannot hold it.
 */
export function certificateRules(rules: CertificateRules): { environment: Record<string, string>; files: { source: string; name: string }[] } {
  return {
    environment: {
      ...(rules.chorusPolicyOids?.length ? { SESAME_CHORUS_POLICY_OIDS: rules.chorusPolicyOids.join(',') } : {}),
      ...(rules.testPolicyOids?.length ? { SESAME_TEST_POLICY_OIDS: rules.testPolicyOids.join(',') } : {}),
      ...(rules.chorusTrustAnchorsFile ? { SESAME_CHORUS_TRUST_ANCHORS: `/var/task/${TRUST_ANCHORS_FILE}` } : {}),
      ...(rules.thresholds?.length ? { SESAME_EXPIRY_THRESHOLDS: rules.thresholds.join(',') } : {}),
    },
    files: rules.chorusTrustAnchorsFile ? [{ source: rules.chorusTrustAnchorsFile, name: TRUST_ANCHORS_FILE }] : [],
  };
}

/**
 * An on-failure SQS destination whose grant is the one Lambda uses: CDK's SqsDestination
 * also grants sqs:GetQueueAttributes and sqs:GetQueueUrl, which Lambda never calls.
 */
function sendOnlyDestination(role: iam.Role, queue: sqs.IQueue): lambda.IDestination {
  return {
    bind: () => {
      // Lambda sends the failed event with the function's role; the queue is SQS-managed SSE, so no key use.
      role.addToPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
      return { destination: queue.queueArn };
    },
  };
}
