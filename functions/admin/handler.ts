import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { AdminEvent } from './admin.ts';
import { createLogger } from '../adapters/logger.ts';
import { count, flushAudit, observability } from '../adapters/observability.ts';
import { awsDeps, secretCreationOf } from '../adapters/aws-deps.ts';
import { intakeAdapters } from '../adapters/aws-intake-adapters.ts';
import { buildSystem } from '../adapters/system.ts';
import { readConfig } from '../core/config.ts';
import { makeAdminHandler } from './admin.ts';

// Module scope: built once per Lambda execution environment, reused across invocations.
const log = createLogger('sesame-admin');
const { metrics } = observability('sesame-admin');
const config = readConfig();
// Adding a tenant or an app creates its secret: with the stack's key and resource policy
// (SESAME_KMS_KEY_ID, SESAME_SECRET_PRINCIPALS), else such a request is refused, saying so.
const system = buildSystem({ ...awsDeps(config, log, secretCreationOf(config)), ...intakeAdapters(config) });
const serve = makeAdminHandler(system.admin, { operators: config.adminOperators });

export const adminHandler = async (event: AdminEvent) => {
  const res = await serve(event);
  const status = res.statusCode ?? 500;
  count(metrics, status < 400 ? 'AdminServed' : status >= 500 ? 'AdminFailed' : 'AdminRefused');
  await flushAudit(metrics, system.audit);
  return res;
};
export const handler = middy(adminHandler).use(logMetrics(metrics)).use(injectLambdaContext(log));
