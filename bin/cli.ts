import { Command, CommanderError, Option } from 'commander';
import { createLogger } from '../functions/adapters/logger.ts';
import { awsSystem, localSystem, type System } from '../functions/adapters/system.ts';
import { resolveAwsTargets, secretCreation } from '../functions/adapters/stack-outputs.ts';
import type { Principal } from '../functions/core/apps.ts';
import { readConfig } from '../functions/core/config.ts';
import { SesameError } from '../functions/core/errors.ts';
import { KINDS } from '../functions/core/platforms/index.ts';
import { ENVIRONMENTS } from '../functions/core/platforms/types.ts';
import { startLocalServer } from '../functions/local/server.ts';
import { startUploadWatcher } from '../functions/local/upload-watcher.ts';
import { LocalObjectStore } from '../functions/adapters/local-object-store.ts';
import { addCertCommands, addImportP12, UsageError } from './cert-commands.ts';
import { addFlaCommands } from './fla-commands.ts';
import { addExpiryCommands } from './expiry-commands.ts';
import type { Clock } from '../functions/core/ports.ts';
import { out, table } from './output.ts';

/** `sesame`: administration on the local store (default) or on AWS (--aws), and the local broker. */

const MAX_STDIN = 64 * 1024;

interface Globals {
  json?: boolean;
  aws?: boolean;
}



async function system(g: Globals, level: 'WARN' | 'INFO' = 'WARN', clock?: Clock): Promise<System> {
  const config = readConfig();
  const log = createLogger('sesame-cli', level);
  if (!g.aws) return localSystem(config, log, clock ? { clock } : {});
  // The deployed stack's outputs fill what the environment leaves unset.
  const targets = await resolveAwsTargets(config);
  return awsSystem({ ...config, bucket: targets.bucket, alertsTopicArn: targets.alertsTopicArn }, log, { ...(clock ? { clock } : {}), creation: secretCreation(targets) });
}

/**
 * The AWS SDK's own words for a missing region or missing credentials name no setting;
 * one line that says what to set is what an administrator needs.
 */
export function explainAwsError(err: unknown): string | undefined {
  const e = err as { name?: string; message?: string };
  if (e?.message === 'Region is missing' || e?.name === 'RegionMissingError') return 'no AWS region: set AWS_REGION (e.g. eu-west-3), or a region in your AWS profile';
  if (e?.name === 'CredentialsProviderError' || /Could not load credentials/.test(e?.message ?? '')) {
    return 'no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (assume the Sesame administrators\' role)';
  }
  if (e?.name === 'ExpiredTokenException' || e?.name === 'ExpiredToken') return 'your AWS session has expired: sign in again (e.g. aws sso login)';
  return undefined;
}

async function readStdinJson(): Promise<unknown> {
  if (process.stdin.isTTY) process.stderr.write('Paste the fields as one JSON object, then press Ctrl-D:\n');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN) throw new SesameError('invalid_request', `stdin is over ${MAX_STDIN} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') throw new SesameError('invalid_request', 'no fields on stdin: pipe one JSON object, e.g. `sesame credential set t c --kind k < fields.json`');
  try {
    return JSON.parse(text);
  } catch {
    // Not the parser's message: it would quote the secret text.
    throw new SesameError('invalid_request', 'stdin is not valid JSON: give the fields as one JSON object');
  }
}

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const collect = (v: string, prev: string[] = []) => [...prev, v];

export function buildProgram(): Command {
  const program = new Command('sesame')
    .description('Credential broker for French and Belgian administrative APIs')
    .option('--json', 'print JSON')
    .option('--aws', 'act on AWS Secrets Manager instead of the local store ($SESAME_HOME)')
    .showHelpAfterError()
    .exitOverride();
  const g = (cmd: Command) => cmd.optsWithGlobals() as Globals;

  const tenant = program.command('tenant').description('tenants (client organisations)');
  tenant
    .command('add <tenant>')
    .description('add or update a tenant')
    .option('--name <name>', 'display name (defaults to the id)')
    .option('--siret <siret>')
    .option('--siren <siren>')
    .option('--bce <number>', 'Belgian company number')
    .option('--alert-email <email>', 'who receives expiry alerts (repeatable)', collect)
    .action(async (id: string, o: { name?: string; siret?: string; siren?: string; bce?: string; alertEmail?: string[] }, cmd: Command) => {
      const s = await system(g(cmd));
      const { tenant: t, created } = await s.tenants.put({
        id,
        name: o.name ?? id,
        ...(o.siret ? { siret: o.siret } : {}),
        ...(o.siren ? { siren: o.siren } : {}),
        ...(o.bce ? { bce: o.bce } : {}),
        alert_emails: o.alertEmail ?? [],
      });
      out(g(cmd).json ? JSON.stringify({ ...t, created }) : `${created ? 'added' : 'updated'} tenant ${t.id}`);
    });
  tenant
    .command('list')
    .description('list tenants')
    .action(async (_o, cmd: Command) => {
      const tenants = await (await system(g(cmd))).tenants.list();
      out(g(cmd).json ? JSON.stringify(tenants) : table(tenants, ['id', 'name', 'siret', 'bce', 'alert_emails']));
    });

  const credential = program.command('credential').description('tenant credentials');
  credential
    .command('set <tenant> <credential>')
    .description('store a credential; the fields are read as one JSON object on stdin, never from arguments')
    .addOption(new Option('--kind <kind>', 'credential kind').choices([...KINDS]).makeOptionMandatory())
    .addOption(new Option('--env <environment>', 'environment').choices([...ENVIRONMENTS]))
    .option('--merge', 'merge these fields into the stored ones (e.g. add a client_id) instead of replacing them')
    .action(async (t: string, c: string, o: { kind: string; env?: string; merge?: boolean }, cmd: Command) => {
      const fields = await readStdinJson();
      const summary = await (await system(g(cmd))).credentials.set({ tenant: t, credential: c, kind: o.kind, ...(o.env ? { environment: o.env } : {}), ...(o.merge ? { merge: true } : {}), fields });
      out(g(cmd).json ? JSON.stringify(summary) : `stored ${summary.tenant}/${summary.credential} (${summary.kind}, ${summary.environment}${summary.expires_at ? `, expires ${summary.expires_at}` : ''})`);
    });
  credential
    .command('list [tenant]')
    .description('list credentials (from tags: nothing is decrypted)')
    .action(async (t: string | undefined, _o, cmd: Command) => {
      const rows = await (await system(g(cmd))).credentials.list(t);
      out(g(cmd).json ? JSON.stringify(rows) : table(rows as unknown as Record<string, unknown>[], ['tenant', 'credential', 'kind', 'environment', 'expires_at']));
    });
  credential
    .command('show <tenant> <credential>')
    .description('show a credential with its secret fields redacted')
    .action(async (t: string, c: string, _o, cmd: Command) => {
      const shown = await (await system(g(cmd))).credentials.show(t, c);
      out(JSON.stringify(shown, null, g(cmd).json ? undefined : 2));
    });

  addImportP12(credential, (cmd) => system(g(cmd)));

  const app = program.command('app').description('apps and their keys');
  app
    .command('add <app>')
    .description('create an app key scoped to tenants; the key is printed once')
    .requiredOption('--tenants <list>', 'comma-separated tenant ids', list)
    .option('--kinds <list>', 'restrict to these kinds', list)
    .action(async (id: string, o: { tenants: string[]; kinds?: string[] }, cmd: Command) => {
      const r = await (await system(g(cmd))).apps.add({ app: id, tenants: o.tenants, ...(o.kinds ? { kinds: o.kinds } : {}) });
      if (g(cmd).json) out(JSON.stringify({ app: r.app, key: r.key }));
      else {
        process.stderr.write(`App ${r.app} created for ${r.tenants.join(', ')}. Its key, shown only now:\n`);
        out(r.key);
      }
    });
  app
    .command('list')
    .description('list apps (keys are never shown again)')
    .action(async (_o, cmd: Command) => {
      const apps = await (await system(g(cmd))).apps.list();
      out(g(cmd).json ? JSON.stringify(apps) : table(apps, ['app', 'tenants', 'kinds', 'created_at', 'revoked_at']));
    });
  app
    .command('revoke <app>')
    .description('revoke an app key')
    .action(async (id: string, _o, cmd: Command) => {
      const r = await (await system(g(cmd))).apps.revoke(id);
      out(g(cmd).json ? JSON.stringify({ app: r.app, revoked_at: r.revoked_at }) : `revoked ${r.app}`);
    });

  program
    .command('token <tenant> <credential>')
    .description('print what the token endpoint returns for a credential')
    .action(async (t: string, c: string, _o, cmd: Command) => {
      const s = await system(g(cmd));
      const admin: Principal = { app: 'sesame-cli', tenants: new Set([t]), kinds: undefined };
      out(JSON.stringify(await s.broker.token(admin, t, c), null, g(cmd).json ? undefined : 2));
    });

  program
    .command('dev')
    .description('run the local broker on 127.0.0.1 (with demo tenants unless --no-demo)')
    .option('--port <port>', 'port', (v) => Number.parseInt(v, 10), 8787)
    .option('--no-demo', 'no demo tenants nor demo OAuth2 server')
    .action(async (o: { port: number; demo: boolean }, cmd: Command) => {
      if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65_535) throw new SesameError('invalid_request', '--port must be a number from 0 to 65535');
      const config = readConfig();
      const s = await system(g(cmd), 'INFO');
      // The port first: a second `sesame dev` on a busy port must fail before it rewrites
      // the demo data (and the app key) that a running one is serving.
      let server;
      try {
        server = await startLocalServer(s, { port: o.port });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new SesameError('invalid_request', `port ${o.port} is in use: pick another with --port`);
        throw err;
      }
      let demo;
      try {
        // Loaded only here: the demo OAuth2 server is not needed by any other command.
        demo = o.demo ? await (await import('../functions/local/demo.ts')).seedDemo(s) : undefined;
      } catch (err) {
        await server.close();
        throw err;
      }
      const ex = demo?.examples[0];
      const curl = demo && ex ? `curl -s -X POST -H 'Authorization: Bearer ${demo.appKey}' ${server.url}/v1/tenants/${ex.tenant}/credentials/${ex.credential}/token` : undefined;
      if (g(cmd).json) {
        out(JSON.stringify({ url: server.url, home: config.home, ...(demo ? { oauth_issuer: demo.oauth.issuer, app: 'demo-app', key: demo.appKey, curl, examples: demo.examples } : {}) }));
      } else {
        out(`Sesame local broker on ${server.url} (state in ${config.home}/)`);
      }
      if (demo && !g(cmd).json) {
        out(`Demo OAuth2 server on ${demo.oauth.issuer}`);
        out(`Demo app key (new at every start, shown once): ${demo.appKey}`);
        out('');
        out('Try:');
        out(`  ${curl}`);
        out(`Other demo credentials: ${demo.examples.slice(1).map((e) => `${e.tenant}/${e.credential}`).join(', ')}`);
      }
      // Certificate intake: the same function as the S3-triggered one, fed by a folder.
      const objects = new LocalObjectStore(config.home);
      const watcher = startUploadWatcher({
        objects,
        process: s.intake as NonNullable<System['intake']>,
        log: s.log,
        onResult: (r) => {
          if (r.outcome !== 'gone') out(`certificate ${r.key.replace(/^incoming\//, '')}: ${r.outcome}${r.report && !r.report.valid ? ` (${r.report.errors.map((e) => e.code).join(', ')})` : ''}; report in ${config.home}/${r.reportKey ?? 'rejected/'}`);
        },
      });
      void watcher.scanNow();
      // The expiry check at start and every hour; alerts go to the outbox and are printed.
      const runCheck = () =>
        (s.expiryCheck as NonNullable<System['expiryCheck']>)()
          .then((r) => {
            if (r.alerting > 0) out(`expiry check: ${r.checked} credentials, ${r.alerting} alert(s) written to ${config.home}/outbox/`);
          })
          .catch((err) => s.log.error('expiry check failed', { error: (err as Error).message }));
      void runCheck();
      const hourly = setInterval(() => void runCheck(), 3_600_000);
      hourly.unref();
      if (!g(cmd).json) {
        out(`Certificates: drop files into ${config.home}/uploads/{tenant}/{credential}/; reports land in ${config.home}/reports/.`);
        out('Press Ctrl-C to stop.');
      }
      const stop = async () => {
        clearInterval(hourly);
        await watcher.stop();
        await server.close();
        await demo?.oauth.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  addCertCommands(program, (cmd) => system(g(cmd)));
  addFlaCommands(program, (cmd) => system(g(cmd)));
  addExpiryCommands(program, (cmd, clock) => system(g(cmd), 'WARN', clock));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      process.stderr.write(`sesame: ${err.message}\n`);
      return 2;
    }
    const message = err instanceof SesameError ? err.message : (explainAwsError(err) ?? (err instanceof Error ? `${err.name}: ${err.message}` : String(err)));
    process.stderr.write(`sesame: ${message.split('\n')[0]}\n`);
    return 1;
  }
}
