import { spawn } from 'node:child_process';
import { createSign } from 'node:crypto';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { platformOf } from '../../functions/core/platforms/index.ts';
import { systemClock } from '../../functions/core/ports.ts';
import { keyPair } from '../helpers/keys.ts';

/**
 * `npm run bench`: figures, not tests. Each line prints the measure, its reference
 * and the target from the issue that asked for it.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const results: { name: string; value: string; target: string; ok: boolean }[] = [];
const report = (name: string, value: string, target: string, ok: boolean) => {
  results.push({ name, value, target, ok });
  console.log(`${ok ? 'ok  ' : 'MISS'} ${name}: ${value} (target ${target})`);
};

async function perSecond(fn: () => unknown | Promise<unknown>, ms = 2_000): Promise<number> {
  for (let i = 0; i < 50; i++) await fn(); // warm up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await fn();
    n += 1;
  }
  return (n * 1000) / (performance.now() - start);
}

async function signing() {
  const kp = keyPair('rsa2048');
  const fla = platformOf('fla');
  const fields = fla.schema.parse({ client_id: 'self_service_chaman_bench', private_key: kp.pem, quality: 'employer' });
  const ctx = { tenant: 'bench', credential: 'fla', environment: 'production' as const, clock: systemClock };
  const payload = Buffer.from('x'.repeat(300));
  const raw = await perSecond(() => createSign('RSA-SHA256').update(payload).sign(kp.privateKey));
  const sequential = await perSecond(() => fla.assertion!(fields, ctx));
  // jose signs through WebCrypto, off the event loop: what the broker gets when several
  // cold credentials sign at once, as a server does.
  const concurrent = 4 * (await perSecond(() => Promise.all([1, 2, 3, 4].map(() => fla.assertion!(fields, ctx)))));
  console.log(`     raw node:crypto RS256 sign loop: ${raw.toFixed(0)}/s`);
  console.log(`     assertions through the core, one at a time: ${sequential.toFixed(0)}/s (${(sequential / raw).toFixed(2)}x; WebCrypto's thread-pool hop on each signature)`);
  console.log(`     assertions through the core, 4 in flight: ${concurrent.toFixed(0)}/s`);
  report('assertion signing throughput vs raw RS256', `${(concurrent / raw).toFixed(2)}x`, '>= 0.90x', concurrent / raw >= 0.9);
}

const upstreamKey = keyPair('rsa2048');
let upstream: { tokenEndpoint: string; countUrl: string };
const upstreamRequests = async () => Number(await (await fetch(upstream.countUrl)).text());

function child(script: string, args: string[], stdin: string): Promise<{ info: Record<string, unknown>; stop: () => void }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, script), ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' } });
  proc.stdin.end(stdin);
  const child = proc;
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ info: JSON.parse(line), stop: () => child.kill() });
    });
    child.on('exit', (code) => reject(new Error(`bench process ${script} ${args.join(' ')} exited ${code}`)));
  });
}

const serve = (mode: string) => child('serve.ts', [mode], JSON.stringify({ tokenEndpoint: upstream.tokenEndpoint, privateKey: upstreamKey.pem }));

async function load(url: string, key: string) {
  const r = await autocannon({ url, method: 'POST', connections: 64, duration: SECONDS, headers: { authorization: `Bearer ${key}` } });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

async function endpoint() {
  const bare = await serve('bare');
  const b = await load(bare.info.url as string, bare.info.key as string);
  bare.stop();
  const broker = await serve('broker');
  const s = await load(broker.info.url as string, broker.info.key as string);
  broker.stop();
  console.log(`     bare node:http: ${b.rps.toFixed(0)} req/s, p50 ${b.p50} ms, p99 ${b.p99} ms`);
  console.log(`     token endpoint (cache hits, 64 connections): ${s.rps.toFixed(0)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms, ${s.errors} errors`);
  report('token endpoint vs bare node:http', `${(s.rps / b.rps).toFixed(2)}x`, '>= 0.50x', s.rps / b.rps >= 0.5 && s.errors === 0);
  report('token endpoint p99 latency', `${s.p99} ms`, '<= 10 ms', s.p99 <= 10);
}

async function coldStampede() {
  const before = await upstreamRequests();
  const cold = await serve('cold');
  // The cold server warmed nothing: every token request it made is counted here.
  const upstreamCalls = (await upstreamRequests()) - before;
  const { ok } = cold.info as { ok: number };
  report('upstream calls for 1,000 concurrent cold requests', `${upstreamCalls} (${ok} answered 200)`, '= 1', upstreamCalls === 1 && ok === 1000);
}

async function certificates() {
  const { issue, p7b, EKU, KU } = await import('../helpers/pki.ts');
  const { certificateProfile } = await import('../../functions/core/certificates/profiles.ts');
  const { validateCertificate } = await import('../../functions/core/certificates/validator.ts');
  // A typical RGS chain: an RSA 4096 root, RSA 2048 issuing CA and leaf.
  const root = await issue({ subject: 'CN=Bench Root CA, O=Bench, C=FR', ca: true, shape: 'rsa4096' });
  const inter = await issue({ subject: 'CN=Bench Issuing CA, O=Bench, C=FR', issuer: root, ca: true });
  const leaf = await issue({ subject: 'CN=edi.bench.example, O=Bench, C=FR', issuer: inter, keyUsage: KU.digitalSignature, eku: [EKU.clientAuth] });
  const { clearCertificateCache } = await import('../../functions/core/certificates/der.ts');
  const bytes = p7b([leaf, inter, root]);
  const profile = certificateProfile('chorus-client');
  const measure = (label: string, inputs: Uint8Array[], cold: boolean) => {
    const timings = { parsing: 0, signatures: 0, rules: 0 };
    let n = 0;
    const started = performance.now();
    // Each input once, or one input again and again for 3 s.
    while (inputs.length > 1 ? n < inputs.length : performance.now() - started < 3_000) {
      if (cold) clearCertificateCache();
      if (!validateCertificate(inputs[n % inputs.length] as Uint8Array, profile, { timings }).valid) throw new Error('bench chain refused');
      n += 1;
    }
    const rate = (n * 1000) / (performance.now() - started);
    const per = (ms: number) => ((ms / n) * 1000).toFixed(0);
    console.log(`     ${label}: ${rate.toFixed(0)}/s on one core (${(1000 / rate).toFixed(2)} ms each: parsing ${per(timings.parsing)} µs, signature checks ${per(timings.signatures)} µs, rules ${per(timings.rules)} µs)`);
    return rate;
  };
  for (let i = 0; i < 100; i++) validateCertificate(bytes, profile);
  const rate = measure('PKCS#7 3-certificate chain, the same chain again and again', [bytes], false);
  const cold = measure('PKCS#7 chain, cold (parse cache cleared before each)', [bytes], true);
  // A new leaf each time under the same CAs, as a deployment sees upload after upload;
  // more leaves than the cache holds, each validated once, so no leaf is ever cached.
  const leaves = [];
  for (let i = 0; i < 1_500; i++) leaves.push(await issue({ subject: `CN=edi${i}.bench.example, O=Bench, C=FR`, issuer: inter, keyUsage: KU.digitalSignature, eku: [EKU.clientAuth] }));
  const fresh = measure('PKCS#7 chains with a new leaf each time, same CAs', leaves.map((l) => p7b([l, inter, root])), false);
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { execFileSync } = await import('node:child_process');
  const dir = await mkdtemp(join(tmpdir(), 'sesame-bench-'));
  await writeFile(join(dir, 'root.pem'), root.pem);
  await writeFile(join(dir, 'inter.pem'), inter.pem);
  await writeFile(join(dir, 'leaf.pem'), leaf.pem);
  const args = ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'inter.pem'), join(dir, 'leaf.pem')];
  let m = 0;
  const s2 = performance.now();
  while (performance.now() - s2 < 3_000) {
    execFileSync('openssl', args, { stdio: 'ignore' });
    m += 1;
  }
  const opensslRate = (m * 1000) / (performance.now() - s2);
  console.log(`     openssl verify of the same chain, one process per call: ${opensslRate.toFixed(0)}/s`);
  report('PKCS#7 chains validated per second (same chain; new leaves; cold)', `${rate.toFixed(0)}/s; ${fresh.toFixed(0)}/s; ${cold.toFixed(0)}/s`, '>= 500/s', rate >= 500);
}

async function expiry() {
  const { MemorySecretStore } = await import('../helpers/memory-secret-store.ts');
  const { buildSystem } = await import('../../functions/adapters/system.ts');
  const { runExpiryCheck } = await import('../../functions/core/expiry.ts');
  const store = new MemorySecretStore();
  const log = { debug() {}, info() {}, warn() {}, error() {} };
  const system = buildSystem({ store, log, version: 'bench' });
  const now = Date.now();
  for (let i = 0; i < 10_000; i++) {
    // One in a hundred is due for an alert: those are decrypted, the rest are decided from tags.
    const days = i % 100 === 0 ? 5 : 200 + (i % 300);
    await store.put(`sesame/t${i % 500}/opco-atlas-${i}`, { tenant: `t${i % 500}`, credential: `opco-atlas-${i}`, kind: 'opco-atlas', environment: 'production', fields: { cfa_key: 'k', expires_at: new Date(now + days * 86_400_000).toISOString() }, updated_at: new Date(now).toISOString() }, {
      'sesame:tenant': `t${i % 500}`,
      'sesame:kind': 'opco-atlas',
      'sesame:expires-at': new Date(now + days * 86_400_000).toISOString(),
    });
  }
  const sent = { n: 0 };
  const notifier = { publish: async () => void (sent.n += 1) };
  Object.assign(store.calls, { get: 0, getPrevious: 0, put: 0, tag: 0, tags: 0, list: 0 });
  const started = performance.now();
  const summary = await runExpiryCheck({ store, credentials: system.credentials, tenants: system.tenants, notifier, clock: { now: () => new Date(now) }, log });
  const seconds = (performance.now() - started) / 1000;
  const rate = summary.checked / seconds;
  console.log(`     expiry check of 10,000 credentials: ${rate.toFixed(0)} credentials/s; ${summary.alerting} alerts; store calls: ${store.calls.list} list, ${store.calls.get} get (decrypts), ${store.calls.tag} tag`);
  report('expiry check store calls for 10,000 credentials (100 due)', `${store.calls.list} list + ${store.calls.get} get`, '100 list, get only for what is due (and each tenant name once)', store.calls.list === 100 && store.calls.get <= summary.alerting + 500);
}

await signing();
await certificates();
await expiry();
const upstreamProcess = await child('upstream.ts', [], upstreamKey.publicKey.export({ type: 'spki', format: 'pem' }).toString());
upstream = upstreamProcess.info as typeof upstream;
await endpoint();
await coldStampede();
console.log(`\n${results.filter((r) => r.ok).length}/${results.length} targets met`);
upstreamProcess.stop();
