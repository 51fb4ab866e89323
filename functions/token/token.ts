import type { APIGatewayProxyEventV2WithLambdaAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Api } from '../core/api.ts';
import { principalFromContext, type AuthorizerContext } from '../core/app-keys.ts';

export type TokenEvent = APIGatewayProxyEventV2WithLambdaAuthorizer<Partial<AuthorizerContext>>;

/** The token function, unwrapped: API Gateway event in, API response out. */
export function makeTokenHandler(api: Api) {
  return async (event: TokenEvent): Promise<APIGatewayProxyStructuredResultV2> => {
    const body = event.body !== undefined && event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    return api.handle({
      method: event.requestContext.http.method,
      path: event.rawPath,
      body,
      // No authorizer context means the route was not protected: the API refuses it.
      principal: principalFromContext(event.requestContext.authorizer?.lambda),
    });
  };
}
