import { ADMIN_MAX_BODY_BYTES, ADMIN_UPLOAD_MAX_BODY_BYTES, DEFAULT_LIMIT, DEFAULT_MONTHS, MAX_LIMIT, MAX_MONTHS, PLATFORM_FAMILIES, STATUSES } from './admin-limits.ts';
import { KINDS } from './platforms/index.ts';
import { PROFILE_NAMES } from './certificates/profile.ts';

/**
 * OpenAPI 3.1 description of the token API and the admin API; tests check it against
 * ROUTES, ADMIN_ROUTES and real responses, lint it with Redocly's recommended rules and
 * compile a typed client generated from it (functions/console/web/generated/api.ts).
 */

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

// ------------------------------------------------------------------ admin API

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Record<string, unknown>) => ({ oneOf: [schema, { type: 'null' }] });
const dateTime = { type: 'string', format: 'date-time' };
const textSchema = { type: 'object', required: ['fr', 'en'], additionalProperties: false, properties: { fr: { type: 'string' }, en: { type: 'string' } } };
const stringList = { type: 'array', items: { type: 'string' } };

const credentialStatusProperties = {
  tenant: { type: 'string' },
  tenant_name: { type: ['string', 'null'], description: 'Null when the tenant record cannot be read.' },
  credential: { type: 'string' },
  kind: { type: 'string', description: `The credential's kind: ${KINDS.join(', ')}.` },
  platform: ref('PlatformFamily'),
  platform_title: ref('Text'),
  environment: { type: 'string' },
  status: ref('Status'),
  expires_at: { type: ['string', 'null'], format: 'date-time', description: 'The soonest end date; null when none is recorded.' },
  days_left: { type: ['integer', 'null'], description: 'Whole days until expires_at, rounded up; 0 or less once expired.' },
  threshold: { type: ['integer', 'null'], description: 'The alert threshold (days) crossed, when one is.' },
  what: nullable(ref('Text')),
};
const credentialStatusRequired = Object.keys(credentialStatusProperties);

const finding = { type: 'object', required: ['code', 'message'], additionalProperties: false, properties: { code: { type: 'string' }, message: ref('Text'), certificate: { type: 'object', required: ['position', 'subject'], additionalProperties: false, properties: { position: { type: 'integer' }, subject: { type: 'string' } } } } };

const adminSchemas = {
  Text: textSchema,
  Status: { type: 'string', enum: [...STATUSES], description: 'expired: its end date is past; refused: the last certificate uploaded was refused; incomplete: a placeholder, or cannot vend yet; expiring: an alert threshold is crossed.' },
  PlatformFamily: { type: 'string', enum: [...PLATFORM_FAMILIES] },
  Operator: { type: 'object', required: ['sub'], additionalProperties: false, properties: { sub: { type: 'string' }, username: { type: 'string' }, email: { type: 'string' } } },
  CredentialStatus: { type: 'object', required: credentialStatusRequired, additionalProperties: false, properties: credentialStatusProperties },
  StatusCounts: {
    type: 'object',
    required: ['total', ...STATUSES],
    additionalProperties: false,
    properties: Object.fromEntries(['total', ...STATUSES].map((k) => [k, { type: 'integer', minimum: 0 }])),
  },
  RecordError: { type: 'object', required: ['secret', 'code', 'detail'], additionalProperties: false, properties: { secret: { type: 'string' }, code: { type: 'string' }, detail: { type: 'string' } } },
  CredentialPage: {
    type: 'object',
    required: ['at', 'counts', 'items', 'next_cursor', 'matching', 'errors'],
    additionalProperties: false,
    properties: {
      at: dateTime,
      counts: { ...ref('StatusCounts'), description: 'Over the search and the tenant and platform filters, whatever the status filter.' },
      items: { type: 'array', items: ref('CredentialStatus') },
      next_cursor: { type: ['string', 'null'], description: 'Pass it as `cursor` for the next page; null on the last one.' },
      matching: { type: 'integer', minimum: 0, description: 'How many credentials match every filter, over all pages.' },
      errors: { type: 'array', items: ref('RecordError'), description: 'Records that could not be read, left out of the counts.' },
    },
  },
  Timeline: {
    type: 'object',
    required: ['today', 'from', 'to', 'items'],
    additionalProperties: false,
    properties: { today: { type: 'string', format: 'date' }, from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' }, items: { type: 'array', items: ref('CredentialStatus'), description: 'Soonest first: what has expired, then what ends by `to`.' } },
  },
  Tenant: {
    type: 'object',
    required: ['id', 'name', 'alert_emails', 'created_at', 'updated_at', 'credentials'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' },
      name: { type: 'string' },
      siret: { type: 'string' },
      siren: { type: 'string' },
      bce: { type: 'string' },
      alert_emails: stringList,
      created_at: { type: ['string', 'null'], format: 'date-time', description: 'Null for a tenant declared by the stack.' },
      updated_at: { type: ['string', 'null'], format: 'date-time' },
      credentials: { type: 'integer', minimum: 0 },
    },
  },
  TenantList: { type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', items: ref('Tenant') } } },
  TenantInput: {
    type: 'object',
    required: ['id', 'name'],
    additionalProperties: false,
    properties: { id: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' }, name: { type: 'string', maxLength: 200 }, siret: { type: 'string' }, siren: { type: 'string' }, bce: { type: 'string' }, alert_emails: { type: 'array', items: { type: 'string', format: 'email' }, maxItems: 20 } },
  },
  TenantChanges: {
    type: 'object',
    additionalProperties: false,
    description: 'Only the fields given change; null removes an identifier.',
    properties: {
      name: { type: 'string' },
      siret: { type: ['string', 'null'] },
      siren: { type: ['string', 'null'] },
      bce: { type: ['string', 'null'] },
      alert_emails: { ...stringList, description: 'Replaces the list.' },
      add_alert_emails: stringList,
      remove_alert_emails: stringList,
    },
  },
  TenantUpdate: { type: 'object', required: ['tenant', 'changed'], additionalProperties: false, properties: { tenant: ref('Tenant'), changed: stringList } },
  CertificateSummary: {
    type: 'object',
    required: ['subject', 'issuer', 'serial', 'not_before', 'not_after', 'key', 'signature_algorithm', 'signature_digest', 'key_usage', 'extended_key_usage', 'policies', 'sha256'],
    additionalProperties: false,
    properties: {
      subject: { type: 'string' },
      issuer: { type: 'string' },
      serial: { type: 'string' },
      not_before: dateTime,
      not_after: dateTime,
      key: { type: 'object', required: ['type'], additionalProperties: false, properties: { type: { type: 'string' }, size: { type: 'integer' }, curve: { type: 'string' } } },
      signature_algorithm: { type: 'string' },
      signature_digest: { type: ['string', 'null'] },
      key_usage: { type: ['array', 'null'], items: { type: 'string' } },
      extended_key_usage: { type: ['array', 'null'], items: { type: 'string' } },
      policies: stringList,
      sha256: { type: 'string' },
    },
  },
  CertificateReport: {
    type: 'object',
    required: ['valid', 'profile', 'validated_at', 'errors', 'warnings', 'certificates'],
    additionalProperties: false,
    properties: {
      valid: { type: 'boolean' },
      profile: { type: 'string', enum: [...PROFILE_NAMES] },
      validated_at: dateTime,
      errors: { type: 'array', items: finding },
      warnings: { type: 'array', items: finding },
      certificates: { type: 'array', items: ref('CertificateSummary') },
    },
  },
  CertificateReportView: {
    type: 'object',
    required: ['outcome', 'file', 'processed_at'],
    additionalProperties: false,
    properties: {
      outcome: { type: 'string', enum: ['accepted', 'unchanged', 'rejected', 'deleted'], description: 'deleted: the file held private key material and was destroyed.' },
      file: { type: 'string' },
      processed_at: dateTime,
      reason: { ...ref('Text'), description: 'Why, when the file was refused before any check (a credential that takes no certificate).' },
      report: ref('CertificateReport'),
    },
  },
  UploadVerdict: {
    type: 'object',
    required: ['outcome', 'file', 'processed_at'],
    additionalProperties: false,
    properties: {
      outcome: { type: 'string', enum: ['accepted', 'unchanged', 'rejected', 'deleted'] },
      file: { type: 'string' },
      processed_at: dateTime,
      reason: ref('Text'),
      report: ref('CertificateReport'),
      version: { type: 'string', description: 'The credential version the accepted certificate made.' },
    },
  },
  CertificateUpload: {
    type: 'object',
    required: ['file_name', 'content_base64'],
    additionalProperties: false,
    properties: { file_name: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^/\\\\]+$' }, content_base64: { type: 'string', contentEncoding: 'base64', description: 'The file (PEM, DER or PKCS#7), at most 64 KiB once decoded.' } },
  },
  CredentialDetail: {
    type: 'object',
    required: [...credentialStatusRequired, 'fields', 'secret_fields', 'versions', 'expiries', 'certificate', 'alerts', 'renewal', 'last_check'],
    additionalProperties: false,
    properties: {
      ...credentialStatusProperties,
      fields: { type: 'object', additionalProperties: true, description: 'The stored fields, every secret one replaced by "[redacted]".' },
      secret_fields: stringList,
      versions: {
        type: 'array',
        items: { type: 'object', required: ['version', 'created_at', 'stage'], additionalProperties: false, properties: { version: { type: 'string' }, created_at: { type: ['string', 'null'], format: 'date-time' }, stage: { type: 'string', enum: ['current', 'previous'] } } },
      },
      expiries: { type: 'array', items: { type: 'object', required: ['what', 'at'], additionalProperties: false, properties: { what: ref('Text'), at: dateTime } } },
      certificate: { type: 'object', required: ['accepts', 'report'], additionalProperties: false, properties: { accepts: { type: 'boolean' }, report: nullable(ref('CertificateReportView')) } },
      alerts: { type: 'array', items: { type: 'object', required: ['level', 'at'], additionalProperties: false, properties: { level: { type: 'string' }, at: { type: ['string', 'null'], format: 'date-time' } } } },
      renewal: { type: 'object', required: ['fr', 'en'], additionalProperties: false, properties: { fr: stringList, en: stringList } },
      last_check: nullable(ref('LastCheck')),
    },
  },
  KeyView: {
    type: 'object',
    required: ['key', 'alg', 'certificate_sha256', 'not_after'],
    additionalProperties: false,
    description: 'One FLA key: its type, algorithm, certificate fingerprint and dates; never key material.',
    properties: {
      key: { type: 'string', description: 'The key type: `RSA 3072`, `EC P-384`.' },
      alg: { type: 'string' },
      certificate_sha256: { type: ['string', 'null'] },
      not_after: { type: ['string', 'null'], format: 'date-time' },
      created_at: { type: 'string', format: 'date-time', description: 'Next keys: when it was generated.' },
      replaced_at: { type: 'string', format: 'date-time', description: 'Previous keys: when activation replaced it.' },
    },
  },
  RotationState: {
    type: 'object',
    required: ['tenant', 'credential', 'environment', 'client_id', 'active', 'next', 'previous', 'next_certificate_pem'],
    additionalProperties: false,
    properties: {
      tenant: { type: 'string' },
      credential: { type: 'string' },
      environment: { type: 'string' },
      client_id: { type: ['string', 'null'] },
      active: ref('KeyView'),
      next: nullable(ref('KeyView')),
      previous: nullable(ref('KeyView')),
      next_certificate_pem: { type: ['string', 'null'], description: 'The next key\'s certificate, to add to the same Chaman account.' },
    },
  },
  RotationStep: {
    type: 'object',
    required: ['tenant', 'credential', 'kind', 'environment', 'active'],
    additionalProperties: true,
    description: 'The credential after the step: its keys (`active`, and `next`, `previous`, `retired` or `dropped` as the step has them), the check made, the Chaman steps; never key material.',
    properties: {
      tenant: { type: 'string' },
      credential: { type: 'string' },
      kind: { type: 'string' },
      environment: { type: 'string' },
      expires_at: { type: ['string', 'null'] },
      active: ref('KeyView'),
      next: ref('KeyView'),
      previous: ref('KeyView'),
      retired: ref('KeyView'),
      dropped: nullable(ref('KeyView')),
      next_certificate_pem: { type: 'string', description: 'Next: the certificate to add to the same Chaman account.' },
      steps: { type: 'object', required: ['fr', 'en'], properties: { fr: stringList, en: stringList }, description: 'What to do in Chaman now.' },
      check: { type: 'object', description: 'The token check made before the step (status ok, when).' },
    },
  },
  RetireInput: { type: 'object', additionalProperties: false, properties: { force: { type: 'boolean', description: 'Retire without first checking that the active key obtains a token alone.' } } },
  LastCheck: {
    type: 'object',
    required: ['status', 'at', 'reason', 'code', 'version', 'stale'],
    additionalProperties: false,
    description: 'The last check of the credential with its platform, from its tags.',
    properties: {
      status: { type: 'string', enum: ['ok', 'failed', 'not_testable'] },
      at: dateTime,
      reason: { type: ['string', 'null'] },
      code: { type: ['string', 'null'] },
      version: { type: ['string', 'null'] },
      stale: { type: 'boolean', description: 'A newer version was stored since the check.' },
    },
  },
  HealthResult: {
    type: 'object',
    required: ['tenant', 'credential', 'kind', 'environment', 'status', 'checked_at', 'message'],
    additionalProperties: false,
    properties: {
      tenant: { type: 'string' },
      credential: { type: 'string' },
      kind: { type: 'string' },
      environment: { type: ['string', 'null'] },
      status: { type: 'string', enum: ['ok', 'failed', 'not_testable'] },
      checked_at: dateTime,
      version: { type: 'string' },
      reason: { type: 'string' },
      message: ref('Text'),
      code: { type: 'string', enum: ['upstream_rejected', 'upstream_unavailable'] },
      upstream_status: { type: 'integer' },
      upstream_error: { type: 'string' },
      expires_at: dateTime,
      expiry_updated: { type: 'boolean' },
      previous_expires_at: { type: 'string' },
    },
  },
  ConnectLinkInput: {
    type: 'object',
    additionalProperties: false,
    properties: {
      fields: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 20, description: 'The credential fields to ask (default: the platform\'s usual ones), e.g. `cfa_key`.' },
      valid: { type: 'string', pattern: '^\\d{1,6}[mhd]$', default: '7d', description: 'How long the link works: 30m, 12h, 7d…; from 5 minutes to 30 days.' },
      email: { type: 'string', format: 'email', maxLength: 320, description: 'Also send the link by email: one of the tenant\'s alert addresses (the alerts topic delivers it to every alert address of the tenant and to the operator).' },
      environment: { type: 'string', enum: ['production', 'acceptance', 'sandbox'], description: 'For a credential that does not exist yet: its environment (default: the platform\'s first). An existing credential keeps its own.' },
      settings: {
        type: 'object',
        maxProperties: 10,
        additionalProperties: { type: 'string', maxLength: 2048 },
        description: 'Non-secret fields the operator sets for the credential, stored with what the client submits: `editeur`, `logiciel`, `version` (OPCO), `client_id`, `scope` (PISTE), `quality` (FLA), `review_at` (Cegid). Where secrets are sent (`token_endpoint`, `base_url`) is refused here: an administrator sets it with the CLI.',
      },
    },
  },
  ConnectLinkCreated: {
    type: 'object',
    required: ['url', 'expires_at'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', format: 'uri', description: 'The link to hand the client, shown this once: Sesame keeps only its token\'s hash.' },
      expires_at: dateTime,
      sent_to: { type: 'string', format: 'email', description: 'The alert address the link was sent to, when `email` was given.' },
    },
  },
  App: {
    type: 'object',
    required: ['app', 'tenants', 'created_at'],
    additionalProperties: false,
    properties: {
      app: { type: 'string' },
      tenants: stringList,
      kinds: stringList,
      created_at: dateTime,
      key_created_at: dateTime,
      previous_key_created_at: dateTime,
      previous_key_expires_at: dateTime,
      revoked_at: dateTime,
    },
  },
  AppList: { type: 'object', required: ['items'], additionalProperties: false, properties: { items: { type: 'array', items: ref('App') } } },
  AuditRecord: {
    type: 'object',
    required: ['id', 'time', 'type', 'actor', 'outcome'],
    additionalProperties: false,
    description: 'One thing done: ids, an outcome and a few named facts, never a secret value.',
    properties: {
      id: { type: 'string', pattern: '^[0-9a-f]{16}$' },
      time: dateTime,
      type: { type: 'string', enum: ['token', 'assertion', 'admin_change', 'link_created', 'link_used', 'app_revoked', 'certificate_verdict', 'health_check', 'rotation'] },
      actor: {
        type: 'object',
        required: ['type', 'id'],
        additionalProperties: false,
        properties: { type: { type: 'string', enum: ['app', 'operator', 'cli', 'link', 'system'] }, id: { type: 'string', maxLength: 200 } },
      },
      tenant: { type: 'string' },
      credential: { type: 'string' },
      app: { type: 'string' },
      outcome: { type: 'string', enum: ['ok', 'refused', 'error'] },
      code: { type: 'string', description: 'The stable error code of a refusal or an error.' },
      cached: { type: 'boolean', description: 'Tokens: served from the cache.' },
      details: { type: 'object', additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] }, description: 'Named facts from a closed list (field names, error codes, dates, fingerprints).' },
    },
  },
  AuditPage: {
    type: 'object',
    required: ['items'],
    additionalProperties: false,
    properties: { items: { type: 'array', items: ref('AuditRecord') }, cursor: { type: 'string', description: 'Set when older records may match: pass it back for the next page.' } },
  },
  AppInput: { type: 'object', required: ['app', 'tenants'], additionalProperties: false, properties: { app: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' }, tenants: { ...stringList, minItems: 1 }, kinds: { type: 'array', items: { type: 'string', enum: [...KINDS] } } } },
  AppCreated: { type: 'object', required: ['app', 'key', 'tenants'], additionalProperties: false, properties: { app: { type: 'string' }, key: { type: 'string', description: 'The app key, shown this once.' }, tenants: stringList } },
  AppRotation: { type: 'object', additionalProperties: false, properties: { overlap: { type: 'string', description: 'How long the previous key keeps working: 30m, 24h (the default), 7d, or 0.', pattern: '^\\d{1,7}[smhd]?$' } } },
  AppRotated: { type: 'object', required: ['app', 'key', 'previous_key_expires_at'], additionalProperties: false, properties: { app: { type: 'string' }, key: { type: 'string', description: 'The new key, shown this once.' }, previous_key_expires_at: dateTime } },
  Empty: { type: 'object', additionalProperties: false, maxProperties: 0 },
};

const adminErrors = (codes: string[]) =>
  Object.fromEntries(
    codes.map((c) => [
      c,
      problemResponse(
        {
          '400': 'A malformed id, parameter or body; `field` names what is wrong.',
          '401': 'No valid operator access token.',
          '404': 'Unknown tenant, credential, app or path.',
          '409': 'It exists already (or, for an app, is revoked); for a key rotation, the step does not apply (no next key, no previous key, an expired next certificate).',
          '413': `Body over ${ADMIN_MAX_BODY_BYTES / 1024} KiB (${ADMIN_UPLOAD_MAX_BODY_BYTES / 1024} KiB for a certificate upload).`,
          '500': 'An internal error; details are in the logs only.',
          '502': 'The platform refused the key checked; nothing was changed. `upstream_error` holds its error code.',
          '503': 'The platform did not answer; nothing was changed. See Retry-After.',
        }[c] as string,
      ),
    ]),
  );

const json = (description: string, schema: Record<string, unknown>) => ({ description, content: { 'application/json': { schema } } });
const body = (schema: Record<string, unknown>, required = true) => ({ required, content: { 'application/json': { schema } } });
const tenantParam = { name: 'tenant', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' } };
const credentialParam = { name: 'credential', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' } };
const appParam = { name: 'app', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' } };
const query = (name: string, schema: Record<string, unknown>, description: string) => ({ name, in: 'query', required: false, schema, description });
const filters = [
  query('q', { type: 'string', maxLength: 200 }, 'Words found in the tenant id or name, the credential id or the kind (case and accents ignored).'),
  query('tenant', { type: 'string', pattern: '^[a-z0-9-]{1,64}$' }, 'One tenant.'),
  query('platform', { type: 'string', enum: [...PLATFORM_FAMILIES, ...KINDS.filter((k) => !(PLATFORM_FAMILIES as readonly string[]).includes(k))] }, 'A platform family or one kind.'),
];
const admin = (tag: string, operationId: string, summary: string, rest: Record<string, unknown>) => ({ operationId, summary, tags: [tag], security: [{ operator: [] }], ...rest });

const adminPaths = {
  '/v1/admin/me': {
    get: admin('Operators', 'adminMe', 'The operator signed in', { responses: { '200': json('The operator, from the access token.', ref('Operator')), ...adminErrors(['401']) } }),
  },
  '/v1/admin/credentials': {
    get: admin('Credentials', 'adminCredentials', 'Every credential with its status (the overview)', {
      description: 'From the secrets\' tags alone: nothing is decrypted. Sorted by tenant, then credential.',
      parameters: [
        ...filters,
        query('status', { type: 'string', pattern: `^(${STATUSES.join('|')})(,(${STATUSES.join('|')}))*$` }, 'One status, or several separated by commas.'),
        query('limit', { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT }, 'Items per page.'),
        query('cursor', { type: 'string' }, 'The `next_cursor` of the previous page.'),
      ],
      responses: { '200': json('One page of credentials, with the counts per status.', ref('CredentialPage')), ...adminErrors(['400', '401', '500']) },
    }),
  },
  '/v1/admin/timeline': {
    get: admin('Credentials', 'adminTimeline', 'What expires in the coming months', {
      parameters: [query('months', { type: 'integer', minimum: 1, maximum: MAX_MONTHS, default: DEFAULT_MONTHS }, 'How far ahead.'), ...filters],
      responses: { '200': json('Credentials with an end date by `to`, and those already expired, soonest first.', ref('Timeline')), ...adminErrors(['400', '401', '500']) },
    }),
  },
  '/v1/admin/tenants': {
    get: admin('Tenants', 'adminListTenants', 'Every tenant', { responses: { '200': json('The tenants, by id.', ref('TenantList')), ...adminErrors(['401', '500']) } }),
    post: admin('Tenants', 'adminAddTenant', 'Add a tenant', {
      requestBody: body(ref('TenantInput')),
      responses: { '201': json('The tenant added.', ref('Tenant')), ...adminErrors(['400', '401', '409', '413', '500']) },
    }),
  },
  '/v1/admin/tenants/{tenant}': {
    get: admin('Tenants', 'adminGetTenant', 'One tenant', { parameters: [tenantParam], responses: { '200': json('The tenant.', ref('Tenant')), ...adminErrors(['400', '401', '404', '500']) } }),
    patch: admin('Tenants', 'adminUpdateTenant', 'Change a tenant', {
      parameters: [tenantParam],
      requestBody: body(ref('TenantChanges')),
      responses: { '200': json('The tenant as it now is, and the fields that changed.', ref('TenantUpdate')), ...adminErrors(['400', '401', '404', '413', '500']) },
    }),
  },
  '/v1/admin/tenants/{tenant}/credentials/{credential}': {
    get: admin('Credentials', 'adminGetCredential', 'One credential, its secrets redacted', {
      parameters: [tenantParam, credentialParam],
      responses: { '200': json('The credential: fields (redacted), versions, expiries, last certificate report, alerts, renewal steps.', ref('CredentialDetail')), ...adminErrors(['400', '401', '404', '500']) },
    }),
  },
  '/v1/admin/tenants/{tenant}/credentials/{credential}/certificate': {
    post: admin('Credentials', 'adminUploadCertificate', 'Upload a certificate for a credential', {
      description: 'The same rules as the intake bucket: the file ends in accepted/ or rejected/ with its report in reports/; a file holding a private key is written nowhere.',
      parameters: [tenantParam, credentialParam],
      requestBody: body(ref('CertificateUpload')),
      responses: { '200': json('The verdict (a refusal is a verdict too).', ref('UploadVerdict')), ...adminErrors(['400', '401', '404', '413', '500']) },
    }),
  },
  '/v1/admin/tenants/{tenant}/credentials/{credential}/rotation': {
    get: admin('Credentials', 'adminRotation', 'An FLA credential\'s keys: active, next, previous', {
      parameters: [tenantParam, credentialParam],
      responses: { '200': json('Fingerprints and dates, never key material.', ref('RotationState')), ...adminErrors(['400', '401', '404', '500']) },
    }),
  },
  '/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/next': {
    post: admin('Credentials', 'adminRotationNext', 'Store a next key pair beside the active one', {
      description: 'Its certificate (PEM, `next_certificate_pem`) goes to the same Chaman account, beside the current one; tokens keep using the active key.',
      parameters: [tenantParam, credentialParam],
      requestBody: body(ref('Empty'), false),
      responses: { '201': json('The next key.', ref('RotationStep')), ...adminErrors(['400', '401', '404', '409', '413', '500']) },
    }),
  },
  '/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/activate': {
    post: admin('Credentials', 'adminRotationActivate', 'Switch to the next key once it obtains a token', {
      description: 'A token is obtained with the next key alone first (neither cached nor served); refused, nothing changes. The active key becomes the fallback.',
      parameters: [tenantParam, credentialParam],
      requestBody: body(ref('Empty'), false),
      responses: { '200': json('The keys after the switch.', ref('RotationStep')), ...adminErrors(['400', '401', '404', '409', '413', '500', '502', '503']) },
    }),
  },
  '/v1/admin/tenants/{tenant}/credentials/{credential}/rotation/retire': {
    post: admin('Credentials', 'adminRotationRetire', 'Drop the previous key', {
      parameters: [tenantParam, credentialParam],
      requestBody: body(ref('RetireInput'), false),
      responses: { '200': json('The keys after the retirement, and the old certificate to delete in Chaman.', ref('RotationStep')), ...adminErrors(['400', '401', '404', '409', '413', '500', '502', '503']) },
    }),
  },
  '/v1/admin/tenants/{tenant}/credentials/{credential}/test': {
    post: admin('Credentials', 'adminTestCredential', 'Check a credential with its platform now', {
      description: 'FLA and Chorus PISTE obtain a token (neither cached nor served); an OPCO answers its key information where the credential has a base URL and the tenant a SIREN. A failed check is a 200 with `status: failed`. The result is recorded on the credential (`last_check`).',
      parameters: [tenantParam, credentialParam],
      requestBody: body(ref('Empty'), false),
      responses: { '200': json('The check.', ref('HealthResult')), ...adminErrors(['400', '401', '404', '413', '500']) },
    }),
  },
  '/v1/admin/tenants/{tenant}/credentials/{credential}/connect-links': {
    post: admin('Credentials', 'adminCreateConnectLink', 'Create a one-time connect link for a credential', {
      description: 'The tenant\'s own administrator opens the link, follows the platform\'s steps and hands the credential over; it works once, until `expires_at`. The credential may not exist yet: the link creates it. A new link replaces the credential\'s earlier open one. The operator\'s `sub` is recorded as its creator.',
      parameters: [tenantParam, credentialParam],
      requestBody: body(ref('ConnectLinkInput'), false),
      responses: { '201': json('The link, shown this once.', ref('ConnectLinkCreated')), ...adminErrors(['400', '401', '404', '409', '413', '500']) },
    }),
  },
  '/v1/admin/audit': {
    get: admin('Audit', 'adminAudit', 'The audit trail, newest first', {
      description: 'Tokens and assertions vended, changes by operators and the CLI, connect links made and used, revocations, certificate verdicts.',
      parameters: [
        query('tenant', { type: 'string', pattern: '^[a-z0-9-]{1,64}$' }, 'One tenant\'s records.'),
        query('app', { type: 'string', pattern: '^[a-z0-9-]{1,64}$' }, 'One app\'s records.'),
        query('since', { type: 'string', default: '7d' }, 'A duration back from now (`7d`, `12h`, `30m`) or an ISO date.'),
        query('until', { type: 'string' }, 'A duration back from now or an ISO date.'),
        query('limit', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, 'Records per page.'),
        query('cursor', { type: 'string' }, 'The `cursor` of the previous page.'),
      ],
      responses: { '200': json('One page of records, newest first.', ref('AuditPage')), ...adminErrors(['400', '401', '500']) },
    }),
  },
  '/v1/admin/apps': {
    get: admin('Apps', 'adminListApps', 'Every app', { responses: { '200': json('The apps, never a key nor its hash.', ref('AppList')), ...adminErrors(['401', '500']) } }),
    post: admin('Apps', 'adminAddApp', 'Create an app and its key', {
      requestBody: body(ref('AppInput')),
      responses: { '201': json('The app and its key, shown this once.', ref('AppCreated')), ...adminErrors(['400', '401', '404', '409', '413', '500']) },
    }),
  },
  '/v1/admin/apps/{app}/revoke': {
    post: admin('Apps', 'adminRevokeApp', 'Revoke an app\'s keys', {
      parameters: [appParam],
      requestBody: body(ref('Empty'), false),
      responses: { '200': json('The app, revoked.', ref('App')), ...adminErrors(['400', '401', '404', '413', '500']) },
    }),
  },
  '/v1/admin/apps/{app}/rotate': {
    post: admin('Apps', 'adminRotateApp', 'Give an app a new key', {
      parameters: [appParam],
      requestBody: body(ref('AppRotation'), false),
      responses: { '200': json('The new key, shown this once.', ref('AppRotated')), ...adminErrors(['400', '401', '404', '409', '413', '500']) },
    }),
  },
};

export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sesame API',
      version,
      description:
        'The token API hands apps the exact headers to send to French and Belgian administrative APIs, per tenant credential. The admin API (`/v1/admin/…`) is what the operator console uses: it never returns a secret value.',
    },
    servers: [{ url: '/', description: 'The Sesame deployment serving this document (the API Gateway URL in AWS, http://127.0.0.1:<port> locally).' }],
    tags: [
      { name: 'Token', description: 'For apps, with an app key.' },
      { name: 'Operators', description: 'The operator signed in.' },
      { name: 'Credentials', description: 'What is fine, what expires when, what was refused.' },
      { name: 'Tenants', description: 'The client organisations.' },
      { name: 'Apps', description: 'App keys for the token API.' },
      { name: 'Audit', description: 'What was done, by whom: never a secret value.' },
    ],
    components: {
      securitySchemes: {
        appKey: { type: 'http', scheme: 'bearer', description: 'An app key from `sesame app add`.' },
        operator: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An operator\'s OpenID Connect access token (Cognito or the configured issuer; locally, the `sesame dev` login).' },
      },
      schemas: { Problem: problem, Token: token, Assertion: assertion, ...adminSchemas },
    },
    paths: {
      '/v1/health': {
        get: {
          operationId: 'health',
          summary: 'Whether the broker is up',
          tags: ['Token'],
          security: [],
          responses: { '200': { description: 'The broker is up.', content: { 'application/json': { schema: { type: 'object', required: ['status'], properties: { status: { const: 'ok' }, version: { type: 'string' } } } } } } },
        },
      },
      '/v1/openapi.json': {
        get: { operationId: 'openapi', summary: 'This document', tags: ['Token'], security: [], responses: { '200': { description: 'This document.', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
      '/v1/tenants/{tenant}/credentials/{credential}/token': {
        post: {
          operationId: 'token',
          summary: 'Headers to send upstream for one tenant credential',
          tags: ['Token'],
          security: [{ appKey: [] }],
          parameters: params,
          responses: { '200': { description: 'Authentication material.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Token' } } } }, ...errors },
        },
      },
      '/v1/tenants/{tenant}/credentials/{credential}/assertion': {
        post: {
          operationId: 'assertion',
          summary: 'A signed FLA client assertion (private_key_jwt), for apps that call the token endpoint themselves',
          tags: ['Token'],
          security: [{ appKey: [] }],
          parameters: params,
          responses: { '200': { description: 'A signed client assertion.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Assertion' } } } }, ...errors },
        },
      },
      ...adminPaths,
    },
  };
}
