import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Construct } from 'constructs';
import { ROUTES } from '../functions/core/api.ts';
import { AUTHORIZER_CACHE_SECONDS } from '../functions/core/apps.ts';
import { sesameFunction } from './function.ts';
import { SECRET_PREFIXES, type SecretsVault } from './secrets-vault.ts';
import type { StateTable } from './state-table.ts';

/**
 * The token API: an HTTP API whose authenticated routes go through a Lambda
 * authorizer (app keys, answers cached per key for AUTHORIZER_CACHE_SECONDS), and one
 * token function. The operator console adds its own routes to the same API
 * (lib/operator-console.ts), behind its own JWT authorizer.
 */
export class TokenApi extends Construct {
  /** The HTTP API, shared with the operator console's routes. */
  readonly api: apigw.HttpApi;
  /** Base URL clients use: the custom domain when there is one, else the API's endpoint. No trailing slash. */
  readonly url: string;
  readonly tokenFunction: LambdaFunction;
  readonly authorizerFunction: LambdaFunction;

  constructor(
    scope: Construct,
    id: string,
    props: {
      vault: SecretsVault;
      /** With it, the token function shares access tokens across its containers (functions/core/shared-tokens.ts). */
      state?: StateTable;
      throttle?: { rateLimit: number; burstLimit: number };
      domain?: { name: string; certificateArn: string };
    },
  ) {
    super(scope, id);
    this.tokenFunction = sesameFunction(this, 'Token', 'functions/token/handler.ts', { description: 'Sesame token vending', serviceName: 'sesame-token' });
    this.authorizerFunction = sesameFunction(this, 'Authorizer', 'functions/authorizer/handler.ts', { description: 'Sesame app key authorizer', serviceName: 'sesame-authorizer', timeout: Duration.seconds(10) });

    // The token function reads credentials and tenant records to mint tokens.
    props.vault.grantRead(this.tokenFunction, SECRET_PREFIXES.credentials, SECRET_PREFIXES.tenants);
    // One upstream call per token lifetime across containers: token items of the state table, sealed under the stack's key.
    if (props.state) {
      props.state.grantTokenCache(this.tokenFunction);
      this.tokenFunction.addEnvironment('SESAME_STATE_TABLE', props.state.tableName);
      this.tokenFunction.addEnvironment('SESAME_TOKEN_CACHE_KEY', props.vault.key.keyArn);
    }
    // Only the authorizer reads app records, to check app keys.
    props.vault.grantRead(this.authorizerFunction, SECRET_PREFIXES.apps);

    // Both add a lambda:InvokeFunction permission for apigateway.amazonaws.com: the authorizer's
    // scoped to this API's authorizer, the integration's to this API and each route's path.
    // Verdicts cached per Authorization header: with the authorizer's own app-record cache
    // (APP_CACHE_SECONDS), a revoked key is refused everywhere within REVOCATION_BOUND_SECONDS.
    const authorizer = new HttpLambdaAuthorizer('AppKey', this.authorizerFunction, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ['$request.header.Authorization'],
      resultsCacheTtl: Duration.seconds(AUTHORIZER_CACHE_SECONDS),
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

    // Throttling and JSON access logs on the stage: the app id from the authorizer, never a header.
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.THREE_MONTHS });
    const stage = this.api.defaultStage?.node.defaultChild as apigw.CfnStage;
    stage.defaultRouteSettings = { throttlingRateLimit: props.throttle?.rateLimit ?? 100, throttlingBurstLimit: props.throttle?.burstLimit ?? 200 };
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        time: '$context.requestTime',
        ip: '$context.identity.sourceIp',
        route: '$context.routeKey',
        status: '$context.status',
        latencyMs: '$context.responseLatency',
        app: '$context.authorizer.app',
        // The operator behind an admin call (the JWT's subject), never a header or a token.
        operator: '$context.authorizer.claims.sub',
        authorizerError: '$context.authorizer.error',
        integrationError: '$context.integrationErrorMessage',
      }),
    };
    for (const route of ROUTES.filter((r) => !r.auth)) {
      const path = `${route.method}--${route.path.replace(/\//g, '--').replace(/^--/, '')}`;
      const node = this.api.node.tryFindChild(path);
      if (node) Validations.of(node).acknowledge({ id: 'AwsSolutions-APIG4', reason: `${route.method} ${route.path} is public by design: it tells whether the broker is up or how to call it, and holds no tenant data.` });
    }

    if (props.domain) {
      const domainName = new apigw.DomainName(this, 'Domain', { domainName: props.domain.name, certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', props.domain.certificateArn) });
      new apigw.ApiMapping(this, 'Mapping', { api: this.api, domainName, stage: this.api.defaultStage });
      new CfnOutput(this, 'DomainTarget', { value: domainName.regionalDomainName, description: `Point ${props.domain.name} (CNAME or alias) at this` });
    }
    this.url = props.domain ? `https://${props.domain.name}` : this.api.apiEndpoint;
    new CfnOutput(this, 'Url', { value: this.url, description: 'Base URL of the token API' });
  }
}
