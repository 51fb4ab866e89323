import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Operator } from '../core/admin.ts';
import type { AdminApi } from '../core/admin-api.ts';
import { problemResponse } from '../core/api.ts';
import { SesameError } from '../core/errors.ts';

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

/**
 * Whether an operator is on the allow-list: its `sub`, email or username, emails and
 * usernames compared without case. An external issuer (Entra ID, Google…) signs in far
 * more accounts than the integrator's operators, and API Gateway's JWT authorizer checks
 * only the issuer and the audience.
 */
export function isListedOperator(operator: Operator, operators: readonly string[]): boolean {
  const lower = (s: string | undefined) => s?.toLowerCase();
  return operators.some((o) => o === operator.sub || o.toLowerCase() === lower(operator.email) || o.toLowerCase() === lower(operator.username));
}

/**
 * The admin function, unwrapped: API Gateway event in, API response out. With
 * `operators`, an account that is not listed is refused (403) before anything is read.
 */
export function makeAdminHandler(admin: AdminApi, options: { operators?: readonly string[] | undefined } = {}) {
  const { operators } = options;
  return async (event: AdminEvent): Promise<APIGatewayProxyStructuredResultV2> => {
    const operator = operatorFromClaims(event.requestContext.authorizer?.jwt?.claims);
    if (operators && operator && !isListedOperator(operator, operators)) {
      return problemResponse(new SesameError('forbidden', 'this account is not one of the operators of this Sesame: an administrator adds it to "console.operators" in the stack config'));
    }
    const body = event.body !== undefined && event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (typeof v === 'string') query[k] = v;
    return admin.handle({
      method: event.requestContext.http.method,
      path: event.rawPath,
      query,
      body,
      operator,
    });
  };
}
