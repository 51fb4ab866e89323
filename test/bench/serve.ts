import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../functions/adapters/logger.ts';
import { startLocalServer } from '../../functions/local/server.ts';
import { tempSystem } from '../helpers/system.ts';

/**
 * A server under benchmark, in its own process so that the load generator does not
 * share its event loop: `broker` (the local broker, token cached), `bare` (node:http
 * answering the same JSON) or `cold` (1,000 concurrent first requests). The upstream
 * OAuth2 server runs in the parent, as a real upstream would not share the broker's
 * process. Reads {tokenEndpoint, privateKey} on stdin, never from argv; prints one JSON line.
 */
const mode = process.argv[2];
// Exit cleanly on a signal so that --cpu-prof can write its profile.
process.on('SIGINT', () => process.exit(0));
// The CPU this process has used so far (user + system, µs), on demand: the bench divides
// what a run added by the requests it served.
process.on('SIGUSR2', () => {
  const { user, system: sys } = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpu_us: user + sys })}\n`);
});

const chunks: Buffer[] = [];
for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { tokenEndpoint: string; privateKey: string };

// The production logger at the production level: a MemoryLog would grow with every request.
const { system } = await tempSystem({ log: createLogger('sesame-bench', 'WARN') });
await system.tenants.put({ id: 'bench', name: 'Bench' });
const fields = { client_id: 'bench', private_key: input.privateKey, quality: 'employer', token_endpoint: input.tokenEndpoint };
await system.credentials.set({ tenant: 'bench', credential: 'fla', fields });
const { key } = await system.apps.add({ app: 'bench', tenants: ['bench'] });
const path = '/v1/tenants/bench/credentials/fla/token';
const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

if (mode === 'bare') {
  const principal = { app: 'bench', tenants: new Set(['bench']), kinds: undefined };
  const body = JSON.stringify(await system.broker.token(principal, 'bench', 'fla'));
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  print({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, key });
} else if (mode === 'broker') {
  const server = await startLocalServer(system);
  await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  print({ url: `${server.url}${path}`, key });
} else if (mode === 'cold') {
  const server = await startLocalServer(system);
  await system.credentials.set({ tenant: 'bench', credential: 'fla-cold', fields });
  const statuses = await Promise.all(
    Array.from({ length: 1000 }, () => fetch(`${server.url}/v1/tenants/bench/credentials/fla-cold/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } }).then((r) => r.status)),
  );
  print({ ok: statuses.filter((s) => s === 200).length });
  process.exit(0);
}
