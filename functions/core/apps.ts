import { randomBytes } from 'node:crypto';
import { APP_PREFIX, AppKeys, appSecretName, sha256, type AppRecord } from './app-keys.ts';
import { SesameError } from './errors.ts';
import { parseAppId, parseTenantId } from './ids.ts';
import { KINDS } from './platforms/index.ts';
import type { Clock, SecretStore } from './ports.ts';
import type { Tenants } from './tenants.ts';

export * from './app-keys.ts';

/** `app rotate --overlap`: how long the previous key keeps working. */
export const DEFAULT_OVERLAP = '24h';
export const MAX_OVERLAP_MS = 30 * 86_400_000;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m`, `24h`, `7d` (also `90s`), or `0` for at once; at most 30 days. */
export function parseOverlap(text: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  const n = Number(m?.[1]);
  if (!m || (m[2] === '' && n !== 0)) {
    throw new SesameError('invalid_request', `--overlap must be a duration such as 30m, 24h or 7d, or 0 to stop the previous key at once (not "${text.slice(0, 20)}")`, { details: { field: 'overlap' } });
  }
  const ms = m[2] === '' ? 0 : n * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms > MAX_OVERLAP_MS) throw new SesameError('invalid_request', `--overlap is at most 30d (not "${text.slice(0, 20)}")`, { details: { field: 'overlap' } });
  return ms;
}

const newKey = (app: string) => `sesame_${app}_${randomBytes(32).toString('base64url')}`;
const appTags = (app: string) => ({ 'sesame:app': app, 'sesame:type': 'app' });

/** What `app list` shows: never a hash. */
export type AppSummary = {
  app: string;
  tenants: string[];
  kinds?: string[];
  created_at: string;
  key_created_at?: string;
  previous_key_created_at?: string;
  previous_key_expires_at?: string;
  revoked_at?: string;
};

/** App management (add, rotate, revoke, list) over the key checks an authorizer uses. */
export class Apps extends AppKeys {
  constructor(
    store: SecretStore,
    private readonly tenants: Tenants,
    clock: Clock,
  ) {
    super(store, clock);
  }

  /** Creates the app and returns its key: the only time the key exists outside the caller. */
  async add(input: { app: string; tenants: string[]; kinds?: string[] }): Promise<{ app: string; key: string; tenants: string[] }> {
    const app = parseAppId(input.app);
    if (input.tenants.length === 0) throw new SesameError('invalid_request', 'an app needs at least one tenant (--tenants t1,t2)', { details: { field: 'tenants' } });
    // Each tenant once: a list repeating one tenant costs one read, not one per repetition.
    for (const t of new Set(input.tenants)) await this.tenants.get(parseTenantId(t));
    for (const k of input.kinds ?? []) {
      if (!KINDS.includes(k)) throw new SesameError('invalid_request', `unknown kind "${k.slice(0, 40)}"`, { details: { field: 'kinds' } });
    }
    const existing = await this.find(app);
    if (existing && !existing.revoked_at) {
      throw new SesameError('conflict', `app "${app}" already exists: revoke it first (sesame app revoke ${app})`, { details: { app } });
    }
    const key = newKey(app);
    const record: AppRecord = {
      app,
      key_sha256: sha256(key).toString('hex'),
      tenants: [...new Set(input.tenants)].sort(),
      ...(input.kinds?.length ? { kinds: [...new Set(input.kinds)].sort() } : {}),
      created_at: this.clock.now().toISOString(),
    };
    await this.store.put(appSecretName(app), record, appTags(app));
    return { app, key, tenants: record.tenants };
  }

  /**
   * A new key, working at once; the current one keeps working for `overlap` (default
   * 24h, 0: stops at once). Rotating during an overlap replaces the previous key: the
   * oldest stops at once. Only hashes are kept; the new key is returned this once.
   */
  async rotate(app: string, options: { overlap?: string } = {}): Promise<{ app: string; key: string; previous_key_expires_at: string }> {
    const overlapMs = parseOverlap(options.overlap ?? DEFAULT_OVERLAP);
    const id = parseAppId(app);
    const record = await this.find(id);
    if (!record) throw new SesameError('invalid_request', `app "${id}" does not exist`, { details: { field: 'app' } });
    if (record.revoked_at) throw new SesameError('conflict', `app "${id}" is revoked: its keys cannot be rotated (sesame app add ${id} makes a new one)`, { details: { app: id } });
    const now = this.clock.now();
    const ends = new Date(now.getTime() + overlapMs).toISOString();
    const key = newKey(id);
    const { previous_key: _replaced, ...rest } = record;
    const rotated: AppRecord = {
      ...rest,
      key_sha256: sha256(key).toString('hex'),
      key_created_at: now.toISOString(),
      ...(overlapMs > 0 ? { previous_key: { key_sha256: record.key_sha256, created_at: record.key_created_at ?? record.created_at, expires_at: ends } } : {}),
    };
    await this.store.put(appSecretName(id), rotated, appTags(id));
    return { app: id, key, previous_key_expires_at: ends };
  }

  async revoke(app: string): Promise<AppRecord> {
    const record = await this.find(parseAppId(app));
    if (!record) throw new SesameError('invalid_request', `app "${app}" does not exist`, { details: { field: 'app' } });
    if (record.revoked_at) return record;
    // Every key of the app stops, the previous one of a rotation included.
    const { previous_key: _dropped, ...rest } = record;
    const revoked = { ...rest, revoked_at: this.clock.now().toISOString() };
    await this.store.put(appSecretName(record.app), revoked, { ...appTags(record.app), 'sesame:revoked': 'true' });
    return revoked;
  }


  /** Apps with the dates of their keys: the previous key of a rotation while it still works. */
  async list(): Promise<AppSummary[]> {
    const now = this.clock.now().getTime();
    const out: AppSummary[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.store.list({ prefix: APP_PREFIX, ...(nextToken ? { nextToken } : {}) });
      for (const item of page.items) {
        const rec = await this.find(item.name.slice(APP_PREFIX.length));
        if (rec) {
          const { key_sha256: _omit, previous_key: prev, ...shown } = rec;
          const live = prev && !rec.revoked_at && now < Date.parse(prev.expires_at);
          out.push({ ...shown, ...(live ? { previous_key_created_at: prev.created_at, previous_key_expires_at: prev.expires_at } : {}) });
        }
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return out.sort((a, b) => a.app.localeCompare(b.app));
  }
}
