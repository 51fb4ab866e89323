import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const TMP_SUFFIX = '.tmp';

export interface AtomicWriteOptions {
  /** fsync the data before the rename. */
  sync?: boolean;
  /** fsync the target's folder after the rename, so that the rename itself survives a crash. */
  syncDir?: boolean;
  /** Where the temporary file is made (same file system as the target); beside the target by default. */
  tmpDir?: string;
  /** Called just before the rename; may throw to abandon the write (the temporary file is removed). */
  beforeRename?: () => void;
}

/**
 * Temp file then rename, private to the user: a reader sees the old file or the new
 * one, never half of one, and a failed write leaves no temp file behind. A writer
 * killed mid-way does leave one, named `<target>.<pid>.<random>.tmp`:
 * removeOrphanTemps() clears those.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const tmpDir = options.tmpDir ?? dirname(target);
  const tmp = join(tmpDir, `${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`);
  // Folders are made when missing, rather than checked before every write.
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    return open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  });
  try {
    await fh.writeFile(data);
    if (options.sync) await fh.sync();
    await fh.close();
    options.beforeRename?.();
    await rename(tmp, target).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await rename(tmp, target);
    });
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (options.syncDir) await syncDir(dirname(target));
}

/** fsync a folder, so that the entries just renamed into it or removed from it are durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that writeFileAtomic left in `dir` (and below it when
 * `recursive`) because their writer died: those whose process no longer exists, those
 * of this process when `ownAreOrphans` (the caller knows none of its writes is under
 * way there), and any older than `maxAgeMs` (in case the pid was reused). Returns how
 * many were removed.
 */
export async function removeOrphanTemps(dir: string, options: { recursive?: boolean; ownAreOrphans?: boolean; maxAgeMs?: number } = {}): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: options.recursive ?? false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const maxAge = options.maxAgeMs ?? 3_600_000;
  let removed = 0;
  for (const entry of entries) {
    const match = /\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(entry);
    if (!match) continue;
    const pid = Number(match[1]);
    const path = join(dir, entry);
    let orphan = pid === process.pid ? options.ownAreOrphans === true : !processIsAlive(pid);
    if (!orphan) {
      const st = await stat(path).catch(() => undefined);
      orphan = st !== undefined && st.isFile() && Date.now() - st.mtimeMs > maxAge;
    }
    if (orphan && (await unlink(path).then(() => true, () => false))) removed += 1;
  }
  return removed;
}
