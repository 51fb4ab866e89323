import pRetry from 'p-retry';
import { isSesameError, SesameError } from './errors.ts';
import type { OAuthMaterial } from './platforms/types.ts';
import type { HttpClient, Log } from './ports.ts';

export interface RetryPolicy {
  /** Per attempt. */
  timeoutMs: number;
  attempts: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { timeoutMs: 5_000, attempts: 3, minDelayMs: 200, maxDelayMs: 2_000 };

export interface TokenResult {
  accessToken: string;
  tokenType: string;
  expiresIn: number | undefined;
  scope: string | undefined;
}

/**
 * The OAuth error codes Sesame repeats (RFC 6749 §5.2, RFC 6750 §3.1, OpenID Connect):
 * an upstream's `error` is copied to pages, tags, alerts and the audit trail, so anything
 * else (an endpoint echoing what it was sent, say) is named `unrecognised_error` instead.
 */
const KNOWN_ERROR_CODES: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'server_error',
  'temporarily_unavailable',
  'invalid_token',
  'insufficient_scope',
  'invalid_client_metadata',
  'interaction_required',
  'login_required',
  'consent_required',
]);

function upstreamErrorCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error !== 'string') return undefined;
    return KNOWN_ERROR_CODES.has(parsed.error) ? parsed.error : 'unrecognised_error';
  } catch {
    return undefined;
  }
}

function parseTokenResponse(body: string, endpoint: string): TokenResult {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    json = {};
  }
  const { access_token, token_type, expires_in, scope } = json;
  const expires = typeof expires_in === 'string' ? Number(expires_in) : expires_in;
  if (typeof access_token !== 'string' || access_token.length === 0 || (typeof token_type === 'string' && token_type.toLowerCase() !== 'bearer')) {
    throw new SesameError('upstream_rejected', `the token endpoint ${endpoint} answered without a usable bearer token`, {
      details: { upstream_error: 'invalid_token_response' },
    });
  }
  return {
    accessToken: access_token,
    tokenType: 'Bearer',
    expiresIn: typeof expires === 'number' && Number.isFinite(expires) && expires > 0 ? expires : undefined,
    scope: typeof scope === 'string' ? scope : undefined,
  };
}

/**
 * One client_credentials exchange: a fresh form per attempt, retried with jittered
 * backoff on network errors, timeouts, 5xx and 429; a 4xx is final. When the endpoint
 * refuses the material (a 4xx) and it has a fallback (another key of the same client
 * during a rotation), the fallback is tried, and a warning says so.
 */
export async function fetchToken(http: HttpClient, material: OAuthMaterial, policy: RetryPolicy, log?: Log): Promise<TokenResult> {
  if (!material.fallback) return exchange(http, material, policy, log);
  let refused: SesameError;
  try {
    return await exchange(http, material, policy, log);
  } catch (err) {
    if (!refusedByEndpoint(err)) throw err;
    refused = err;
  }
  const fallback = material.fallback;
  log?.warn('the token endpoint refused the key, trying the fallback key', {
    endpoint: material.tokenEndpoint,
    ...material.logFields,
    ...(fallback.logFields?.key ? { fallback_key: fallback.logFields.key } : {}),
    ...refused.details,
  });
  try {
    const token = await fetchToken(http, fallback, policy, log);
    log?.warn('access token obtained with the fallback key', { endpoint: fallback.tokenEndpoint, ...fallback.logFields });
    return token;
  } catch (err) {
    // Unreachable now: try again later. Refused too: what must be fixed is the key in use.
    if (isSesameError(err, 'upstream_unavailable')) throw err;
    log?.warn('the fallback key was refused too', { endpoint: fallback.tokenEndpoint, ...fallback.logFields, ...(isSesameError(err) ? err.details : {}) });
    throw refused;
  }
}

/** The material alone, without its fallback: to know whether this very key works (a check, an activation). */
export function withoutFallback(material: OAuthMaterial): OAuthMaterial {
  const { fallback: _fallback, ...alone } = material;
  return alone;
}

/** A refusal by the endpoint itself (a 4xx answer), which another key may not get. */
function refusedByEndpoint(err: unknown): err is SesameError {
  if (!isSesameError(err, 'upstream_rejected')) return false;
  const status = err.details.upstream_status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

async function exchange(http: HttpClient, material: OAuthMaterial, policy: RetryPolicy, log?: Log): Promise<TokenResult> {
  const endpoint = material.tokenEndpoint;
  return pRetry(
    async () => {
      const form = await material.form();
      const res = await http.request({
        method: 'POST',
        url: endpoint,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams(form).toString(),
        timeoutMs: policy.timeoutMs,
      });
      if (res.status >= 200 && res.status < 300) return parseTokenResponse(res.body, endpoint);
      const upstream_error = upstreamErrorCode(res.body);
      const details = { upstream_status: res.status, ...(upstream_error ? { upstream_error } : {}) };
      if (res.status === 429 || res.status >= 500) {
        throw new SesameError('upstream_unavailable', `the token endpoint ${endpoint} answered ${res.status}`, { details });
      }
      throw new SesameError('upstream_rejected', `the token endpoint ${endpoint} refused the request (${res.status}${upstream_error ? ` ${upstream_error}` : ''})`, {
        details,
      });
    },
    {
      retries: policy.attempts - 1,
      minTimeout: policy.minDelayMs,
      maxTimeout: policy.maxDelayMs,
      factor: 2,
      randomize: true,
      shouldRetry: ({ error }) => isSesameError(error, 'upstream_unavailable'),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (isSesameError(error, 'upstream_unavailable')) {
          log?.warn('upstream attempt failed', { endpoint, attempt: attemptNumber, retries_left: retriesLeft, reason: error.message });
        }
      },
    },
  );
}
