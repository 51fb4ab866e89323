import { Admin } from '../core/admin.ts';
import { AdminApi } from '../core/admin-api.ts';
import { Api } from '../core/api.ts';
import { APP_CACHE_SECONDS, AppRecordCache, Apps, type AppLookup } from '../core/apps.ts';
import { actor, type AuditConfig, type AuditLog, type AuditTrail } from '../core/audit.ts';
import { Broker, type BrokerOptions } from '../core/broker.ts';
import type { TrustAnchors } from '../core/certificates/profile.ts';
import type { Config } from '../core/config.ts';
import type { Connect, Integrator } from '../core/connect.ts';
import type { Credentials } from '../core/credentials.ts';
import type { ExpirySummary } from '../core/expiry.ts';
import type { HealthCheckOptions, HealthResult, HealthSummary } from '../core/health.ts';
import type { IntakeDeps, IntakeResult } from '../core/intake.ts';
import type { Clock, HttpClient, Log, Notifier, ObjectStore, SecretStore, StateStore } from '../core/ports.ts';
import { FlaRotation } from '../core/rotation.ts';
import type { SharedTokenCache } from '../core/shared-tokens.ts';
import type { Tenants } from '../core/tenants.ts';
import { systemParts } from './parts.ts';

/** Everything a handler or the CLI needs, wired over one store. */
export interface System {
  store: SecretStore;
  clock: Clock;
  log: Log;
  tenants: Tenants;
  credentials: Credentials;
  apps: Apps;
  broker: Broker;
  api: Api;
  /** The operator console's API (`/v1/admin/…`). */
  admin: AdminApi;
  /** App-record lookup for authorizers: cached APP_CACHE_SECONDS in AWS, re-read on change locally. */
  appLookup: AppLookup;
  /** Its cache: how many records it holds (bounded, junk keys add none). */
  appCache: AppRecordCache;
  /** Certificate intake, when the system has an object store and a notifier. */
  intake?: (key: string, version?: string) => Promise<IntakeResult>;
  /** The expiry check, when the system has a notifier. */
  expiryCheck?: () => Promise<ExpirySummary>;
  notifier?: Notifier;
  /** AWS: the intake bucket, when known. */
  bucket?: string;
  /** Small state records (connect links…), when the system has a state store. */
  state?: StateStore;
  /** Connect links, when the system has a state store. */
  connect?: Connect;
  /** The broker's shared token cache, when it has one (its counters feed metrics). */
  sharedTokens?: SharedTokenCache;
  /** The audit trail records go to (flush it before a handler returns), when the system keeps one. */
  audit?: AuditTrail;
  /** Checks one credential with its platform now (issue 13's health checks); the result is recorded on it. */
  testCredential: (tenant: string, credential: string) => Promise<HealthResult>;
  /** FLA key rotation: next key, activation after a token check, retirement of the previous key. */
  rotation: FlaRotation;
  /** The daily health check over every testable credential, when the system has a notifier. */
  healthCheck?: (options?: HealthCheckOptions) => Promise<HealthSummary>;
}

export interface SystemDeps {
  store: SecretStore;
  log: Log;
  version: string;
  http?: HttpClient;
  clock?: Clock;
  broker?: Partial<BrokerOptions>;
  /** How long the authorizer keeps an app record (default APP_CACHE_SECONDS; 0: never). */
  appCacheSeconds?: number;
  /** A cheap fingerprint of an app's stored record: with it, a cached record is used only while it is unchanged. */
  appStamp?: (app: string) => string | undefined;
  objects?: ObjectStore;
  notifier?: Notifier;
  policyAllowList?: readonly string[];
  testPolicyOids?: readonly string[];
  trustAnchors?: IntakeDeps['trustAnchors'];
  thresholds?: readonly number[];
  state?: StateStore;
  /** Named on connect pages; its OPCO headers fill what a client is never asked. Default: from the environment. */
  integrator?: Integrator;
  /** Base URL of connect links. Default: SESAME_PUBLIC_URL, else http://127.0.0.1:8787. */
  publicUrl?: string;
  /** The second level of the broker's token cache, shared with other instances over a state store. */
  sharedTokens?: SharedTokenCache;
  /** Where audit records are written and read: the state table in AWS, a chained file locally. */
  auditLog?: AuditLog;
  auditConfig?: AuditConfig;
}

export function buildSystem(deps: SystemDeps): System {
  const parts = systemParts(deps);
  const { clock, tenants, credentials, http, retry, trail, intakeDeps, intake, connect, expiryCheck, testOne, healthCheck } = parts;
  const { notifier } = deps;
  const apps = new Apps(deps.store, tenants, clock);
  const broker = new Broker({ credentials, http, clock, log: deps.log, ...(deps.sharedTokens ? { shared: deps.sharedTokens } : {}) }, deps.broker);
  const appCache = new AppRecordCache((app) => apps.find(app), clock, { ttlMs: (deps.appCacheSeconds ?? APP_CACHE_SECONDS) * 1000, ...(deps.appStamp ? { stamp: deps.appStamp } : {}) });
  const rotation = new FlaRotation({ credentials, tenants, http, clock, log: deps.log, retry, ...(trail ? { audit: trail } : {}) });
  const admin = new Admin({ store: deps.store, tenants, credentials, apps, clock, log: deps.log, thresholds: deps.thresholds, intake: intakeDeps, connect, testCredential: (t, c, who) => testOne(t, c, actor.operator(who.sub)), rotation });
  return {
    store: deps.store,
    clock,
    log: deps.log,
    tenants,
    credentials,
    apps,
    broker,
    api: new Api(broker, deps.log, deps.version, trail),
    admin: new AdminApi(admin, deps.log, { ...(trail ? { sink: trail } : {}), ...(deps.auditLog ? { log: deps.auditLog } : {}), clock }),
    appLookup: appCache.lookup,
    appCache,
    ...(intake ? { intake } : {}),
    ...(expiryCheck ? { expiryCheck } : {}),
    ...(notifier ? { notifier } : {}),
    ...(deps.state ? { state: deps.state } : {}),
    ...(connect ? { connect } : {}),
    ...(deps.sharedTokens ? { sharedTokens: deps.sharedTokens } : {}),
    ...(trail ? { audit: trail } : {}),
    testCredential: (t, c) => testOne(t, c),
    rotation,
    ...(healthCheck ? { healthCheck } : {}),
  };
}

/**
 * The trust anchors of a system judging certificates: the bundle at
 * SESAME_CHORUS_TRUST_ANCHORS, read and parsed at the first certificate judged, once (the
 * stack checks it at synth: a deployed function is never given a bundle it refuses).
 */
export function trustAnchorsOf(config: Pick<Config, 'trustAnchorsFile'>): { trustAnchors?: () => Promise<TrustAnchors | undefined> } {
  const file = config.trustAnchorsFile;
  if (!file) return {};
  let loaded: Promise<TrustAnchors | undefined> | undefined;
  const load = async () => (await import('../core/trust-anchors.ts')).trustAnchorsFrom(file);
  return { trustAnchors: () => (loaded ??= load()) };
}
