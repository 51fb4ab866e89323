import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { removeOrphanTemps, writeFileAtomic } from './atomic-file.ts';
import { loadLocalKey } from './local-secret-store.ts';
import { auditLimit, type AuditLog, type AuditPage, type AuditQuery, type AuditRecord, canonicalJson, checkAuditRecord, matchesAudit } from '../core/audit.ts';
import { SesameError } from '../core/errors.ts';

/**
 * The audit trail on a laptop: append-only JSON lines under `$SESAME_HOME/audit/`, one
 * file per UTC day (`2026-06-01.jsonl`), every record chained to the one before it.
 *
 * Each line is `{"seq","prev","hash","record"}`: `seq` counts records from 1 across
 * files, `prev` is the previous record's `hash`, and `hash` is an HMAC-SHA256 over the
 * format, `seq`, `prev` and the record's canonical JSON. The HMAC key is derived (HKDF)
 * from the local store's key (SESAME_LOCAL_KEY or local.key), not a bare SHA-256: with a
 * bare hash, whoever can write the folder can edit a record and recompute every hash
 * after it, and the chain proves nothing; with the key, a rewritten chain fails too.
 *
 * `head.json` (HMAC'd with the same key) holds the last record's seq and hash, its file
 * and that file's size. It is written before the first record and after every append,
 * so that removing the last records, or a whole last file, is detected: the chain ends
 * before the head. A writer that died between its append and the head is recovered by
 * the next one (the lines after the head are adopted when they chain from it; a half
 * line is cut), never a reason to refuse.
 *
 * Appends from several processes (the CLI while `sesame dev` runs) are serialised by
 * a lock folder (proper-lockfile, `audit/.lock`) and this process's queue; reads take no
 * lock and skip a last line still being written. Records go to the file of their day,
 * or of the last file when that is later (a clock behind another process's), so files
 * stay in chain order.
 *
 * Not detected, as for the secret store: the whole folder (head included) put back to
 * an earlier copy, or deleted; anyone with the key can forge anything.
 */
const FORMAT = 'sesame-local-audit/1';
const HEAD = 'head.json';
const LOCK = '.lock';
const FILE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;

interface Head {
  format: typeof FORMAT;
  seq: number;
  hash: string;
  /** The file of record `seq` ('' before the first). */
  file: string;
  /** That file's size once record `seq` was written. */
  size: number;
  key_check: string;
  mac: string;
}

interface Line {
  seq: number;
  prev: string;
  hash: string;
  record: AuditRecord;
}

export type AuditBreakReason =
  /** A record's content (or seq, or prev) does not match its MAC. */
  | 'edited'
  /** A genuine record, but not where the chain expects it: one was removed before it, or records were reordered. */
  | 'removed_or_reordered'
  /** The chain ends before the record the head names: records were removed from the end. */
  | 'truncated'
  /** A line that is not a record. */
  | 'malformed'
  /** The head does not match its MAC, or names a record the chain does not hold. */
  | 'head'
  /** Records exist without a head: it was deleted. */
  | 'head_missing';

export interface AuditBreak {
  /** 1-based place in the chain where it breaks: the record expected there (0: the head itself). */
  position: number;
  /** Where: the day file and its 1-based line, when the break is in a file. */
  file?: string;
  line?: number;
  reason: AuditBreakReason;
  message: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Records checked good, from the first (up to the break). */
  records: number;
  files: number;
  /** Good records after the head: written by a writer that died before sealing them, or writing now. */
  unsealed: number;
  /** The last file ends with a half line: a writer died mid-line, or is writing. */
  torn: boolean;
  broken?: AuditBreak;
}

export interface LocalAuditLogOptions {
  /** A lock not refreshed for this long is taken to be a dead writer's (at least 2000 ms). Default 10 s. */
  lockStaleMs?: number;
  /** How long a writer waits for the lock before failing with `conflict`. Default 30 s. */
  lockWaitMs?: number;
}

/** Per audit folder, the end of this process's queue for its lock. */
const queues = new Map<string, Promise<void>>();

const sameText = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A scan of the whole chain, from the first file. */
interface Scan extends AuditVerification {
  last: { seq: number; hash: string; file: string; size: number };
  /** Where a half last line starts, to cut it. */
  tornAt: { file: string; offset: number } | undefined;
}

export class LocalAuditLog implements AuditLog {
  readonly root: string;
  /** A batch costs about 1 ms of locking, head and fsyncs, a record a few µs: batches of 1000 write ~60,000 records/s on 2 cores. */
  readonly preferredBatch = 1000;
  private readonly chainKey: Buffer;
  private readonly keyCheck: string;
  private readonly lockStaleMs: number;
  private readonly lockWaitMs: number;
  private tempsCleared = false;

  constructor(
    private readonly home: string,
    masterKey: Buffer,
    options: LocalAuditLogOptions = {},
  ) {
    this.root = join(home, 'audit');
    this.chainKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sesame local audit chain', 32));
    this.keyCheck = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sesame local audit key check', 16)).toString('base64url');
    this.lockStaleMs = Math.max(options.lockStaleMs ?? 10_000, 2_000);
    this.lockWaitMs = options.lockWaitMs ?? 30_000;
  }

  /** With the local store's key (SESAME_LOCAL_KEY, else $SESAME_HOME/local.key, made when missing). */
  static async open(home: string, env: NodeJS.ProcessEnv = process.env, options: LocalAuditLogOptions = {}): Promise<LocalAuditLog> {
    return new LocalAuditLog(home, await loadLocalKey(home, env), options);
  }

  // ---------------------------------------------------------------- the port

  async append(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    // The guard again (append is a port anyone may call); its records have sorted keys, so their JSON is canonical.
    const checked = records.map((r) => {
      const c = checkAuditRecord(r);
      if (!c.ok) throw new SesameError('invalid_request', `an audit record is refused: field ${c.field} ${c.reason}`);
      return { day: `${c.record.time.slice(0, 10)}.jsonl`, json: JSON.stringify(c.record) };
    });
    await this.withLock(async (assertHeld) => {
      const tail = await this.writableTail();
      // Group the lines by file: a record's day, never before the last file's.
      const groups: { file: string; text: string[] }[] = [];
      let { seq, hash, file } = tail;
      for (const { day, json } of checked) {
        if (day > file) file = day;
        const next = this.lineHash(seq + 1, hash, json);
        const text = `{"seq":${seq + 1},"prev":"${hash}","hash":"${next}","record":${json}}\n`;
        seq += 1;
        hash = next;
        const group = groups[groups.length - 1];
        if (group?.file === file) group.text.push(text);
        else groups.push({ file, text: [text] });
      }
      // Files after the tail's hold no record (writableTail saw to it): each group starts its file, or continues the tail's.
      let size = tail.size;
      for (const g of groups) {
        const bytes = Buffer.from(g.text.join(''), 'utf8');
        assertHeld();
        const fh = await open(join(this.root, g.file), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
        try {
          await fh.writeFile(bytes);
          // Durable before the head names it: a head ahead of its file would read as records removed.
          await fh.sync();
        } finally {
          await fh.close();
        }
        size = (g.file === tail.file ? tail.size : 0) + bytes.length;
      }
      assertHeld();
      await this.writeHead({ seq, hash, file, size });
    });
  }

  async query(q: AuditQuery): Promise<AuditPage> {
    const limit = auditLimit(q.limit);
    const before = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    const from = q.since ? `${q.since.toISOString().slice(0, 10)}.jsonl` : '';
    // A record sits in its own day's file or a later one (see the class comment): one day of slack.
    const to = q.until ? `${new Date(q.until.getTime() + 86_400_000).toISOString().slice(0, 10)}.jsonl` : '\uffff';
    const files = (await this.files()).filter((f) => f >= from && f <= to).reverse();
    const found: AuditRecord[] = [];
    const seqs = new Map<AuditRecord, number>();
    for (const file of files) {
      const { lines } = await this.readLines(file);
      for (const l of lines) {
        const line = parseLine(l.text);
        const check = line && checkAuditRecord(line.record);
        if (!line || !check?.ok) {
          throw new SesameError('store_corrupt', `the audit log ${join(this.root, file)} line ${l.number} is not an audit record: run \`sesame audit --verify\``);
        }
        if (before !== undefined && line.seq >= before) continue;
        if (!matchesAudit(check.record, q)) continue;
        found.push(check.record);
        seqs.set(check.record, line.seq);
      }
      // Later files hold later records: once a file fills the page, older files cannot come before it.
      if (found.length > limit) break;
    }
    found.sort((a, b) => (seqs.get(b) as number) - (seqs.get(a) as number));
    const page = found.slice(0, limit);
    const last = page[page.length - 1];
    return { records: page, cursor: found.length > limit && last ? encodeCursor(seqs.get(last) as number) : undefined };
  }

  /**
   * Checks the whole chain and the head: the first broken record, where and why. A wrong
   * key is thrown (store_corrupt naming the key), not reported as tampering.
   */
  async verify(): Promise<AuditVerification> {
    // The head first: a writer appends before it seals, so the files are never behind it.
    let head: Head | undefined;
    try {
      head = await this.readHead();
    } catch (err) {
      if (err instanceof HeadRefused) {
        const scan = await this.scan(undefined);
        return { ...verification(scan), ok: false, broken: { position: 0, file: HEAD, reason: 'head', message: err.message } };
      }
      throw err;
    }
    return verification(await this.scan(head));
  }

  // ---------------------------------------------------------------- the chain

  /** Over the record's canonical JSON (sorted keys, no spaces): how the line spells it does not matter. */
  private lineHash(seq: number, prev: string, canonicalRecord: string): string {
    return createHmac('sha256', this.chainKey).update(`${FORMAT}\n${seq}\n${prev}\n${canonicalRecord}`).digest('base64url');
  }

  private headMac(h: Pick<Head, 'seq' | 'hash' | 'file' | 'size'>): string {
    return createHmac('sha256', this.chainKey).update(canonicalJson([FORMAT, 'head', h.seq, h.hash, h.file, h.size])).digest('base64url');
  }

  private async files(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((n) => FILE.test(n)).sort();
  }

  /** The file's complete lines with their 1-based numbers and end offsets, and where a half last line starts. */
  private async readLines(file: string): Promise<{ lines: { text: string; number: number; end: number }[]; partialAt: number | undefined }> {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.root, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], partialAt: undefined };
      throw err;
    }
    const lines: { text: string; number: number; end: number }[] = [];
    let pos = 0;
    for (let end = bytes.indexOf(10); end >= 0; end = bytes.indexOf(10, pos)) {
      lines.push({ text: bytes.subarray(pos, end).toString('utf8'), number: lines.length + 1, end: end + 1 });
      pos = end + 1;
    }
    return { lines, partialAt: pos < bytes.length ? pos : undefined };
  }

  private async readHead(): Promise<Head | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.root, HEAD), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let h: unknown;
    try {
      h = JSON.parse(text);
    } catch {
      throw new HeadRefused(`the audit log's head (${join(this.root, HEAD)}) is not JSON: it was edited`);
    }
    if (
      !isObject(h) ||
      h.format !== FORMAT ||
      !Number.isSafeInteger(h.seq) ||
      (h.seq as number) < 0 ||
      typeof h.hash !== 'string' ||
      typeof h.file !== 'string' ||
      (h.file !== '' && !FILE.test(h.file)) ||
      !Number.isSafeInteger(h.size) ||
      typeof h.key_check !== 'string' ||
      typeof h.mac !== 'string'
    ) {
      throw new HeadRefused(`the audit log's head (${join(this.root, HEAD)}) has an unknown layout: it was edited`);
    }
    if (h.key_check !== this.keyCheck) {
      throw new SesameError(
        'store_corrupt',
        `the audit log ${this.root} was written with another key. The likely cause: SESAME_LOCAL_KEY (or, when it is unset, ${join(this.home, 'local.key')}) is not the key this folder was created with`,
      );
    }
    const head = h as unknown as Head;
    if (!sameText(this.headMac(head), head.mac)) throw new HeadRefused(`the audit log's head (${join(this.root, HEAD)}) does not match its MAC: it was edited`);
    return head;
  }

  private async writeHead(h: Pick<Head, 'seq' | 'hash' | 'file' | 'size'>): Promise<void> {
    const head: Head = { format: FORMAT, seq: h.seq, hash: h.hash, file: h.file, size: h.size, key_check: this.keyCheck, mac: this.headMac(h) };
    // Synced: a head lost to a crash must be the previous one, never an empty file.
    await writeFileAtomic(join(this.root, HEAD), `${JSON.stringify(head)}\n`, { sync: true });
  }

  /**
   * Under the lock: where the next record goes. The head as it stands when the files end
   * where it says (the usual case: one stat); else the chain is read whole, and what a
   * dead writer left after the head is adopted (its half line cut), or the append is
   * refused, naming the break: a record is never chained onto a broken log, which would
   * hide the break behind a new head.
   */
  private async writableTail(): Promise<{ seq: number; hash: string; file: string; size: number }> {
    let head: Head | undefined;
    try {
      head = await this.readHead();
    } catch (err) {
      if (err instanceof HeadRefused) throw refused(err.message);
      throw err;
    }
    const files = await this.files();
    if (!head) {
      if (files.length > 0) throw refused(`records exist in ${this.root} without its head (${HEAD}): it was deleted`);
      // The head exists before the first record: from then on, a missing head is never a fresh log.
      await this.writeHead({ seq: 0, hash: '', file: '', size: 0 });
      return { seq: 0, hash: '', file: '', size: 0 };
    }
    const newest = files[files.length - 1] ?? '';
    if (newest === head.file) {
      const size = head.file === '' ? 0 : await stat(join(this.root, head.file)).then((s) => s.size, () => -1);
      if (size === head.size) return { seq: head.seq, hash: head.hash, file: head.file, size: head.size };
    }
    const scan = await this.scan(head);
    if (!scan.ok) throw refused(`${scan.broken?.message ?? 'the chain is broken'}; run \`sesame audit --verify\``);
    // What a dead writer left: a half line is cut, and a file after the last record holds nothing else.
    if (scan.tornAt) await truncate(join(this.root, scan.tornAt.file), scan.tornAt.offset);
    for (const f of files) if (f > scan.last.file) await unlink(join(this.root, f));
    // Sealed now, so that the fast path holds for the next append.
    await this.writeHead(scan.last);
    return scan.last;
  }

  private async scan(head: Head | undefined): Promise<Scan> {
    const files = await this.files();
    let expected = 1;
    let prev = '';
    let last = { seq: 0, hash: '', file: '', size: 0 };
    let tornAt: Scan['tornAt'];
    const done = (broken?: AuditBreak): Scan => ({
      ok: broken === undefined,
      records: expected - 1,
      files: files.length,
      unsealed: head && broken === undefined ? Math.max(0, last.seq - head.seq) : 0,
      torn: tornAt !== undefined,
      last,
      tornAt,
      ...(broken ? { broken } : {}),
    });
    for (const [i, file] of files.entries()) {
      const { lines, partialAt } = await this.readLines(file);
      for (const l of lines) {
        const at = { position: expected, file, line: l.number };
        const line = parseLine(l.text);
        if (!line) return done({ ...at, reason: 'malformed', message: `record #${expected} (${file} line ${l.number}) is not an audit log line: it was edited` });
        if (!sameText(this.lineHash(line.seq, line.prev, canonicalJson(line.record)), line.hash)) {
          return done({ ...at, reason: 'edited', message: `record #${expected} (${file} line ${l.number}) does not match its MAC: it was edited` });
        }
        if (line.seq !== expected || line.prev !== prev) {
          const what = line.seq > expected ? `holds #${line.seq}: ${line.seq - expected === 1 ? 'a record was' : 'records were'} removed before it` : line.seq < expected ? `holds #${line.seq} again, or out of order: records were reordered or copied` : 'does not follow the record before it: records were reordered or removed';
          return done({ ...at, reason: 'removed_or_reordered', message: `record #${expected} is missing or out of place: ${file} line ${l.number} ${what}` });
        }
        if (head && line.seq === head.seq && !sameText(line.hash, head.hash)) {
          return done({ ...at, reason: 'head', message: `record #${expected} (${file} line ${l.number}) is not the one the head names: the log was replaced` });
        }
        prev = line.hash;
        last = { seq: line.seq, hash: line.hash, file, size: l.end };
        expected += 1;
      }
      if (partialAt !== undefined) {
        if (i !== files.length - 1) {
          return done({ position: expected, file, line: lines.length + 1, reason: 'malformed', message: `${file} ends in the middle of a line, before record #${expected}: it was cut` });
        }
        tornAt = { file, offset: partialAt };
      }
    }
    if (!head) return done(last.seq > 0 ? { position: last.seq, reason: 'head_missing', message: `${last.seq} record(s) exist without the log's head (${HEAD}): it was deleted, which hides records removed from the end` } : undefined);
    if (last.seq < head.seq) {
      return done({
        position: last.seq + 1,
        ...(last.file ? { file: last.file } : {}),
        reason: 'truncated',
        message: `record #${last.seq + 1} is missing: the log ends at #${last.seq} but its head records ${head.seq} record(s): records were removed from the end`,
      });
    }
    return done();
  }

  // ---------------------------------------------------------------- the lock

  /** Runs fn holding the folder's lock: this process's queue, then the lock folder shared with other processes. */
  private async withLock<T>(fn: (assertHeld: () => void) => Promise<T>): Promise<T> {
    const before = queues.get(this.root) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = before.then(() => mine);
    queues.set(this.root, tail);
    await before;
    try {
      // First: proper-lockfile would retry a missing folder as if it were locked.
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      if (!this.tempsCleared) {
        this.tempsCleared = true;
        await removeOrphanTemps(this.root);
      }
      const lost: { err?: Error } = {};
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(this.root, {
          lockfilePath: join(this.root, LOCK),
          realpath: false,
          stale: this.lockStaleMs,
          retries: { retries: Math.ceil(this.lockWaitMs / 40), factor: 1.2, minTimeout: 5, maxTimeout: 50, randomize: true },
          onCompromised: (err) => {
            lost.err = err;
          },
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
          throw new SesameError('conflict', `the audit log ${this.root} stayed locked by another process for ${Math.round(this.lockWaitMs / 1000)} s; try again`);
        }
        throw err;
      }
      const assertHeld = () => {
        if (lost.err) throw new SesameError('conflict', `lost the lock of the audit log ${this.root} (held more than ${this.lockStaleMs / 1000} s): the write was abandoned`);
      };
      try {
        return await fn(assertHeld);
      } finally {
        await release().catch(() => undefined);
      }
    } finally {
      done();
      if (queues.get(this.root) === tail) queues.delete(this.root);
    }
  }
}

class HeadRefused extends Error {}

const verification = (s: Scan): AuditVerification => ({ ok: s.ok, records: s.records, files: s.files, unsealed: s.unsealed, torn: s.torn, ...(s.broken ? { broken: s.broken } : {}) });

const refused = (why: string) => new SesameError('store_corrupt', `the audit log refuses new records: ${why}`);

function parseLine(text: string): Line | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v) || Object.keys(v).length !== 4) return undefined;
  if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 1 || typeof v.prev !== 'string' || typeof v.hash !== 'string' || !isObject(v.record)) return undefined;
  return v as unknown as Line;
}

const encodeCursor = (seq: number) => Buffer.from(JSON.stringify({ seq }), 'utf8').toString('base64url');

function decodeCursor(cursor: string): number {
  const invalid = () => new SesameError('invalid_request', 'the audit cursor is not one this log returned', { details: { field: 'cursor' } });
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw invalid();
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.toString('base64url') !== cursor) throw invalid();
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!isObject(v) || Object.keys(v).length !== 1 || !Number.isSafeInteger(v.seq) || (v.seq as number) < 1) throw invalid();
  return v.seq as number;
}
