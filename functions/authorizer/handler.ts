import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createLogger } from '../adapters/logger.ts';
import { awsSystem } from '../adapters/system.ts';
import { readConfig } from '../core/config.ts';
import { makeAuthorizerHandler } from './authorizer.ts';

const log = createLogger('sesame-authorizer');
const system = awsSystem(readConfig(), log);

export const authorizerHandler = makeAuthorizerHandler(system.apps, log, system.appLookup);
export const handler = middy(authorizerHandler).use(injectLambdaContext(log));
