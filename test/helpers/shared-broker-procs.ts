import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * K broker processes (shared-broker-child.ts), each standing for one container of the
 * token function, driven by JSON lines. Every wait is bounded: a child that does not
 * answer fails the caller rather than hanging it.
 */
export interface BrokerProc {
  pid: number;
  /** The owner id its shared cache writes into leases (null: no shared cache). */
  owner: string | null;
  send(command: Record<string, unknown>): void;
  /** The next line (from now on, or already received and not yet taken) that `match` accepts. */
  next(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
  stderr(): string;
}

const CHILD = join(import.meta.dirname, 'shared-broker-child.ts');

function start(env: Record<string, string | undefined>): { proc: ChildProcess; handle: Omit<BrokerProc, 'owner'> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR', ...env } });
  const lines: Record<string, unknown>[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let err = '';
  let exited: number | null | undefined;
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    if (!text.startsWith('{')) return;
    const line = JSON.parse(text) as Record<string, unknown>;
    const w = waiters.findIndex((x) => x.match(line));
    if (w >= 0) waiters.splice(w, 1)[0]?.resolve(line);
    else lines.push(line);
  });
  proc.on('exit', (code) => (exited = code));
  const handle: Omit<BrokerProc, 'owner'> = {
    pid: proc.pid as number,
    send: (command) => proc.stdin?.write(`${JSON.stringify(command)}\n`),
    next: (match, timeoutMs = 60_000) => {
      const i = lines.findIndex(match);
      if (i >= 0) return Promise.resolve(lines.splice(i, 1)[0] as Record<string, unknown>);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`broker process ${proc.pid} gave no awaited line within ${timeoutMs} ms (exit ${exited}); lines received and not taken: ${JSON.stringify(lines.map((l) => Object.keys(l)))}; stderr: ${err.slice(-2000)}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
    kill: (signal = 'SIGTERM') => void proc.kill(signal),
    stderr: () => err,
  };
  return { proc, handle };
}

/** K broker processes, all built and ready. */
export async function startBrokers(k: number, env: Record<string, string | undefined>): Promise<BrokerProc[]> {
  const started = Array.from({ length: k }, () => start(env));
  try {
    return await Promise.all(
      started.map(async ({ handle }) => {
        const ready = await handle.next((l) => l.ready === true, 90_000);
        return { ...handle, owner: (ready.owner as string | null) ?? null };
      }),
    );
  } catch (e) {
    for (const s of started) s.proc.kill('SIGKILL');
    throw e;
  }
}

export function stopBrokers(procs: BrokerProc[]): void {
  for (const p of procs) p.kill('SIGKILL');
}
