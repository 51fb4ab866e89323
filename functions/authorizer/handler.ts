import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createLogger } from '../adapters/logger.ts';
import { count, observability } from '../adapters/observability.ts';
import { makeAuthorizerHandler } from './authorizer.ts';
import { authorizerSystem } from './wiring.ts';

const log = createLogger('sesame-authorizer');
const { metrics } = observability('sesame-authorizer');
const { keys, lookup } = authorizerSystem();
const authorize = makeAuthorizerHandler(keys, log, lookup);

export const authorizerHandler = async (event: Parameters<typeof authorize>[0]) => {
  const verdict = await authorize(event);
  count(metrics, verdict.isAuthorized ? 'AppKeyAccepted' : 'AppKeyRefused');
  return verdict;
};
export const handler = middy(authorizerHandler).use(logMetrics(metrics)).use(injectLambdaContext(log));
