import type { Command } from 'commander';
import type { System } from '../functions/adapters/system.ts';
import { readConfig } from '../functions/core/config.ts';
import type { RecordError } from '../functions/core/credentials.ts';
import { expiryReport, runExpiryCheck } from '../functions/core/expiry.ts';
import type { Clock, Log } from '../functions/core/ports.ts';
import { SesameError } from '../functions/core/errors.ts';
import { parseAt, UsageError } from './cert-commands.ts';
import { out, table } from './output.ts';

/** The exit code of a command that did its work for every record but some: which ones, its JSON `errors` (or stderr) says. */
export const EXIT_SOME_RECORDS_FAILED = 3;

/**
 * Records a command could not read (or alert): with `--json` they are in the printed
 * document's `errors` only; otherwise one line each on stderr. Either way, exit code 3.
 * Never a secret value: a record error holds the secret's name, a code and plain words.
 */
export function reportRecordErrors(errors: readonly RecordError[], json: boolean): void {
  if (errors.length === 0) return;
  if (!json) for (const e of errors) process.stderr.write(`sesame: ${e.secret}: ${e.detail} (${e.code})\n`);
  process.exitCode = EXIT_SOME_RECORDS_FAILED;
}

/** The CLI says what failed itself (reportRecordErrors): the check's own log lines would say it twice. */
const quiet: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** `sesame expiry report|check`: what expires when, and the check the schedule runs. */
export function addExpiryCommands(program: Command, system: (cmd: Command, clock?: Clock) => Promise<System>) {
  const expiry = program.command('expiry').description('what expires, and the daily check that warns people');
  const fixed = (at: Date | undefined): Clock | undefined => (at ? { now: () => at } : undefined);
  expiry
    .command('report')
    .description('every credential with what expires first, soonest first, from tags alone (nothing is decrypted)')
    .option('--at <date>', 'as on this date (ISO 8601), default now')
    .action(async (o: { at?: string }, cmd: Command) => {
      const at = parseAt(o.at) ?? new Date();
      const json = Boolean(cmd.optsWithGlobals().json);
      const s = await system(cmd, fixed(at));
      const report = await expiryReport({ store: s.store, thresholds: readConfig().thresholds }, at);
      const rows = report.credentials.map((r) => ({ ...r, expires: r.expires_at?.slice(0, 10) ?? null }));
      out(json ? JSON.stringify(report) : table(rows, ['tenant', 'credential', 'kind', 'what', 'expires', 'days_left', 'status']));
      reportRecordErrors(report.errors, json);
    });
  expiry
    .command('check')
    .description('run the expiry check: publish the alerts due (outbox locally, SNS with --aws), record them, and print the summary')
    .option('--at <date>', 'as on this date (ISO 8601): a dry run, unless --send')
    .option('--dry-run', 'say what would be sent, without publishing nor recording anything')
    .option('--send', 'with --at: publish and record the alerts for real, as the daily run would on that date')
    .action(async (o: { at?: string; dryRun?: boolean; send?: boolean }, cmd: Command) => {
      if (o.dryRun && o.send) throw new UsageError('--dry-run and --send contradict each other: give one of them');
      const at = parseAt(o.at);
      // A simulated date must not publish nor change alert state unless asked: the next real run would not re-send.
      const dryRun = o.dryRun === true || (at !== undefined && o.send !== true);
      const json = Boolean(cmd.optsWithGlobals().json);
      const s = await system(cmd, fixed(at));
      if (!dryRun && !s.notifier) throw new SesameError('invalid_request', 'no alerts topic configured: set SESAME_ALERTS_TOPIC_ARN (the stack output) for --aws, or use --dry-run');
      const summary = await runExpiryCheck({
        store: s.store,
        credentials: s.credentials,
        tenants: s.tenants,
        notifier: s.notifier,
        clock: s.clock,
        log: quiet,
        thresholds: readConfig().thresholds,
        dryRun,
        // Renewal alerts of client-renewed credentials carry a connect link where a state store is wired.
        ...(s.connect ? { connect: s.connect } : {}),
      });
      const { failures, errors, ...rest } = summary;
      if (json) {
        out(JSON.stringify({ ...rest, errors: failures }));
      } else {
        out(
          dryRun
            ? `dry run, nothing sent nor recorded: checked ${summary.checked} credential(s) at ${summary.at}: ${summary.alerting} alert(s) would be sent, ${errors} error(s)`
            : `checked ${summary.checked} credential(s) at ${summary.at}: ${summary.alerting} alert(s) sent, ${errors} error(s)`,
        );
        for (const a of summary.alerts) out(`  ${a.severity.padEnd(8)} ${a.subject}`);
      }
      reportRecordErrors(failures, json);
    });
}
