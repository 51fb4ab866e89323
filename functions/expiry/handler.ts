import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { createLogger } from '../adapters/logger.ts';
import { count, observability } from '../adapters/observability.ts';
import { awsSystem } from '../adapters/system.ts';
import { readConfig, requireEnv } from '../core/config.ts';
import { makeExpiryHandler } from './expiry.ts';

const log = createLogger('sesame-expiry');
const { metrics, tracer } = observability('sesame-expiry');
requireEnv(process.env, 'SESAME_ALERTS_TOPIC_ARN');
const system = awsSystem(readConfig(), log);
const check = makeExpiryHandler(system.expiryCheck as NonNullable<typeof system.expiryCheck>);

export const expiryHandler = async (event: unknown) => {
  const summary = await check(event);
  count(metrics, 'ExpiryChecked', summary.checked);
  count(metrics, 'ExpiryAlerts', summary.alerting);
  count(metrics, 'ExpiryErrors', summary.errors);
  return summary;
};
export const handler = middy(expiryHandler).use(captureLambdaHandler(tracer)).use(logMetrics(metrics)).use(injectLambdaContext(log));
