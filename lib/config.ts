import { readFileSync } from 'node:fs';
import { z } from 'zod';
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
