import type { ExpirySummary } from '../core/expiry.ts';

/** The expiry function, unwrapped: the schedule's event carries nothing it needs. */
export function makeExpiryHandler(check: () => Promise<ExpirySummary>) {
  return async (_event: unknown): Promise<ExpirySummary> => check();
}
