/**
 * The console's view of the cluster: one read-only informer per Lathe kind (all namespaces, or
 * the install's watched namespaces), the same `Informer` the operator's controllers use — a
 * list, then a watch, restarted on any failure — and nothing else. The console has no database
 * of its own and pages never call the API server: they read these caches, which is what keeps
 * a page with 1,000 objects fast (issue 25: p95 ≤ 200 ms), like the Kubernetes dashboard's
 * and Headlamp's informer-backed views.
 *
 * No handlers: nothing is queued or reconciled; a page reads whatever the cache holds when it
 * renders. Resync is off (a resync re-delivers objects to handlers, and there are none).
 */
import type { Logger } from 'pino';
import type { ObjectReader } from '../operator/src/runtime/cache.js';
import { InformerFactory } from '../operator/src/runtime/informer-factory.js';
import type { KubeClient } from '../operator/src/runtime/kube-client.js';
import { type ConsoleObjects, consoleKinds, type KindKey } from './kinds.js';

/** Read access to the cached objects of every kind the console shows. */
export interface ConsoleCache {
  reader<K extends KindKey>(key: K): ObjectReader<ConsoleObjects[K]>;
  /** True once every informer has completed its first list. */
  hasSynced(): boolean;
  /** The informers not yet synced, for `/readyz`. */
  unsynced(): string[];
}

/** The informers behind a `ConsoleCache`; `start` them once, `stop` on shutdown. */
export class InformerConsoleCache implements ConsoleCache {
  readonly #factory: InformerFactory;
  readonly #readers = new Map<KindKey, ObjectReader<ConsoleObjects[KindKey]>>();

  constructor(options: {
    client: Pick<KubeClient, 'list' | 'watch'>;
    log: Logger;
    /** Empty: all namespaces. */
    namespaces: readonly string[];
  }) {
    this.#factory = new InformerFactory({
      client: options.client,
      log: options.log,
      namespaces: options.namespaces,
      resyncMs: 0,
    });
    for (const kind of consoleKinds) this.#readers.set(kind.key, this.#factory.reader(kind.spec));
  }

  reader<K extends KindKey>(key: K): ObjectReader<ConsoleObjects[K]> {
    return this.#readers.get(key) as ObjectReader<ConsoleObjects[K]>;
  }

  start(): void {
    this.#factory.start();
  }

  stop(): Promise<void> {
    return this.#factory.stop();
  }

  hasSynced(): boolean {
    return this.#factory.hasSynced();
  }

  unsynced(): string[] {
    return this.#factory.unsynced();
  }
}

/**
 * A `ConsoleCache` over fixed lists of objects, for tests and benchmarks (no informer, no
 * cluster). Objects must already be parsed.
 */
export function staticConsoleCache(
  objects: {
    [K in KindKey]?: readonly ConsoleObjects[K][];
  },
): ConsoleCache {
  const readers = new Map<KindKey, ObjectReader<ConsoleObjects[KindKey]>>();
  for (const kind of consoleKinds) {
    const items = (objects[kind.key] ?? []) as readonly ConsoleObjects[KindKey][];
    readers.set(kind.key, {
      get: (namespace, name) =>
        items.find((o) => o.metadata?.namespace === namespace && o.metadata?.name === name),
      list: (namespace) =>
        namespace === undefined
          ? [...items]
          : items.filter((o) => o.metadata?.namespace === namespace),
      getInvalid: () => undefined,
      byIndex: () => [],
      hasSynced: () => true,
    });
  }
  return {
    reader: <K extends KindKey>(key: K) => readers.get(key) as ObjectReader<ConsoleObjects[K]>,
    hasSynced: () => true,
    unsynced: () => [],
  };
}
