import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sesame.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sesame` as a user would, in its own process, against the store in `home()`. */
export function cli(home: () => string, extraEnv: Record<string, string> = {}) {
  return (args: string[], stdin = ''): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { env: { ...process.env, SESAME_HOME: home(), POWERTOOLS_LOG_LEVEL: 'WARN', ...extraEnv } }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ).stdin?.end(stdin);
    });
}
