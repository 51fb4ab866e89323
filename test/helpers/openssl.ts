import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `openssl verify` as a reference verdict: PEM files written to a temp dir, the binary
 * run through execFile with an argument list (never a shell string), the system trust
 * store left out so that only the given CA file counts.
 */

export interface OpensslVerdict {
  /** Exit code 0 and "<leaf>: OK". */
  ok: boolean;
  exitCode: number;
  /** The first "error N at D depth lookup: …" line, or the last line OpenSSL printed. */
  reason: string;
  output: string;
  args: string[];
}

export interface OpensslVerifyInput {
  /** The certificate to verify, PEM. */
  leaf: string;
  /** -CAfile: PEM certificates; at least one (OpenSSL refuses an empty CA file). */
  trusted: string[];
  /** -untrusted: PEM certificates; left out when empty. */
  untrusted?: string[];
  /** -attime, in whole seconds. */
  at: Date;
  /** -x509_strict (default true). */
  strict?: boolean;
  /** More options, placed before the leaf (e.g. -policy OID -explicit_policy). */
  options?: string[];
}

let available: boolean | undefined;

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 20_000, env: { ...process.env, OPENSSL_CONF: '/dev/null' } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The `openssl version` line, or undefined when the binary is missing. */
export async function opensslVersion(): Promise<string | undefined> {
  try {
    const { code, stdout } = await run('openssl', ['version']);
    available = code === 0;
    return available ? stdout.trim() : undefined;
  } catch {
    available = false;
    return undefined;
  }
}

export async function opensslVerify(input: OpensslVerifyInput): Promise<OpensslVerdict> {
  if (available === undefined) await opensslVersion();
  if (!available) throw new Error('the openssl binary is not available on PATH');
  if (input.trusted.length === 0) throw new Error('openssl verify needs at least one -CAfile certificate');
  const dir = await mkdtemp(join(tmpdir(), 'sesame-openssl-'));
  try {
    const file = async (name: string, pems: string[]) => {
      const path = join(dir, name);
      await writeFile(path, pems.map((p) => p.trim()).join('\n') + '\n');
      return path;
    };
    const ca = await file('ca.pem', input.trusted);
    const leaf = await file('leaf.pem', [input.leaf]);
    const args = ['verify', '-no-CApath', '-no-CAstore'];
    if (input.strict !== false) args.push('-x509_strict');
    args.push('-attime', String(Math.floor(input.at.getTime() / 1000)), '-CAfile', ca);
    if (input.untrusted?.length) args.push('-untrusted', await file('untrusted.pem', input.untrusted));
    args.push(...(input.options ?? []), leaf);
    const { code, stdout, stderr } = await run('openssl', args);
    const output = `${stdout}${stderr}`.replaceAll(dir, '<tmp>').trim();
    const ok = code === 0 && /: OK\s*$/m.test(stdout);
    const reason = ok ? 'OK' : (/error \d+ at \d+ depth lookup: .*/.exec(output)?.[0] ?? output.split('\n').at(-1) ?? `exit ${code}`);
    return { ok, exitCode: code, reason, output, args: args.map((a) => a.replaceAll(dir, '<tmp>')) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
