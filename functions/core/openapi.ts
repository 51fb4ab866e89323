/** OpenAPI 3.1 description of the token API; a test checks it against ROUTES and real responses. */

const problem = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: {
      type: 'string',
      enum: [
        'invalid_request', 'unauthorized', 'forbidden', 'unknown_tenant', 'unknown_credential', 'not_found',
        'method_not_allowed', 'conflict', 'credential_incomplete', 'credential_expired', 'payload_too_large',
        'upstream_rejected', 'upstream_unavailable', 'store_corrupt', 'internal',
      ],
    },
    upstream_error: { type: 'string' },
    upstream_status: { type: 'integer' },
  },
};

const token = {
  type: 'object',
  required: ['tenant', 'credential', 'kind', 'environment', 'headers', 'base_url', 'expires_at', 'cached'],
  additionalProperties: false,
  properties: {
    tenant: { type: 'string' },
    credential: { type: 'string' },
    kind: { type: 'string' },
    environment: { type: 'string', enum: ['production', 'acceptance', 'sandbox'] },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Exactly the headers to send upstream.' },
    base_url: { type: ['string', 'null'] },
    expires_at: { type: ['string', 'null'], format: 'date-time' },
    cached: { type: 'boolean' },
    access_token: { type: 'string' },
    token_type: { type: 'string' },
    scope: { type: ['string', 'null'] },
  },
};

const assertion = {
  type: 'object',
  required: ['client_assertion', 'client_assertion_type', 'token_endpoint', 'expires_at'],
  additionalProperties: false,
  properties: {
    client_assertion: { type: 'string' },
    client_assertion_type: { const: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' },
    token_endpoint: { type: 'string' },
    expires_at: { type: 'string', format: 'date-time' },
  },
};

const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });

const errors = {
  '400': problemResponse('Malformed tenant or credential id, or a body that is not empty JSON.'),
  '401': problemResponse('No or unknown app key.'),
  '403': problemResponse('The app key does not cover this tenant or kind.'),
  '404': problemResponse('Unknown tenant or credential.'),
  '409': problemResponse('The credential is incomplete or expired.'),
  '413': problemResponse('Body over 16 KiB.'),
  '502': problemResponse('The upstream token endpoint refused the request; `upstream_error` holds its error code.'),
  '503': problemResponse('The upstream is unavailable and no valid token is cached; see Retry-After.'),
};

const params = [
  { name: 'tenant', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' } },
  { name: 'credential', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' } },
];

export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sesame token API',
      version,
      description: 'Hands apps the exact headers to send to French and Belgian administrative APIs, per tenant credential.',
    },
    components: {
      securitySchemes: { appKey: { type: 'http', scheme: 'bearer', description: 'An app key from `sesame app add`.' } },
      schemas: { Problem: problem, Token: token, Assertion: assertion },
    },
    paths: {
      '/v1/health': {
        get: {
          operationId: 'health',
          security: [],
          responses: { '200': { description: 'The broker is up.', content: { 'application/json': { schema: { type: 'object', required: ['status'], properties: { status: { const: 'ok' }, version: { type: 'string' } } } } } } },
        },
      },
      '/v1/openapi.json': {
        get: { operationId: 'openapi', security: [], responses: { '200': { description: 'This document.', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
      '/v1/tenants/{tenant}/credentials/{credential}/token': {
        post: {
          operationId: 'token',
          summary: 'Headers to send upstream for one tenant credential',
          security: [{ appKey: [] }],
          parameters: params,
          responses: { '200': { description: 'Authentication material.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Token' } } } }, ...errors },
        },
      },
      '/v1/tenants/{tenant}/credentials/{credential}/assertion': {
        post: {
          operationId: 'assertion',
          summary: 'A signed FLA client assertion (private_key_jwt), for apps that call the token endpoint themselves',
          security: [{ appKey: [] }],
          parameters: params,
          responses: { '200': { description: 'A signed client assertion.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Assertion' } } } }, ...errors },
        },
      },
    },
  };
}
