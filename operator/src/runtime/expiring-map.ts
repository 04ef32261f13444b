/**
 * Memory kept per object outside the informer caches — a status write waiting for its echo, an
 * event series, an autoscaler's samples, a file read once from the object store — must not
 * grow with every object the operator has ever seen: objects are deleted without a controller
 * always hearing of it, and a cluster may hold tens of thousands of them.
 *
 * `ExpiringMap` is a Map with two bounds: an entry older than `maxAgeMs` (counted from its last
 * `set`) is gone, and beyond `maxEntries` the least recently set go first. A `get` never extends
 * a life; `set` again to keep an entry that is still in use. Clocks are passed in (default
 * `Date.now()`), so the expiry is testable without timers.
 */
export interface ExpiringMapOptions {
  /** Entries kept at most; the least recently set are dropped beyond it. */
  maxEntries: number;
  /** Age (ms since the last `set`) after which an entry is gone. Default: no age limit. */
  maxAgeMs?: number;
}

export class ExpiringMap<K, V> {
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  /** Insertion order is `set` order: the first entry is the stalest. */
  readonly #entries = new Map<K, { value: V; setAtMs: number }>();

  constructor(options: ExpiringMapOptions) {
    if (!(options.maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1');
    this.#maxEntries = options.maxEntries;
    this.#maxAgeMs = options.maxAgeMs ?? Number.POSITIVE_INFINITY;
  }

  /** The value under `key`, unless it was never set, was deleted or has expired. */
  get(key: K, nowMs = Date.now()): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (nowMs - entry.setAtMs > this.#maxAgeMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Sets `key` (as the newest entry) and drops what has expired or exceeds the size. */
  set(key: K, value: V, nowMs = Date.now()): this {
    this.#entries.delete(key);
    this.#entries.set(key, { value, setAtMs: nowMs });
    for (const [oldKey, old] of this.#entries) {
      const expired = nowMs - old.setAtMs > this.#maxAgeMs || this.#entries.size > this.#maxEntries;
      if (!expired) break;
      this.#entries.delete(oldKey);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.#entries.size;
  }
}
