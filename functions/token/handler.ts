import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createLogger } from '../adapters/logger.ts';
import { awsSystem } from '../adapters/system.ts';
import { readConfig } from '../core/config.ts';
import { makeTokenHandler } from './token.ts';

// Module scope: built once per Lambda execution environment, reused across invocations.
const log = createLogger('sesame-token');
const system = awsSystem(readConfig(), log);

export const tokenHandler = makeTokenHandler(system.api);
export const handler = middy(tokenHandler).use(injectLambdaContext(log));
