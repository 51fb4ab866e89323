import { actor, audit, auditTrailOf, type AuditActor, type AuditTrail } from '../core/audit.ts';
import { DEFAULT_BROKER_OPTIONS } from '../core/broker.ts';
import { Connect, integratorFromEnv, publicUrlFromEnv } from '../core/connect.ts';
import { Credentials } from '../core/credentials.ts';
import { runExpiryCheck, type ExpirySummary } from '../core/expiry.ts';
import { readHealthConfig, runHealthCheck, testCredential, type HealthCheckOptions, type HealthResult, type HealthSummary } from '../core/health.ts';
import { processUpload, type IntakeDeps, type IntakeResult } from '../core/intake.ts';
import type { RetryPolicy } from '../core/oauth.ts';
import { systemClock, type Clock, type HttpClient } from '../core/ports.ts';
import { Tenants } from '../core/tenants.ts';
import { FetchHttpClient } from './fetch-http-client.ts';
import type { SystemDeps } from './system.ts';

/** What every system is made of, short of app keys, the broker and the operator API. */
export interface SystemParts {
  clock: Clock;
  tenants: Tenants;
  credentials: Credentials;
  http: HttpClient;
  retry: RetryPolicy;
  trail?: AuditTrail;
  intakeDeps?: IntakeDeps;
  intake?: (key: string, version?: string) => Promise<IntakeResult>;
  connect?: Connect;
  expiryCheck?: () => Promise<ExpirySummary>;
  /** Checks one credential with its platform now; the result goes to the audit trail. */
  testOne: (tenant: string, credential: string, who?: AuditActor) => Promise<HealthResult>;
  healthCheck?: (options?: HealthCheckOptions) => Promise<HealthSummary>;
}

/**
 * The parts buildSystem composes, and all that the expiry and connect functions run:
 * this module loads neither the broker's API, the operator API nor key rotation, so
 * that those functions, which build from here, start without them.
 */
export function systemParts(deps: SystemDeps): SystemParts {
  const clock = deps.clock ?? systemClock;
  const tenants = new Tenants(deps.store, clock);
  const credentials = new Credentials(deps.store, tenants, clock);
  const http = deps.http ?? new FetchHttpClient();
  const retry = { ...DEFAULT_BROKER_OPTIONS, ...deps.broker }.retry;
  const { objects, notifier } = deps;
  const trail = deps.auditLog ? auditTrailOf(deps.auditLog, deps.log, clock, deps.auditConfig) : undefined;
  const intakeDeps: IntakeDeps | undefined =
    objects && notifier
      ? { objects, notifier, credentials, store: deps.store, clock, log: deps.log, policyAllowList: deps.policyAllowList ?? [], testPolicyOids: deps.testPolicyOids ?? [], ...(deps.trustAnchors ? { trustAnchors: deps.trustAnchors } : {}), ...(trail ? { audit: trail } : {}) }
      : undefined;
  const intake = intakeDeps ? (key: string, version?: string) => processUpload(intakeDeps, key, version) : undefined;
  const connect = deps.state
    ? new Connect({
        state: deps.state,
        store: deps.store,
        tenants,
        credentials,
        clock,
        log: deps.log,
        http,
        retry,
        ...(notifier ? { notifier } : {}),
        ...(intakeDeps ? { intake: intakeDeps } : {}),
        integrator: deps.integrator ?? integratorFromEnv(),
        publicUrl: deps.publicUrl ?? publicUrlFromEnv(),
        ...(trail ? { audit: trail } : {}),
      })
    : undefined;
  const expiryCheck = notifier ? () => runExpiryCheck({ store: deps.store, credentials, tenants, notifier, clock, log: deps.log, ...(deps.thresholds ? { thresholds: deps.thresholds } : {}), ...(connect ? { connect } : {}) }) : undefined;
  const healthDeps = { store: deps.store, credentials, tenants, http, retry, clock, log: deps.log };
  const testOne = async (tenant: string, credential: string, who: AuditActor = actor.cli()) => {
    const r = await testCredential(healthDeps, tenant, credential);
    trail?.record(audit.healthCheck({ actor: who, tenant: r.tenant, credential: r.credential, result: r.status, ...(r.upstream_status ? { upstreamStatus: r.upstream_status } : {}), ...(r.upstream_error ? { upstreamError: r.upstream_error } : {}) }));
    return r;
  };
  const healthCheck = notifier
    ? (options?: HealthCheckOptions) => {
        const { enabled: _e, ...config } = readHealthConfig();
        return runHealthCheck({ ...healthDeps, notifier, ...config }, options);
      }
    : undefined;
  return {
    clock,
    tenants,
    credentials,
    http,
    retry,
    testOne,
    ...(trail ? { trail } : {}),
    ...(intakeDeps ? { intakeDeps } : {}),
    ...(intake ? { intake } : {}),
    ...(connect ? { connect } : {}),
    ...(expiryCheck ? { expiryCheck } : {}),
    ...(healthCheck ? { healthCheck } : {}),
  };
}
