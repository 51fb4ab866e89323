import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { ROUTES } from '../functions/core/api.ts';
import { sesameFunction } from './function.ts';
import { SECRET_PREFIXES, type SecretsVault } from './secrets-vault.ts';

/**
 * The token API: an HTTP API whose authenticated routes go through a Lambda
 * authorizer (app keys, answers cached per key), and one token function.
 */
export class TokenApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly tokenFunction: NodejsFunction;
  readonly authorizerFunction: NodejsFunction;

  constructor(scope: Construct, id: string, props: { vault: SecretsVault }) {
    super(scope, id);
    this.tokenFunction = sesameFunction(this, 'Token', 'functions/token/handler.ts', { description: 'Sesame token vending', serviceName: 'sesame-token' });
    this.authorizerFunction = sesameFunction(this, 'Authorizer', 'functions/authorizer/handler.ts', { description: 'Sesame app key authorizer', serviceName: 'sesame-authorizer', timeout: Duration.seconds(10) });

    // The token function reads credentials and tenant records; only the authorizer reads app records.
    props.vault.grantRead(this.tokenFunction, SECRET_PREFIXES.credentials, SECRET_PREFIXES.tenants);
    props.vault.grantRead(this.authorizerFunction, SECRET_PREFIXES.apps);

    const authorizer = new HttpLambdaAuthorizer('AppKey', this.authorizerFunction, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ['$request.header.Authorization'],
      resultsCacheTtl: Duration.minutes(5),
    });
    const integration = new HttpLambdaIntegration('Token', this.tokenFunction);
    this.api = new apigw.HttpApi(this, 'Api', { description: 'Sesame token API', createDefaultStage: true });
    for (const route of ROUTES) {
      this.api.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration,
        ...(route.auth ? { authorizer } : {}),
      });
    }
    new CfnOutput(this, 'Url', { value: this.api.apiEndpoint, description: 'Base URL of the token API' });
  }
}
