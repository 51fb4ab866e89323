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
