import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { AdminEvent } from './admin.ts';
import { createLogger } from '../adapters/logger.ts';
import { count, flushAudit, observability } from '../adapters/observability.ts';
import { awsSystem } from '../adapters/system.ts';
import { readConfig } from '../core/config.ts';
import { makeAdminHandler } from './admin.ts';

// Module scope: built once per Lambda execution environment, reused across invocations.
const log = createLogger('sesame-admin');
const { metrics, tracer } = observability('sesame-admin');
const config = readConfig();
// Adding a tenant or an app creates its secret: with the stack's key and resource policy
// (SESAME_KMS_KEY_ID, SESAME_SECRET_PRINCIPALS), else such a request is refused, saying so.
const { kmsKeyId, secretPrincipals } = config;
const system = awsSystem(config, log, kmsKeyId && secretPrincipals ? { creation: async () => ({ kmsKeyId, principals: secretPrincipals }) } : {});
const serve = makeAdminHandler(system.admin, { operators: config.adminOperators });

export const adminHandler = async (event: AdminEvent) => {
  const res = await serve(event);
  const status = res.statusCode ?? 500;
  count(metrics, status < 400 ? 'AdminServed' : status >= 500 ? 'AdminFailed' : 'AdminRefused');
  await flushAudit(metrics, system.audit);
  return res;
};
export const handler = middy(adminHandler).use(captureLambdaHandler(tracer)).use(logMetrics(metrics)).use(injectLambdaContext(log));
