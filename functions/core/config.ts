import { readAuditConfig, type AuditConfig } from './audit.ts';
import { readFileSync } from 'node:fs';
import { SesameError } from './errors.ts';
import { DEFAULT_BROKER_OPTIONS, type BrokerOptions } from './broker.ts';
import { DEFAULT_RETRY } from './oauth.ts';
import { DEFAULT_SHARED_TOKEN_OPTIONS } from './shared-tokens.ts';

/**
 * Configuration, read once from the environment. A malformed value stops the
 * process at start with the variable's name, not at the first request.
 */
export interface Config {
  home: string;
  /** The audit trail's retention and buffering (SESAME_AUDIT_RETENTION_DAYS…). */
  audit: AuditConfig;
  kmsKeyId: string | undefined;
  broker: BrokerOptions;
  version: string;
  /** Chorus Pro RGS* certificate policy OIDs (SESAME_CHORUS_POLICY_OIDS); empty: unchecked, with a warning. */
  policyAllowList: string[];
  /** Policy OIDs marking test certificates (SESAME_TEST_POLICY_OIDS). */
  testPolicyOids: string[];
  /**
   * The PEM bundle of Chorus Pro's trusted (RGS*) CAs (SESAME_CHORUS_TRUST_ANCHORS; none: a
   * warning in each report), read and checked by trustAnchorsFrom where certificates are
   * judged: the other functions never load the certificate parser for it.
   */
  trustAnchorsFile: string | undefined;
  /** Days before an end date when an alert goes out (SESAME_EXPIRY_THRESHOLDS). */
  thresholds: number[];
  /** AWS only: the intake bucket and the alerts topic. */
  bucket: string | undefined;
  alertsTopicArn: string | undefined;
  /**
   * AWS only: the DynamoDB state table (SESAME_STATE_TABLE) that holds connect links; without
   * it there are none. (The links' public base URL, SESAME_PUBLIC_URL, is read by core/connect.ts.)
   */
  stateTable?: string | undefined;
  /**
   * The shared token cache (functions/core/shared-tokens.ts), second level under each
   * broker's memory: on unless SESAME_SHARED_TOKEN_CACHE=off. In AWS it needs the state
   * table and the KMS key that seals tokens (SESAME_TOKEN_CACHE_KEY, set on the token
   * function only); locally it uses the state folder and the local key.
   */
  sharedTokens?: SharedTokensConfig;
  /** `sesame --aws`: the deployed stack whose outputs fill what the variables above leave unset. */
  stackName: string;
  /** `sesame --aws`: principals allowed by the resource policy of the secrets it creates (SESAME_SECRET_PRINCIPALS). */
  secretPrincipals: string[] | undefined;
  /**
   * Admin function with an external issuer: the accounts that are operators (their `sub`,
   * email or username), from SESAME_ADMIN_OPERATORS; undefined: every account the issuer
   * signs in for the console's audience (the stack's own user pool has no self sign-up).
   */
  adminOperators: string[] | undefined;
}

export interface SharedTokensConfig {
  enabled: boolean;
  /** SESAME_TOKEN_LEASE_SECONDS: how long a lease holder may take before another takes over (default 15). */
  leaseSeconds: number;
  /** SESAME_TOKEN_CACHE_KEY: the KMS key (id or ARN) of the data keys that seal cached tokens. */
  kmsKeyId: string | undefined;
}

function sharedTokens(env: NodeJS.ProcessEnv, upstreamTimeoutMs: number): SharedTokensConfig {
  const raw = (env.SESAME_SHARED_TOKEN_CACHE ?? '').trim().toLowerCase();
  if (!['', 'on', 'off'].includes(raw)) throw new SesameError('invalid_request', `environment variable SESAME_SHARED_TOKEN_CACHE must be "on" or "off", got "${raw.slice(0, 16)}"`);
  const leaseSeconds = seconds(env, 'SESAME_TOKEN_LEASE_SECONDS', DEFAULT_SHARED_TOKEN_OPTIONS.leaseSeconds, 1, 300);
  // A holder still within one upstream attempt must not lose its lease: that would cost a second call.
  if (raw !== 'off' && leaseSeconds * 1000 <= upstreamTimeoutMs) {
    throw new SesameError('invalid_request', `environment variable SESAME_TOKEN_LEASE_SECONDS (${leaseSeconds}) must be longer than one upstream attempt (SESAME_UPSTREAM_TIMEOUT_MS, ${upstreamTimeoutMs} ms), or SESAME_SHARED_TOKEN_CACHE=off`);
  }
  return { enabled: raw !== 'off', leaseSeconds, kmsKeyId: env.SESAME_TOKEN_CACHE_KEY || undefined };
}

function operators(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = env.SESAME_ADMIN_OPERATORS;
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function principals(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = env.SESAME_SECRET_PRINCIPALS;
  if (raw === undefined || raw.trim() === '') return undefined;
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.find((a) => !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\w+=,.@/*-]+$/.test(a));
  if (bad) throw new SesameError('invalid_request', `environment variable SESAME_SECRET_PRINCIPALS must list IAM principal ARNs separated by commas, got "${bad.slice(0, 80)}"`);
  return list;
}

function thresholds(env: NodeJS.ProcessEnv): number[] {
  const raw = env.SESAME_EXPIRY_THRESHOLDS;
  if (raw === undefined || raw === '') return [60, 30, 14, 7, 3, 1, 0];
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 0 || n > 3650)) throw new SesameError('invalid_request', `environment variable SESAME_EXPIRY_THRESHOLDS must list whole days separated by commas, got "${raw.slice(0, 60)}"`);
  return [...new Set(list)].sort((a, b) => b - a);
}

function oids(env: NodeJS.ProcessEnv, name: string): string[] {
  const list = (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.find((o) => !/^\d+(\.\d+)+$/.test(o));
  if (bad) throw new SesameError('invalid_request', `environment variable ${name} must list dotted OIDs separated by commas, got "${bad.slice(0, 40)}"`);
  return list;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0, max = 86_400): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new SesameError('invalid_request', `environment variable ${name} must be a number from ${min} to ${max}, got "${raw.slice(0, 32)}"`);
  }
  return n;
}

export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v === '') throw new SesameError('invalid_request', `environment variable ${name} is required`);
  return v;
}

let cachedVersion: string | undefined;
export function packageVersion(): string {
  if (cachedVersion) return cachedVersion;
  try {
    cachedVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    // Bundled into a Lambda the file is not there; the build injects the version instead.
    cachedVersion = process.env.SESAME_VERSION ?? '0.0.0';
  }
  return cachedVersion;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const d = DEFAULT_BROKER_OPTIONS;
  const upstreamTimeoutMs = seconds(env, 'SESAME_UPSTREAM_TIMEOUT_MS', DEFAULT_RETRY.timeoutMs, 10, 60_000);
  return {
    sharedTokens: sharedTokens(env, upstreamTimeoutMs),
    audit: readAuditConfig(env),
    home: env.SESAME_HOME || '.sesame',
    kmsKeyId: env.SESAME_KMS_KEY_ID || undefined,
    version: env.SESAME_VERSION || packageVersion(),
    policyAllowList: oids(env, 'SESAME_CHORUS_POLICY_OIDS'),
    testPolicyOids: oids(env, 'SESAME_TEST_POLICY_OIDS'),
    trustAnchorsFile: env.SESAME_CHORUS_TRUST_ANCHORS || undefined,
    thresholds: thresholds(env),
    bucket: env.SESAME_BUCKET || undefined,
    alertsTopicArn: env.SESAME_ALERTS_TOPIC_ARN || undefined,
    stateTable: env.SESAME_STATE_TABLE || undefined,
    stackName: env.SESAME_STACK || 'Sesame',
    secretPrincipals: principals(env),
    adminOperators: operators(env),
    broker: {
      refreshMarginSeconds: seconds(env, 'SESAME_TOKEN_REFRESH_MARGIN', d.refreshMarginSeconds, 0, 3_600),
      defaultTokenTtlSeconds: seconds(env, 'SESAME_TOKEN_DEFAULT_TTL', d.defaultTokenTtlSeconds, 1, 86_400),
      maxTokenTtlSeconds: seconds(env, 'SESAME_TOKEN_MAX_TTL', d.maxTokenTtlSeconds, 1, 7 * 86_400),
      secretTtlSeconds: seconds(env, 'SESAME_SECRET_CACHE_TTL', d.secretTtlSeconds, 0, 3_600),
      retryAfterSeconds: seconds(env, 'SESAME_RETRY_AFTER', d.retryAfterSeconds, 1, 3_600),
      retry: {
        timeoutMs: upstreamTimeoutMs,
        attempts: seconds(env, 'SESAME_UPSTREAM_ATTEMPTS', DEFAULT_RETRY.attempts, 1, 10),
        minDelayMs: seconds(env, 'SESAME_UPSTREAM_MIN_DELAY_MS', DEFAULT_RETRY.minDelayMs, 0, 60_000),
        maxDelayMs: seconds(env, 'SESAME_UPSTREAM_MAX_DELAY_MS', DEFAULT_RETRY.maxDelayMs, 0, 60_000),
      },
    },
  };
}
