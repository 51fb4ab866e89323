import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalAuditLog } from '../../functions/adapters/local-audit-log.ts';
import { audit, AuditTrail } from '../../functions/core/audit.ts';
import { MemoryLog } from '../helpers/memory-log.ts';

/**
 * What the audit trail costs (issue 13), against a LocalAuditLog in a temporary folder
 * (HMAC chain, lock, fsync per batch), as `sesame dev` runs it:
 *
 * - on the caller's path: record() of a token record (guard, id, time, push), in ticks
 *   of `perTick` records with an event-loop turn between ticks so that the background
 *   writer runs as it would between requests; against the same loop building the entry
 *   only. The buffer is large enough that nothing is dropped: this is record() itself.
 * - in the background: the CPU the writer uses per record (process CPU over the run,
 *   less the caller's loops), and how many records a second the local log absorbs.
 * - under a sustained rate (`rate` records/s, for `seconds`), with the default buffer:
 *   how many are dropped, and the caller's p99 per tick.
 */
export interface AuditBench {
  records: number;
  /** Building the entry with audit.token(), ns per record. */
  buildNs: number;
  /** Building it and record(), ns per record: what the caller pays. */
  recordNs: number;
  /** Background writer CPU, µs per record (HMAC, JSON, file system calls). */
  backgroundCpuUs: number;
  /** Records per second the local log writes, batches of the trail's default size. */
  writtenPerSecond: number;
  sustained: { rate: number; seconds: number; recorded: number; written: number; dropped: number; p99TickUs: number };
}

const token = (i: number) => audit.token({ app: 'bench-app', tenant: `tenant-${i % 100}`, credential: 'fla-employer', cached: i % 10 !== 0 });

export async function auditCost(options: { records?: number; perTick?: number; rate?: number; seconds?: number } = {}): Promise<AuditBench> {
  const records = options.records ?? 100_000;
  const perTick = options.perTick ?? 64;
  const rate = options.rate ?? 20_000;
  const seconds = options.seconds ?? 3;
  const home = await mkdtemp(join(tmpdir(), 'sesame-bench-audit-'));
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  try {
    const log = new LocalAuditLog(home, randomBytes(32));
    // Warm up both loops and the log's folder.
    const warm = new AuditTrail(log, new MemoryLog(), { maxBuffer: 10_000 });
    for (let i = 0; i < 2_000; i++) warm.record(token(i));
    await warm.flush();

    let sink = 0;
    let buildMs = 0;
    for (let done = 0; done < records; done += perTick) {
      const t0 = performance.now();
      for (let i = done; i < done + perTick; i++) sink += token(i).outcome.length;
      buildMs += performance.now() - t0;
      await turn();
    }

    const trail = new AuditTrail(log, new MemoryLog(), { maxBuffer: records + perTick });
    let recordMs = 0;
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    for (let done = 0; done < records; done += perTick) {
      const t0 = performance.now();
      for (let i = done; i < done + perTick; i++) trail.record(token(i));
      recordMs += performance.now() - t0;
      await turn();
    }
    await trail.flush();
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (trail.stats.written !== trail.stats.recorded) throw new Error(`bench: ${trail.stats.recorded - trail.stats.written} records not written`);

    // A sustained rate with the default buffer, paced by the clock: ticks every millisecond.
    const paced = new AuditTrail(log, new MemoryLog());
    const ticks: number[] = [];
    const perMs = rate / 1000;
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.floor((performance.now() - t0) * perMs) - sent;
      if (due > 0) {
        const s = performance.now();
        for (let i = 0; i < due; i++) paced.record(token(sent + i));
        ticks.push((performance.now() - s) * 1000);
        sent += due;
      }
      await turn();
    }
    await paced.flush();
    ticks.sort((a, b) => a - b);
    if (sink < 0) throw new Error('unreachable');
    return {
      records,
      buildNs: (buildMs * 1e6) / records,
      recordNs: (recordMs * 1e6) / records,
      backgroundCpuUs: ((cpuMs - recordMs) * 1000) / records,
      writtenPerSecond: (records * 1000) / elapsedMs,
      sustained: { rate, seconds, recorded: paced.stats.recorded, written: paced.stats.written, dropped: paced.stats.dropped, p99TickUs: ticks[Math.floor(ticks.length * 0.99)] ?? 0 },
    };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

// `node --import tsx test/bench/audit.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await auditCost();
  console.log(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v), 1));
}
