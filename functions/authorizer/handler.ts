import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { createLogger } from '../adapters/logger.ts';
import { count, observability } from '../adapters/observability.ts';
import { awsSystem } from '../adapters/system.ts';
import { readConfig } from '../core/config.ts';
import { makeAuthorizerHandler } from './authorizer.ts';

const log = createLogger('sesame-authorizer');
const { metrics, tracer } = observability('sesame-authorizer');
const system = awsSystem(readConfig(), log);
const authorize = makeAuthorizerHandler(system.apps, log, system.appLookup);

export const authorizerHandler = async (event: Parameters<typeof authorize>[0]) => {
  const verdict = await authorize(event);
  count(metrics, verdict.isAuthorized ? 'AppKeyAccepted' : 'AppKeyRefused');
  return verdict;
};
export const handler = middy(authorizerHandler).use(captureLambdaHandler(tracer)).use(logMetrics(metrics)).use(injectLambdaContext(log));
