import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../core/ports.ts';

/**
 * The local equivalent of API Gateway's JWT authorizer: an `Authorization: Bearer <JWT>`
 * whose signature verifies against the issuer's JWKS (found through its discovery
 * document), whose `iss` is the issuer and whose `aud` (or, as Cognito access tokens
 * carry it, `client_id`) is one of the audiences, and which the clock finds neither
 * expired nor not yet valid. It answers the claims, or undefined: why a token is
 * refused is not told to the caller, as API Gateway does not tell it either.
 */
export interface JwtAuthorizerOptions {
  issuer: string;
  /** Accepted audiences: API Gateway's `jwtConfiguration.audience`. */
  audience: string | string[];
  clock: Clock;
  /** Default: the `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string;
  /** Seconds of tolerance on exp/nbf/iat (default 0, as API Gateway). */
  clockToleranceSeconds?: number;
}

export interface JwtVerdict {
  claims: JWTPayload & Record<string, unknown>;
  /** The `scope` (or `scp`) claim, split: what API Gateway passes as `jwt.scopes`. */
  scopes: string[];
}

export type JwtAuthorizer = (authorization: string | undefined) => Promise<JwtVerdict | undefined>;

/** A JWS compact serialization: three base64url parts, the last one the signature. */
const BEARER = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/i;

export function makeJwtAuthorizer(options: JwtAuthorizerOptions): JwtAuthorizer {
  const audiences = Array.isArray(options.audience) ? options.audience : [options.audience];
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  const keys = async () => {
    if (jwks) return jwks;
    discovering ??= (async () => {
      let uri = options.jwksUri;
      if (!uri) {
        const res = await fetch(`${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`discovery answered ${res.status}`);
        const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
        if (doc.issuer !== options.issuer || typeof doc.jwks_uri !== 'string') throw new Error('discovery document does not match the issuer');
        uri = doc.jwks_uri;
      }
      jwks = createRemoteJWKSet(new URL(uri));
      return jwks;
    })().finally(() => {
      discovering = undefined;
    });
    return discovering;
  };

  return async (authorization) => {
    const token = BEARER.exec(authorization?.trim() ?? '')?.[1];
    if (!token) return undefined;
    try {
      const { payload } = await jwtVerify(token, await keys(), {
        issuer: options.issuer,
        currentDate: options.clock.now(),
        clockTolerance: options.clockToleranceSeconds ?? 0,
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
        requiredClaims: ['exp', 'sub'],
      });
      // API Gateway accepts `aud`, or `client_id` when there is no `aud` (Cognito access tokens).
      const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
      const audOk = aud.length > 0 ? aud.some((a) => audiences.includes(a)) : clientId !== undefined && audiences.includes(clientId);
      if (!audOk) return undefined;
      const raw = typeof payload.scope === 'string' ? payload.scope : typeof payload.scp === 'string' ? payload.scp : Array.isArray(payload.scp) ? payload.scp.join(' ') : '';
      return { claims: payload as JwtVerdict['claims'], scopes: raw.split(' ').filter(Boolean) };
    } catch {
      return undefined;
    }
  };
}
