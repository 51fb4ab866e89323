import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { packageVersion } from '../functions/core/config.ts';

const ROOT = join(import.meta.dirname, '..');

/** Every Sesame function: ESM bundle, ARM64, Node 22, bounded log retention. */
export function sesameFunction(scope: Construct, id: string, entry: string, props: Partial<NodejsFunctionProps> = {}): NodejsFunction {
  return new NodejsFunction(scope, id, {
    entry: join(ROOT, entry),
    handler: 'handler',
    projectRoot: ROOT,
    depsLockFilePath: join(ROOT, 'package-lock.json'),
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 512,
    timeout: Duration.seconds(20),
    logGroup: new logs.LogGroup(scope, `${id}Logs`, { retention: logs.RetentionDays.THREE_MONTHS }),
    bundling: {
      format: OutputFormat.ESM,
      target: 'node22',
      minify: true,
      sourceMap: true,
      // Some dependencies still call require(): give the ESM bundle one.
      banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      externalModules: ['@aws-sdk/*'],
    },
    ...props,
    environment: {
      NODE_OPTIONS: '--enable-source-maps',
      SESAME_VERSION: packageVersion(),
      ...props.environment,
    },
  });
}
