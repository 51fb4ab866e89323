import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** Powertools metrics and tracer, one per function; namespace and service from the environment. */
export function observability(serviceName: string) {
  return {
    metrics: new Metrics({ serviceName, namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Sesame' }),
    tracer: new Tracer({ serviceName }),
  };
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
