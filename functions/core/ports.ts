/**
 * The ports the domain depends on. Adapters implement them for AWS and for local
 * use; tests use the local ones or real servers on loopback.
 */

export interface Clock {
  now(): Date;
  /** The same instant in epoch milliseconds, where a hot path needs a number and no Date. */
  nowMs?(): number;
}

export const systemClock: Clock = { now: () => new Date(), nowMs: Date.now };

/** `clock.now().getTime()`, without the Date when the clock can say it directly. */
export const nowMs = (clock: Clock): number => (clock.nowMs ? clock.nowMs() : clock.now().getTime());

export type Tags = Record<string, string>;

export interface SecretVersion {
  name: string;
  /** The decoded JSON body. */
  value: unknown;
  version: string;
  createdAt: Date | undefined;
}

export interface SecretListing {
  items: { name: string; tags: Tags }[];
  nextToken: string | undefined;
}

/**
 * Named JSON secrets. Every put is a new version and the previous one stays
 * readable; tags are public facts readable without decrypting anything.
 */
export interface SecretStore {
  get(name: string): Promise<SecretVersion | undefined>;
  getPrevious(name: string): Promise<SecretVersion | undefined>;
  put(name: string, value: unknown, tags?: Tags): Promise<{ version: string }>;
  tag(name: string, tags: Tags): Promise<void>;
  /** The secret's tags, without reading its value; undefined when it does not exist. */
  tags(name: string): Promise<Tags | undefined>;
  list(options: { prefix: string; nextToken?: string; pageSize?: number }): Promise<SecretListing>;
  /**
   * A read-modify-write that no other writer can interleave with (the local store, shared
   * by several processes). `fn` sees the current version and tags and returns what to
   * write, or undefined to write nothing. Stores without it are written with get then put.
   */
  update?(name: string, fn: SecretUpdater): Promise<{ version: string } | undefined>;
  /**
   * Destroys the secret and every version of it, at once and for good (no recovery
   * window): for what must not outlive its use, such as a connect link's pending key.
   * False when it did not exist.
   */
  delete?(name: string): Promise<boolean>;
}

/** What update() may return: the new value, and tags merged into the existing ones as put() does. */
export interface SecretUpdate {
  value: unknown;
  tags?: Tags;
}

export type SecretUpdater = (current: SecretVersion | undefined, tags: Tags | undefined) => SecretUpdate | undefined | Promise<SecretUpdate | undefined>;


export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Throws SesameError `upstream_unavailable` on network failure or timeout. */
export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
}

/** Structured logging; implementations must only ever receive non-secret facts. */
export interface Log {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface StoredObject {
  bytes: Uint8Array;
  size: number;
}

/** What exists under a key: its size, and in a versioned store the version that is current (or asked for). */
export interface ObjectHead {
  size: number;
  version?: string;
}

/**
 * Uploaded files and their reports, by key (`incoming/…`, `accepted/…`, `rejected/…`,
 * `reports/…`): S3 in AWS, a folder locally. The S3 bucket is versioned, so reads,
 * moves and deletions name the exact version they act on, and removing something
 * means removing every version of it.
 */
export interface ObjectStore {
  /** Without reading the bytes: undefined when absent (or when that version is gone). */
  head(key: string, version?: string): Promise<ObjectHead | undefined>;
  /** Undefined when absent. Reads at most maxBytes (larger objects: caller checks size first). */
  get(key: string, maxBytes: number, version?: string): Promise<StoredObject | undefined>;
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** Copy then remove: the bytes end at `to`, and that version no longer exists at `from`. */
  move(from: string, to: string, version?: string): Promise<void>;
  /** Every version of the key is destroyed: nothing of its bytes stays readable. */
  purge(key: string): Promise<void>;
}

export interface Notification {
  /** At most 100 characters. */
  subject: string;
  /** French, then English. */
  message: string;
  attributes: { tenant: string; kind: string; severity: 'info' | 'warning' | 'critical' | 'expired' };
}

/** Alerts to people: SNS in AWS, an outbox folder locally. */
export interface Notifier {
  publish(n: Notification): Promise<void>;
}

export interface StateItem {
  /** Partition: e.g. `link#<sha256 of the token>`; sort key for several items of one partition. */
  pk: string;
  sk: string;
  /** Increments at every write; the first write is 1. For optimistic concurrency (fencing). */
  version: number;
  /** Epoch seconds after which the item is gone (DynamoDB TTL; the local adapter hides and purges it). */
  expiresAt?: number;
  data: Record<string, unknown>;
}

/** `ifAbsent`: no live item under the key (an expired one counts as absent); `ifVersion`: the live item has that version. */
export type StateCondition = { ifAbsent: true } | { ifVersion: number } | undefined;

/**
 * Small records with optimistic concurrency (connect links, …): DynamoDB in AWS, files
 * under `$SESAME_HOME/state/` locally. Expired items (expiresAt <= now) are never returned.
 */
export interface StateStore {
  get(pk: string, sk: string): Promise<StateItem | undefined>;
  /** Writes with the condition; throws SesameError('conflict') when it does not hold. Returns the stored item (version set). */
  put(item: Omit<StateItem, 'version'>, condition?: StateCondition): Promise<StateItem>;
  /** Items of one partition, by sort key (prefix optional), expired ones left out; paginated with an opaque cursor. */
  query(pk: string, options?: { prefix?: string; limit?: number; cursor?: string }): Promise<{ items: StateItem[]; cursor: string | undefined }>;
  /** Removes the item; throws SesameError('conflict') when the condition does not hold. Deleting an absent item without condition is a no-op. */
  delete(pk: string, sk: string, condition?: StateCondition): Promise<void>;
}

/**
 * Authenticated encryption of small values kept outside Secrets Manager (the shared
 * token cache in the state table): KMS envelope encryption in AWS, a key derived from
 * the local key locally. `context` is bound to the ciphertext but not stored in it (the
 * item's key and the secret version it belongs to): a value moved to another item, or
 * altered, fails to unseal. The sealed form is ASCII, safe in JSON.
 */
export interface Sealer {
  seal(plaintext: string, context: string): Promise<string>;
  /** Throws SesameError('store_corrupt') when the value or the context is not what was sealed; other errors mean the sealer is unavailable. */
  unseal(sealed: string, context: string): Promise<string>;
}
