import type { ChildProcess } from 'node:child_process';

/** Stops a child process and resolves once it has exited: its folders can then be removed, nothing writes there any more. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}
