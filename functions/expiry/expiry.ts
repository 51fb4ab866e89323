import type { ExpirySummary } from '../core/expiry.ts';
import type { HealthSummary } from '../core/health.ts';

/**
 * The expiry function, unwrapped: the schedule's event carries nothing it needs. The
 * daily health check runs right after the expiry check; its failure is reported, not
 * thrown: the schedule retries a failed run, and a retry would call every platform again.
 */
export function makeExpiryHandler(check: () => Promise<ExpirySummary>, health?: () => Promise<HealthSummary>, onHealthError?: (err: unknown) => void) {
  return async (_event: unknown): Promise<ExpirySummary & { health?: HealthSummary | { error: true } }> => {
    const summary = await check();
    if (!health) return summary;
    try {
      return { ...summary, health: await health() };
    } catch (err) {
      onHealthError?.(err);
      return { ...summary, health: { error: true } };
    }
  };
}
