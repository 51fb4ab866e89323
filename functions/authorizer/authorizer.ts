import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { bearerKey, principalToContext, type AppRecord, type Apps, type AuthorizerContext } from '../core/apps.ts';
import { describeError, isSesameError } from '../core/errors.ts';
import type { Log } from '../core/ports.ts';

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext | Record<string, never>>;

/**
 * Checks the app key only, not the route's tenant: API Gateway caches the answer per
 * key, so the tenant scope travels in the context and the token function enforces it.
 */
export function makeAuthorizerHandler(apps: Apps, log: Log, lookup?: (app: string) => Promise<AppRecord | undefined>) {
  return async (event: Pick<APIGatewayRequestAuthorizerEventV2, 'headers'>): Promise<AuthorizerResult> => {
    try {
      const principal = await apps.verify(bearerKey(event.headers?.authorization), lookup);
      return { isAuthorized: true, context: principalToContext(principal) };
    } catch (err) {
      if (!isSesameError(err, 'unauthorized')) throw err;
      log.info('app key refused', describeError(err));
      return { isAuthorized: false, context: {} };
    }
  };
}
