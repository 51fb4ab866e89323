import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { bearerKey, principalToContext, type AppKeys, type AppLookup, type AuthorizerContext, type Principal } from '../core/app-keys.ts';
import { describeError, isSesameError } from '../core/errors.ts';
import type { Log } from '../core/ports.ts';

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext | Record<string, never>>;

/**
 * Checks the app key only, not the route's tenant: API Gateway caches the answer per
 * key (AUTHORIZER_CACHE_SECONDS), so the tenant scope travels in the context and the
 * token function enforces it.
 */
export function makeAuthorizerHandler(apps: Pick<AppKeys, 'verify'>, log: Log, lookup?: AppLookup) {
  // A cached app record gives the same Principal object each time: its context is built once.
  const contexts = new WeakMap<Principal, AuthorizerContext>();
  const contextOf = (p: Principal) => {
    let c = contexts.get(p);
    // Frozen: the one object every verdict of this principal hands out, never changed by a caller.
    if (!c) contexts.set(p, (c = Object.freeze(principalToContext(p))));
    return c;
  };
  return async (event: Pick<APIGatewayRequestAuthorizerEventV2, 'headers'>): Promise<AuthorizerResult> => {
    try {
      const principal = await apps.verify(bearerKey(event.headers?.authorization), lookup);
      return { isAuthorized: true, context: contextOf(principal) };
    } catch (err) {
      if (!isSesameError(err, 'unauthorized')) throw err;
      log.info('app key refused', describeError(err));
      return { isAuthorized: false, context: {} };
    }
  };
}
