import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createLogger } from '../adapters/logger.ts';
import { awsSystem } from '../adapters/system.ts';
import { readConfig, requireEnv } from '../core/config.ts';
import { makeCertificateHandler } from './certificate.ts';

const log = createLogger('sesame-certificate');
// Fail at start, naming the variable, rather than at the first upload.
requireEnv(process.env, 'SESAME_BUCKET');
requireEnv(process.env, 'SESAME_ALERTS_TOPIC_ARN');
const system = awsSystem(readConfig(), log);

export const certificateHandler = makeCertificateHandler(system.intake as NonNullable<typeof system.intake>);
export const handler = middy(certificateHandler).use(injectLambdaContext(log));
