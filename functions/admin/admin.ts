import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Operator } from '../core/admin.ts';
import type { AdminApi } from '../core/admin-api.ts';

/**
 * An HTTP API (payload 2.0) event behind a JWT authorizer, which has verified the token
 * (issuer, audience, expiry, signature) and passes its claims. Locally, the server's own
 * JWT check builds the same event. The authorizer part is optional: a route left
 * unprotected by mistake arrives without it, and the API refuses it.
 */
export type AdminEvent = Omit<APIGatewayProxyEventV2WithJWTAuthorizer, 'requestContext'> & {
  requestContext: Omit<APIGatewayProxyEventV2WithJWTAuthorizer['requestContext'], 'authorizer'> & {
    authorizer?: { jwt?: { claims?: Record<string, unknown>; scopes?: string[] | null } };
  };
};

const claim = (claims: Record<string, unknown>, name: string): string | undefined => {
  const v = claims[name];
  return typeof v === 'string' && v !== '' ? v.slice(0, 320) : undefined;
};

/** The operator from verified claims: `sub`, and a name (`username`, Cognito's `cognito:username`) and `email` when present. */
export function operatorFromClaims(claims: Record<string, unknown> | undefined): Operator | undefined {
  if (!claims) return undefined;
  const sub = claim(claims, 'sub');
  if (!sub) return undefined;
  const username = claim(claims, 'username') ?? claim(claims, 'cognito:username') ?? claim(claims, 'preferred_username');
  const email = claim(claims, 'email');
  return { sub, ...(username ? { username } : {}), ...(email ? { email } : {}) };
}

/** The admin function, unwrapped: API Gateway event in, API response out. */
export function makeAdminHandler(admin: AdminApi) {
  return async (event: AdminEvent): Promise<APIGatewayProxyStructuredResultV2> => {
    const body = event.body !== undefined && event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (typeof v === 'string') query[k] = v;
    return admin.handle({
      method: event.requestContext.http.method,
      path: event.rawPath,
      query,
      body,
      operator: operatorFromClaims(event.requestContext.authorizer?.jwt?.claims),
    });
  };
}
