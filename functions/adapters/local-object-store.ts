import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.ts';
import { dirname, join, relative, sep } from 'node:path';
import { SesameError } from '../core/errors.ts';
import type { ObjectHead, ObjectStore, StoredObject } from '../core/ports.ts';

/**
 * Objects as files under $SESAME_HOME: `incoming/…` is the `uploads/` folder that
 * operators drop files into; `accepted/`, `rejected/` and `reports/` keep their names.
 */
const FOLDERS: Record<string, string> = { incoming: 'uploads', accepted: 'accepted', rejected: 'rejected', reports: 'reports' };

export class LocalObjectStore implements ObjectStore {
  constructor(private readonly home: string) {}

  path(key: string): string {
    const [top = '', ...rest] = key.split('/');
    const folder = FOLDERS[top];
    if (!folder || rest.length === 0 || rest.some((s) => s === '' || s === '.' || s === '..' || /[\0\\]/.test(s))) {
      throw new SesameError('invalid_request', `invalid object key "${key.slice(0, 200)}"`);
    }
    return join(this.home, folder, ...rest);
  }

  /** The key of a file under uploads/. */
  incomingKey(path: string): string {
    return `incoming/${relative(join(this.home, 'uploads'), path).split(sep).join('/')}`;
  }

  /** Files have no versions: the one there is the current one. */
  async head(key: string): Promise<ObjectHead | undefined> {
    try {
      const st = await stat(this.path(key));
      return st.isFile() ? { size: st.size } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async get(key: string, maxBytes: number): Promise<StoredObject | undefined> {
    let fh;
    try {
      fh = await open(this.path(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const { size } = await fh.stat();
      const buffer = Buffer.alloc(Math.min(size, maxBytes));
      const { bytesRead } = await fh.read(buffer, 0, buffer.length, 0);
      return { bytes: new Uint8Array(buffer.subarray(0, bytesRead)), size };
    } finally {
      await fh.close();
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(this.path(key), bytes);
  }

  async move(from: string, to: string): Promise<void> {
    const target = this.path(to);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await rename(this.path(from), target);
  }

  async purge(key: string): Promise<void> {
    await unlink(this.path(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Files waiting under uploads/, as keys, with their modification times. */
  async pending(): Promise<{ key: string; mtimeMs: number }[]> {
    const root = join(this.home, 'uploads');
    let entries: string[];
    try {
      entries = await readdir(root, { recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: { key: string; mtimeMs: number }[] = [];
    for (const e of entries) {
      const name = e.split(sep).at(-1) ?? '';
      if (name.startsWith('.') || name.endsWith('.tmp') || name.endsWith('.part')) continue; // still being written
      const st = await stat(join(root, e)).catch(() => undefined);
      if (st?.isFile()) out.push({ key: this.incomingKey(join(root, e)), mtimeMs: st.mtimeMs });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }
}
