import { z } from 'zod';
import { SesameError } from './errors.ts';
import { parseCredentialId, parseTenantId } from './ids.ts';
import { KINDS, platformOf } from './platforms/index.ts';
import { ENVIRONMENTS, type Environment, type Expiry, type Platform, type PlatformContext } from './platforms/types.ts';
import type { Clock, SecretStore, Tags } from './ports.ts';
import type { Tenants } from './tenants.ts';
import { validate } from './validate.ts';

export const CREDENTIAL_PREFIX = 'sesame/';
export const credentialSecretName = (tenant: string, credential: string) => `${CREDENTIAL_PREFIX}${tenant}/${credential}`;

/** Public facts kept as secret tags so that listing never decrypts a secret. */
export const TAG = {
  tenant: 'sesame:tenant',
  credential: 'sesame:credential',
  kind: 'sesame:kind',
  environment: 'sesame:environment',
  expiresAt: 'sesame:expires-at',
} as const;
export const NO_EXPIRY = 'none';

const bodySchema = z.object({
  tenant: z.string(),
  credential: z.string(),
  kind: z.string(),
  environment: z.enum(ENVIRONMENTS as [Environment, ...Environment[]]),
  fields: z.record(z.string(), z.unknown()),
  updated_at: z.string(),
});

export interface Credential {
  tenant: string;
  credential: string;
  kind: string;
  environment: Environment;
  platform: Platform;
  /** Parsed by the platform's schema. */
  fields: unknown;
  version: string;
  updatedAt: string;
}

export interface CredentialSummary {
  tenant: string;
  credential: string;
  kind: string;
  environment: string;
  expires_at: string | null;
}

export interface SetCredentialInput {
  tenant: string;
  credential: string;
  kind?: string;
  environment?: string;
  fields: unknown;
  /** Merge into the stored fields (e.g. add a client_id) instead of replacing them. */
  merge?: boolean;
}

export const REDACTED = '[redacted]';

export class Credentials {
  constructor(
    private readonly store: SecretStore,
    private readonly tenants: Tenants,
    private readonly clock: Clock,
  ) {}

  /** Validates everything before writing: a bad input leaves the stored version untouched. */
  async set(input: SetCredentialInput): Promise<CredentialSummary> {
    const tenant = parseTenantId(input.tenant);
    const { id, kind } = parseCredentialId(input.credential, KINDS);
    if (input.kind !== undefined && input.kind !== kind) {
      throw new SesameError('invalid_request', `credential id "${id}" is of kind "${kind}", not "${input.kind}"`, { details: { field: 'kind' } });
    }
    const platform = platformOf(kind);
    const name = credentialSecretName(tenant, id);
    const secret = await this.store.get(name);
    const stored = secret?.value as { fields?: unknown; environment?: string } | undefined;
    // An existing credential keeps its environment unless one is given: a declared
    // placeholder has it only in its tag, and must not silently become production.
    const environment = (input.environment ?? (secret ? await this.storedEnvironment(name, platform, stored) : undefined) ?? platform.environments[0]) as Environment;
    if (!platform.environments.includes(environment)) {
      throw new SesameError('invalid_request', `${kind} environments are ${platform.environments.join(', ')}, not "${input.environment}"`, {
        details: { field: 'environment' },
      });
    }
    await this.tenants.get(tenant);
    const ctx: PlatformContext = { tenant, credential: id, environment, clock: this.clock };
    let given = input.fields;
    if (input.merge) {
      if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new SesameError('invalid_request', `${kind} credential: fields must be a JSON object`);
      const before = typeof stored?.fields === 'object' && stored?.fields !== null ? stored?.fields : {};
      given = { ...before, ...given };
    }
    let fields = validate(platform.schema, given, `${kind} credential`);
    if (platform.prepare) fields = platform.prepare(fields, ctx);
    const expiresAt = earliest(platform.expiries(fields, ctx));
    const body = { tenant, credential: id, kind, environment, fields, updated_at: this.clock.now().toISOString() };
    const tags: Tags = {
      [TAG.tenant]: tenant,
      [TAG.credential]: id,
      [TAG.kind]: kind,
      [TAG.environment]: environment,
      [TAG.expiresAt]: expiresAt?.toISOString() ?? NO_EXPIRY,
    };
    await this.store.put(name, body, tags);
    return { tenant, credential: id, kind, environment, expires_at: expiresAt?.toISOString() ?? null };
  }

  /** Throws unknown_tenant / unknown_credential / credential_incomplete. */
  async get(tenant: string, credential: string): Promise<Credential> {
    const { id, kind } = parseCredentialId(credential, KINDS);
    const secret = await this.store.get(credentialSecretName(parseTenantId(tenant), id));
    if (!secret) {
      await this.tenants.get(tenant); // unknown_tenant when the tenant is gone too
      throw new SesameError('unknown_credential', `tenant "${tenant}" has no credential "${id}"`, { details: { tenant, credential: id } });
    }
    const incomplete = (what: string) =>
      new SesameError('credential_incomplete', `credential "${id}" of tenant "${tenant}" ${what}: fill it with \`sesame credential set\``, {
        details: { tenant, credential: id },
      });
    const parsed = bodySchema.safeParse(secret.value);
    if (!parsed.success) throw incomplete('has no value yet');
    const body = parsed.data;
    if (body.kind !== kind || body.tenant !== tenant || body.credential !== id) {
      throw new SesameError('store_corrupt', `secret ${credentialSecretName(tenant, id)} holds another credential`);
    }
    const platform = platformOf(kind);
    let fields: unknown;
    try {
      fields = validate(platform.schema, body.fields, `${kind} credential`, 'credential_incomplete');
    } catch (err) {
      throw incomplete(`is incomplete (${(err as SesameError).message})`);
    }
    return { tenant, credential: id, kind, environment: body.environment, platform, fields, version: secret.version, updatedAt: body.updated_at };
  }

  /**
   * The credential as it stands, complete or not (a placeholder has no fields yet), for
   * an update such as an accepted certificate. Undefined when it does not exist.
   */
  async findForUpdate(tenant: string, credential: string): Promise<{ kind: string; environment: Environment; platform: Platform; fields: unknown } | undefined> {
    const { id, kind } = parseCredentialId(credential, KINDS);
    const secret = await this.store.get(credentialSecretName(parseTenantId(tenant), id));
    if (!secret) {
      await this.tenants.get(tenant); // unknown_tenant when the tenant is gone too
      return undefined;
    }
    const platform = platformOf(kind);
    const body = (typeof secret.value === 'object' && secret.value !== null ? secret.value : {}) as { environment?: unknown; fields?: unknown };
    const environment = (await this.storedEnvironment(secret.name, platform, body)) ?? (platform.environments[0] as Environment);
    const parsed = body.fields === undefined ? undefined : platform.schema.safeParse(body.fields);
    return { kind, environment, platform, fields: parsed?.success ? parsed.data : undefined };
  }

  /**
   * The environment a stored credential is in: its body's, else its `sesame:environment`
   * tag (a placeholder declared by the stack has only the tag). Undefined when neither
   * names one of the platform's environments.
   */
  private async storedEnvironment(name: string, platform: Platform, body: { environment?: unknown } | undefined): Promise<Environment | undefined> {
    const valid = (e: unknown): e is Environment => typeof e === 'string' && platform.environments.includes(e as Environment);
    if (valid(body?.environment)) return body.environment;
    const tagged = (await this.store.tags(name))?.[TAG.environment];
    return valid(tagged) ? tagged : undefined;
  }

  async list(tenant?: string): Promise<CredentialSummary[]> {
    const prefix = tenant ? `${CREDENTIAL_PREFIX}${parseTenantId(tenant)}/` : CREDENTIAL_PREFIX;
    const out: CredentialSummary[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.store.list({ prefix, ...(nextToken ? { nextToken } : {}) });
      for (const { name, tags } of page.items) {
        const [, t = '', c = ''] = name.split('/');
        const expires = tags[TAG.expiresAt];
        out.push({
          tenant: tags[TAG.tenant] ?? t,
          credential: tags[TAG.credential] ?? c,
          kind: tags[TAG.kind] ?? 'unknown',
          environment: tags[TAG.environment] ?? 'unknown',
          expires_at: expires && expires !== NO_EXPIRY ? expires : null,
        });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return out.sort((a, b) => a.tenant.localeCompare(b.tenant) || a.credential.localeCompare(b.credential));
  }

  /** The record with every secret field replaced, for display. */
  async show(tenant: string, credential: string) {
    const c = await this.get(tenant, credential);
    const fields = { ...(c.fields as Record<string, unknown>) };
    for (const name of c.platform.secretFields) if (name in fields) fields[name] = REDACTED;
    const ctx: PlatformContext = { tenant: c.tenant, credential: c.credential, environment: c.environment, clock: this.clock };
    const expiries = c.platform.expiries(c.fields, ctx).map((e) => ({ what: e.what.en, at: e.at.toISOString() }));
    return { tenant: c.tenant, credential: c.credential, kind: c.kind, environment: c.environment, version: c.version, updated_at: c.updatedAt, fields, expiries };
  }
}

export function earliest(expiries: Expiry[]): Date | undefined {
  return expiries.reduce<Date | undefined>((min, e) => (!min || e.at < min ? e.at : min), undefined);
}
