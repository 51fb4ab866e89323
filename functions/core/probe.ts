import { describeError, isSesameError } from './errors.ts';
import { fetchToken, withoutFallback } from './oauth.ts';
import type { Platform, PlatformProbe, ProbeContext } from './platforms/types.ts';
import type { Log } from './ports.ts';
import type { Text } from './text.ts';

/**
 * Does a credential work? Asked before a connect link stores what a client handed
 * over, and by health checks. Nothing obtained here is cached or served: a token is
 * only proof that the platform accepts the credential.
 */
export type ProbeResult =
  | { status: 'ok'; checked_at: string; expires_at?: string; note: Text }
  | { status: 'failed'; checked_at: string; code: 'upstream_rejected' | 'upstream_unavailable'; reason: string; upstream_status?: number; upstream_error?: string }
  | { status: 'not_testable'; checked_at: string; reason: Text };

export async function probeCredential(platform: Platform, fields: unknown, ctx: ProbeContext, log: Log): Promise<ProbeResult> {
  const checked_at = ctx.clock.now().toISOString();
  let outcome: PlatformProbe;
  try {
    outcome = await platformProbe(platform, fields, ctx, log);
  } catch (err) {
    if (!isSesameError(err, 'upstream_rejected') && !isSesameError(err, 'upstream_unavailable')) throw err;
    log.info('credential check failed', { tenant: ctx.tenant, credential: ctx.credential, kind: platform.kind, ...describeError(err) });
    const status = err.details.upstream_status;
    const error = err.details.upstream_error;
    return {
      status: 'failed',
      checked_at,
      code: err.code as 'upstream_rejected' | 'upstream_unavailable',
      reason: err.message,
      ...(typeof status === 'number' ? { upstream_status: status } : {}),
      ...(typeof error === 'string' ? { upstream_error: error } : {}),
    };
  }
  if (outcome.status === 'not_testable') return { status: 'not_testable', checked_at, reason: outcome.reason };
  return { status: 'ok', checked_at, ...(outcome.expiresAt ? { expires_at: outcome.expiresAt.toISOString() } : {}), note: outcome.note };
}

async function platformProbe(platform: Platform, fields: unknown, ctx: ProbeContext, log: Log): Promise<PlatformProbe> {
  if (platform.probe) return platform.probe(fields, ctx);
  const material = platform.material(fields, ctx);
  if (material.type === 'oauth') {
    // This credential's own key alone: a fallback key obtaining the token would prove nothing of it.
    await fetchToken(ctx.http, withoutFallback(material), ctx.retry, log);
    return { status: 'ok', note: { fr: 'Sesame a obtenu un jeton de la plateforme avec ces identifiants : ils fonctionnent.', en: 'Sesame obtained a token from the platform with these credentials: they work.' } };
  }
  return {
    status: 'not_testable',
    reason: { fr: `${platform.title.fr} : la plateforme n’offre aucun appel qui vérifie ces identifiants sans effet.`, en: `${platform.title.en}: the platform offers no call that checks these credentials without side effects.` },
  };
}

/** The message a person reads when a check failed: refused (fix the values) or unreachable (try later). */
export function failureText(result: Extract<ProbeResult, { status: 'failed' }>): Text {
  if (result.code === 'upstream_rejected') {
    const why = [result.upstream_status, result.upstream_error].filter((v) => v !== undefined).join(' ');
    return {
      fr: `La plateforme a refusé ces identifiants${why ? ` (${why})` : ''}.`,
      en: `The platform refused these credentials${why ? ` (${why})` : ''}.`,
    };
  }
  return { fr: 'La plateforme ne répond pas pour le moment.', en: 'The platform does not answer at the moment.' };
}
