/**
 * A rate-limited work queue with client-go / controller-runtime semantics.
 *
 * - A key is in at most one of three states: queued, processing, or processing-and-dirty
 *   (re-added while a worker held it). Adding a queued key is a no-op (deduplication); adding a
 *   key that is being processed marks it dirty, and `done()` queues it again. So no two workers
 *   ever hold the same key, and no change is lost.
 * - `addRateLimited` waits `base * 2^failures` (capped) per key; `forget` resets the count after
 *   a success.
 * - `addAfter` schedules a key; a second `addAfter` for the same key keeps the earlier time.
 * - `shutDown` stops handing out keys at once (leadership lost, or SIGTERM); `drain` then waits
 *   for the workers still holding keys. Keys still queued are dropped: whoever reconciles next
 *   relists and enqueues everything anyway.
 */
import { type BackoffPolicy, backoffDelay, defaultQueueBackoff } from './backoff.js';

/** Observations the queue reports; the manager turns them into prom-client metrics. */
export interface WorkQueueMetrics {
  /** A key entered the queue (deduplicated adds are not counted). */
  added(): void;
  depth(depth: number): void;
  /** A key was re-added after a failure. */
  retried(): void;
  /** Seconds between a key being queued and a worker taking it. */
  queued(seconds: number): void;
  /** Seconds a worker held a key. */
  worked(seconds: number): void;
}

export interface WorkQueueOptions {
  backoff?: BackoffPolicy;
  metrics?: WorkQueueMetrics;
}

export class WorkQueue {
  readonly #backoff: BackoffPolicy;
  readonly #metrics: WorkQueueMetrics | undefined;
  /** FIFO of keys ready to be taken; each at most once. */
  #queue: string[] = [];
  /** Keys that need processing (queued, or re-added while processing). */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  /** When each dirty key was added, for the queue-duration metric. */
  readonly #addedAt = new Map<string, number>();
  /** When each processing key was taken, for the work-duration metric. */
  readonly #takenAt = new Map<string, number>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, { readyAt: number; timer: NodeJS.Timeout }>();
  #waiters: Array<(key: string | undefined) => void> = [];
  #idleWaiters: Array<() => void> = [];
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#backoff = options.backoff ?? defaultQueueBackoff;
    this.#metrics = options.metrics;
  }

  /** Queues `key` unless it is already queued. A key being processed is processed again after. */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#metrics?.added();
    this.#dirty.add(key);
    this.#addedAt.set(key, Date.now());
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Queues `key` after `delayMs`; if it is already scheduled, the earlier time wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const readyAt = Date.now() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing && existing.readyAt <= readyAt) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref?.();
    this.#delayed.set(key, { readyAt, timer });
  }

  /** Queues `key` after its per-key backoff, and counts one more failure for it. */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    this.#metrics?.retried();
    this.addAfter(key, backoffDelay(failures, this.#backoff));
  }

  /** Resets the failure count of `key` (call after a successful reconcile). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** How many consecutive failures `key` has had. */
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /**
   * Waits for the next key and marks it processing; the caller must call `done(key)`.
   * Resolves `undefined` once the queue is shut down.
   */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks `key` finished; if it was re-added meanwhile, queues it again. */
  done(key: string): void {
    if (!this.#processing.delete(key)) return;
    const takenAt = this.#takenAt.get(key);
    this.#takenAt.delete(key);
    if (takenAt !== undefined) this.#metrics?.worked((Date.now() - takenAt) / 1000);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#push(key);
    if (this.#processing.size === 0) {
      const idle = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of idle) resolve();
    }
  }

  /** Keys waiting to be taken (not counting delayed ones or those being processed). */
  len(): number {
    return this.#queue.length;
  }

  /** Keys held by workers now. */
  processingCount(): number {
    return this.#processing.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Stops handing out keys and accepting new ones; waiting `get()`s resolve `undefined`. */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    this.#queue = [];
    this.#metrics?.depth(0);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve(undefined);
  }

  /** Shuts down and resolves when no key is being processed any more. */
  drain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #push(key: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      // Hand the key straight to a waiting worker.
      this.#queue.push(key);
      const taken = this.#take();
      waiter(taken);
      return;
    }
    this.#queue.push(key);
    this.#metrics?.depth(this.#queue.length);
  }

  #take(): string | undefined {
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    this.#metrics?.depth(this.#queue.length);
    this.#processing.add(key);
    this.#dirty.delete(key);
    const addedAt = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (addedAt !== undefined) this.#metrics?.queued((Date.now() - addedAt) / 1000);
    this.#takenAt.set(key, Date.now());
    return key;
  }
}
