import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The script the real-process tests run (see its header for its modes). */
export const CHILD = join(import.meta.dirname, 'local-store-child.ts');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last JSON line printed, if any. */
  json: any;
}

export interface Child {
  /** Resolves once the process has loaded the store and waits for go(). */
  ready: Promise<void>;
  go(): void;
  done: Promise<ChildResult>;
}

/** A real node process running local-store-child.ts on the store in `home`, with `key`. */
export function child(home: string, key: Buffer, args: string[]): Child {
  const p = spawn(process.execPath, ['--import', 'tsx', CHILD, home, ...args], {
    env: { ...process.env, SESAME_LOCAL_KEY: key.toString('hex') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  p.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('ready\n')) markReady();
  });
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ChildResult>((resolve) =>
    p.on('close', (code, signal) => {
      markReady();
      const last = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      resolve({ code, signal, stdout, stderr, json: last ? JSON.parse(last) : undefined });
    }),
  );
  return { ready, go: () => p.stdin.end('go\n'), done };
}

/** Starts every child, waits until all are loaded, then lets them all go at once. */
export async function race(children: Child[]): Promise<ChildResult[]> {
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.go();
  return Promise.all(children.map((c) => c.done));
}
