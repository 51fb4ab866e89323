import { SingleFlight, TtlCache } from './cache.ts';
import type { Credential, Credentials } from './credentials.ts';
import { describeError, isSesameError, SesameError } from './errors.ts';
import { parseCredentialId, parseTenantId } from './ids.ts';
import { DEFAULT_RETRY, fetchToken, type RetryPolicy, type TokenResult } from './oauth.ts';
import { KINDS } from './platforms/index.ts';
import type { ObtainedToken, SharedTokenCache } from './shared-tokens.ts';
import type { AssertionMaterial, Expiry, Material, OAuthMaterial, PlatformContext } from './platforms/types.ts';
import { nowMs, type Clock, type HttpClient, type Log } from './ports.ts';
import type { Principal } from './apps.ts';

export interface BrokerOptions {
  /** A cached token is refreshed this long before it expires. */
  refreshMarginSeconds: number;
  /** Lifetime assumed when the token endpoint gives no expires_in. */
  defaultTokenTtlSeconds: number;
  /** Upper bound on any cached token, whatever expires_in says. */
  maxTokenTtlSeconds: number;
  /** How long a decrypted credential stays in memory. */
  secretTtlSeconds: number;
  retry: RetryPolicy;
  retryAfterSeconds: number;
}

export const DEFAULT_BROKER_OPTIONS: BrokerOptions = {
  refreshMarginSeconds: 60,
  defaultTokenTtlSeconds: 300,
  maxTokenTtlSeconds: 86_400,
  secretTtlSeconds: 30,
  retry: DEFAULT_RETRY,
  retryAfterSeconds: 5,
};

export interface TokenResponse {
  tenant: string;
  credential: string;
  kind: string;
  environment: string;
  headers: Record<string, string>;
  base_url: string | null;
  expires_at: string | null;
  cached: boolean;
  access_token?: string;
  token_type?: string;
  scope?: string | null;
}

/** A decrypted credential with what is derived from it once, not per request. */
interface Loaded {
  cred: Credential;
  ctx: PlatformContext;
  expiries: Expiry[];
  /** The earliest of `expiries`, in epoch ms (Infinity: none): one comparison per request. */
  firstExpiryMs: number;
  /** What the platform derives from the fields (headers, token request): built at the first request. */
  material?: Material;
  /** A static credential's answer, the same for every request until the credential is read again. */
  response?: TokenResponse;
}

interface CachedToken {
  version: string;
  token: TokenResult;
  expiresAt: number;
  /** The answer served for this token from the cache (`cached: true`), built at the first hit. */
  response?: TokenResponse;
}

/**
 * Vends authentication material. Decrypted credentials and access tokens are held
 * in memory; concurrent requests for one credential share one store read and one
 * upstream call. With `shared`, a token missing from memory is looked for in the
 * shared cache (other instances' tokens, and their leases) before any upstream call.
 */
export class Broker {
  private readonly secrets: TtlCache<Loaded>;
  private readonly secretFlights = new SingleFlight<Loaded>();
  private readonly tokens: TtlCache<CachedToken>;
  private readonly tokenFlights = new SingleFlight<{ token: TokenResult; expiresAt: number; cached: boolean }>();
  readonly options: BrokerOptions;

  constructor(
    private readonly deps: { credentials: Credentials; http: HttpClient; clock: Clock; log: Log; shared?: SharedTokenCache },
    options: Partial<BrokerOptions> = {},
  ) {
    this.options = { ...DEFAULT_BROKER_OPTIONS, ...options };
    this.secrets = new TtlCache(deps.clock);
    this.tokens = new TtlCache(deps.clock);
  }

  async token(principal: Principal, tenant: string, credential: string): Promise<TokenResponse> {
    // A credential in memory is checked without a wait: a cache hit costs no await until the answer.
    const inMemory = this.authorizedInMemory(principal, tenant, credential);
    const loaded = inMemory ?? (await this.authorizedCredential(principal, tenant, credential));
    const { cred, ctx } = loaded;
    // Answers are built once per credential read or per token, then served as they are
    // (frozen: the API keeps their serialised form beside them); fields written out
    // rather than spread from a shared object, which V8 made several times slower.
    const material = (loaded.material ??= cred.platform.material(cred.fields, ctx));
    if (material.type === 'static') {
      return (loaded.response ??= Object.freeze({
        tenant: cred.tenant,
        credential: cred.credential,
        kind: cred.kind,
        environment: cred.environment,
        headers: material.headers,
        base_url: material.baseUrl,
        expires_at: material.expiresAt?.toISOString() ?? null,
        cached: false,
      }));
    }
    const hit = this.cachedToken(cred);
    if (hit) return (hit.response ??= Object.freeze(this.tokenResponse(cred, material, hit.token, hit.expiresAt, true)));
    const { token, expiresAt, cached, entry } = await this.accessToken(cred, material);
    if (entry) return (entry.response ??= Object.freeze(this.tokenResponse(cred, material, token, expiresAt, true)));
    return this.tokenResponse(cred, material, token, expiresAt, cached);
  }

  private tokenResponse(cred: Credential, material: OAuthMaterial, token: TokenResult, expiresAt: number, cached: boolean): TokenResponse {
    return {
      tenant: cred.tenant,
      credential: cred.credential,
      kind: cred.kind,
      environment: cred.environment,
      headers: material.headers(token.accessToken),
      base_url: material.baseUrl,
      expires_at: new Date(expiresAt).toISOString(),
      cached,
      access_token: token.accessToken,
      token_type: token.tokenType,
      scope: token.scope ?? null,
    };
  }

  async assertion(principal: Principal, tenant: string, credential: string): Promise<AssertionMaterial> {
    const { cred, ctx } = await this.authorizedCredential(principal, tenant, credential);
    if (!cred.platform.assertion) {
      throw new SesameError('invalid_request', `${cred.kind} credentials do not authenticate with a client assertion; use the token endpoint`);
    }
    return cred.platform.assertion(cred.fields, ctx);
  }

  /** The credential when it is in memory, checked as authorizedCredential does; undefined when it must be read. */
  private authorizedInMemory(principal: Principal, tenant: string, credential: string): Loaded | undefined {
    this.checkScope(principal, tenant, credential);
    const hit = this.secrets.get(`${tenant}/${credential}`);
    if (hit) this.checkExpiries(hit, tenant, credential);
    return hit;
  }

  /** A token of this very credential version still fresh (before its refresh margin), if memory holds one. */
  private cachedToken(cred: Credential): CachedToken | undefined {
    const entry = this.tokens.get(`${cred.tenant}/${cred.credential}`);
    return entry?.version === cred.version && nowMs(this.deps.clock) < entry.expiresAt - this.options.refreshMarginSeconds * 1000 ? entry : undefined;
  }

  /** Scope is checked from the ids alone, before any read, so a refusal says nothing about existence. */
  private checkScope(principal: Principal, tenant: string, credential: string): void {
    parseTenantId(tenant);
    const { kind } = parseCredentialId(credential, KINDS);
    if (!principal.tenants.has(tenant) || (principal.kinds && !principal.kinds.has(kind))) {
      throw new SesameError('forbidden', `app "${principal.app}" may not use credential "${credential}" of tenant "${tenant}"`);
    }
  }

  private async authorizedCredential(principal: Principal, tenant: string, credential: string): Promise<Loaded> {
    this.checkScope(principal, tenant, credential);
    const loaded = await this.load(tenant, credential);
    this.checkExpiries(loaded, tenant, credential);
    return loaded;
  }

  private checkExpiries(loaded: Loaded, tenant: string, credential: string): void {
    if (loaded.firstExpiryMs <= nowMs(this.deps.clock)) {
      const now = this.deps.clock.now();
      for (const e of loaded.expiries) {
        if (e.at > now) continue;
        throw new SesameError('credential_expired', `the ${e.what.en} of "${credential}" (tenant "${tenant}") expired on ${e.at.toISOString()}`, {
          details: { tenant, credential, expired_at: e.at.toISOString() },
        });
      }
    }
  }

  private load(tenant: string, credential: string): Promise<Loaded> {
    const key = `${tenant}/${credential}`;
    const hit = this.secrets.get(key);
    if (hit) return Promise.resolve(hit);
    return this.secretFlights.run(key, async () => {
      const cred = await this.deps.credentials.get(tenant, credential);
      const ctx: PlatformContext = { tenant: cred.tenant, credential: cred.credential, environment: cred.environment, clock: this.deps.clock };
      const expiries = cred.platform.expiries(cred.fields, ctx);
      const loaded: Loaded = { cred, ctx, expiries, firstExpiryMs: Math.min(Number.POSITIVE_INFINITY, ...expiries.map((e) => e.at.getTime())) };
      this.secrets.set(key, loaded, this.options.secretTtlSeconds * 1000);
      return loaded;
    });
  }

  private async accessToken(cred: Credential, material: OAuthMaterial): Promise<{ token: TokenResult; expiresAt: number; cached: boolean; entry?: CachedToken }> {
    const key = `${cred.tenant}/${cred.credential}`;
    const now = nowMs(this.deps.clock);
    const margin = this.options.refreshMarginSeconds * 1000;
    // An entry of an older secret version is never served: the credential changed.
    const entry = this.tokens.get(key);
    const current = entry?.version === cred.version ? entry : undefined;
    if (current && now < current.expiresAt - margin) return { token: current.token, expiresAt: current.expiresAt, cached: true, entry: current };

    try {
      // The shared cache is consulted inside the flight: one lookup per process, however many requests wait.
      return await this.tokenFlights.run(`${key}#${cred.version}`, async () => {
        const upstream = async (): Promise<ObtainedToken> => {
          const started = Date.now();
          const t = await fetchToken(this.deps.http, material, this.options.retry, this.deps.log);
          const ttl = Math.min(t.expiresIn ?? this.options.defaultTokenTtlSeconds, this.options.maxTokenTtlSeconds) * 1000;
          this.deps.log.info('access token obtained', {
            tenant: cred.tenant,
            credential: cred.credential,
            kind: cred.kind,
            expires_in: t.expiresIn ?? null,
            upstream_ms: Date.now() - started,
          });
          return { token: t, expiresAt: this.deps.clock.now().getTime() + ttl };
        };
        const got = this.deps.shared
          ? await this.deps.shared.obtain({ tenant: cred.tenant, credential: cred.credential, secretVersion: cred.version }, upstream)
          : { ...(await upstream()), cached: false };
        this.tokens.set(key, { version: cred.version, token: got.token, expiresAt: got.expiresAt }, got.expiresAt - this.deps.clock.now().getTime());
        return got;
      });
    } catch (err) {
      if (isSesameError(err, 'upstream_unavailable')) {
        // Still valid, only due for refresh: better an older token than none.
        if (current && this.deps.clock.now().getTime() < current.expiresAt) {
          this.deps.log.warn('upstream unavailable, serving the cached token', { tenant: cred.tenant, credential: cred.credential, ...describeError(err) });
          return { token: current.token, expiresAt: current.expiresAt, cached: true };
        }
        throw new SesameError('upstream_unavailable', `${err.message}; no valid cached token remains, try again later`, {
          cause: err,
          details: err.details,
          retryAfter: this.options.retryAfterSeconds,
        });
      }
      throw err;
    }
  }
}
