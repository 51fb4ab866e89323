import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createLogger } from '../adapters/logger.ts';
import { count, flushAudit, observability } from '../adapters/observability.ts';
import { awsDeps } from '../adapters/aws-deps.ts';
import { SnsNotifier } from '../adapters/sns-notifier.ts';
import { systemParts } from '../adapters/parts.ts';
import { readConfig, requireEnv } from '../core/config.ts';
import { describeError } from '../core/errors.ts';
import { readHealthConfig } from '../core/health.ts';
import { makeExpiryHandler } from './expiry.ts';

const log = createLogger('sesame-expiry');
const { metrics } = observability('sesame-expiry');
const topic = requireEnv(process.env, 'SESAME_ALERTS_TOPIC_ARN');
const system = systemParts({ ...awsDeps(readConfig(), log), notifier: new SnsNotifier(topic) });
const health = readHealthConfig().enabled ? system.healthCheck : undefined;
const check = makeExpiryHandler(system.expiryCheck as NonNullable<typeof system.expiryCheck>, health, (err) => log.error('health check failed', describeError(err)));

export const expiryHandler = async (event: unknown) => {
  const summary = await check(event);
  count(metrics, 'ExpiryChecked', summary.checked);
  count(metrics, 'ExpiryAlerts', summary.alerting);
  count(metrics, 'ExpiryErrors', summary.errors);
  if (summary.health && 'checked' in summary.health) {
    count(metrics, 'HealthChecked', summary.health.checked);
    count(metrics, 'HealthFailed', summary.health.failed);
    count(metrics, 'HealthAlerts', summary.health.alerts.length);
    count(metrics, 'HealthErrors', summary.health.errors);
  } else if (summary.health) count(metrics, 'HealthErrors', 1);
  await flushAudit(metrics, system.trail);
  return summary;
};
export const handler = middy(expiryHandler).use(logMetrics(metrics)).use(injectLambdaContext(log));
