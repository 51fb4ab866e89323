import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { ID_PATTERN, parseCredentialId } from '../functions/core/ids.ts';
import { KINDS, platformOf } from '../functions/core/platforms/index.ts';
import { validate } from '../functions/core/validate.ts';

/**
 * sesame.config.json: what the stack deploys. Tenants and their credentials become
 * secrets with placeholder bodies (values are filled with `sesame --aws credential set`).
 */
const email = z.email('must be an email address');
const oid = z.string().regex(/^\d+(\.\d+)+$/, 'must be a dotted OID');
// A refinement, not .int(): validate() words every invalid_type issue as "is required".
const days = z.number().refine((n) => Number.isInteger(n) && n >= 0 && n <= 3650, 'must be a whole number of days from 0 to 3650');
const credentialSchema = z
  .strictObject({ id: z.string(), environment: z.enum(['production', 'acceptance', 'sandbox']).optional() })
  .superRefine((c, ctx) => {
    let kind: string;
    try {
      kind = parseCredentialId(c.id, KINDS).kind;
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['id'], message: (err as Error).message });
      return;
    }
    const envs = platformOf(kind).environments;
    if (c.environment && !envs.includes(c.environment)) ctx.addIssue({ code: 'custom', path: ['environment'], message: `must be one of ${envs.join(', ')} for ${kind}` });
  });

/** A Cognito hosted-UI domain prefix, as Cognito accepts it (unique per region across AWS). */
const domainPrefix = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be 1 to 63 characters among a-z, 0-9 and "-", not starting or ending with "-"')
  .refine((p) => !/aws|amazon|cognito/.test(p), 'must not contain "aws", "amazon" or "cognito" (Cognito refuses them)');
const httpsUrl = z.string().regex(/^https:\/\/[a-z0-9.-]+(:\d+)?(\/[^\s?#]*)?$/i, 'must be an https URL without query or fragment');
const httpsOrigin = z.string().regex(/^https:\/\/[a-z0-9.-]+(:\d+)?$/i, 'must be an https origin (scheme, host and optional port, no path)');
const EXTERNAL_KEYS = ['issuer', 'audience', 'clientId', 'scope', 'resource', 'connectSrc', 'operators'] as const;

/**
 * Who the operators are, for the console and the admin API. Either the stack's own
 * Cognito user pool (`cognito`), or an external OpenID Connect issuer (Entra ID, Google,
 * Keycloak…) whose access tokens carry `audience`; never both.
 */
const consoleSchema = z
  .strictObject({
    cognito: z
      .strictObject({
        /** Hosted-UI domain prefix; without it, `<stack name>-<account id>`. */
        domainPrefix: domainPrefix.optional(),
        /** Operators created with the stack: each receives a temporary password by email, then sets up TOTP. */
        adminEmails: z
          .array(email)
          .default([])
          .superRefine((list, ctx) => {
            list.forEach((e, i) => {
              if (list.findIndex((x) => x.toLowerCase() === e.toLowerCase()) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `repeats ${e}` });
            });
          }),
      })
      .optional(),
    /** The issuer exactly as its tokens' `iss` claim says it (API Gateway compares them as strings). */
    issuer: httpsUrl.optional(),
    /** The `aud` (or `client_id`) the admin API's JWT authorizer requires. */
    audience: z.string().trim().min(1, 'must not be empty').optional(),
    /** The console's public client at that issuer (authorization code + PKCE, no secret). */
    clientId: z.string().trim().min(1, 'must not be empty').optional(),
    /** Scopes the console asks for; default "openid email profile". */
    scope: z.string().trim().min(1, 'must not be empty').optional(),
    /** RFC 8707 resource indicator the console sends, for issuers that need one to issue a JWT for `audience`. */
    resource: z.string().trim().min(1, 'must not be empty').optional(),
    /** Origins the console calls besides the issuer's (e.g. a token endpoint on another host), for its CSP. */
    connectSrc: z.array(httpsOrigin).optional(),
    /**
     * The operators among the issuer's accounts: `sub`, email or username. Required: an
     * external issuer signs in many more people than the operators, and the JWT authorizer
     * checks only issuer and audience.
     */
    operators: z.array(z.string().trim().min(1, 'must not be empty').max(320, 'is too long')).min(1, 'must name at least one operator').optional(),
  })
  .superRefine((c, ctx) => {
    const external = EXTERNAL_KEYS.filter((k) => c[k] !== undefined);
    if (c.cognito) {
      for (const k of external) ctx.addIssue({ code: 'custom', path: [k], message: 'cannot be combined with "cognito": choose the stack’s user pool or an external issuer' });
      return;
    }
    if (external.length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'must hold either "cognito" or "issuer", "audience" and "clientId"' });
      return;
    }
    for (const k of ['issuer', 'audience', 'clientId', 'operators'] as const) {
      if (c[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `is required with ${external.map((x) => `"${x}"`).join(', ')} (an external issuer)` });
    }
  })
  .transform((c): ConsoleConfig => (c.cognito ? { cognito: { ...(c.cognito.domainPrefix ? { domainPrefix: c.cognito.domainPrefix } : {}), adminEmails: c.cognito.adminEmails } } : (c as ExternalIssuer)));

/** The stack's Cognito user pool. */
export interface CognitoOperators {
  cognito: { domainPrefix?: string; adminEmails: string[] };
}
/** An external OpenID Connect issuer. */
export interface ExternalIssuer {
  issuer: string;
  audience: string;
  clientId: string;
  scope?: string;
  resource?: string;
  connectSrc?: string[];
  /** Who may use the admin API: `sub`, email or username claims. */
  operators: string[];
}
export type ConsoleConfig = CognitoOperators | ExternalIssuer;

export const configSchema = z.strictObject({
  /** The role administrators assume to fill credentials and manage apps. */
  adminRoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN'),
  operatorEmail: email.optional(),
  operationsEmail: email.optional(),
  chorusPolicyOids: z.array(oid).default([]),
  /** Policy OIDs that mark test certificates, refused for production credentials. */
  testPolicyOids: z.array(oid).default([]),
  /** A PEM bundle of the RGS* CAs Chorus Pro chains must lead to (path from where cdk runs). */
  chorusTrustAnchors: z.string().min(1).optional(),
  /** Days before an end date when the expiry watch alerts; without it, the functions' defaults. */
  expiryThresholds: z
    .array(days)
    .min(1, 'must list at least one number of days')
    .superRefine((list, ctx) => {
      list.forEach((n, i) => {
        if (list.indexOf(n) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `repeats ${n} days` });
      });
    })
    .optional(),
  throttle: z.strictObject({ rateLimit: z.number().int().min(1), burstLimit: z.number().int().min(1) }).optional(),
  /** The operators' identity for the console and the admin API; without it, a Cognito user pool with no user (see lib/operator-console.ts). */
  console: consoleSchema.optional(),
  domain: z.strictObject({ name: z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'must be a domain name'), certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:/, 'must be an ACM certificate ARN') }).optional(),
  tenants: z
    .array(
      z.strictObject({
        id: z.string().regex(ID_PATTERN, 'must be 1 to 64 characters among a-z, 0-9 and "-"'),
        name: z.string().trim().min(1),
        siret: z.string().optional(),
        siren: z.string().optional(),
        bce: z.string().optional(),
        alertEmails: z.array(email).default([]),
        credentials: z.array(credentialSchema).default([]),
      }),
    )
    .default([])
    .superRefine((tenants, ctx) => {
      const seen = new Set<string>();
      tenants.forEach((t, i) => {
        if (seen.has(t.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `"${t.id}" is declared twice` });
        seen.add(t.id);
        const creds = new Set<string>();
        t.credentials.forEach((c, j) => {
          if (creds.has(c.id)) ctx.addIssue({ code: 'custom', path: [i, 'credentials', j, 'id'], message: `"${c.id}" is declared twice for ${t.id}` });
          creds.add(c.id);
        });
      });
    }),
});

export type SesameConfig = z.infer<typeof configSchema>;

export function parseConfig(input: unknown, source = 'sesame.config.json'): SesameConfig {
  return validate(configSchema, input, source);
}

export function loadConfig(path: string): SesameConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'not valid JSON'}`);
  }
  return parseConfig(raw, path);
}
