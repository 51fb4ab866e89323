import { statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { APP_PREFIX } from '../core/app-keys.ts';
import type { Config } from '../core/config.ts';
import { ID_PATTERN } from '../core/ids.ts';
import { systemClock, type Log } from '../core/ports.ts';
import { SharedTokenCache } from '../core/shared-tokens.ts';
import { LocalAuditLog } from './local-audit-log.ts';
import { LocalObjectStore } from './local-object-store.ts';
import { LocalSealer } from './local-sealer.ts';
import { LocalSecretStore } from './local-secret-store.ts';
import { LocalStateStore } from './local-state-store.ts';
import { OutboxNotifier } from './outbox-notifier.ts';
import { buildSystem, trustAnchorsOf, type System, type SystemDeps } from './system.ts';

/**
 * Locally, `sesame app revoke` runs in another process than `sesame dev`: the app
 * record's file identity (a new inode at every write, which goes through a temporary
 * file and a rename) tells the broker to read it again. One stat per request, where a
 * read would decrypt; synchronous, as a stat of a local file takes about 1 µs and the
 * thread-pool round trip of an asynchronous one ten times that. Undefined: no file.
 */
export function localAppStamp(home: string): (app: string) => string | undefined {
  const dir = `${join(home, 'secrets', APP_PREFIX.slice(0, -1))}${sep}`;
  return (app) => {
    if (!ID_PATTERN.test(app)) return undefined;
    // Milliseconds as doubles keep sub-microsecond precision: a bigint stat costs a third more.
    const s = statSync(`${dir}${app}.json`, { throwIfNoEntry: false });
    return s ? `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}` : undefined;
  };
}

export async function localSystem(config: Config, log: Log, overrides: Partial<SystemDeps> = {}): Promise<System> {
  const clock = overrides.clock ?? systemClock;
  const store = overrides.store ?? (await LocalSecretStore.open(config.home, clock));
  const state = overrides.state ?? new LocalStateStore(config.home, clock);
  // Shared by every local process on this home (sesame dev and the CLI), sealed with a key derived from the local key.
  const sharedTokens =
    overrides.sharedTokens ??
    (config.sharedTokens?.enabled
      ? new SharedTokenCache({ state, sealer: await LocalSealer.open(config.home), clock, log }, { leaseSeconds: config.sharedTokens.leaseSeconds, refreshMarginSeconds: config.broker.refreshMarginSeconds })
      : undefined);
  return buildSystem({
    store,
    // The store's own files when it is the one at config.home; another store is never cached.
    ...(overrides.store ? { appCacheSeconds: 0 } : { appStamp: localAppStamp(config.home) }),
    log,
    version: config.version,
    broker: config.broker,
    clock,
    objects: new LocalObjectStore(config.home),
    notifier: new OutboxNotifier(config.home, clock, log),
    policyAllowList: config.policyAllowList,
    testPolicyOids: config.testPolicyOids,
    ...trustAnchorsOf(config),
    thresholds: config.thresholds,
    state,
    ...(sharedTokens ? { sharedTokens } : {}),
    // Hash-chained under the home, keyed by the local key; a store given by the caller keeps its own (none).
    ...(overrides.store ? {} : { auditLog: await LocalAuditLog.open(config.home), auditConfig: config.audit }),
    ...overrides,
  });
}
