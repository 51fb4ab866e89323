import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { S3Event } from 'aws-lambda';
import { createLogger } from '../adapters/logger.ts';
import { count, flushAudit, observability } from '../adapters/observability.ts';
import { awsDeps } from '../adapters/aws-deps.ts';
import { S3ObjectStore } from '../adapters/s3-object-store.ts';
import { SnsNotifier } from '../adapters/sns-notifier.ts';
import { systemParts } from '../adapters/parts.ts';
import { readConfig, requireEnv } from '../core/config.ts';
import { makeCertificateHandler } from './certificate.ts';

const log = createLogger('sesame-certificate');
const { metrics } = observability('sesame-certificate');
// Fail at start, naming the variable, rather than at the first upload.
const bucket = requireEnv(process.env, 'SESAME_BUCKET');
const topic = requireEnv(process.env, 'SESAME_ALERTS_TOPIC_ARN');
const system = systemParts({ ...awsDeps(readConfig(), log), objects: new S3ObjectStore(bucket), notifier: new SnsNotifier(topic) });
const intake = makeCertificateHandler(system.intake as NonNullable<typeof system.intake>);

export const certificateHandler = async (event: S3Event) => {
  const result = await intake(event);
  for (const o of result.outcomes) count(metrics, `Certificate${o.outcome.charAt(0).toUpperCase()}${o.outcome.slice(1)}`);
  await flushAudit(metrics, system.trail);
  return result;
};
export const handler = middy(certificateHandler).use(logMetrics(metrics)).use(injectLambdaContext(log));
