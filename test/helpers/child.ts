import type { ChildProcess } from 'node:child_process';

/** Stops a child process and resolves once it has exited: its folders can then be removed, nothing writes there any more. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  // A process that does not stop (sesame dev promises to within 5 s) is killed, so that the test ends and says so elsewhere.
  const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(late);
}
