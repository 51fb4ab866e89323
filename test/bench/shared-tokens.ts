import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { LocalSecretStore } from '../../functions/adapters/local-secret-store.ts';
import { startOAuthServer } from '../../functions/local/oauth-server.ts';
import { readConfig } from '../../functions/core/config.ts';
import type { Log } from '../../functions/core/ports.ts';
import { startBrokers, stopBrokers } from '../helpers/shared-broker-procs.ts';
import { PYTHON } from '../suites.ts';

/**
 * Upstream calls per token lifetime for K broker processes (each one container of the
 * token function), with and without the shared token cache:
 * - `local`: the processes share a SESAME_HOME (LocalStateStore, LocalSealer), as
 *   `sesame dev` and the CLI do;
 * - `emulator`: DynamoStateStore and KmsSealer on a moto server started here, as the
 *   token function's containers on the state table.
 * First K × `requests` concurrent cold requests; then every instance serves bursts for
 * `serveMs` with tokens living `ttlSeconds` (refresh margin 1 s), and the upstream calls
 * are divided by the number of token lifetimes (fresh windows of ttl − margin) in that time.
 *
 * Run alone: `node --import tsx test/bench/shared-tokens.ts [local|emulator] [K]`.
 */
export interface SharedTokensBench {
  mode: 'local' | 'emulator';
  k: number;
  /** Calls for K × requests concurrent cold requests (1 is the target). */
  coldCalls: number;
  coldOk: number;
  coldRequests: number;
  /** Serving phase with the cache: upstream calls per token lifetime (1 is the target). */
  perLifetime: number;
  /** The same without it (SESAME_SHARED_TOKEN_CACHE=off): what each container alone costs. */
  baselinePerLifetime: number;
  lifetimes: number;
  fallbacks: number;
  /** Tokens served in the serving phase with the cache, and failed requests in both phases. */
  served: number;
  errors: number;
}

export interface BenchOptions {
  mode: 'local' | 'emulator';
  k?: number;
  requests?: number;
  ttlSeconds?: number;
  serveMs?: number;
}

const quiet: Log = { debug() {}, info() {}, warn() {}, error() {} };
const TENANT = 'bench';
const CREDENTIAL = 'chorus-piste';

/** Undefined when moto cannot run here (the emulator mode is then left out, saying so). */
export function emulatorMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import moto.server'], { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0 ? undefined : `${PYTHON} cannot import moto.server`;
}

function startMoto(): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('moto server did not start within 30 s'));
    }, 30_000);
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      const m = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    });
    child.on('exit', (code) => reject(new Error(`moto server exited (${code})`)));
  });
}

export async function sharedTokensBench(options: BenchOptions): Promise<SharedTokensBench> {
  const k = options.k ?? 8;
  const requests = options.requests ?? 200;
  const ttlSeconds = options.ttlSeconds ?? 4;
  const serveMs = options.serveMs ?? 12_000;
  const margin = 1;
  const clientSecret = randomBytes(16).toString('hex');
  const oauth = await startOAuthServer({ clients: [{ client_id: 'bench', auth: 'client_secret_post', client_secret: clientSecret, scope: 'openid' }], tokenTtlSeconds: ttlSeconds });
  const fields = { client_id: 'bench', client_secret: clientSecret, account_login: 'TECH', account_password: 'pw', token_endpoint: oauth.tokenEndpoint };
  const common = { SESAME_TOKEN_REFRESH_MARGIN: String(margin), SESAME_TOKEN_LEASE_SECONDS: '3', SESAME_UPSTREAM_TIMEOUT_MS: '2000' };
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => oauth.close()];
  try {
    let env: Record<string, string>;
    if (options.mode === 'local') {
      const home = await mkdtemp(join(tmpdir(), 'sesame-bench-shared-'));
      cleanups.push(() => rm(home, { recursive: true, force: true }));
      // The processes read the key file the first system writes under the home (no SESAME_LOCAL_KEY).
      env = { ...common, SESAME_CHILD_LOCAL: '1', SESAME_HOME: home, SESAME_LOCAL_KEY: '' };
      const { localSystem } = await import('../../functions/adapters/local-system.ts');
      const system = await localSystem(readConfig(env), quiet, { store: await LocalSecretStore.open(home, undefined, env) });
      await system.tenants.put({ id: TENANT, name: 'Bench' });
      await system.credentials.set({ tenant: TENANT, credential: CREDENTIAL, environment: 'sandbox', fields });
    } else {
      const moto = await startMoto();
      cleanups.push(() => moto.child.kill());
      const aws = { AWS_ENDPOINT_URL: moto.url, AWS_REGION: 'eu-west-3', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true' };
      // The SDK clients of this process (the setup below) talk to this moto server too.
      Object.assign(process.env, aws);
      const { CreateKeyCommand, KMSClient } = await import('@aws-sdk/client-kms');
      const { createStateTable, PRINCIPALS } = await import('../aws/fixtures.ts');
      const { awsSystem } = await import('../../functions/adapters/aws-system.ts');
      const keyArn = (await new KMSClient({}).send(new CreateKeyCommand({}))).KeyMetadata?.Arn as string;
      const table = await createStateTable();
      env = { ...common, ...aws, SESAME_STATE_TABLE: table, SESAME_TOKEN_CACHE_KEY: keyArn };
      const system = awsSystem(readConfig({ ...process.env, ...env }), quiet, { creation: async () => ({ kmsKeyId: keyArn, principals: PRINCIPALS }) });
      await system.tenants.put({ id: TENANT, name: 'Bench' });
      await system.credentials.set({ tenant: TENANT, credential: CREDENTIAL, environment: 'sandbox', fields });
    }

    const serve = async (extra: Record<string, string>) => {
      const procs = await startBrokers(k, { ...env, ...extra });
      try {
        const before = oauth.tokenRequests();
        for (const p of procs) p.send({ op: 'burst', tenant: TENANT, credential: CREDENTIAL, n: requests });
        const bursts = await Promise.all(procs.map((p) => p.next((l) => l.op === 'burst', 120_000)));
        const coldCalls = oauth.tokenRequests() - before;
        const coldOk = bursts.reduce((n, b) => n + (b.statuses as number[]).filter((s) => s === 200).length, 0);
        const serveFrom = oauth.tokenRequests();
        for (const p of procs) p.send({ op: 'serve', tenant: TENANT, credential: CREDENTIAL, n: 20, every_ms: 25, for_ms: serveMs });
        const runs = await Promise.all(procs.map((p) => p.next((l) => l.op === 'serve', serveMs + 60_000)));
        const calls = oauth.tokenRequests() - serveFrom;
        const fallbacks = runs.reduce((n, r) => n + (((r.counters as Record<string, number> | null)?.fallbacks as number | undefined) ?? 0), 0);
        const errors = runs.reduce((n, r) => n + Object.values(r.errors as Record<string, number>).reduce((a, b) => a + b, 0), 0);
        const served = runs.reduce((n, r) => n + (r.served as { count: number }[]).reduce((a, b) => a + b.count, 0), 0);
        return { coldCalls, coldOk, calls, fallbacks, errors, served };
      } finally {
        stopBrokers(procs);
      }
    };
    const lifetimes = serveMs / ((ttlSeconds - margin) * 1000);
    const shared = await serve({ SESAME_SHARED_TOKEN_CACHE: 'on' });
    const baseline = await serve({ SESAME_SHARED_TOKEN_CACHE: 'off' });
    return {
      mode: options.mode,
      k,
      coldCalls: shared.coldCalls,
      coldOk: shared.coldOk,
      coldRequests: k * requests,
      perLifetime: shared.calls / lifetimes,
      baselinePerLifetime: baseline.calls / lifetimes,
      lifetimes,
      fallbacks: shared.fallbacks,
      served: shared.served,
      errors: shared.errors + baseline.errors,
    };
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

/** The lines the bench prints, and whether each meets its target. */
export function describeBench(r: SharedTokensBench): { name: string; value: string; target: string; ok: boolean }[] {
  return [
    { name: `shared token cache (${r.mode}): upstream calls for ${r.k} instances × ${r.coldRequests / r.k} concurrent cold requests`, value: `${r.coldCalls} (${r.coldOk} of ${r.coldRequests} answered 200)`, target: '= 1', ok: r.coldCalls === 1 && r.coldOk === r.coldRequests },
    {
      name: `shared token cache (${r.mode}): upstream calls per token lifetime, ${r.k} instances serving for ${r.lifetimes.toFixed(0)} lifetimes`,
      value: `${r.perLifetime.toFixed(2)} (without the shared cache: ${r.baselinePerLifetime.toFixed(2)}; ${r.served} tokens served, ${r.errors} errors, ${r.fallbacks} direct fallbacks)`,
      target: '<= 1.5',
      ok: r.perLifetime > 0 && r.perLifetime <= 1.5 && r.served > 0 && r.errors === 0 && r.fallbacks === 0,
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const mode = (process.argv[2] ?? 'local') as 'local' | 'emulator';
  if (mode === 'emulator' && emulatorMissing()) {
    console.log(`skipped: ${emulatorMissing()}`);
  } else {
    const r = await sharedTokensBench({ mode, k: Number(process.argv[3] ?? 8) });
    for (const line of describeBench(r)) console.log(`${line.ok ? 'ok  ' : 'MISS'} ${line.name}: ${line.value} (target ${line.target})`);
  }
  process.exit(0);
}
