import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';
import { SesameError } from '../core/errors.ts';
import type { Clock, SecretListing, SecretStore, SecretVersion, Tags } from '../core/ports.ts';
import { systemClock } from '../core/ports.ts';

/**
 * Secrets as AES-256-GCM encrypted files under `$SESAME_HOME/secrets/`, one file per
 * secret holding its current and previous versions. Tags stay readable (as in
 * Secrets Manager) but are authenticated by an HMAC, so an edited file is refused.
 */
const FORMAT = 'sesame-local-secret/1';
const NAME = /^[a-z0-9-]+(\/[a-z0-9-]+){1,2}$/;
const KEEP_VERSIONS = 2;

interface StoredVersion {
  id: string;
  created_at: string;
  iv: string;
  tag: string;
  data: string;
}

interface StoredFile {
  format: string;
  name: string;
  tags: Tags;
  tags_mac: string;
  versions: StoredVersion[];
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

export class LocalSecretStore implements SecretStore {
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;
  private readonly root: string;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    home: string,
    masterKey: Buffer,
    private readonly clock: Clock = systemClock,
  ) {
    this.root = join(home, 'secrets');
    this.encKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sesame local secret encryption', 32));
    this.macKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sesame local secret tags', 32));
  }

  static async open(home: string, clock: Clock = systemClock, env: NodeJS.ProcessEnv = process.env): Promise<LocalSecretStore> {
    return new LocalSecretStore(home, await loadLocalKey(home, env), clock);
  }

  private path(name: string): string {
    if (!NAME.test(name)) throw new SesameError('invalid_request', `invalid secret name "${name.slice(0, 100)}"`);
    return `${join(this.root, ...name.split('/'))}.json`;
  }

  private tagsMac(name: string, tags: Tags): string {
    const canonical = JSON.stringify([name, Object.entries(tags).sort(([a], [b]) => a.localeCompare(b))]);
    return createHmac('sha256', this.macKey).update(canonical).digest('base64');
  }

  private async readFileOf(name: string): Promise<StoredFile | undefined> {
    let raw: string;
    try {
      raw = await readFile(this.path(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const corrupt = (why: string) => new SesameError('store_corrupt', `local secret ${name} is unreadable (${why}); its file may have been edited or truncated`);
    let file: StoredFile;
    try {
      file = JSON.parse(raw) as StoredFile;
    } catch {
      throw corrupt('not JSON');
    }
    if (file?.format !== FORMAT || file.name !== name || !Array.isArray(file.versions) || typeof file.tags !== 'object' || typeof file.tags_mac !== 'string') {
      throw corrupt('unknown layout');
    }
    const mac = Buffer.from(this.tagsMac(name, file.tags), 'base64');
    const given = Buffer.from(file.tags_mac, 'base64');
    if (mac.length !== given.length || !timingSafeEqual(mac, given)) throw corrupt('tags do not match their MAC');
    return file;
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

  private async writeAtomic(name: string, file: StoredFile): Promise<void> {
    await writeFileAtomic(this.path(name), JSON.stringify(file, null, 1), { sync: true });
  }

  /** Serialises writers of one name inside this process. */
  private locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(name, next.catch(() => undefined));
    return next;
  }

  async get(name: string): Promise<SecretVersion | undefined> {
    const file = await this.readFileOf(name);
    return file && this.decrypt(name, file.versions[0]);
  }

  async getPrevious(name: string): Promise<SecretVersion | undefined> {
    const file = await this.readFileOf(name);
    return file && this.decrypt(name, file.versions[1]);
  }

  put(name: string, value: unknown, tags: Tags = {}): Promise<{ version: string }> {
    return this.locked(name, async () => {
      const existing = await this.readFileOf(name);
      const version = this.encrypt(name, value);
      const merged = { ...(existing?.tags ?? {}), ...tags };
      const file: StoredFile = {
        format: FORMAT,
        name,
        tags: merged,
        tags_mac: this.tagsMac(name, merged),
        versions: [version, ...(existing?.versions ?? [])].slice(0, KEEP_VERSIONS),
      };
      await this.writeAtomic(name, file);
      return { version: version.id };
    });
  }

  tag(name: string, tags: Tags): Promise<void> {
    return this.locked(name, async () => {
      const existing = await this.readFileOf(name);
      if (!existing) throw new SesameError('invalid_request', `no secret named ${name}`);
      const merged = { ...existing.tags, ...tags };
      await this.writeAtomic(name, { ...existing, tags: merged, tags_mac: this.tagsMac(name, merged) });
    });
  }

  async tags(name: string): Promise<Tags | undefined> {
    return (await this.readFileOf(name))?.tags;
  }

  async list(options: { prefix: string; nextToken?: string; pageSize?: number }): Promise<SecretListing> {
    const pageSize = Math.min(Math.max(options.pageSize ?? 100, 1), 100);
    const names = (await this.allNames()).filter((n) => n.startsWith(options.prefix) && (!options.nextToken || n > options.nextToken)).sort();
    const page = names.slice(0, pageSize);
    const items = [];
    for (const name of page) {
      const file = await this.readFileOf(name);
      if (file) items.push({ name, tags: file.tags });
    }
    const last = page[page.length - 1];
    return { items, nextToken: names.length > pageSize && last ? last : undefined };
  }

  private async allNames(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root, { recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return entries
      .filter((e) => e.endsWith('.json'))
      .map((e) => e.slice(0, -'.json'.length).split(sep).join('/'))
      .filter((n) => NAME.test(n));
  }
}
