import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createLogger } from '../adapters/logger.ts';
import { count, flushAudit, observability } from '../adapters/observability.ts';
import { awsDeps, secretCreationOf } from '../adapters/aws-deps.ts';
import { intakeAdapters } from '../adapters/aws-intake-adapters.ts';
import { systemParts } from '../adapters/parts.ts';
import { readConfig } from '../core/config.ts';
import { makeConnectHandler } from './connect.ts';

// Module scope: built once per Lambda execution environment, reused across invocations.
const log = createLogger('sesame-connect');
const { metrics } = observability('sesame-connect');
const config = readConfig();
// An FLA link's pending key pair is a new secret (`sesame-connect/<hash>`): created with the
// stack's key and resource policy (SESAME_KMS_KEY_ID, SESAME_SECRET_PRINCIPALS), as the admin
// function creates tenants; without them such a link answers the error page, saying nothing more.
const system = systemParts({ ...awsDeps(config, log, secretCreationOf(config)), ...intakeAdapters(config) });
// Without SESAME_STATE_TABLE there is no link: every path answers the one 404 page.
const serve = makeConnectHandler(system.connect, log);

export const connectHandler = async (event: APIGatewayProxyEventV2) => {
  const res = await serve(event);
  const status = res.statusCode ?? 500;
  count(metrics, status < 400 ? 'ConnectServed' : status >= 500 ? 'ConnectFailed' : 'ConnectRefused');
  await flushAudit(metrics, system.trail);
  return res;
};
// The page holds the link's own path (its token) in the form's action: the logger never
// records the event (no logEvent), and no tracer records the response.
export const handler = middy(connectHandler).use(logMetrics(metrics)).use(injectLambdaContext(log));
