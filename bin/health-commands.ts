import type { Command } from 'commander';
import { FetchHttpClient } from '../functions/adapters/fetch-http-client.ts';
import type { System } from '../functions/adapters/system.ts';
import { SesameError } from '../functions/core/errors.ts';
import { readHealthConfig, runHealthCheck, testCredential, type HealthCheckDeps, type HealthResult } from '../functions/core/health.ts';
import type { HttpClient, Log } from '../functions/core/ports.ts';
import { reportRecordErrors } from './expiry-commands.ts';
import { out, table, UsageError } from './output.ts';

/**
 * `sesame credential test` exits 0 when the platform accepted the credential, 1 when it
 * refused it or did not answer (the CLI's "refused or failed"), and 4 when the credential
 * cannot be checked at all: a script asking "does it work?" must not read "cannot tell"
 * as yes (0), and 3 already means "some records could not be read".
 */
export const EXIT_CHECK_FAILED = 1;
export const EXIT_NOT_TESTABLE = 4;

/** The CLI says what happened itself: the check's own log lines would say it twice. */
const quiet: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** What a health check needs from a system: its store and records, the network, its broker's retry policy. */
export function healthDeps(s: System, http: HttpClient, log: Log = quiet): HealthCheckDeps {
  return { store: s.store, credentials: s.credentials, tenants: s.tenants, http, retry: s.broker.options.retry, clock: s.clock, log, ...(s.notifier ? { notifier: s.notifier } : {}) };
}

function printResult(r: HealthResult): void {
  const label = r.status === 'not_testable' ? 'not testable' : r.status;
  out(`${label}: ${r.tenant}/${r.credential} (${r.kind}), checked ${r.checked_at}`);
  out(`  ${r.message.en}`);
  if (r.status === 'failed' && r.reason) out(`  ${r.reason}`);
  if (r.expires_at) out(`  end of validity per the platform: ${r.expires_at}${r.expiry_updated ? ` (recorded; was ${r.previous_expires_at ?? 'none'})` : ''}`);
}

export interface HealthCommandOptions {
  /** Default: the runtime's fetch. */
  http?: HttpClient;
  /** Default: process.env (SESAME_HEALTH_HOST_GAP_MS, SESAME_HEALTH_CONCURRENCY, SESAME_HEALTH_REMINDER_DAYS). */
  env?: NodeJS.ProcessEnv;
  /** How the sweep waits between two calls to one host. */
  sleep?: (ms: number) => Promise<void>;
}

/** `sesame credential test` and `sesame health check`: does a credential still work upstream? */
export function addHealthCommands(program: Command, system: (cmd: Command) => Promise<System>, options: HealthCommandOptions = {}) {
  const http = () => options.http ?? new FetchHttpClient();
  const credential = program.commands.find((c) => c.name() === 'credential') ?? program.command('credential').description('tenant credentials');
  credential
    .command('test <tenant> <credential>')
    .description('check now with the platform that a credential works (a token for FLA and PISTE, the key information for an OPCO); nothing obtained is cached or served; the result is recorded on the credential')
    .addHelpText(
      'after',
      `
FLA and Chorus PISTE obtain a token; an OPCO calls GET <base_url>/v2/cfakeyinfo?siren=…
with the key (the credential needs its base_url, the tenant a SIREN or SIRET) and, when
the OPCO answers the key's end of validity, records it as the credential's end date.
Cegid File Exchange and Chorus EDI cannot be checked: said plainly, exit 4.

Exit status: 0 the platform accepted the credential, 1 it refused it or did not answer
(the reason is printed), 4 the credential cannot be checked, 2 usage error.

Examples:
  sesame credential test cfa-paris opco-atlas
  sesame --aws credential test cfa-bxl fla-employer --json`,
    )
    .action(async (tenant: string, id: string, _o, cmd: Command) => {
      const json = Boolean(cmd.optsWithGlobals().json);
      const s = await system(cmd);
      const result = await testCredential(healthDeps(s, http()), tenant, id);
      if (json) out(JSON.stringify(result));
      else printResult(result);
      if (result.status === 'failed') process.exitCode = EXIT_CHECK_FAILED;
      else if (result.status === 'not_testable') process.exitCode = EXIT_NOT_TESTABLE;
    });

  const health = program.command('health').description('whether credentials still work with their platforms');
  health
    .command('check')
    .description('run the health check the schedule runs: check every credential that can be checked, spread over time per upstream host, alert on a credential that starts failing and on its recovery, and print the summary')
    .option('--dry-run', 'check, and say what would be sent, without publishing nor recording anything')
    .addHelpText(
      'after',
      `
Calls to one upstream host are made one after the other, SESAME_HEALTH_HOST_GAP_MS apart
(default 500); SESAME_HEALTH_CONCURRENCY hosts at once (default 4). A credential that starts
failing alerts once (a platform that does not answer: at the second check in a row), then
every SESAME_HEALTH_REMINDER_DAYS days while it fails (default 7, 0 for never), and once
when it works again. Credentials that cannot be checked never alert.

Exit status: 0 the check ran (failing credentials are in the summary and the alerts),
3 some credentials could not be read or alerted (listed), 1 the check could not run.

Examples:
  sesame health check --dry-run
  sesame --aws health check --json`,
    )
    .action(async (o: { dryRun?: boolean }, cmd: Command) => {
      const json = Boolean(cmd.optsWithGlobals().json);
      const dryRun = o.dryRun === true;
      let config;
      try {
        config = readHealthConfig(options.env ?? process.env);
      } catch (err) {
        throw new UsageError((err as SesameError).message);
      }
      const s = await system(cmd);
      if (!dryRun && !s.notifier) throw new SesameError('invalid_request', 'no alerts topic configured: set SESAME_ALERTS_TOPIC_ARN (the stack output) for --aws, or use --dry-run');
      // Asked for by name: it runs even where SESAME_HEALTH_CHECK=off stops the scheduled run.
      const { enabled: _scheduled, ...spread } = config;
      const summary = await runHealthCheck({ ...healthDeps(s, http()), ...spread, ...(options.sleep ? { sleep: options.sleep } : {}) }, { dryRun });
      const { failures, errors, ...rest } = summary;
      if (json) {
        out(JSON.stringify({ ...rest, errors: failures }));
      } else {
        const counts = `${summary.ok} ok, ${summary.failed} failed, ${summary.not_testable} not testable, ${errors} error(s)`;
        out(
          dryRun
            ? `dry run, nothing sent nor recorded: checked ${summary.checked} credential(s) at ${summary.at}: ${counts}; ${summary.alerts.length} alert(s) would be sent`
            : `checked ${summary.checked} credential(s) at ${summary.at}: ${counts}; ${summary.alerts.length} alert(s) sent`,
        );
        if (summary.failing.length > 0) out(table(summary.failing as unknown as Record<string, unknown>[], ['tenant', 'credential', 'kind', 'code', 'reason']));
        for (const a of summary.alerts) out(`  ${a.type.padEnd(9)} ${a.subject}`);
      }
      reportRecordErrors(failures, json);
    });
}
