import { createHash } from 'node:crypto';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { removeOrphanTemps, writeFileAtomic } from './atomic-file.ts';
import {
  checkCondition,
  checkExpiresAt,
  checkKey,
  checkLimit,
  compareUtf8,
  decodeCursor,
  encodeCursor,
  epochSeconds,
  isLive,
  serialiseData,
} from './state-keys.ts';
import { SesameError } from '../core/errors.ts';
import type { Clock, StateCondition, StateItem, StateStore } from '../core/ports.ts';
import { systemClock } from '../core/ports.ts';

/**
 * The state table as files under `$SESAME_HOME/state/`: one JSON file per partition,
 * named after the SHA-256 of its pk (keys hold `#`, `/` and anything else; a hash
 * makes every one a safe, fixed-length file name, and the pk is kept inside the file).
 *
 * Every write (put, delete, and the purge of expired items) is a read-modify-write of
 * the partition's file under a lock on that partition: first this process's queue,
 * then a lock folder shared by every process (proper-lockfile, `<file>.lock`), so a
 * conditional write from two processes at once lets exactly one win. Files are
 * replaced atomically (temp file then rename), so reads take no lock.
 *
 * Expired items (expiresAt <= now, by the injected clock) are never returned; a read
 * that meets one purges it (under the lock), and every write drops the partition's
 * expired items. A partition left empty is removed.
 */
const FORMAT = 'sesame-local-state/1';

interface StoredItem {
  sk: string;
  version: number;
  expires_at?: number;
  /** JSON text of the data: stored as written, read back with JSON.parse. */
  data: string;
}

interface StoredPartition {
  format: typeof FORMAT;
  pk: string;
  items: StoredItem[];
}

export interface LocalStateStoreOptions {
  /** A lock not refreshed for this long is taken to be a dead writer's (at least 2000 ms). Default 10 s. */
  lockStaleMs?: number;
  /** How long a writer waits for the lock before failing with `conflict`. Default 30 s. */
  lockWaitMs?: number;
}

/** Per partition file, the end of this process's queue for its lock. */
const queues = new Map<string, Promise<void>>();

export class LocalStateStore implements StateStore {
  readonly root: string;
  private readonly lockStaleMs: number;
  private readonly lockWaitMs: number;
  private tempsCleared = false;

  constructor(
    home: string,
    private readonly clock: Clock = systemClock,
    options: LocalStateStoreOptions = {},
  ) {
    this.root = join(home, 'state');
    this.lockStaleMs = Math.max(options.lockStaleMs ?? 10_000, 2_000);
    this.lockWaitMs = options.lockWaitMs ?? 30_000;
  }

  async get(pk: string, sk: string): Promise<StateItem | undefined> {
    checkKey('pk', pk);
    checkKey('sk', sk);
    const stored = (await this.load(pk))?.items.find((i) => i.sk === sk);
    if (!stored) return undefined;
    const now = this.now();
    if (!isLive(fromStored(stored), now)) {
      await this.purge(pk);
      return undefined;
    }
    return toItem(pk, stored);
  }

  async put(item: Omit<StateItem, 'version'>, condition?: StateCondition): Promise<StateItem> {
    const pk = checkKey('pk', item.pk);
    const sk = checkKey('sk', item.sk);
    const expiresAt = checkExpiresAt(item.expiresAt);
    const data = serialiseData(item.data);
    checkCondition(condition);
    return this.withLock(pk, async () => {
      const now = this.now();
      const items = ((await this.load(pk))?.items ?? []).filter((i) => isLive(fromStored(i), now));
      const index = items.findIndex((i) => i.sk === sk);
      const current = index >= 0 ? items[index] : undefined;
      holds(condition, current);
      const stored: StoredItem = { sk, version: (current?.version ?? 0) + 1, ...(expiresAt === undefined ? {} : { expires_at: expiresAt }), data };
      if (index >= 0) items[index] = stored;
      else items.push(stored);
      await this.save(pk, items);
      return toItem(pk, stored);
    });
  }

  async query(pk: string, options: { prefix?: string; limit?: number; cursor?: string } = {}): Promise<{ items: StateItem[]; cursor: string | undefined }> {
    checkKey('pk', pk);
    const prefix = checkKey('prefix', options.prefix ?? '', true);
    const limit = checkLimit(options.limit);
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, pk, prefix);
    const partition = await this.load(pk);
    if (!partition) return { items: [], cursor: undefined };
    const now = this.now();
    const candidates = partition.items
      .filter((i) => i.sk.startsWith(prefix) && (after === undefined || compareUtf8(i.sk, after) > 0))
      .sort((a, b) => compareUtf8(a.sk, b.sk));
    if (candidates.some((i) => !isLive(fromStored(i), now))) await this.purge(pk);
    const live = candidates.filter((i) => isLive(fromStored(i), now));
    const page = live.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map((i) => toItem(pk, i)), cursor: live.length > limit && last ? encodeCursor(pk, last.sk) : undefined };
  }

  async delete(pk: string, sk: string, condition?: StateCondition): Promise<void> {
    checkKey('pk', pk);
    checkKey('sk', sk);
    checkCondition(condition);
    await this.withLock(pk, async () => {
      const now = this.now();
      const partition = await this.load(pk);
      const items = (partition?.items ?? []).filter((i) => isLive(fromStored(i), now));
      const current = items.find((i) => i.sk === sk);
      holds(condition, current);
      const rest = items.filter((i) => i.sk !== sk);
      if (partition && rest.length !== partition.items.length) await this.save(pk, rest);
    });
  }

  // ---------------------------------------------------------------- files

  private now(): number {
    return epochSeconds(this.clock.now());
  }

  private file(pk: string): string {
    return join(this.root, `${createHash('sha256').update(pk, 'utf8').digest('hex')}.json`);
  }

  private corrupt(why: string): SesameError {
    // Never the pk: it may be derived from a secret-bearing token (a hash, but still not for logs).
    return new SesameError('store_corrupt', `a local state file under ${this.root} is refused: ${why}`);
  }

  private async load(pk: string): Promise<StoredPartition | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(pk), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw this.corrupt('not JSON');
    }
    if (!isPartition(parsed)) throw this.corrupt('not a state partition');
    if (parsed.pk !== pk) throw this.corrupt('it holds another partition');
    return parsed;
  }

  private async save(pk: string, items: StoredItem[]): Promise<void> {
    const path = this.file(pk);
    if (items.length === 0) {
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      return;
    }
    const partition: StoredPartition = { format: FORMAT, pk, items: [...items].sort((a, b) => compareUtf8(a.sk, b.sk)) };
    await writeFileAtomic(path, `${JSON.stringify(partition)}\n`, { sync: true });
  }

  /** Drops the partition's expired items (a read met one). */
  private async purge(pk: string): Promise<void> {
    await this.withLock(pk, async () => {
      const partition = await this.load(pk);
      if (!partition) return;
      const now = this.now();
      const live = partition.items.filter((i) => isLive(fromStored(i), now));
      if (live.length !== partition.items.length) await this.save(pk, live);
    });
  }

  // ---------------------------------------------------------------- the lock

  /** Runs fn holding the partition's lock: this process's queue for it, then the lock folder shared with other processes. */
  private async withLock<T>(pk: string, fn: () => Promise<T>): Promise<T> {
    const path = this.file(pk);
    const before = queues.get(path) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = before.then(() => mine);
    queues.set(path, tail);
    await before;
    try {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      if (!this.tempsCleared) {
        // Temp files of writers that died (the folder's own writes are under way only in live processes).
        this.tempsCleared = true;
        await removeOrphanTemps(this.root);
      }
      const lost: { err?: Error } = {};
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(path, {
          lockfilePath: `${path}.lock`,
          realpath: false,
          stale: this.lockStaleMs,
          retries: { retries: Math.ceil(this.lockWaitMs / 40), factor: 1.2, minTimeout: 5, maxTimeout: 50, randomize: true },
          onCompromised: (err) => {
            lost.err = err;
          },
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
          throw new SesameError('conflict', `a local state partition stayed locked by another process for ${Math.round(this.lockWaitMs / 1000)} s; try again`);
        }
        throw err;
      }
      try {
        const result = await fn();
        if (lost.err) throw new SesameError('conflict', `lost the lock of a local state partition (held more than ${this.lockStaleMs / 1000} s); try again`);
        return result;
      } finally {
        await release().catch(() => undefined);
      }
    } finally {
      done();
      if (queues.get(path) === tail) queues.delete(path);
    }
  }
}

/** Throws `conflict` unless the condition holds for the live item (undefined: none). */
function holds(condition: StateCondition, current: StoredItem | undefined): void {
  if (condition === undefined) return;
  if ('ifAbsent' in condition && current !== undefined) throw new SesameError('conflict', 'the state item already exists');
  if ('ifVersion' in condition && current?.version !== condition.ifVersion) throw new SesameError('conflict', 'the state item changed (or is gone) since it was read');
}

const fromStored = (i: StoredItem): { expiresAt?: number } => (i.expires_at === undefined ? {} : { expiresAt: i.expires_at });

function toItem(pk: string, i: StoredItem): StateItem {
  return { pk, sk: i.sk, version: i.version, ...(i.expires_at === undefined ? {} : { expiresAt: i.expires_at }), data: JSON.parse(i.data) as Record<string, unknown> };
}

function isPartition(v: unknown): v is StoredPartition {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    p.format === FORMAT &&
    typeof p.pk === 'string' &&
    Array.isArray(p.items) &&
    p.items.every((i: unknown) => {
      if (typeof i !== 'object' || i === null) return false;
      const r = i as Record<string, unknown>;
      return (
        typeof r.sk === 'string' &&
        Number.isSafeInteger(r.version) &&
        (r.expires_at === undefined || Number.isSafeInteger(r.expires_at)) &&
        typeof r.data === 'string'
      );
    })
  );
}
