/**
 * Reads runs' `history.json` from the object store for the training and model pages, cached
 * briefly and bounded, so a page renders from memory and a burst of views costs one read.
 *
 * A running job's history changes every epoch: it is kept `liveTtlMs` (5 s, about the page's
 * refresh). A finished run's no longer changes: kept `finishedTtlMs` (10 min). At most
 * `maxEntries` histories (LRU by last read from the store, `ExpiringMap`), each at most
 * `maxBytes` (1 MiB holds ~10,000 epochs). Concurrent reads of one key share one request.
 * A history that is missing or unreadable is cached too (as such), so a page about a run
 * whose files were deleted does not hit the store on every view.
 */
import { RunFile, trainingRunPrefix } from '../../contract/object-store-layout.js';
import { type TrainingHistory, TrainingHistorySchema } from '../../contract/results.js';
import { ExpiringMap } from '../../operator/src/runtime/expiring-map.js';

/** What the reader needs of the object store (console-core's `RunRecords` fits). */
export interface RunRecordsReader {
  /** The object at `key` as text, or undefined when it does not exist. */
  readText(key: string, maxBytes?: number): Promise<string | undefined>;
}

/** One read of a run's history: the history, or why there is none. */
export type HistoryRead =
  | { state: 'found'; history: TrainingHistory; readAtMs: number }
  | { state: 'missing'; readAtMs: number }
  | { state: 'unreadable'; message: string; readAtMs: number };

export interface HistoryReaderOptions {
  maxEntries?: number;
  liveTtlMs?: number;
  finishedTtlMs?: number;
  maxBytes?: number;
  nowMs?: () => number;
}

/** The key of a run's history in the store. */
export function historyKey(namespace: string, trainingJob: string): string {
  return `${trainingRunPrefix(namespace, trainingJob)}${RunFile.history}`;
}

/** Parses `history.json`'s text; the error names what is wrong. */
export function parseHistory(text: string): TrainingHistory {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`history.json is not JSON: ${(error as Error).message}`);
  }
  const parsed = TrainingHistorySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(
      `history.json is not a training history: ${issue.path.join('.')}: ${issue.message}`,
    );
  }
  return parsed.data;
}

export class HistoryReader {
  readonly #records: RunRecordsReader;
  readonly #cache: ExpiringMap<string, HistoryRead & { finished: boolean }>;
  readonly #inFlight = new Map<string, Promise<HistoryRead>>();
  readonly #liveTtlMs: number;
  readonly #maxBytes: number;
  readonly #nowMs: () => number;

  constructor(records: RunRecordsReader, options: HistoryReaderOptions = {}) {
    this.#records = records;
    this.#liveTtlMs = options.liveTtlMs ?? 5_000;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#cache = new ExpiringMap({
      maxEntries: options.maxEntries ?? 500,
      maxAgeMs: options.finishedTtlMs ?? 10 * 60_000,
    });
  }

  /**
   * The history of `trainingJob`'s run in `namespace`. `finished`: the run has ended, so a
   * cached read stays good for `finishedTtlMs` instead of `liveTtlMs`.
   */
  async read(namespace: string, trainingJob: string, finished: boolean): Promise<HistoryRead> {
    const key = historyKey(namespace, trainingJob);
    const now = this.#nowMs();
    const cached = this.#cache.get(key, now);
    // A finished run's read (made after it finished) is good until it expires; any other for
    // `liveTtlMs`.
    if (cached && ((cached.finished && finished) || now - cached.readAtMs <= this.#liveTtlMs)) {
      return cached;
    }
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const reading = this.#readFromStore(key, finished).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, reading);
    return reading;
  }

  async #readFromStore(key: string, finished: boolean): Promise<HistoryRead> {
    let read: HistoryRead;
    try {
      const text = await this.#records.readText(key, this.#maxBytes);
      const readAtMs = this.#nowMs();
      read =
        text === undefined
          ? { state: 'missing', readAtMs }
          : { state: 'found', history: parseHistory(text), readAtMs };
    } catch (error) {
      // Not cached when the store failed: the next view tries again.
      const message = (error as Error).message;
      const unreadable: HistoryRead = { state: 'unreadable', message, readAtMs: this.#nowMs() };
      if (!message.startsWith('history.json')) return unreadable;
      read = unreadable;
    }
    this.#cache.set(key, { ...read, finished }, read.readAtMs);
    return read;
  }
}
