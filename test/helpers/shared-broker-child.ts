/**
 * One broker instance standing for one Lambda container of the token function, for
 * test/aws/shared-tokens.test.ts and the bench (test/bench/shared-tokens.ts): the
 * system the token handler builds (awsSystem over the environment, so DynamoStateStore
 * and KmsSealer on the AWS emulator when SESAME_TOKEN_CACHE_KEY is set), in a process of
 * its own; with SESAME_CHILD_LOCAL=1, the system `sesame dev` builds instead
 * (LocalStateStore and LocalSealer under SESAME_HOME). Run with `node --import tsx`
 * (test/helpers/shared-broker-procs.ts starts it).
 *
 * Prints {"ready": true, "owner"} once built, then answers one JSON command per stdin line:
 * - {"op": "burst", "tenant", "credential", "n"}: n concurrent token requests; prints
 *   {"op": "burst", "statuses", "tokens", "cached", "waited", "counters", "done_at"}, and
 *   {"waiting": true} as soon as this instance waits on another's lease.
 * - {"op": "serve", "tenant", "credential", "n", "every_ms", "for_ms"}: bursts of n every
 *   every_ms for for_ms; prints {"op": "serve", "served": [{token, expires_at, first, last, count}], "errors", "counters"}.
 * Token values travel on this pipe only, never in a log line.
 */
import { createInterface } from 'node:readline';
import { localSystem } from '../../functions/adapters/local-system.ts';
import { awsSystem } from '../../functions/adapters/aws-system.ts';
import type { Principal } from '../../functions/core/apps.ts';
import { readConfig } from '../../functions/core/config.ts';
import { isSesameError } from '../../functions/core/errors.ts';
import type { Log } from '../../functions/core/ports.ts';

const warnings: string[] = [];
const log: Log = {
  debug() {},
  info() {},
  warn: (message, ...extra) => void warnings.push(`${message} ${JSON.stringify(Object.assign({}, ...extra))}`),
  error: (message, ...extra) => void warnings.push(`${message} ${JSON.stringify(Object.assign({}, ...extra))}`),
};
const system = process.env.SESAME_CHILD_LOCAL === '1' ? await localSystem(readConfig(), log) : awsSystem(readConfig(), log);
const shared = system.sharedTokens;
const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

interface Command {
  op: 'burst' | 'serve';
  tenant: string;
  credential: string;
  n: number;
  every_ms?: number;
  for_ms?: number;
}

async function request(principal: Principal, c: Command): Promise<{ status: number; token?: string; expiresAt?: number; cached?: boolean; at: number }> {
  try {
    const r = await system.broker.token(principal, c.tenant, c.credential);
    return { status: 200, token: r.access_token as string, expiresAt: Date.parse(r.expires_at as string), cached: r.cached, at: Date.now() };
  } catch (err) {
    return { status: isSesameError(err) ? err.status : 500, at: Date.now() };
  }
}

async function burst(c: Command): Promise<void> {
  const principal: Principal = { app: 'shared-test', tenants: new Set([c.tenant]), kinds: undefined };
  const waitsBefore = shared?.counters.waits ?? 0;
  let told = false;
  // Tells the parent once this instance waits on another's lease (the parent then lets the holder's upstream call finish).
  const watch = setInterval(() => {
    if (!told && (shared?.counters.waits ?? 0) > waitsBefore) {
      told = true;
      print({ waiting: true });
    }
  }, 5);
  const results = await Promise.all(Array.from({ length: c.n }, () => request(principal, c)));
  clearInterval(watch);
  print({
    op: 'burst',
    statuses: results.map((r) => r.status),
    tokens: [...new Set(results.flatMap((r) => (r.token ? [r.token] : [])))],
    cached: results.filter((r) => r.cached).length,
    waited: (shared?.counters.waits ?? 0) > waitsBefore,
    counters: shared?.counters ?? null,
    warnings,
    done_at: Math.max(...results.map((r) => r.at)),
  });
}

async function serve(c: Command): Promise<void> {
  const principal: Principal = { app: 'shared-test', tenants: new Set([c.tenant]), kinds: undefined };
  const served = new Map<string, { token: string; expires_at: number; first: number; last: number; count: number }>();
  const errors: Record<string, number> = {};
  const end = Date.now() + (c.for_ms ?? 1000);
  while (Date.now() < end) {
    for (const r of await Promise.all(Array.from({ length: c.n }, () => request(principal, c)))) {
      if (!r.token || r.expiresAt === undefined) {
        errors[r.status] = (errors[r.status] ?? 0) + 1;
        continue;
      }
      const s = served.get(r.token) ?? { token: r.token, expires_at: r.expiresAt, first: r.at, last: r.at, count: 0 };
      s.last = Math.max(s.last, r.at);
      s.first = Math.min(s.first, r.at);
      s.count += 1;
      served.set(r.token, s);
    }
    await new Promise((r) => setTimeout(r, c.every_ms ?? 50));
  }
  print({ op: 'serve', served: [...served.values()], errors, counters: shared?.counters ?? null, warnings });
}

print({ ready: true, owner: shared?.owner ?? null });
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (line.trim() === '') continue;
  const c = JSON.parse(line) as Command;
  if (c.op === 'burst') await burst(c);
  else await serve(c);
}
