import type { Command } from 'commander';
import { LocalAuditLog, type AuditVerification } from '../functions/adapters/local-audit-log.ts';
import { type AuditLog, type AuditQuery, type AuditRecord, MAX_AUDIT_LIMIT, parseAuditQuery, readAuditConfig } from '../functions/core/audit.ts';
import type { Config } from '../functions/core/config.ts';
import { isSesameError, SesameError } from '../functions/core/errors.ts';
import { systemClock, type Clock } from '../functions/core/ports.ts';
import { out, table, UsageError } from './output.ts';

/**
 * The audit log `sesame audit` reads: the HMAC-chained files under $SESAME_HOME/audit/,
 * or with --aws the state table (SESAME_STATE_TABLE, else the stack's StateTable output).
 */
export async function openAuditLog(config: Config, aws: boolean, env: NodeJS.ProcessEnv = process.env): Promise<AuditLog> {
  if (!aws) return LocalAuditLog.open(config.home, env);
  // The AWS SDK clients, for --aws only.
  const [{ DynamoAuditLog }, { stackOutputs }] = await Promise.all([import('../functions/adapters/dynamo-audit-log.ts'), import('../functions/adapters/stack-outputs.ts')]);
  const table = config.stateTable ?? (await stackOutputs(config.stackName))?.StateTable;
  if (!table) throw new SesameError('invalid_request', `no state table: set SESAME_STATE_TABLE to the stack's StateTable output (no stack named "${config.stackName}" with it was found)`);
  return new DynamoAuditLog(table, undefined, { retentionDays: readAuditConfig(env).retentionDays });
}

interface AuditOptions {
  tenant?: string;
  app?: string;
  since?: string;
  until?: string;
  limit?: string;
  cursor?: string;
  all?: boolean;
  verify?: boolean;
}

const hasVerify = (log: AuditLog): log is AuditLog & { verify(): Promise<AuditVerification> } => typeof (log as { verify?: unknown }).verify === 'function';

/** A record on one table row: who, on what, how it went, and its details as k=v. */
function row(r: AuditRecord): Record<string, unknown> {
  const details = [...(r.cached ? ['cached'] : []), ...Object.entries(r.details ?? {}).map(([k, v]) => `${k}=${v}`)];
  return {
    time: r.time,
    type: r.type,
    actor: r.actor.type === 'cli' && r.actor.id === 'cli' ? 'cli' : `${r.actor.type}:${r.actor.id}`,
    tenant: r.tenant,
    credential: r.credential,
    app: r.app,
    outcome: r.code ? `${r.outcome}:${r.code}` : r.outcome,
    details: details.length > 0 ? details.join(' ') : undefined,
  };
}

function printVerification(v: AuditVerification, json: boolean): void {
  if (json) out(JSON.stringify(v));
  else if (v.ok) {
    const notes = [...(v.unsealed > 0 ? [`${v.unsealed} record(s) after the head, chained from it (a writer stopped before sealing them, or is writing)`] : []), ...(v.torn ? ['a half-written last line (a writer is writing, or died mid-line)'] : [])];
    out(`audit log intact: ${v.records} record(s) in ${v.files} file(s)${notes.length ? `; ${notes.join('; ')}` : ''}`);
  }
  if (!v.ok && v.broken) {
    // The break on stderr like every failure, after the JSON document when there is one.
    const where = v.broken.file ? ` (${v.broken.file}${v.broken.line ? ` line ${v.broken.line}` : ''})` : '';
    process.stderr.write(`sesame: audit log broken at record #${v.broken.position}${where}: ${v.broken.message} [${v.broken.reason}]\n`);
    process.exitCode = 1;
  }
}

/** `sesame audit`: who was vended what, who changed what, and (locally) whether the chain is intact. */
export function addAuditCommands(program: Command, open: (cmd: Command) => Promise<AuditLog>, clock: Clock = systemClock) {
  program
    .command('audit')
    .description('the audit trail: tokens and assertions vended, admin changes, connect links, revocations, certificate verdicts; newest first, never a secret value')
    .option('--tenant <tenant>', "only this tenant's records")
    .option('--app <app>', "only this app's records")
    .option('--since <when>', 'from: a duration back from now (30m, 24h, 7d, 2w) or a date (2026-06-01, 2026-06-01T08:00:00Z)', '7d')
    .option('--until <when>', 'up to, in the same forms (default: now)')
    .option('--limit <n>', `at most this many records (1 to ${MAX_AUDIT_LIMIT}), default 100; with --all, per page`)
    .option('--all', 'every matching record, page after page (with --json: an export as JSON lines)')
    .option('--cursor <cursor>', 'the next page, as a previous run printed it')
    .option('--verify', 'check the local log\'s hash chain and its head: exit 1 naming the first broken record')
    .addHelpText(
      'after',
      `
Records are kept 400 days in AWS (SESAME_AUDIT_RETENTION_DAYS); locally, in
$SESAME_HOME/audit/, one file a day, each record chained to the one before it by an
HMAC under the local store's key, so that an edited, removed or reordered record is
found by --verify. --json prints one record per line (JSON lines).

Examples:
  sesame audit --since 24h
  sesame audit --tenant cfa-paris --app billing --since 2026-06-01 --json
  sesame --aws audit --since 400d --all --json > audit.jsonl
  sesame audit --verify`,
    )
    .action(async (o: AuditOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as { json?: boolean; aws?: boolean };
      const json = Boolean(globals.json);
      if (o.verify) {
        const filters = (['tenant', 'app', 'until', 'limit', 'cursor', 'all'] as const).filter((k) => o[k] !== undefined);
        if (filters.length > 0 || cmd.getOptionValueSource('since') === 'cli') throw new UsageError(`--verify checks the whole chain: it takes no --${filters[0] ?? 'since'}`);
        if (globals.aws) throw new UsageError('--verify checks the local log\'s chain; in AWS the records are guarded by IAM and the table\'s point-in-time recovery, not chained');
        const log = await open(cmd);
        if (!hasVerify(log)) throw new UsageError('--verify checks the local log\'s chain, and this log has none');
        printVerification(await log.verify(), json);
        return;
      }
      let query: AuditQuery;
      try {
        query = parseAuditQuery(o, clock.now());
      } catch (err) {
        // A bad option is a usage error (exit 2), named as it was typed.
        if (isSesameError(err, 'invalid_request') && typeof err.details.field === 'string') throw new UsageError(`--${err.message}`);
        throw err;
      }
      const log = await open(cmd);
      const records: AuditRecord[] = [];
      let cursor = query.cursor;
      do {
        const page = await log.query({ ...query, ...(cursor !== undefined ? { cursor } : {}) });
        // JSON lines go out page by page: an export never holds everything in memory.
        if (json) for (const r of page.records) out(JSON.stringify(r));
        else records.push(...page.records);
        cursor = page.cursor;
      } while (o.all && cursor !== undefined);
      if (!json) out(table(records.map(row), ['time', 'type', 'actor', 'tenant', 'credential', 'app', 'outcome', 'details']));
      if (cursor !== undefined) process.stderr.write(`more records: add --cursor ${cursor} for the next page, or --all\n`);
    });
}
