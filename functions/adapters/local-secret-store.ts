import { AsyncLocalStorage } from 'node:async_hooks';
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, stat, truncate, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import lockfile from 'proper-lockfile';
import { removeOrphanTemps, syncDir, writeFileAtomic } from './atomic-file.ts';
import { SesameError } from '../core/errors.ts';
import type { Clock, SecretListing, SecretStore, SecretUpdater, SecretVersion, Tags } from '../core/ports.ts';
import { systemClock } from '../core/ports.ts';

/**
 * Secrets as AES-256-GCM encrypted files under `$SESAME_HOME/secrets/`, one file per
 * secret holding its current and previous versions. Tags stay readable (as in Secrets
 * Manager, so that listing decrypts nothing).
 *
 * Integrity. Each record file carries a change counter and an HMAC over all of it
 * (name, counter, tags, every version in order). The journal `secrets/.journal` is an
 * append-only, HMAC-chained log of `name → counter, SHA-256 of the file`: a record is
 * served only when it is the one the journal names (or the very next change of it,
 * written by a writer that has not yet reached the journal, or died before it). So an
 * edited, truncated, swapped, deleted or older copy of a record file is refused. The
 * journal's first line holds a key check value, so a wrong key is named as such.
 *
 * Concurrency. Every write (put, tag, update, delete) runs under one lock for the
 * whole store, shared by every process (proper-lockfile: a lock folder, taken over when
 * its holder has not refreshed it for `lockStaleMs`), and is a read-modify-write of the
 * record under that lock, so no update is lost. `update()` lets a caller do its own
 * read-modify-write under the same lock. Reads take no lock: files are replaced by
 * rename, and a reader that catches a writer half-way checks again under the lock.
 *
 * Listing reads the journal incrementally (only what was appended since the last read)
 * and keeps its names sorted in memory, so a page costs its own records only.
 */
const FORMAT = 'sesame-local-secret/2';
const LEGACY_FORMAT = 'sesame-local-secret/1';
const JOURNAL_FORMAT = 'sesame-local-journal/1';
const NAME = /^[a-z0-9-]+(\/[a-z0-9-]+){1,2}$/;
const KEEP_VERSIONS = 2;
const JOURNAL = '.journal';
const LOCK = '.lock';
const TMP = '.tmp';
/** The journal is rewritten (compacted) once it holds this many lines more than twice its names. */
const COMPACT_SLACK = 256;

interface StoredVersion {
  id: string;
  created_at: string;
  iv: string;
  tag: string;
  data: string;
}

interface StoredFile {
  format: typeof FORMAT;
  name: string;
  /** Bumped by every change of the record (a new version or new tags). */
  counter: number;
  tags: Tags;
  versions: StoredVersion[];
  mac: string;
}

interface LegacyFile {
  format: typeof LEGACY_FORMAT;
  name: string;
  tags: Tags;
  tags_mac: string;
  versions: StoredVersion[];
}

/** A record as read and checked. */
interface Loaded {
  counter: number;
  tags: Tags;
  versions: StoredVersion[];
}

interface JournalEntry {
  counter: number;
  /** SHA-256 (base64url) of the record file's bytes; '' for a deleted record. */
  digest: string;
}

interface JournalState {
  generation: string;
  /** Bytes of the journal file read and applied so far (always at a line end). */
  offset: number;
  /** The journal file's size when last read: more than offset while a line is being written (or a writer died writing it). */
  size: number;
  lastMac: Buffer;
  lines: number;
  entries: Map<string, JournalEntry>;
  /** Live names, sorted; rebuilt when a name appears or is deleted. */
  sorted: string[] | undefined;
}

export interface LocalSecretStoreOptions {
  /** A lock not refreshed for this long is taken to be a dead writer's (at least 2000 ms). Default 10 s. */
  lockStaleMs?: number;
  /** How long a writer waits for the lock before failing with `conflict`. Default 30 s. */
  lockWaitMs?: number;
}

export async function loadLocalKey(home: string, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  const fromEnv = env.SESAME_LOCAL_KEY;
  if (fromEnv !== undefined && fromEnv !== '') {
    const key = /^[0-9a-fA-F]{64}$/.test(fromEnv) ? Buffer.from(fromEnv, 'hex') : Buffer.from(fromEnv, 'base64');
    if (key.length !== 32) throw new SesameError('invalid_request', 'SESAME_LOCAL_KEY must be 32 bytes, as 64 hex characters or base64');
    return key;
  }
  const file = join(home, 'local.key');
  try {
    const st = await stat(file);
    if ((st.mode & 0o077) !== 0) {
      throw new SesameError('invalid_request', `${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}): run chmod 600 on it`);
    }
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length !== 32) throw new SesameError('store_corrupt', `${file} does not hold a 32-byte base64 key`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(home, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    // wx: two processes starting at once must not both write a key.
    const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    await fh.writeFile(`${key.toString('base64')}\n`);
    await fh.close();
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadLocalKey(home, env);
    throw err;
  }
}

const derive = (master: Buffer, info: string, length = 32) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, length));
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64url');
const sameBytes = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
const byCodeUnit = ([a]: [string, string], [b]: [string, string]) => (a < b ? -1 : a > b ? 1 : 0);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isVersion = (v: unknown): v is StoredVersion =>
  isObject(v) && ['id', 'created_at', 'iv', 'tag', 'data'].every((k) => typeof v[k] === 'string');
const isTags = (v: unknown): v is Tags => isObject(v) && Object.values(v).every((t) => typeof t === 'string');

/** Which stores this process holds the lock of, in the current async context (so that holding it is re-entrant). */
const held = new AsyncLocalStorage<Map<string, { lost?: Error }>>();
/**
 * Writes holding a lock now. On Node 20 and 22 an AsyncLocalStorage that ran once keeps
 * async hooks on every promise of the process (a few µs a request on the local server's
 * hot path); disabled when no write holds a lock, it costs nothing between writes.
 */
let holding = 0;
/** Per store folder, the end of this process's queue for its lock. */
const queues = new Map<string, Promise<void>>();

type Check = { ok: true; record: Loaded | undefined } | { ok: false; error: SesameError };

/**
 * A record already read and found to be the very one the journal records, with the
 * identity of its file then: inode, size and both times (ctime changes with every write
 * and every utimes, and user space cannot set it back).
 */
interface Verified {
  counter: number;
  digest: string;
  file: FileIdentity;
  loaded: Loaded;
}
type FileIdentity = Pick<import('node:fs').Stats, 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;
const sameFile = (a: FileIdentity, b: FileIdentity) => a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
/** Records kept verified: more than a large development store holds. */
const VERIFIED_LIMIT = 20_000;

export class LocalSecretStore implements SecretStore {
  private readonly encKey: Buffer;
  private readonly legacyTagsKey: Buffer;
  private readonly recordKey: Buffer;
  private readonly journalKey: Buffer;
  private readonly keyCheck: string;
  private readonly root: string;
  private readonly journalPath: string;
  private readonly tmpDir: string;
  private readonly lockStaleMs: number;
  private readonly lockWaitMs: number;
  private journal: JournalState | undefined;
  /**
   * Records verified since this process read them, by name: reading one again whose
   * journal entry and file are unchanged costs one stat instead of a read, a parse and a
   * MAC (the console's overview reads every record's tags).
   */
  private readonly verified = new Map<string, Verified>();
  /** Journal reads run one at a time; a caller joins one that has not started yet. */
  private refreshTail: Promise<unknown> = Promise.resolve();
  private refreshPending: Promise<JournalState | undefined> | undefined;

  constructor(
    private readonly home: string,
    masterKey: Buffer,
    private readonly clock: Clock = systemClock,
    options: LocalSecretStoreOptions = {},
  ) {
    this.root = join(home, 'secrets');
    this.journalPath = join(this.root, JOURNAL);
    this.tmpDir = join(this.root, TMP);
    this.encKey = derive(masterKey, 'sesame local secret encryption');
    this.legacyTagsKey = derive(masterKey, 'sesame local secret tags');
    this.recordKey = derive(masterKey, 'sesame local secret record');
    this.journalKey = derive(masterKey, 'sesame local secret journal');
    this.keyCheck = derive(masterKey, 'sesame local key check', 16).toString('base64url');
    this.lockStaleMs = Math.max(options.lockStaleMs ?? 10_000, 2_000);
    this.lockWaitMs = options.lockWaitMs ?? 30_000;
  }

  static async open(home: string, clock: Clock = systemClock, env: NodeJS.ProcessEnv = process.env, options: LocalSecretStoreOptions = {}): Promise<LocalSecretStore> {
    return new LocalSecretStore(home, await loadLocalKey(home, env), clock, options);
  }

  // ---------------------------------------------------------------- the port

  async get(name: string): Promise<SecretVersion | undefined> {
    const record = await this.read(name);
    return record && this.decrypt(name, record.versions[0]);
  }

  async getPrevious(name: string): Promise<SecretVersion | undefined> {
    const record = await this.read(name);
    return record && this.decrypt(name, record.versions[1]);
  }

  async tags(name: string): Promise<Tags | undefined> {
    return (await this.read(name))?.tags;
  }

  async put(name: string, value: unknown, tags: Tags = {}): Promise<{ version: string }> {
    this.path(name);
    return this.withLock(async () => {
      const current = await this.read(name);
      const version = this.encrypt(name, value);
      await this.commit(name, current, { ...(current?.tags ?? {}), ...tags }, [version, ...(current?.versions ?? [])]);
      return { version: version.id };
    });
  }

  async tag(name: string, tags: Tags): Promise<void> {
    this.path(name);
    await this.withLock(async () => {
      const current = await this.read(name);
      if (!current) throw new SesameError('invalid_request', `no secret named ${name}`);
      await this.commit(name, current, { ...current.tags, ...tags }, current.versions);
    });
  }

  /**
   * Read-modify-write of one secret, atomic against every other writer of this store,
   * in this process or another. `fn` gets the current version and tags (undefined when
   * the secret does not exist) and returns the new value with tags to merge (as put()
   * does), or undefined to write nothing. It runs under the store's lock: it may read
   * the store, and should not take long. Returns the new version, if one was written.
   */
  async update(name: string, fn: SecretUpdater): Promise<{ version: string } | undefined> {
    this.path(name);
    return this.withLock(async () => {
      const current = await this.read(name);
      const change = await fn(current && this.decrypt(name, current.versions[0]), current && { ...current.tags });
      if (change === undefined) return undefined;
      const version = this.encrypt(name, change.value);
      await this.commit(name, current, { ...(current?.tags ?? {}), ...(change.tags ?? {}) }, [version, ...(current?.versions ?? [])]);
      return { version: version.id };
    });
  }

  /**
   * Removes a secret for good (not in the SecretStore port: the local equivalent of an
   * operator deleting one). The journal records the removal, so that the file coming
   * back is refused and its absence is not taken for tampering. False when absent.
   */
  async delete(name: string): Promise<boolean> {
    const path = this.path(name);
    return this.withLock(async () => {
      const current = await this.read(name);
      if (!current) return false;
      this.assertLockHeld();
      await this.appendJournal(name, this.nextCounter(name, current), '');
      await unlink(path);
      await syncDir(dirname(path));
      return true;
    });
  }

  async list(options: { prefix: string; nextToken?: string; pageSize?: number }): Promise<SecretListing> {
    const pageSize = Math.min(Math.max(options.pageSize ?? 100, 1), 100);
    const state = await this.current();
    if (!state) return { items: [], nextToken: undefined };
    const names = this.sortedNames(state);
    const after = options.nextToken !== undefined && options.nextToken !== '' && options.nextToken >= options.prefix ? options.nextToken : undefined;
    let i = lowerBound(names, after ?? options.prefix);
    if (after !== undefined && names[i] === after) i += 1;
    const page: string[] = [];
    for (; i < names.length && page.length <= pageSize; i += 1) {
      const name = names[i] as string;
      if (!name.startsWith(options.prefix)) break;
      page.push(name);
    }
    const more = page.length > pageSize;
    if (more) page.pop();
    const records = await Promise.all(page.map((name) => this.read(name, false)));
    const items = [];
    for (const [k, name] of page.entries()) {
      const record = records[k];
      if (record) items.push({ name, tags: record.tags });
    }
    return { items, nextToken: more ? page[page.length - 1] : undefined };
  }

  // ---------------------------------------------------------------- records

  private path(name: string): string {
    if (!NAME.test(name)) throw new SesameError('invalid_request', `invalid secret name "${name.slice(0, 100)}"`);
    return `${join(this.root, ...name.split('/'))}.json`;
  }

  private corrupt(name: string, why: string): SesameError {
    return new SesameError('store_corrupt', `local secret ${name} is refused: ${why}`);
  }

  private keyMismatch(name?: string): KeyMismatch {
    return new KeyMismatch(
      `${name ? `cannot read local secret ${name}: ` : ''}the local secret store ${this.root} was written with another key. ` +
        `The likely cause: SESAME_LOCAL_KEY (or, when it is unset, ${join(this.home, 'local.key')}) is not the key this store was created with`,
    );
  }

  private recordMac(name: string, counter: number, tags: Tags, versions: StoredVersion[]): string {
    const canonical = JSON.stringify([FORMAT, name, counter, Object.entries(tags).sort(byCodeUnit), versions.map((v) => [v.id, v.created_at, v.iv, v.tag, v.data])]);
    return createHmac('sha256', this.recordKey).update(canonical).digest('base64url');
  }

  private legacyTagsMac(name: string, tags: Tags): string {
    const canonical = JSON.stringify([name, Object.entries(tags).sort(([a], [b]) => a.localeCompare(b))]);
    return createHmac('sha256', this.legacyTagsKey).update(canonical).digest('base64');
  }

  /**
   * The record of `name` as it stands, checked: undefined when it does not exist. A
   * mismatch with the journal seen without the lock may be a writer half-way: it is
   * checked again under the lock, where it is not.
   */
  private async read(name: string, refresh = true): Promise<Loaded | undefined> {
    const path = this.path(name);
    // Under the lock the journal read when it was taken is current: only this process writes.
    const locked = held.getStore()?.has(this.root) === true;
    const first = await this.check(name, path, refresh && !locked);
    if (first.ok) return first.record;
    if (locked) throw first.error;
    return this.withLock(async () => {
      const again = await this.check(name, path, true);
      if (again.ok) return again.record;
      throw again.error;
    });
  }

  private async check(name: string, path: string, refresh: boolean): Promise<Check> {
    let state: JournalState | undefined;
    try {
      state = refresh || !this.journal ? await this.current() : this.journal;
    } catch (err) {
      if (err instanceof KeyMismatch) throw this.keyMismatch(name);
      throw err;
    }
    const entry = state?.entries.get(name);
    const fail = (why: string): Check => ({ ok: false, error: this.corrupt(name, why) });
    const seen = entry && entry.digest !== '' ? this.verified.get(name) : undefined;
    if (seen && entry && seen.counter === entry.counter && seen.digest === entry.digest) {
      const now = await stat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      // A copy: callers may change what they are given.
      if (now && sameFile(now, seen.file)) return { ok: true, record: { counter: seen.loaded.counter, tags: { ...seen.loaded.tags }, versions: [...seen.loaded.versions] } };
    }
    let raw: Buffer;
    let file: FileIdentity;
    try {
      const fh = await open(path, 'r');
      try {
        file = await fh.stat();
        raw = await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (entry && entry.digest !== '') return fail('the store\'s journal records it but its file is missing: the file was deleted');
      return { ok: true, record: undefined };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      return fail('its file is not JSON: it was edited or truncated');
    }
    const deleted = entry?.digest === '';
    const known = entry?.counter ?? 0;
    if (isObject(parsed) && parsed.format === LEGACY_FORMAT) {
      if (deleted) return { ok: true, record: undefined };
      if (!entry || entry.counter !== 0 || entry.digest !== sha256(raw)) {
        return fail('its file is a copy in the previous format that the store\'s journal does not record: an earlier copy was put back');
      }
      const legacy = parsed as unknown as LegacyFile;
      if (legacy.name !== name || !Array.isArray(legacy.versions) || !legacy.versions.every(isVersion) || !isTags(legacy.tags) || typeof legacy.tags_mac !== 'string') {
        return fail('its file has an unknown layout');
      }
      if (!sameBytes(Buffer.from(this.legacyTagsMac(name, legacy.tags), 'base64'), Buffer.from(legacy.tags_mac, 'base64'))) {
        return fail('its tags do not match their MAC: the file was edited');
      }
      return { ok: true, record: { counter: 0, tags: legacy.tags, versions: legacy.versions } };
    }
    if (
      !isObject(parsed) ||
      parsed.format !== FORMAT ||
      parsed.name !== name ||
      !Number.isSafeInteger(parsed.counter) ||
      (parsed.counter as number) < 1 ||
      !isTags(parsed.tags) ||
      !Array.isArray(parsed.versions) ||
      !parsed.versions.every(isVersion) ||
      typeof parsed.mac !== 'string'
    ) {
      return fail('its file has an unknown layout, or is another secret\'s');
    }
    const record = parsed as unknown as StoredFile;
    if (!sameBytes(Buffer.from(this.recordMac(name, record.counter, record.tags, record.versions), 'base64url'), Buffer.from(record.mac, 'base64url'))) {
      return fail('its file does not match its MAC: it was edited, truncated or its versions reordered');
    }
    const loaded: Loaded = { counter: record.counter, tags: record.tags, versions: record.versions };
    // The very next change: written by a writer that has not reached the journal yet, or died before it.
    if (record.counter === known + 1) return { ok: true, record: loaded };
    if (deleted && record.counter <= known) return { ok: true, record: undefined };
    if (record.counter === known && entry && entry.digest === sha256(raw)) {
      this.remember(name, { counter: known, digest: entry.digest, file: { ino: file.ino, size: file.size, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs }, loaded: { counter: loaded.counter, tags: { ...loaded.tags }, versions: [...loaded.versions] } });
      return { ok: true, record: loaded };
    }
    if (record.counter < known) return fail(`its file is an earlier copy (change ${record.counter}; the store's journal records change ${known}): it was put back`);
    if (record.counter === known) return fail('its file is not the one the store\'s journal records: it was replaced');
    return fail(`its file is newer (change ${record.counter}) than the store's journal records (change ${known}): the journal was truncated or put back`);
  }

  private remember(name: string, v: Verified): void {
    this.verified.delete(name);
    if (this.verified.size >= VERIFIED_LIMIT) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(name, v);
  }

  private nextCounter(name: string, current: Loaded | undefined): number {
    return Math.max(current?.counter ?? 0, this.journal?.entries.get(name)?.counter ?? 0) + 1;
  }

  /** Under the lock: writes the record's next change, then records it in the journal. */
  private async commit(name: string, current: Loaded | undefined, tags: Tags, versions: StoredVersion[]): Promise<void> {
    const counter = this.nextCounter(name, current);
    const kept = versions.slice(0, KEEP_VERSIONS);
    const file: StoredFile = { format: FORMAT, name, counter, tags, versions: kept, mac: this.recordMac(name, counter, tags, kept) };
    const raw = Buffer.from(JSON.stringify(file, null, 1));
    this.assertLockHeld();
    await writeFileAtomic(this.path(name), raw, { sync: true, syncDir: true, tmpDir: this.tmpDir, beforeRename: () => this.assertLockHeld() });
    this.assertLockHeld();
    await this.appendJournal(name, counter, sha256(raw));
  }

  private decrypt(name: string, v: StoredVersion | undefined): SecretVersion | undefined {
    if (!v) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encKey, Buffer.from(v.iv, 'base64'));
      decipher.setAAD(Buffer.from(`${name}\n${v.id}\n${v.created_at}`));
      decipher.setAuthTag(Buffer.from(v.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(v.data, 'base64')), decipher.final()]);
      return { name, value: JSON.parse(plain.toString('utf8')), version: v.id, createdAt: new Date(v.created_at) };
    } catch {
      // No detail: a decryption error or a JSON message could quote plaintext.
      throw new SesameError('store_corrupt', `local secret ${name} failed decryption: wrong SESAME_LOCAL_KEY, or the file was tampered with`);
    }
  }

  private encrypt(name: string, value: unknown): StoredVersion {
    const id = randomUUID();
    const created_at = this.clock.now().toISOString();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv);
    cipher.setAAD(Buffer.from(`${name}\n${id}\n${created_at}`));
    const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { id, created_at, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  // ---------------------------------------------------------------- the lock

  /**
   * Runs fn holding the store's lock: first this process's turn (a queue per store
   * folder), then the lock folder shared with other processes. Re-entrant.
   */
  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    if (held.getStore()?.has(this.root)) return fn();
    const before = queues.get(this.root) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = before.then(() => mine);
    queues.set(this.root, tail);
    await before;
    try {
      const status: { lost?: Error } = {};
      let release: () => Promise<void>;
      try {
        release = await this.lockFolder(status);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
          throw new SesameError('conflict', `the local secret store ${this.root} stayed locked by another process for ${Math.round(this.lockWaitMs / 1000)} s; try again`);
        }
        throw err;
      }
      const outer = held.getStore();
      const inner = new Map(outer ?? []);
      inner.set(this.root, status);
      holding += 1;
      try {
        return await held.run(inner, async () => {
          await this.prepareWrite();
          return fn();
        });
      } finally {
        holding -= 1;
        if (holding === 0) held.disable();
        await release().catch(() => undefined);
      }
    } finally {
      done();
      if (queues.get(this.root) === tail) queues.delete(this.root);
    }
  }

  private async lockFolder(status: { lost?: Error }): Promise<() => Promise<void>> {
    // First: proper-lockfile would retry a missing folder as if it were locked.
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    return lockfile.lock(this.root, {
      lockfilePath: join(this.root, LOCK),
      realpath: false,
      stale: this.lockStaleMs,
      retries: { retries: Math.ceil(this.lockWaitMs / 40), factor: 1.2, minTimeout: 5, maxTimeout: 50, randomize: true },
      onCompromised: (err) => {
        status.lost = err;
      },
    });
  }

  private assertLockHeld(): void {
    const status = held.getStore()?.get(this.root);
    if (!status) throw new Error('local secret store: write outside the lock');
    if (status.lost) {
      throw new SesameError('conflict', `lost the lock of the local secret store ${this.root} (held more than ${this.lockStaleMs / 1000} s): the write was abandoned; try again`);
    }
  }

  /**
   * Under the lock, nothing is half-written but what a dead writer left: remove its
   * temporary files and a partial last journal line; create the journal if there is none.
   */
  private async prepareWrite(): Promise<void> {
    await removeOrphanTemps(this.tmpDir, { ownAreOrphans: true });
    const state = (await this.refresh()) ?? (await this.createJournal());
    if (state.size > state.offset) await truncate(this.journalPath, state.offset);
  }

  // ---------------------------------------------------------------- the journal

  private journalLine(prev: Buffer, name: string, counter: number, digest: string): { line: string; mac: Buffer } {
    const mac = createHmac('sha256', this.journalKey).update(prev).update(JSON.stringify([name, counter, digest])).digest();
    return { line: `${JSON.stringify({ n: name, c: counter, d: digest, m: mac.toString('base64url') })}\n`, mac };
  }

  private headerMac(generation: string): Buffer {
    return createHmac('sha256', this.journalKey).update(JSON.stringify([JOURNAL_FORMAT, generation, this.keyCheck])).digest();
  }

  /** A whole journal: a header line, then one line per name. */
  private journalText(entries: Iterable<[string, JournalEntry]>): string {
    const generation = randomBytes(16).toString('hex');
    let mac = this.headerMac(generation);
    const out = [`${JSON.stringify({ format: JOURNAL_FORMAT, generation, key_check: this.keyCheck, mac: mac.toString('base64url') })}\n`];
    for (const [name, e] of entries) {
      const next = this.journalLine(mac, name, e.counter, e.digest);
      out.push(next.line);
      mac = next.mac;
    }
    return out.join('');
  }

  private async appendJournal(name: string, counter: number, digest: string): Promise<void> {
    const state = this.journal ?? (await this.refresh());
    if (!state) throw new Error('local secret store: no journal to append to');
    const { line } = this.journalLine(state.lastMac, name, counter, digest);
    const fh = await open(this.journalPath, constants.O_WRONLY | constants.O_APPEND);
    try {
      await fh.writeFile(line);
      await fh.sync();
    } finally {
      await fh.close();
    }
    const after = await this.refresh();
    if (after && after.lines > 2 * after.entries.size + COMPACT_SLACK) await this.compact();
  }

  /** Under the lock: the journal rewritten with one line per name (tombstones kept). */
  private async compact(): Promise<void> {
    const state = this.journal as JournalState;
    this.assertLockHeld();
    await writeFileAtomic(this.journalPath, this.journalText(state.entries), { sync: true, syncDir: true, tmpDir: this.tmpDir, beforeRename: () => this.assertLockHeld() });
    await this.refresh();
  }

  /**
   * Under the lock, when there is no journal: a new store, or one written by the
   * previous format. Its records are entered as they are (change 0, their bytes'
   * digest), and upgraded when next written. Records in this format without a journal
   * mean the journal was deleted: refused.
   */
  private async createJournal(): Promise<JournalState> {
    await removeOrphanTemps(this.root, { recursive: true, ownAreOrphans: true });
    let files: string[];
    try {
      files = (await readdir(this.root, { recursive: true })).filter((f) => f.endsWith('.json'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      files = [];
    }
    const entries = new Map<string, JournalEntry>();
    let readable = 0;
    let misread = 0;
    for (const f of files.sort()) {
      const name = f.slice(0, -'.json'.length).split(sep).join('/');
      if (!NAME.test(name)) continue;
      const raw = await readFile(join(this.root, f));
      let file: unknown;
      try {
        file = JSON.parse(raw.toString('utf8'));
      } catch {
        file = undefined;
      }
      if (isObject(file) && file.format === FORMAT) {
        throw new SesameError(
          'store_corrupt',
          `the journal of the local secret store (${this.journalPath}) is missing while records written with it remain (${name}): it was deleted. Restore it, or the whole folder, from a backup`,
        );
      }
      if (isObject(file) && file.format === LEGACY_FORMAT && isTags(file.tags) && typeof file.tags_mac === 'string') {
        const ok = sameBytes(Buffer.from(this.legacyTagsMac(name, file.tags), 'base64'), Buffer.from(file.tags_mac, 'base64'));
        if (ok) readable += 1;
        else misread += 1;
      }
      // Entered even when unreadable: reading it then says so, as before the upgrade.
      entries.set(name, { counter: 0, digest: sha256(raw) });
    }
    if (misread > 0 && readable === 0) throw this.keyMismatch();
    await writeFileAtomic(this.journalPath, this.journalText(entries), { sync: true, syncDir: true, tmpDir: this.tmpDir });
    const state = await this.refresh();
    if (!state) throw new Error(`local secret store: ${this.journalPath} vanished as it was made`);
    return state;
  }

  private sortedNames(state: JournalState): string[] {
    if (!state.sorted) {
      state.sorted = [...state.entries].filter(([, e]) => e.digest !== '').map(([n]) => n).sort();
    }
    return state.sorted;
  }

  /** The journal as it stands now (read from where this process left it); undefined when there is no store yet. */
  private refresh(): Promise<JournalState | undefined> {
    if (this.refreshPending) return this.refreshPending;
    const run = this.refreshTail.then(() => {
      this.refreshPending = undefined;
      return this.readJournal();
    });
    this.refreshPending = run;
    this.refreshTail = run.catch(() => undefined);
    return run;
  }

  /**
   * The journal, for a reader. When there is none but there are records (a store of the
   * previous format, or one whose journal was deleted), the lock is taken to create it
   * (or refuse the store).
   */
  private async current(): Promise<JournalState | undefined> {
    const state = await this.refresh();
    if (state || held.getStore()?.has(this.root)) return state;
    const entries = await readdir(this.root).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    if (entries.every((e) => e.startsWith('.'))) return undefined;
    return this.withLock(async () => this.journal);
  }

  private async readJournal(): Promise<JournalState | undefined> {
    let fh;
    try {
      fh = await open(this.journalPath, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.journal = undefined;
      return undefined;
    }
    try {
      return await this.parseJournal(fh);
    } catch (err) {
      this.journal = undefined;
      throw err;
    } finally {
      await fh.close();
    }
  }

  private async parseJournal(fh: import('node:fs/promises').FileHandle): Promise<JournalState> {
    const broken = (why: string) =>
      new SesameError('store_corrupt', `the journal of the local secret store (${this.journalPath}) is refused: ${why}. Restore the whole folder from a backup`);
    const { size } = await fh.stat();
    const head = await readAt(fh, 0, Math.min(size, 512));
    const nl = head.indexOf(10);
    if (nl < 0) throw broken('it has no header line');
    let header: unknown;
    try {
      header = JSON.parse(head.subarray(0, nl).toString('utf8'));
    } catch {
      throw broken('its header is not JSON');
    }
    if (!isObject(header) || header.format !== JOURNAL_FORMAT || typeof header.generation !== 'string' || typeof header.mac !== 'string') {
      throw broken('its header has an unknown layout');
    }
    if (header.key_check !== this.keyCheck) throw this.keyMismatch();
    const headerMac = this.headerMac(header.generation);
    if (!sameBytes(headerMac, Buffer.from(header.mac, 'base64url'))) throw broken('its header does not match its MAC');
    let state = this.journal;
    if (!state || state.generation !== header.generation) {
      state = { generation: header.generation, offset: nl + 1, size, lastMac: headerMac, lines: 0, entries: new Map(), sorted: undefined };
    } else if (size < state.offset) {
      throw broken('it is shorter than when it was last read: it was truncated');
    }
    // Work on copies: a refused line must leave the state as it was.
    const entries = state === this.journal ? new Map(state.entries) : state.entries;
    let { offset, lastMac, lines, sorted } = state;
    if (size > offset) {
      const tail = await readAt(fh, offset, size - offset);
      let pos = 0;
      for (let end = tail.indexOf(10); end >= 0; end = tail.indexOf(10, pos)) {
        let line: unknown;
        try {
          line = JSON.parse(tail.subarray(pos, end).toString('utf8'));
        } catch {
          throw broken(`line ${lines + 2} is not JSON`);
        }
        if (!isObject(line) || typeof line.n !== 'string' || !Number.isSafeInteger(line.c) || typeof line.d !== 'string' || typeof line.m !== 'string') {
          throw broken(`line ${lines + 2} has an unknown layout`);
        }
        const { mac } = this.journalLine(lastMac, line.n, line.c as number, line.d);
        if (!sameBytes(mac, Buffer.from(line.m, 'base64url'))) throw broken(`line ${lines + 2} does not match its MAC: it was edited, or lines were removed or reordered`);
        const before = entries.get(line.n);
        if (!before || (before.digest === '') !== (line.d === '')) sorted = undefined;
        entries.set(line.n, { counter: line.c as number, digest: line.d });
        lastMac = mac;
        lines += 1;
        pos = end + 1;
      }
      // A last line without its newline is a write under way (or a dead writer's): not read yet.
      offset += pos;
    }
    const next: JournalState = { generation: state.generation, offset, size, lastMac, lines, entries, sorted };
    this.journal = next;
    return next;
  }
}

/** The store's key check value is not this key's: said once, instead of every record failing its MAC. */
class KeyMismatch extends SesameError {
  constructor(message: string) {
    super('store_corrupt', message);
  }
}

async function readAt(fh: import('node:fs/promises').FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/** The first index whose name is >= key. */
function lowerBound(names: string[], key: string): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((names[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
