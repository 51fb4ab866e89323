import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Api } from '../core/api.ts';
import { Apps, type AppRecord } from '../core/apps.ts';
import { Broker, type BrokerOptions } from '../core/broker.ts';
import { TtlCache } from '../core/cache.ts';
import type { Config } from '../core/config.ts';
import { Credentials } from '../core/credentials.ts';
import { systemClock, type Clock, type HttpClient, type Log, type Notifier, type ObjectStore, type SecretStore } from '../core/ports.ts';
import { Tenants } from '../core/tenants.ts';
import { processUpload, type IntakeResult } from '../core/intake.ts';
import type { TrustAnchors } from '../core/certificates/profile.ts';
import { runExpiryCheck, type ExpirySummary } from '../core/expiry.ts';
import { LocalObjectStore } from './local-object-store.ts';
import { OutboxNotifier } from './outbox-notifier.ts';
import { S3ObjectStore } from './s3-object-store.ts';
import { SnsNotifier } from './sns-notifier.ts';
import { AwsSecretStore, type SecretCreation } from './aws-secret-store.ts';
import { FetchHttpClient } from './fetch-http-client.ts';
import { LocalSecretStore } from './local-secret-store.ts';

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
  /** App-record lookup with a short cache, for authorizers. */
  appLookup: (app: string) => Promise<AppRecord | undefined>;
  /** Certificate intake, when the system has an object store and a notifier. */
  intake?: (key: string, version?: string) => Promise<IntakeResult>;
  /** The expiry check, when the system has a notifier. */
  expiryCheck?: () => Promise<ExpirySummary>;
  notifier?: Notifier;
  /** AWS: the intake bucket, when known. */
  bucket?: string;
}

export interface SystemDeps {
  store: SecretStore;
  log: Log;
  version: string;
  http?: HttpClient;
  clock?: Clock;
  broker?: Partial<BrokerOptions>;
  appCacheSeconds?: number;
  objects?: ObjectStore;
  notifier?: Notifier;
  policyAllowList?: readonly string[];
  testPolicyOids?: readonly string[];
  trustAnchors?: TrustAnchors;
  thresholds?: readonly number[];
}

export function buildSystem(deps: SystemDeps): System {
  const clock = deps.clock ?? systemClock;
  const tenants = new Tenants(deps.store, clock);
  const credentials = new Credentials(deps.store, tenants, clock);
  const apps = new Apps(deps.store, tenants, clock);
  const broker = new Broker({ credentials, http: deps.http ?? new FetchHttpClient(), clock, log: deps.log }, deps.broker);
  const appCache = new TtlCache<AppRecord | null>(clock);
  const ttl = (deps.appCacheSeconds ?? 30) * 1000;
  const appLookup = async (app: string) => {
    const hit = appCache.get(app);
    if (hit !== undefined) return hit ?? undefined;
    const rec = await apps.find(app);
    appCache.set(app, rec ?? null, ttl);
    return rec;
  };
  const { objects, notifier } = deps;
  const intake =
    objects && notifier
      ? (key: string, version?: string) =>
          processUpload({ objects, notifier, credentials, clock, log: deps.log, policyAllowList: deps.policyAllowList ?? [], testPolicyOids: deps.testPolicyOids ?? [], ...(deps.trustAnchors ? { trustAnchors: deps.trustAnchors } : {}) }, key, version)
      : undefined;
  const expiryCheck = notifier ? () => runExpiryCheck({ store: deps.store, credentials, tenants, notifier, clock, log: deps.log, ...(deps.thresholds ? { thresholds: deps.thresholds } : {}) }) : undefined;
  return {
    store: deps.store,
    clock,
    log: deps.log,
    tenants,
    credentials,
    apps,
    broker,
    api: new Api(broker, deps.log, deps.version),
    appLookup,
    ...(intake ? { intake } : {}),
    ...(expiryCheck ? { expiryCheck } : {}),
    ...(notifier ? { notifier } : {}),
  };
}

export async function localSystem(config: Config, log: Log, overrides: Partial<SystemDeps> = {}): Promise<System> {
  const clock = overrides.clock ?? systemClock;
  const store = overrides.store ?? (await LocalSecretStore.open(config.home, clock));
  return buildSystem({
    store,
    log,
    version: config.version,
    broker: config.broker,
    clock,
    objects: new LocalObjectStore(config.home),
    notifier: new OutboxNotifier(config.home, clock, log),
    policyAllowList: config.policyAllowList,
    testPolicyOids: config.testPolicyOids,
    ...(config.trustAnchors ? { trustAnchors: config.trustAnchors } : {}),
    thresholds: config.thresholds,
    ...overrides,
  });
}

export interface AwsSystemOptions {
  client?: SecretsManagerClient;
  clock?: Clock;
  /** How to create a missing secret (the CLI); without it, the system never creates one. */
  creation?: () => Promise<SecretCreation>;
}

export function awsSystem(config: Config, log: Log, options: AwsSystemOptions = {}): System {
  const store = new AwsSecretStore(options.client ?? new SecretsManagerClient({}), options.creation ? { creation: options.creation } : {});
  const system = buildSystem({
    store,
    ...(options.clock ? { clock: options.clock } : {}),
    log,
    version: config.version,
    broker: config.broker,
    ...(config.bucket ? { objects: new S3ObjectStore(config.bucket) } : {}),
    ...(config.alertsTopicArn ? { notifier: new SnsNotifier(config.alertsTopicArn) } : {}),
    policyAllowList: config.policyAllowList,
    testPolicyOids: config.testPolicyOids,
    ...(config.trustAnchors ? { trustAnchors: config.trustAnchors } : {}),
    thresholds: config.thresholds,
  });
  return config.bucket ? { ...system, bucket: config.bucket } : system;
}
