/**
 * The requests the activator holds for one InferenceService while it has no ready replica: a
 * bounded FIFO in which every entry has its own deadline. Overflow is refused at the door (the
 * caller answers 503 with Retry-After) instead of growing memory without limit, and an entry
 * whose deadline passes leaves the queue through `onTimeout` (also a 503), so nothing is held
 * forever. Timers are the only clock, so tests drive it with fake timers.
 */

/** Why an entry left the queue without being released. */
export type HoldOutcome = 'timeout' | 'cancelled';

interface Held<T> {
  item: T;
  heldAtMs: number;
  timer: ReturnType<typeof setTimeout>;
}

export interface HoldQueueOptions<T> {
  /** Most entries held at once; one more is refused. */
  capacity: number;
  /** How long an entry may wait before `onTimeout` takes it out. */
  timeoutMs: number;
  onTimeout(item: T, waitedMs: number): void;
  now?: () => number;
}

/** A bounded FIFO of held requests with per-entry deadlines (see the module header). */
export class HoldQueue<T> {
  readonly #entries = new Map<T, Held<T>>();
  readonly #options: HoldQueueOptions<T>;
  readonly #now: () => number;

  constructor(options: HoldQueueOptions<T>) {
    if (!Number.isInteger(options.capacity) || options.capacity < 0) {
      throw new Error(`capacity must be a non-negative integer (got ${options.capacity})`);
    }
    if (!(options.timeoutMs > 0)) {
      throw new Error(`timeoutMs must be positive (got ${options.timeoutMs})`);
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** When the oldest entry still held was held; undefined when none is. */
  oldestHeldAtMs(): number | undefined {
    return this.#entries.values().next().value?.heldAtMs;
  }

  /** Holds `item`; false (and nothing held) when the queue is full or already holds it. */
  hold(item: T): boolean {
    if (this.#entries.size >= this.#options.capacity || this.#entries.has(item)) return false;
    const heldAtMs = this.#now();
    const timer = setTimeout(() => {
      if (this.#entries.delete(item)) this.#options.onTimeout(item, this.#now() - heldAtMs);
    }, this.#options.timeoutMs);
    timer.unref?.();
    this.#entries.set(item, { item, heldAtMs, timer });
    return true;
  }

  /** Takes `item` out without releasing it (its client went away); false if it was not held. */
  cancel(item: T): boolean {
    const held = this.#entries.get(item);
    if (!held) return false;
    clearTimeout(held.timer);
    this.#entries.delete(item);
    return true;
  }

  /** Takes every entry out, oldest first, with how long each waited. */
  releaseAll(): { item: T; waitedMs: number }[] {
    const now = this.#now();
    const released = [...this.#entries.values()].map((held) => {
      clearTimeout(held.timer);
      return { item: held.item, waitedMs: now - held.heldAtMs };
    });
    this.#entries.clear();
    return released;
  }
}
