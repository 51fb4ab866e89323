import type { Command } from 'commander';
import type { System } from '../functions/adapters/system.ts';
import { expiryReport } from '../functions/core/expiry.ts';
import type { Clock } from '../functions/core/ports.ts';
import { SesameError } from '../functions/core/errors.ts';
import { parseAt } from './cert-commands.ts';
import { out, table } from './output.ts';



/** `sesame expiry report|check`: what expires when, and the check the schedule runs. */
export function addExpiryCommands(program: Command, system: (cmd: Command, clock?: Clock) => Promise<System>) {
  const expiry = program.command('expiry').description('what expires, and the daily check that warns people');
  const fixed = (at: Date | undefined): Clock | undefined => (at ? { now: () => at } : undefined);
  expiry
    .command('report')
    .description('every credential with what expires first, soonest first')
    .option('--at <date>', 'as on this date (ISO 8601), default now')
    .action(async (o: { at?: string }, cmd: Command) => {
      const at = parseAt(o.at) ?? new Date();
      const s = await system(cmd, fixed(at));
      const rows = await expiryReport({ store: s.store, credentials: s.credentials, clock: s.clock }, at);
      out(cmd.optsWithGlobals().json ? JSON.stringify(rows) : table(rows.map((r) => ({ ...r, expires: r.expires_at?.slice(0, 10) ?? null })) as unknown as Record<string, unknown>[], ['tenant', 'credential', 'kind', 'what', 'expires', 'days_left', 'status']));
    });
  expiry
    .command('check')
    .description('run the expiry check now: publish the alerts due (outbox locally, SNS with --aws) and print the summary')
    .option('--at <date>', 'as on this date (ISO 8601), default now')
    .action(async (o: { at?: string }, cmd: Command) => {
      const s = await system(cmd, fixed(parseAt(o.at)));
      if (!s.expiryCheck) throw new SesameError('invalid_request', 'no alerts topic configured: set SESAME_ALERTS_TOPIC_ARN (the stack output) for --aws');
      const summary = await s.expiryCheck();
      out(cmd.optsWithGlobals().json ? JSON.stringify(summary) : `checked ${summary.checked} credential(s) at ${summary.at}: ${summary.alerting} alert(s) sent, ${summary.errors} error(s)`);
      if (summary.errors > 0) process.exitCode = 1;
    });
}
