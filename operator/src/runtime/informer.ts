/**
 * An informer for one kind in one scope (a namespace or all, and an optional label selector):
 * list, then watch from the list's resourceVersion, keep a cache, and tell handlers what changed.
 *
 * Written on list + watch rather than client-node's `makeInformer` because an operator's
 * informer must never silently stop:
 * - Any list or watch failure restarts the cycle after a capped exponential backoff (reset after
 *   the next successful list), and is counted in a metric.
 * - `410 Gone` (an HTTP 410, or an `ERROR` event whose Status has code 410) means the
 *   resourceVersion is too old: relist at once. The relist is diffed against the cache, so
 *   handlers see the adds, updates and deletes they missed.
 * - A watch that goes quiet for longer than the watchdog allows (no event and no bookmark;
 *   bookmarks are requested, and the server closes each watch after `timeoutSeconds`) is
 *   presumed dead on a half-open connection and is aborted and restarted.
 * - A periodic resync re-delivers every cached object as an update, so a controller that
 *   dropped a key for any reason gets it back.
 *
 * Objects are normalised by the kind's `parse` before they reach the cache or a handler. An
 * object that fails to parse never crashes the informer: it is kept apart (`getInvalid`) and
 * handed to `onInvalid`, so the owning controller can report `Stalled/InvalidSpec` on it.
 *
 * Memory: the cache holds one copy per object — the parsed one, deep-frozen, with its strings
 * shared across objects (`freezeForCache`); the object as received is dropped once parsed, and
 * `managedFields` never enter the cache. A `transform` (controller-runtime's cache
 * `TransformFunc`) may cut an object down to the fields controllers read before it is parsed:
 * the manager applies `cache-transforms.ts` to the built-in kinds it only watches.
 *
 * Handlers run synchronously on the watch stream; they must only enqueue keys. A handler that
 * throws is logged and ignored.
 */
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay, defaultInformerBackoff } from './backoff.js';
import { deepFreeze, freezeForCache, type InvalidObject, type ObjectReader } from './cache.js';
import type { KubeClient, WatchEvent, WatchHandle } from './kube-client.js';
import { keyString, keyStringOf } from './object-key.js';
import { apiVersionOf, gvkString, type KindSpec, type KubeObject } from './resource.js';

export interface InformerHandlers<T extends KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
  /** An object that failed to parse was added, changed or deleted (see `deleted`). */
  onInvalid?(invalid: InvalidObject): void;
}

/** The values under which an object is indexed (an object may have several, or none). */
export type IndexFunction<T> = (obj: T) => string[];

/** Why an informer restarted its list/watch cycle. */
export type RestartReason = 'error' | 'gone' | 'stalled';

export interface InformerMetrics {
  restarted(reason: RestartReason): void;
  synced(synced: boolean): void;
  /** How many objects the cache holds now (valid and invalid). */
  objects?(count: number): void;
}

/**
 * Cuts an object down before it is cached (it must not modify its argument; return a new
 * object). Cached objects of the kind then lack what it drops, for every reader of the kind.
 */
export type CacheTransform = (obj: KubeObject) => KubeObject;

export interface InformerOptions<T extends KubeObject> {
  kind: KindSpec<T>;
  client: Pick<KubeClient, 'list' | 'watch'>;
  log: Logger;
  /** Undefined: all namespaces (or a cluster-scoped kind). */
  namespace?: string;
  labelSelector?: string;
  /** Re-deliver every cached object this often; 0 disables. Default 10 minutes. */
  resyncMs?: number;
  /** Asked of the server for each watch; it closes the watch after this. Default 240 s. */
  watchTimeoutSeconds?: number;
  /** Abort a watch with no event or bookmark for this long. Default 300 s. */
  watchdogMs?: number;
  backoff?: BackoffPolicy;
  /** List page size. Default 500. */
  pageSize?: number;
  metrics?: InformerMetrics;
  /** Applied to each object before `parse`; see `CacheTransform`. */
  transform?: CacheTransform;
}

type WatchOutcome = 'closed' | 'gone' | 'stalled' | 'stopped';

export class Informer<T extends KubeObject> implements ObjectReader<T> {
  readonly kind: KindSpec<T>;
  readonly namespace: string | undefined;
  readonly labelSelector: string | undefined;
  readonly #client: Pick<KubeClient, 'list' | 'watch'>;
  readonly #log: Logger;
  readonly #resyncMs: number;
  readonly #watchTimeoutSeconds: number;
  readonly #watchdogMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #pageSize: number;
  readonly #metrics: InformerMetrics | undefined;
  readonly #transform: CacheTransform | undefined;

  readonly #items = new Map<string, T>();
  readonly #invalid = new Map<string, InvalidObject>();
  readonly #indexers = new Map<string, IndexFunction<T>>();
  /** index name → index value → keys of the objects with that value. */
  readonly #indices = new Map<string, Map<string, Set<string>>>();
  #handlers: InformerHandlers<T>[] = [];
  #resourceVersion = '';
  #synced = false;
  #running = false;
  #stopped = false;
  #failures = 0;
  #endWatch: ((outcome: WatchOutcome) => void) | undefined;
  #wakeSleep: (() => void) | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: InformerOptions<T>) {
    this.kind = options.kind;
    this.namespace = options.namespace;
    this.labelSelector = options.labelSelector;
    this.#client = options.client;
    this.#resyncMs = options.resyncMs ?? 10 * 60_000;
    this.#watchTimeoutSeconds = options.watchTimeoutSeconds ?? 240;
    this.#watchdogMs = options.watchdogMs ?? 300_000;
    this.#backoff = options.backoff ?? defaultInformerBackoff;
    this.#pageSize = options.pageSize ?? 500;
    this.#metrics = options.metrics;
    this.#transform = options.transform;
    this.#log = options.log.child({
      informer: gvkString(options.kind.resource),
      ...(options.namespace ? { watchNamespace: options.namespace } : {}),
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
    });
  }

  /** Registers handlers; if the cache is already filled, `onAdd` is called for what it holds. */
  addHandlers(handlers: InformerHandlers<T>): () => void {
    this.#handlers.push(handlers);
    if (this.#synced) {
      for (const obj of this.#items.values()) this.#call('onAdd', () => handlers.onAdd?.(obj));
      for (const invalid of this.#invalid.values())
        this.#call('onInvalid', () => handlers.onInvalid?.(invalid));
    }
    return () => {
      this.#handlers = this.#handlers.filter((h) => h !== handlers);
    };
  }

  /**
   * Adds a secondary index (client-go's `Indexer`): `byIndex(name, value)` then returns the
   * objects for which `fn` returns `value`, without scanning the cache. Adding an index that
   * exists already is a no-op, so controllers sharing an informer can each ask for it.
   */
  addIndexer(name: string, fn: IndexFunction<T>): void {
    if (this.#indexers.has(name)) return;
    this.#indexers.set(name, fn);
    this.#indices.set(name, new Map());
    for (const [key, obj] of this.#items) this.#indexObject(name, fn, key, obj);
  }

  byIndex(name: string, value: string): T[] {
    const index = this.#indices.get(name);
    if (!index) throw new Error(`The ${this.kind.resource.kind} informer has no index "${name}"`);
    const keys = index.get(value);
    if (!keys) return [];
    const found: T[] = [];
    for (const key of keys) {
      const obj = this.#items.get(key);
      if (obj) found.push(obj);
    }
    return found;
  }

  /** Starts the list/watch cycle in the background. Idempotent. */
  start(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    this.#loop = this.#run();
    if (this.#resyncMs > 0) {
      this.#resyncTimer = setInterval(() => this.#resync(), this.#resyncMs);
      this.#resyncTimer.unref?.();
    }
  }

  /** Stops for good: aborts the watch and ends the cycle. The cache stays readable. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#resyncTimer) clearInterval(this.#resyncTimer);
    this.#endWatch?.('stopped');
    this.#wakeSleep?.();
    await this.#loop;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** The resourceVersion the next watch would start from. */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  get(namespace: string, name: string): T | undefined {
    return this.#items.get(keyString({ namespace, name }));
  }

  list(namespace?: string): T[] {
    if (namespace === undefined) return [...this.#items.values()];
    const found: T[] = [];
    for (const obj of this.#items.values())
      if ((obj.metadata?.namespace ?? '') === namespace) found.push(obj);
    return found;
  }

  getInvalid(namespace: string, name: string): InvalidObject | undefined {
    return this.#invalid.get(keyString({ namespace, name }));
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#listAndReplace();
        this.#failures = 0;
        await this.#watchUntilGone();
        if (!this.#stopped) this.#metrics?.restarted('gone');
      } catch (error) {
        if (this.#stopped) break;
        if (statusCodeOf(error) === 410) {
          // An expired continue token during a paginated list: start the list again.
          this.#log.info({ err: error }, 'Relisted after the list resourceVersion expired');
          this.#metrics?.restarted('gone');
          continue;
        }
        const delay = backoffDelay(this.#failures, this.#backoff);
        this.#failures += 1;
        this.#metrics?.restarted('error');
        this.#log.warn(
          { err: error, retryInMs: delay, failures: this.#failures },
          'Restarted the informer after an error',
        );
        await this.#sleep(delay);
      }
    }
  }

  /**
   * Lists every page and makes the cache equal to the result, telling handlers the difference.
   * Each page is applied as it arrives, so a relist of many objects never holds them all twice
   * (as received and as cached); deletions wait for the last page. The pages are one snapshot
   * (continue tokens keep the list's resourceVersion), never older than what the cache holds.
   */
  async #listAndReplace(): Promise<void> {
    const seen = new Set<string>();
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.#client.list(this.kind.resource, {
        namespace: this.namespace,
        labelSelector: this.labelSelector,
        limit: this.#pageSize,
        continue: continueToken,
      });
      if (this.#stopped) return;
      for (const raw of page.items ?? []) {
        // Items of a list carry no apiVersion/kind; the schema of a kind may require them.
        const withType = {
          ...raw,
          apiVersion: raw.apiVersion ?? apiVersionOf(this.kind.resource),
          kind: raw.kind ?? this.kind.resource.kind,
        };
        seen.add(keyStringOf(withType));
        this.#upsert(withType, true);
      }
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? '';
    } while (continueToken);

    for (const [key, old] of [...this.#items]) {
      if (!seen.has(key)) {
        this.#unstore(key);
        this.#dispatch((h) => h.onDelete?.(old), 'onDelete');
      }
    }
    for (const [key, invalid] of [...this.#invalid]) {
      if (!seen.has(key)) {
        this.#invalid.delete(key);
        this.#countObjects();
        const gone: InvalidObject = { ...invalid, deleted: true };
        this.#dispatch((h) => h.onInvalid?.(gone), 'onInvalid');
      }
    }
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      this.#metrics?.synced(true);
      this.#log.info({ objects: this.#items.size, resourceVersion }, 'Synced the informer cache');
    }
  }

  /** Watches (re-watching after normal closes) until the resourceVersion expires. */
  async #watchUntilGone(): Promise<void> {
    let quickCloses = 0;
    while (!this.#stopped) {
      const startedAt = Date.now();
      const outcome = await this.#watchOnce();
      if (outcome === 'gone') return;
      if (outcome === 'stopped') return;
      if (outcome === 'stalled') {
        this.#metrics?.restarted('stalled');
        this.#log.warn({ watchdogMs: this.#watchdogMs }, 'Restarted a watch that received nothing');
        continue;
      }
      // A normal close (server timeout). One that ends at once, repeatedly, would spin: back off.
      if (Date.now() - startedAt < 1_000) {
        quickCloses += 1;
        await this.#sleep(backoffDelay(quickCloses - 1, this.#backoff));
      } else {
        quickCloses = 0;
      }
    }
  }

  /** One watch request. Resolves how it ended; rejects on an error other than 410. */
  #watchOnce(): Promise<WatchOutcome> {
    return new Promise<WatchOutcome>((resolve, reject) => {
      let settled = false;
      let watchdog: NodeJS.Timeout | undefined;
      let handle: WatchHandle | undefined;
      const finish = (outcome: WatchOutcome | Error) => {
        if (settled) return;
        settled = true;
        if (watchdog) clearTimeout(watchdog);
        this.#endWatch = undefined;
        handle?.abort();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const feedWatchdog = () => {
        if (watchdog) clearTimeout(watchdog);
        watchdog = setTimeout(() => finish('stalled'), this.#watchdogMs);
        watchdog.unref?.();
      };
      this.#endWatch = finish;
      feedWatchdog();
      const onEvent = (event: WatchEvent) => {
        if (settled) return;
        feedWatchdog();
        const result = this.#applyEvent(event);
        if (result) finish(result);
      };
      const onDone = (error: unknown) => {
        if (settled) return;
        if (error === null || error === undefined) finish('closed');
        else if (statusCodeOf(error) === 410) finish('gone');
        else if (isAbort(error)) finish('closed');
        else finish(error instanceof Error ? error : new Error(String(error)));
      };
      this.#client
        .watch(
          this.kind.resource,
          {
            namespace: this.namespace,
            labelSelector: this.labelSelector,
            resourceVersion: this.#resourceVersion,
            timeoutSeconds: this.#watchTimeoutSeconds,
          },
          onEvent,
          onDone,
        )
        .then(
          (h) => {
            handle = h;
            if (settled) h.abort();
          },
          (error: unknown) => onDone(error ?? new Error('watch failed')),
        );
    });
  }

  /** Applies one watch event to the cache. Returns how the watch must end, if it must. */
  #applyEvent(event: WatchEvent): WatchOutcome | Error | undefined {
    const obj = event.object;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.#upsert(obj, false);
        this.#trackResourceVersion(obj);
        return undefined;
      case 'DELETED':
        this.#remove(obj);
        this.#trackResourceVersion(obj);
        return undefined;
      case 'BOOKMARK':
        this.#trackResourceVersion(obj);
        return undefined;
      case 'ERROR': {
        const code = typeof obj?.code === 'number' ? obj.code : undefined;
        if (code === 410) return 'gone';
        return new Error(`Watch returned an error: ${String(obj?.message ?? JSON.stringify(obj))}`);
      }
      default:
        this.#log.warn({ type: event.type }, 'Ignored a watch event of unknown type');
        return undefined;
    }
  }

  #trackResourceVersion(obj: KubeObject): void {
    const rv = obj?.metadata?.resourceVersion;
    if (rv) this.#resourceVersion = rv;
  }

  /** Parses and stores an added or changed object and tells handlers. */
  #upsert(received: KubeObject, fromList: boolean): void {
    const raw = withoutManagedFields(received);
    const key = keyStringOf(raw);
    const old = this.#items.get(key);
    const oldInvalid = this.#invalid.get(key);
    let parsed: T;
    try {
      // No defensive copy: `raw` is this informer's own (fresh from the watch or list), parse
      // and transform build new objects, and `raw` is dropped on success — one copy is kept.
      const cut = this.#transform ? this.#transform(raw) : raw;
      parsed = freezeForCache(this.kind.parse(cut)) as T;
    } catch (error) {
      const invalid: InvalidObject = {
        raw: deepFreeze(raw) as KubeObject,
        error: asError(error),
        deleted: false,
      };
      if (fromList && oldInvalid?.raw.metadata?.resourceVersion === raw.metadata?.resourceVersion)
        return;
      if (old) this.#unstore(key);
      this.#invalid.set(key, invalid);
      this.#countObjects();
      this.#log.warn(
        {
          namespace: raw.metadata?.namespace,
          name: raw.metadata?.name,
          resourceVersion: raw.metadata?.resourceVersion,
          err: invalid.error,
        },
        `Rejected an invalid ${this.kind.resource.kind}`,
      );
      this.#dispatch((h) => h.onInvalid?.(invalid), 'onInvalid');
      return;
    }
    if (oldInvalid) this.#invalid.delete(key);
    this.#store(key, parsed);
    if (!old) {
      this.#dispatch((h) => h.onAdd?.(parsed), 'onAdd');
    } else if (!fromList || old.metadata?.resourceVersion !== parsed.metadata?.resourceVersion) {
      this.#dispatch((h) => h.onUpdate?.(old, parsed), 'onUpdate');
    }
  }

  #remove(raw: KubeObject): void {
    const key = keyStringOf(raw);
    const old = this.#items.get(key);
    if (old) {
      this.#unstore(key);
      this.#dispatch((h) => h.onDelete?.(old), 'onDelete');
      return;
    }
    const invalid = this.#invalid.get(key);
    if (invalid) {
      this.#invalid.delete(key);
      this.#countObjects();
      const gone: InvalidObject = {
        raw: deepFreeze(raw) as KubeObject,
        error: invalid.error,
        deleted: true,
      };
      this.#dispatch((h) => h.onInvalid?.(gone), 'onInvalid');
    }
  }

  #store(key: string, obj: T): void {
    if (this.#indexers.size > 0 && this.#items.has(key)) this.#unstore(key);
    this.#items.set(key, obj);
    for (const [name, fn] of this.#indexers) this.#indexObject(name, fn, key, obj);
    this.#countObjects();
  }

  #countObjects(): void {
    this.#metrics?.objects?.(this.#items.size + this.#invalid.size);
  }

  #unstore(key: string): void {
    const old = this.#items.get(key);
    this.#items.delete(key);
    if (!old) return;
    this.#countObjects();
    for (const [name, fn] of this.#indexers) {
      const index = this.#indices.get(name);
      for (const value of this.#indexValues(fn, old)) {
        const keys = index?.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index?.delete(value);
      }
    }
  }

  #indexObject(name: string, fn: IndexFunction<T>, key: string, obj: T): void {
    const index = this.#indices.get(name);
    if (!index) return;
    for (const value of this.#indexValues(fn, obj)) {
      let keys = index.get(value);
      if (!keys) {
        keys = new Set();
        index.set(value, keys);
      }
      keys.add(key);
    }
  }

  #indexValues(fn: IndexFunction<T>, obj: T): string[] {
    try {
      return fn(obj);
    } catch (error) {
      this.#log.error({ err: error }, 'An index function threw; the object is not indexed');
      return [];
    }
  }

  #resync(): void {
    if (!this.#synced || this.#stopped) return;
    for (const obj of this.#items.values())
      this.#dispatch((h) => h.onUpdate?.(obj, obj), 'onUpdate');
    for (const invalid of this.#invalid.values())
      this.#dispatch((h) => h.onInvalid?.(invalid), 'onInvalid');
  }

  #dispatch(call: (handlers: InformerHandlers<T>) => void, what: string): void {
    for (const handlers of this.#handlers) this.#call(what, () => call(handlers));
  }

  #call(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error({ err: error, handler: what }, 'An informer handler threw; ignored it');
    }
  }

  /** Sleeps, unless `stop()` wakes it first. */
  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wakeSleep = undefined;
        resolve();
      }, ms);
      this.#wakeSleep = () => {
        clearTimeout(timer);
        this.#wakeSleep = undefined;
        resolve();
      };
    });
  }
}

function statusCodeOf(error: unknown): number | undefined {
  if (error && typeof error === 'object') {
    const e = error as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'AbortErrorImpl');
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The object without `metadata.managedFields`: server-side apply's bookkeeping, which no
 * controller reads and which is often the largest part of an object. Dropping it before
 * caching is what controller-runtime's `TransformStripManagedFields` does.
 */
export function withoutManagedFields(obj: KubeObject): KubeObject {
  if (!obj.metadata || !('managedFields' in obj.metadata)) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata as Record<string, unknown>;
  return { ...obj, metadata } as KubeObject;
}
