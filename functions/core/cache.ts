import { nowMs, type Clock } from './ports.ts';

/** Concurrent callers for one key share one running promise. */
export class SingleFlight<V> {
  private readonly running = new Map<string, Promise<V>>();

  run(key: string, fn: () => Promise<V>): Promise<V> {
    const current = this.running.get(key);
    if (current) return current;
    const p = fn().finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }
}

/**
 * A bounded in-memory LRU cache whose entries expire on the injected clock: it never
 * holds more than maxEntries, and when full the least recently used entry goes.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly clock: Clock,
    readonly maxEntries = 10_000,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  /** Entries held, expired ones included until they are touched or pushed out. */
  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (nowMs(this.clock) >= e.until) {
      this.entries.delete(key);
      return undefined;
    }
    // Maps iterate in insertion order: re-inserting makes this the most recently used.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    if (!(ttlMs > 0)) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, until: nowMs(this.clock) + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
