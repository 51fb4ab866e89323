import { Command, CommanderError, Option } from 'commander';
import { createLogger } from '../functions/adapters/logger.ts';
import { type System } from '../functions/adapters/system.ts';
import { localSystem } from '../functions/adapters/local-system.ts';
import type { Principal } from '../functions/core/apps.ts';
import { packageVersion, readConfig } from '../functions/core/config.ts';
import { SesameError } from '../functions/core/errors.ts';
import { KINDS } from '../functions/core/platforms/index.ts';
import { ENVIRONMENTS } from '../functions/core/platforms/types.ts';
import type { Tenant, TenantChanges } from '../functions/core/tenants.ts';
import { addCertCommands, addImportP12, credentialKind, FLA_REPLACE_CONSEQUENCE, guardReplacement, materialReplaced, UsageError } from './cert-commands.ts';
import { addFlaCommands } from './fla-commands.ts';
import { addConnectCommands } from './connect-commands.ts';
import { addAuditCommands, openAuditLog } from './audit-commands.ts';
import { addHealthCommands } from './health-commands.ts';
import { actor, audit } from '../functions/core/audit.ts';
import { addExpiryCommands, reportRecordErrors } from './expiry-commands.ts';
import type { Clock } from '../functions/core/ports.ts';
import { describeFileError, out, table } from './output.ts';

/** `sesame`: administration on the local store (default) or on AWS (--aws), and the local broker. */

const MAX_STDIN = 64 * 1024;

interface Globals {
  json?: boolean;
  aws?: boolean;
}



/** Every system a command opened: their audit records are written before the process ends. */
const opened: System[] = [];

async function system(g: Globals, level: 'WARN' | 'INFO' = 'WARN', clock?: Clock): Promise<System> {
  const s = await openSystem(g, level, clock);
  opened.push(s);
  return s;
}

/** A change made from the CLI, in the audit trail. */
const recordChange = (s: System, entry: Parameters<typeof audit.adminChange>[0] extends infer I ? Omit<I & object, 'actor'> : never) => s.audit?.record(audit.adminChange({ actor: actor.cli(), ...entry }));

async function openSystem(g: Globals, level: 'WARN' | 'INFO', clock?: Clock): Promise<System> {
  const config = readConfig();
  const log = createLogger('sesame-cli', level);
  if (!g.aws) return localSystem(config, log, clock ? { clock } : {});
  // Loaded for --aws only: the AWS SDK clients are most of a command's start otherwise.
  const [{ awsSystem }, { resolveAwsTargets, secretCreation }] = await Promise.all([import('../functions/adapters/aws-system.ts'), import('../functions/adapters/stack-outputs.ts')]);
  // The deployed stack's outputs fill what the environment leaves unset.
  const targets = await resolveAwsTargets(config);
  return awsSystem({ ...config, bucket: targets.bucket, alertsTopicArn: targets.alertsTopicArn, stateTable: targets.stateTable }, log, { ...(clock ? { clock } : {}), creation: secretCreation(targets) });
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
    .version(packageVersion(), '-V, --version', 'print the version')
    .addHelpText(
      'after',
      `
Examples:
  sesame tenant add cfa-paris --name "CFA Paris" --siret 12345678200010 --alert-email ops@cfa.example
  sesame credential set cfa-paris opco-atlas < atlas.json       # --kind from the id
  sesame fla keygen cfa-bxl fla-employer --quality employer --out cfa-bxl.cer
  sesame cert check chain.p7b --profile chorus-client
  sesame --aws expiry report
  sesame dev

Exit status: 0 done, 1 refused or failed, 2 usage or file error (bad option, missing
file, a directory). With --json, an error is {"error":{"code","message"}} on stderr.
Each command has its own examples: sesame <command> <subcommand> --help.`,
    )
    .showHelpAfterError()
    .exitOverride();
  const g = (cmd: Command) => cmd.optsWithGlobals() as Globals;

  const tenant = program.command('tenant').description('tenants (client organisations)');
  type TenantOpts = { name?: string; siret?: string; siren?: string; bce?: string; alertEmail?: string[]; removeAlertEmail?: string[]; update?: boolean; connectLinksInAlerts?: boolean };
  const identifierOptions = (c: Command) =>
    c
      .option('--siret <siret>', 'French establishment number (14 digits, check digit verified)')
      .option('--siren <siren>', 'French company number (9 digits, check digit verified)')
      .option('--bce <number>', 'Belgian company number (10 digits, check digits verified)');
  /** The identifiers given on the command line, and only those. */
  const identifiersOf = (o: TenantOpts) => ({
    ...(o.siret !== undefined ? { siret: o.siret } : {}),
    ...(o.siren !== undefined ? { siren: o.siren } : {}),
    ...(o.bce !== undefined ? { bce: o.bce } : {}),
  });
  const changesOf = (o: TenantOpts): TenantChanges => ({
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...identifiersOf(o),
    ...(o.alertEmail ? { add_alert_emails: o.alertEmail } : {}),
    ...(o.removeAlertEmail ? { remove_alert_emails: o.removeAlertEmail } : {}),
    ...(o.connectLinksInAlerts !== undefined ? { connect_links_in_alerts: o.connectLinksInAlerts } : {}),
  });
  const printUpdate = (cmd: Command, r: { tenant: Tenant; changed: string[] }) =>
    out(g(cmd).json ? JSON.stringify({ ...r.tenant, created: false, changed: r.changed }) : r.changed.length > 0 ? `updated tenant ${r.tenant.id}: ${r.changed.join(', ')}` : `tenant ${r.tenant.id} unchanged`);
  identifierOptions(
    tenant
      .command('add <tenant>')
      .description('add a tenant; refused if it exists (change one with `tenant set`, or give --update)')
      .option('--name <name>', 'display name (defaults to the id)'),
  )
    .option('--alert-email <email>', 'who receives expiry alerts (repeatable)', collect)
    .option('--update', 'if the tenant exists, change only the fields given, as `tenant set` does')
    .addHelpText(
      'after',
      `
Examples:
  sesame tenant add cfa-paris --name "CFA Paris" --siret 12345678200010 --alert-email ops@cfa.example
  sesame tenant add cfa-bxl --name "CFA Bruxelles" --bce 0123.456.749`,
    )
    .action(async (id: string, o: TenantOpts, cmd: Command) => {
      const s = await system(g(cmd));
      if (o.update && (await s.tenants.find(id))) {
        const updated = await s.tenants.update(id, changesOf(o));
        recordChange(s, { operation: 'tenants.update', tenant: id, changed: updated.changed });
        printUpdate(cmd, updated);
        return;
      }
      const t = await s.tenants.add({ id, name: o.name ?? id, ...identifiersOf(o), alert_emails: o.alertEmail ?? [] });
      recordChange(s, { operation: 'tenants.add', tenant: t.id });
      out(g(cmd).json ? JSON.stringify({ ...t, created: true }) : `added tenant ${t.id}`);
    });
  identifierOptions(
    tenant
      .command('set <tenant>')
      .description('change a tenant: only the fields given change, the others are kept')
      .option('--name <name>', 'display name'),
  )
    .option('--alert-email <email>', 'add a recipient of expiry alerts (repeatable)', collect)
    .option('--remove-alert-email <email>', 'remove a recipient of expiry alerts (repeatable)', collect)
    .option('--connect-links-in-alerts <on|off>', 'expiry alerts for credentials the client renews carry a fresh connect link (default on)', (v: string) => { if (v !== 'on' && v !== 'off') throw new UsageError('--connect-links-in-alerts takes on or off'); return v === 'on'; })
    .addHelpText(
      'after',
      `
Examples:
  sesame tenant set cfa-paris --alert-email new-ops@cfa.example --remove-alert-email ops@cfa.example
  sesame tenant set cfa-paris --name "CFA Paris Nord"`,
    )
    .action(async (id: string, o: TenantOpts, cmd: Command) => {
      const changes = changesOf(o);
      if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give --name, --siret, --siren, --bce, --alert-email, --remove-alert-email or --connect-links-in-alerts');
      const s = await system(g(cmd));
      const updated = await s.tenants.update(id, changes);
      recordChange(s, { operation: 'tenants.update', tenant: id, changed: updated.changed });
      printUpdate(cmd, updated);
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
    .addOption(new Option('--kind <kind>', 'credential kind; default: the kind the credential id names (fla-employer → fla)').choices([...KINDS]))
    .addOption(new Option('--env <environment>', 'environment').choices([...ENVIRONMENTS]))
    .option('--merge', 'merge these fields into the stored ones (e.g. add a client_id) instead of replacing them')
    .option('--replace', 'allow replacing (or removing) a stored private key or certificate')
    .addHelpText(
      'after',
      `
Examples:
  sesame credential set cfa-paris opco-atlas < atlas.json
  sesame credential set cfa-bxl fla-employer --env acceptance < fla.json
  echo '{"client_id":"self_service_chaman_42"}' | sesame credential set cfa-bxl fla-employer --merge`,
    )
    .action(async (t: string, c: string, o: { kind?: string; env?: string; merge?: boolean; replace?: boolean }, cmd: Command) => {
      const kind = credentialKind(c);
      if (o.kind !== undefined && o.kind !== kind) throw new UsageError(`credential id "${c}" is of kind "${kind}", not "${o.kind}"`);
      const fields = await readStdinJson();
      const s = await system(g(cmd));
      const current = (await s.credentials.findForUpdate(t, c))?.fields as Record<string, unknown> | undefined;
      if (current && typeof fields === 'object' && fields !== null && !Array.isArray(fields)) {
        const next = o.merge ? { ...current, ...(fields as Record<string, unknown>) } : (fields as Record<string, unknown>);
        guardReplacement(t, c, materialReplaced(current, next), o.replace, kind === 'fla' ? FLA_REPLACE_CONSEQUENCE : '');
      }
      const summary = await s.credentials.set({ tenant: t, credential: c, kind, ...(o.env ? { environment: o.env } : {}), ...(o.merge ? { merge: true } : {}), fields });
      recordChange(s, { operation: 'credentials.set', tenant: t, credential: c, changed: Object.keys(fields as Record<string, unknown>) });
      out(g(cmd).json ? JSON.stringify(summary) : `stored ${summary.tenant}/${summary.credential} (${summary.kind}, ${summary.environment}${summary.expires_at ? `, expires ${summary.expires_at}` : ''})`);
    });
  credential
    .command('list [tenant]')
    .description('list credentials (from tags: nothing is decrypted)')
    .action(async (t: string | undefined, _o, cmd: Command) => {
      const rows = await (await system(g(cmd))).credentials.list(t);
      out(g(cmd).json ? JSON.stringify([...rows]) : table(rows as unknown as Record<string, unknown>[], ['tenant', 'credential', 'kind', 'environment', 'expires_at']));
      // The others are listed; each unreadable record gets a line on stderr (JSON with --json) and exit 3.
      if (g(cmd).json) for (const e of rows.errors) process.stderr.write(`${JSON.stringify({ error: { code: e.code, secret: e.secret, message: e.detail } })}\n`);
      reportRecordErrors(rows.errors, Boolean(g(cmd).json));
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
      const s = await system(g(cmd));
      const r = await s.apps.add({ app: id, tenants: o.tenants, ...(o.kinds ? { kinds: o.kinds } : {}) });
      recordChange(s, { operation: 'apps.add', app: r.app });
      if (g(cmd).json) out(JSON.stringify({ app: r.app, key: r.key }));
      else {
        process.stderr.write(`App ${r.app} created for ${r.tenants.join(', ')}. Its key, shown only now:\n`);
        out(r.key);
      }
    });
  app
    .command('list')
    .summary('list apps and their keys (never shown again)')
    .description('list apps and their keys, one line per key: the current one, and during an overlap the previous one with its end (keys are never shown again)')
    .action(async (_o, cmd: Command) => {
      const apps = await (await system(g(cmd))).apps.list();
      if (g(cmd).json) {
        out(JSON.stringify(apps));
        return;
      }
      const rows = apps.flatMap((a) => [
        { app: a.app, key: 'current', tenants: a.tenants, kinds: a.kinds, created_at: a.key_created_at ?? a.created_at, ends_at: a.revoked_at ? `${a.revoked_at} (revoked)` : undefined },
        ...(a.previous_key_expires_at ? [{ app: a.app, key: 'previous', tenants: a.tenants, kinds: a.kinds, created_at: a.previous_key_created_at, ends_at: a.previous_key_expires_at }] : []),
      ]);
      out(table(rows, ['app', 'key', 'tenants', 'kinds', 'created_at', 'ends_at']));
    });
  app
    .command('rotate <app>')
    .summary('give the app a new key; the current one keeps working until --overlap ends')
    .description(
      'give the app a new key, printed once and working at once; the current key keeps working until the overlap ends, then is refused. ' +
        'Rotating again during an overlap replaces the previous key: the oldest one stops at once',
    )
    .option('--overlap <duration>', 'how long the current key keeps working: e.g. 30m, 24h, 7d; 0 stops it at once; at most 30d', '24h')
    .action(async (id: string, o: { overlap: string }, cmd: Command) => {
      const s = await system(g(cmd));
      const r = await s.apps.rotate(id, { overlap: o.overlap });
      recordChange(s, { operation: 'apps.rotate', app: r.app });
      if (g(cmd).json) out(JSON.stringify({ app: r.app, key: r.key, previous_key_expires_at: r.previous_key_expires_at }));
      else {
        process.stderr.write(`App ${r.app} has a new key; the previous key stops at ${r.previous_key_expires_at}. The new key, shown only now:\n`);
        out(r.key);
      }
    });
  app
    .command('revoke <app>')
    .description('revoke the app: every key of it is refused (locally from the next request; in AWS within 60 s)')
    .action(async (id: string, _o, cmd: Command) => {
      const s = await system(g(cmd));
      const r = await s.apps.revoke(id);
      s.audit?.record(audit.appRevoked({ actor: actor.cli(), app: r.app }));
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
    .description('run the local broker on 127.0.0.1, its operator console and its login server (with demo tenants unless --no-demo)')
    .option('--port <port>', 'port', (v) => Number.parseInt(v, 10), 8787)
    .option('--no-demo', 'no demo tenants nor demo OAuth2 clients (the console and its login still run)')
    .action(async (o: { port: number; demo: boolean }, cmd: Command) => {
      if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65_535) throw new UsageError('--port must be a number from 0 to 65535');
      const config = readConfig();
      const s = await system(g(cmd), 'INFO');
      const [{ startLocalServer }, { startUploadWatcher }, { LocalObjectStore }] = await Promise.all([
        import('../functions/local/server.ts'),
        import('../functions/local/upload-watcher.ts'),
        import('../functions/adapters/local-object-store.ts'),
      ]);
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
      let oauth;
      let login;
      try {
        // Loaded only here: the loopback OpenID provider is not needed by any other command.
        const { demoOperator, seedDemo } = await import('../functions/local/demo.ts');
        // The operator's password is new at every start; the console's redirect URI is this broker's.
        const operator = demoOperator(server.url);
        login = { username: operator.username, password: operator.password };
        if (o.demo) {
          demo = await seedDemo(s, { operator });
          oauth = demo.oauth;
        } else {
          oauth = await (await import('../functions/local/oauth-server.ts')).startOAuthServer({ clients: [], operator });
        }
        const op = oauth.operator as NonNullable<typeof oauth.operator>;
        server.setOperatorAuth({ issuer: oauth.issuer, audience: op.audience, clientId: op.clientId, scope: op.scope });
      } catch (err) {
        await server.close();
        await oauth?.close();
        throw err;
      }
      const consoleUrl = `${server.url}/console/`;
      const ex = demo?.examples[0];
      const curl = demo && ex ? `curl -s -X POST -H 'Authorization: Bearer ${demo.appKey}' ${server.url}/v1/tenants/${ex.tenant}/credentials/${ex.credential}/token` : undefined;
      if (g(cmd).json) {
        out(
          JSON.stringify({
            url: server.url,
            home: config.home,
            console: { url: consoleUrl, ...login },
            oauth_issuer: oauth.issuer,
            ...(demo ? { app: 'demo-app', key: demo.appKey, curl, examples: demo.examples } : {}),
          }),
        );
      } else {
        out(`Sesame local broker on ${server.url} (state in ${config.home}/)`);
        out('');
        out(`Operator console: ${consoleUrl}`);
        out(`  log in as ${login.username} with password ${login.password} (new at every start)`);
        out('');
        out(`${demo ? 'Demo OAuth2 server and operator login' : 'Operator login'} on ${oauth.issuer}`);
      }
      if (demo && !g(cmd).json) {
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
        // Ctrl-C ends the process within seconds, whatever is still pending.
        setTimeout(() => process.exit(0), 5_000).unref();
        clearInterval(hourly);
        await watcher.stop();
        await server.close();
        await oauth.close();
        // What was vended until now is in the audit trail before the process goes.
        await Promise.all(opened.map((o) => o.audit?.flush({ timeoutMs: 5_000 })));
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  addCertCommands(program, (cmd) => system(g(cmd)));
  addFlaCommands(program, (cmd) => system(g(cmd)));
  addConnectCommands(program, (cmd) => system(g(cmd)));
  addAuditCommands(program, (cmd) => openAuditLog(readConfig(), Boolean(g(cmd).aws)));
  addExpiryCommands(program, (cmd, clock) => system(g(cmd), 'WARN', clock));
  addHealthCommands(program, (cmd) => system(g(cmd)));
  return program;
}

/** A failure as the CLI reports it: a code for `--json`, one line, and the exit status. */
export interface CliFailure {
  code: string;
  message: string;
  exit: number;
}

/** Ids given as arguments: a malformed one is a usage error, not a refused operation. */
const ARGUMENT_FIELDS = new Set(['tenant', 'credential', 'app']);

/**
 * Exit 2 for usage and file errors (commander's, a bad argument, a missing file or a
 * directory), 1 for a refused or failed operation. Never a raw `Error: ENOENT`.
 */
export function describeFailure(err: unknown, commanderOutput = ''): CliFailure {
  if (err instanceof CommanderError) {
    const usage = /^Usage: (.*)$/m.exec(commanderOutput)?.[1];
    const message = err.code === 'commander.help' && usage ? `missing command; usage: ${usage}` : err.message.replace(/^error: /, '');
    return { code: 'usage', message, exit: err.exitCode === 0 ? 0 : 2 };
  }
  if (err instanceof UsageError) return { code: err.code, message: err.message, exit: 2 };
  if (err instanceof SesameError) {
    const usage = err.code === 'invalid_request' && ARGUMENT_FIELDS.has(String(err.details.field));
    return { code: usage ? 'usage' : err.code, message: err.message, exit: usage ? 2 : 1 };
  }
  const file = describeFileError(err);
  if (file) return { code: 'file', message: file, exit: 2 };
  const aws = explainAwsError(err);
  if (aws) return { code: 'aws_setup', message: aws, exit: 1 };
  return { code: 'internal', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err), exit: 1 };
}

/** `--json` anywhere before `--`: errors are then one JSON object on stderr. */
const wantsJson = (argv: string[]) => {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
};

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = wantsJson(argv);
  // With --json, commander's own messages and help-on-error are kept back: the error is printed as JSON below.
  let commanderOutput = '';
  if (json) {
    const quiet = (c: Command) => {
      c.configureOutput({ writeErr: (s) => void (commanderOutput += s), outputError: (s) => void (commanderOutput += s) });
      c.commands.forEach(quiet);
    };
    quiet(program);
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return failed(err, json, commanderOutput);
  } finally {
    // What the command did is in the audit trail before the process ends; a failure to write it is logged by the trail.
    await Promise.all(opened.splice(0).map((s) => s.audit?.flush({ timeoutMs: 5_000 })));
  }
}

function failed(err: unknown, json: boolean, commanderOutput: string): number {
  const failure = describeFailure(err, commanderOutput);
  if (failure.exit === 0) return 0;
  const message = failure.message.split('\n')[0] ?? '';
  if (json) process.stderr.write(`${JSON.stringify({ error: { code: failure.code, message } })}\n`);
  // Commander has printed its own message (and the help) already.
  else if (!(err instanceof CommanderError)) process.stderr.write(`sesame: ${message}\n`);
  return failure.exit;
}
