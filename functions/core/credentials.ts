import * as z from 'zod';
import { isSesameError, SesameError } from './errors.ts';
import { parseCredentialId, parseTenantId } from './ids.ts';
import { KINDS, platformOf } from './platforms/index.ts';
import { ENVIRONMENTS, type Environment, type Expiry, type Platform, type PlatformContext } from './platforms/types.ts';
import type { Clock, SecretListing, SecretStore, SecretVersion, Tags } from './ports.ts';
import type { Tenants } from './tenants.ts';
import { once } from './once.ts';
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
  /** What expires at `sesame:expires-at`: a key of the platform's `names.expiries` (`certificate`, `chain`, `cfa-key`…). */
  expiresWhat: 'sesame:expires-what',
} as const;
export const NO_EXPIRY = 'none';

const bodySchema = once(() =>
  z.object({
    tenant: z.string(),
    credential: z.string(),
    kind: z.string(),
    environment: z.enum(ENVIRONMENTS as [Environment, ...Environment[]]),
    fields: z.record(z.string(), z.unknown()),
    updated_at: z.string(),
  }),
);

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

/** A record that could not be read: which secret (or `prefix*`), an error code, and words that never hold a secret value. */
export interface RecordError {
  secret: string;
  code: string;
  detail: string;
}

/** The credentials that could be listed, with the records that could not be read beside them. */
export type CredentialList = CredentialSummary[] & { errors: RecordError[] };

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
    // Read, merge and write as one step: a --merge from the CLI while `sesame dev` tags
    // the same credential must not lose either write (the local store locks; AWS keeps
    // every version, and a lost race there is a new version, never a rollback).
    const compute = async (secret: SecretVersion | undefined, storedTags: Tags | undefined) => {
      const stored = secret?.value as { fields?: unknown; environment?: string } | undefined;
      // An existing credential keeps its environment unless one is given: a declared
      // placeholder has it only in its tag, and must not silently become production.
      const environment = (input.environment ?? (secret ? await this.storedEnvironment(name, platform, stored, storedTags) : undefined) ?? platform.environments[0]) as Environment;
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
      const expiries = platform.expiries(fields, ctx);
      const expiresAt = earliest(expiries);
      const body = { tenant, credential: id, kind, environment, fields, updated_at: this.clock.now().toISOString() };
      const tags: Tags = {
        [TAG.tenant]: tenant,
        [TAG.credential]: id,
        [TAG.kind]: kind,
        [TAG.environment]: environment,
        [TAG.expiresAt]: expiresAt?.toISOString() ?? NO_EXPIRY,
        ...expiresWhatTag(platform, expiries),
      };
      const summary: CredentialSummary = { tenant, credential: id, kind, environment, expires_at: expiresAt?.toISOString() ?? null };
      return { value: body, tags, summary };
    };
    if (this.store.update) {
      let summary: CredentialSummary | undefined;
      await this.store.update(name, async (secret, tags) => {
        const r = await compute(secret, tags);
        summary = r.summary;
        return r;
      });
      return summary as CredentialSummary;
    }
    const r = await compute(await this.store.get(name), undefined);
    await this.store.put(name, r.value, r.tags);
    return r.summary;
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
    const parsed = bodySchema().safeParse(secret.value);
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
  private async storedEnvironment(name: string, platform: Platform, body: { environment?: unknown } | undefined, known?: Tags): Promise<Environment | undefined> {
    const valid = (e: unknown): e is Environment => typeof e === 'string' && platform.environments.includes(e as Environment);
    if (valid(body?.environment)) return body.environment;
    const tagged = (known ?? (await this.store.tags(name)))?.[TAG.environment];
    return valid(tagged) ? tagged : undefined;
  }

  /**
   * Every credential (of one tenant, or all) from tags alone: nothing is decrypted. A
   * record that cannot be read is left out and named in `errors`; the rest is listed.
   */
  async list(tenant?: string): Promise<CredentialList> {
    const prefix = tenant ? `${CREDENTIAL_PREFIX}${parseTenantId(tenant)}/` : CREDENTIAL_PREFIX;
    const out: CredentialSummary[] = [];
    const { errors } = await scanSecrets(this.store, prefix, (items) => {
      for (const { name, tags } of items) {
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
    });
    out.sort((a, b) => a.tenant.localeCompare(b.tenant) || a.credential.localeCompare(b.credential));
    return Object.assign(out, { errors });
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

/**
 * The `sesame:expires-what` tag for a credential's expiries: which of the platform's
 * names expires first (`none` without a date), so that the expiry report and the alerts
 * can say what expires without decrypting the credential.
 */
export function expiresWhatTag(platform: Platform, expiries: Expiry[]): Tags {
  const soonest = earliest(expiries);
  const what = expiries.find((e) => e.at.getTime() === soonest?.getTime())?.what;
  const key = what && Object.entries(platform.names.expiries).find(([, n]) => n.en === what.en)?.[0];
  return { [TAG.expiresWhat]: key ?? NO_EXPIRY };
}

/** What a failure says about one record: its code and words safe to print, never a value. */
export function recordError(secret: string, err: unknown): RecordError {
  if (err instanceof SesameError) return { secret, code: err.code, detail: err.message };
  const e = err as NodeJS.ErrnoException | undefined;
  if (typeof e?.syscall === 'string' && typeof e.code === 'string') return { secret, code: 'internal', detail: `${e.syscall} failed: ${e.code}` };
  // An AWS error's name says what went wrong (AccessDeniedException, DecryptionFailure…); its message could quote more.
  return { secret, code: 'internal', detail: err instanceof Error ? err.name : typeof err };
}

/** A store error that concerns one record (an edited or unreadable file), not the store as a whole. */
function oneRecord(err: unknown): boolean {
  if (isSesameError(err, 'store_corrupt')) return true;
  const e = err as NodeJS.ErrnoException | undefined;
  return (e?.syscall === 'open' || e?.syscall === 'read') && ['EACCES', 'EPERM', 'EISDIR', 'EIO'].includes(e.code ?? '');
}

/** What secret names are made of (ids are [a-z0-9-], parts joined by "/"). */
const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789-/';
/** How many extra store calls narrowing down unreadable records may take, per scan. */
const NARROWING_BUDGET = 4000;

/**
 * Every secret under `prefix`, in `ListSecrets` pages of 100, handed to `onItems`. A
 * store may fail a whole page for one unreadable record (the local store does, for an
 * edited file): the page is then narrowed down by longer prefixes until the records
 * that fail are found, and they come back as `errors` while the others are read. Any
 * other failure (the store unreachable, access denied) is thrown.
 */
export async function scanSecrets(
  store: SecretStore,
  prefix: string,
  onItems: (items: { name: string; tags: Tags }[]) => Promise<void> | void,
): Promise<{ pages: number; errors: RecordError[] }> {
  const seen = new Set<string>();
  const errors: RecordError[] = [];
  let pages = 0;
  let budget = NARROWING_BUDGET;
  const deliver = async (items: { name: string; tags: Tags }[]) => {
    const fresh = items.filter((i) => !seen.has(i.name));
    for (const i of fresh) seen.add(i.name);
    if (fresh.length > 0) await onItems(fresh);
  };
  type First = { page: SecretListing } | { failed: unknown };
  const first = async (p: string): Promise<First> => {
    try {
      return { page: await store.list({ prefix: p, pageSize: 100 }) };
    } catch (err) {
      if (!oneRecord(err)) throw err;
      return { failed: err };
    }
  };
  /** The rest of a listing whose first page was read; a later page that fails is narrowed down too. */
  const rest = async (p: string, page: SecretListing): Promise<void> => {
    for (;;) {
      pages += 1;
      await deliver(page.items);
      const nextToken = page.nextToken;
      if (!nextToken) return;
      try {
        page = await store.list({ prefix: p, pageSize: 100, nextToken });
      } catch (err) {
        if (!oneRecord(err)) throw err;
        await narrow(p, err);
        return;
      }
    }
  };
  const walk = async (p: string, got: First): Promise<void> => ('page' in got ? rest(p, got.page) : narrow(p, got.failed));
  const narrow = async (p: string, err: unknown): Promise<void> => {
    if (budget < NAME_CHARS.length + 1) {
      errors.push(recordError(`${p}*`, err));
      return;
    }
    budget -= NAME_CHARS.length + 1;
    const before = errors.length;
    const longer: [string, First][] = [];
    for (const c of NAME_CHARS) longer.push([p + c, await first(p + c)]);
    // Not one longer prefix can be listed, not even an empty one: the store as a whole
    // fails (a wrong key, say), which is no record's fault.
    if (longer.every(([, got]) => 'failed' in got)) throw err;
    for (const [q, got] of longer) await walk(q, got);
    // `p` itself may be a secret: no longer prefix lists it.
    try {
      const tags = await store.tags(p);
      if (tags) await deliver([{ name: p, tags }]);
    } catch (e) {
      if (oneRecord(e)) errors.push(recordError(p, e));
    }
    // Nothing found to blame: say that this part of the listing could not be read.
    if (errors.length === before) errors.push(recordError(`${p}*`, err));
  };
  await walk(prefix, await first(prefix));
  return { pages, errors };
}
