import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * Powertools metrics, one per function; namespace and service from the environment.
 *
 * No Powertools tracer: Lambda's active tracing already records each invocation and its
 * initialisation in X-Ray, and the tracer's handler middleware stored every response as
 * trace metadata (the token function's upstream tokens, an app key made by the admin
 * API) while its X-Ray SDK cost about 20 ms and 110 KB of every cold start.
 */
export function observability(serviceName: string) {
  return { metrics: new Metrics({ serviceName, namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Sesame' }) };
}

/** A count under a fixed name: metric names and values never carry tenant data or secrets. */
export function count(metrics: Metrics, name: string, value = 1): void {
  metrics.addMetric(name, MetricUnit.Count, value);
}

/**
 * Before a handler returns: the audit records of this invocation written (Lambda freezes
 * the environment after the return; at most `timeoutMs` of waiting, what is left goes at
 * the next thaw), and what was dropped, refused or failed counted.
 */
export async function flushAudit(metrics: Metrics, trail: { flush(o: { timeoutMs?: number }): Promise<void>; takeCounts(): { dropped: number; refused: number; failed: number } } | undefined, timeoutMs = 200): Promise<void> {
  if (!trail) return;
  await trail.flush({ timeoutMs });
  const { dropped, refused, failed } = trail.takeCounts();
  if (dropped > 0) count(metrics, 'AuditDropped', dropped);
  if (refused > 0) count(metrics, 'AuditRefused', refused);
  if (failed > 0) count(metrics, 'AuditWriteFailed', failed);
}
