import { stat } from 'node:fs/promises';

/** How the CLI prints: one line to stdout, and aligned tables for people. */
export const out = (text: string) => process.stdout.write(`${text}\n`);

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '-' : Array.isArray(r[c]) ? (r[c] as unknown[]).join(',') : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

/**
 * A usage error (exit code 2, as commander's own): a bad argument or option, or a file
 * that cannot be used (missing, a directory…), code `file` in JSON errors.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly code: 'usage' | 'file' = 'usage',
  ) {
    super(message);
  }
}

/** The errno codes of file operations, in words: never `Error: ENOENT` on a screen. */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EMFILE: 'too many open files',
  EBUSY: 'resource busy',
};

/** A Node file error as one line (`<path>: no such file or directory`), or undefined when it is not one. */
export function describeFileError(err: unknown, path?: string): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  const words = typeof e?.code === 'string' ? FILE_ERRORS[e.code] : undefined;
  if (!words) return undefined;
  const where = path ?? e?.path;
  return where ? `${where}: ${words}` : words;
}

/** A file the command will read: it must exist and be a regular file (else a usage error, exit 2). */
export async function requireFile(path: string, what = 'file'): Promise<void> {
  let s;
  try {
    s = await stat(path);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${describeFileError(err, path) ?? path}`, 'file');
  }
  if (s.isDirectory()) throw new UsageError(`cannot read ${what} ${path}: it is a directory, not a file`, 'file');
  if (!s.isFile()) throw new UsageError(`cannot read ${what} ${path}: not a regular file`, 'file');
}
