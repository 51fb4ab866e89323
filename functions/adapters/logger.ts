import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../core/ports.ts';

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

/** Powertools logger: JSON lines with the Lambda context in AWS, the same lines locally. */
export function createLogger(serviceName: string, logLevel?: Level): Logger & Log {
  const level = logLevel ?? (process.env.POWERTOOLS_LOG_LEVEL as Level | undefined) ?? 'INFO';
  return new Logger({ serviceName, logLevel: level });
}
