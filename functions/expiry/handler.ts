import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createLogger } from '../adapters/logger.ts';
import { awsSystem } from '../adapters/system.ts';
import { readConfig, requireEnv } from '../core/config.ts';
import { makeExpiryHandler } from './expiry.ts';

const log = createLogger('sesame-expiry');
requireEnv(process.env, 'SESAME_ALERTS_TOPIC_ARN');
const system = awsSystem(readConfig(), log);

export const expiryHandler = makeExpiryHandler(system.expiryCheck as NonNullable<typeof system.expiryCheck>);
export const handler = middy(expiryHandler).use(injectLambdaContext(log));
