import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { TokenEvent } from './token.ts';
import { createLogger } from '../adapters/logger.ts';
import { count, flushAudit, observability } from '../adapters/observability.ts';
import { readConfig } from '../core/config.ts';
import { makeTokenHandler } from './token.ts';
import { tokenSystem } from './wiring.ts';

// Module scope: built once per Lambda execution environment, reused across invocations.
const log = createLogger('sesame-token');
const { metrics } = observability('sesame-token');
const system = tokenSystem(readConfig(), log);
const vend = makeTokenHandler(system.api);

export const tokenHandler = async (event: TokenEvent) => {
  const res = await vend(event);
  count(metrics, (res.statusCode ?? 500) < 400 ? 'TokenServed' : (res.statusCode ?? 500) >= 500 ? 'TokenFailed' : 'TokenRefused');
  await flushAudit(metrics, system.audit);
  return res;
};
export const handler = middy(tokenHandler).use(logMetrics(metrics)).use(injectLambdaContext(log));
