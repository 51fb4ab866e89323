import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { SesameError } from './errors.ts';
import { ID_PATTERN, parseAppId, parseTenantId } from './ids.ts';
import { KINDS } from './platforms/index.ts';
import type { Clock, SecretStore } from './ports.ts';
import type { Tenants } from './tenants.ts';
import { validate } from './validate.ts';

/**
 * App keys: `sesame_<app>_<43 base64url chars>` (256 random bits). The app id in
 * the key lets the verifier fetch one record; only the SHA-256 of the key is stored,
 * which is enough for a key this random (no password-style stretching needed).
 */
export const APP_PREFIX = 'sesame-apps/';
export const appSecretName = (app: string) => `${APP_PREFIX}${app}`;
const KEY_PATTERN = /^sesame_([a-z0-9-]{1,64})_([A-Za-z0-9_-]{43})$/;

const appSchema = z.object({
  app: z.string().regex(ID_PATTERN),
  key_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  tenants: z.array(z.string().regex(ID_PATTERN)),
  kinds: z.array(z.string()).optional(),
  created_at: z.string(),
  revoked_at: z.string().optional(),
});
export type AppRecord = z.infer<typeof appSchema>;

export interface Principal {
  app: string;
  tenants: ReadonlySet<string>;
  /** Undefined: every kind of the allowed tenants. */
  kinds: ReadonlySet<string> | undefined;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function bearerKey(authorization: string | undefined): string | undefined {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  return m?.[1];
}

export class Apps {
  constructor(
    private readonly store: SecretStore,
    private readonly tenants: Tenants,
    private readonly clock: Clock,
  ) {}

  /** Creates the app and returns its key: the only time the key exists outside the caller. */
  async add(input: { app: string; tenants: string[]; kinds?: string[] }): Promise<{ app: string; key: string; tenants: string[] }> {
    const app = parseAppId(input.app);
    if (input.tenants.length === 0) throw new SesameError('invalid_request', 'an app needs at least one tenant (--tenants t1,t2)', { details: { field: 'tenants' } });
    for (const t of input.tenants) await this.tenants.get(parseTenantId(t));
    for (const k of input.kinds ?? []) {
      if (!KINDS.includes(k)) throw new SesameError('invalid_request', `unknown kind "${k}"`, { details: { field: 'kinds' } });
    }
    const existing = await this.find(app);
    if (existing && !existing.revoked_at) {
      throw new SesameError('conflict', `app "${app}" already exists: revoke it first (sesame app revoke ${app})`, { details: { app } });
    }
    const key = `sesame_${app}_${randomBytes(32).toString('base64url')}`;
    const record: AppRecord = {
      app,
      key_sha256: sha256(key).toString('hex'),
      tenants: [...new Set(input.tenants)].sort(),
      ...(input.kinds?.length ? { kinds: [...new Set(input.kinds)].sort() } : {}),
      created_at: this.clock.now().toISOString(),
    };
    await this.store.put(appSecretName(app), record, { 'sesame:app': app, 'sesame:type': 'app' });
    return { app, key, tenants: record.tenants };
  }

  async revoke(app: string): Promise<AppRecord> {
    const record = await this.find(parseAppId(app));
    if (!record) throw new SesameError('invalid_request', `app "${app}" does not exist`, { details: { field: 'app' } });
    if (record.revoked_at) return record;
    const revoked = { ...record, revoked_at: this.clock.now().toISOString() };
    await this.store.put(appSecretName(record.app), revoked, { 'sesame:app': record.app, 'sesame:type': 'app', 'sesame:revoked': 'true' });
    return revoked;
  }

  async find(app: string): Promise<AppRecord | undefined> {
    const s = await this.store.get(appSecretName(app));
    return s ? validate(appSchema, s.value, `app ${app}`, 'store_corrupt') : undefined;
  }

  async list(): Promise<Omit<AppRecord, 'key_sha256'>[]> {
    const out: Omit<AppRecord, 'key_sha256'>[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.store.list({ prefix: APP_PREFIX, ...(nextToken ? { nextToken } : {}) });
      for (const item of page.items) {
        const rec = await this.find(item.name.slice(APP_PREFIX.length));
        if (rec) {
          const { key_sha256: _omit, ...shown } = rec;
          out.push(shown);
        }
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return out.sort((a, b) => a.app.localeCompare(b.app));
  }

  /** Unknown, malformed and revoked keys all end the same way: unauthorized. */
  async verify(key: string | undefined, lookup: (app: string) => Promise<AppRecord | undefined> = (a) => this.find(a)): Promise<Principal> {
    // Built only on refusal: an Error captures a stack, too costly for every request.
    const refused = () => new SesameError('unauthorized', 'a valid app key is required: Authorization: Bearer <app key>');
    const m = KEY_PATTERN.exec(key ?? '');
    if (!m || !key) throw refused();
    const record = await lookup(m[1] as string);
    const presented = sha256(key);
    // Compare even when the app is unknown so that timing does not tell apps apart.
    const stored = record ? Buffer.from(record.key_sha256, 'hex') : Buffer.alloc(32);
    if (!timingSafeEqual(presented, stored) || !record || record.revoked_at) throw refused();
    return { app: record.app, tenants: new Set(record.tenants), kinds: record.kinds ? new Set(record.kinds) : undefined };
  }
}

/** What the authorizer hands API Gateway: strings only, as every API Gateway flavour accepts. */
export interface AuthorizerContext {
  app: string;
  tenants: string;
  kinds: string;
}

export function principalToContext(p: Principal): AuthorizerContext {
  return { app: p.app, tenants: [...p.tenants].join(','), kinds: p.kinds ? [...p.kinds].join(',') : '' };
}

export function principalFromContext(ctx: Partial<AuthorizerContext> | undefined): Principal | undefined {
  if (!ctx || typeof ctx.app !== 'string' || ctx.app === '' || typeof ctx.tenants !== 'string') return undefined;
  const list = (s: string | undefined) => (s ?? '').split(',').filter(Boolean);
  const kinds = list(ctx.kinds);
  return { app: ctx.app, tenants: new Set(list(ctx.tenants)), kinds: kinds.length > 0 ? new Set(kinds) : undefined };
}
