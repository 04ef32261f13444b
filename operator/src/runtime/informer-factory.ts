/**
 * One shared informer per (kind, namespace, label selector), like client-go's
 * SharedInformerFactory: two controllers that both watch Jobs read one cache fed by one watch.
 *
 * Cache transforms are configured here, per kind (by GVK), like controller-runtime's
 * `cache.Options.ByObject[...].Transform`: every informer of the kind applies the same one, so
 * what a reader gets never depends on which controller asked for the informer first.
 *
 * When the operator watches a list of namespaces, a kind gets one informer per namespace and
 * `reader()` returns a view that reads across them.
 */
import type { Logger } from 'pino';
import type { BackoffPolicy } from './backoff.js';
import type { InvalidObject, ObjectReader } from './cache.js';
import {
  type CacheTransform,
  type IndexFunction,
  Informer,
  type InformerHandlers,
  type InformerMetrics,
} from './informer.js';
import type { KubeClient } from './kube-client.js';
import { gvkString, type KindSpec, type KubeObject } from './resource.js';

export interface InformerFactoryOptions {
  client: Pick<KubeClient, 'list' | 'watch'>;
  log: Logger;
  /** Namespaces to watch; empty means all namespaces. */
  namespaces: readonly string[];
  resyncMs?: number;
  watchTimeoutSeconds?: number;
  watchdogMs?: number;
  backoff?: BackoffPolicy;
  /** Metrics for one informer, by kind and namespace. */
  metricsFor?: (kind: string, namespace: string) => InformerMetrics;
  /** Cache transforms by `gvkString` of the kind (see `cache-transforms.ts`). */
  transforms?: Readonly<Record<string, CacheTransform>>;
}

export interface InformerScope {
  /** Restrict to objects matching this label selector (for children the operator labels). */
  labelSelector?: string;
}

export class InformerFactory {
  readonly #options: InformerFactoryOptions;
  readonly #informers = new Map<string, Informer<KubeObject>>();
  #started = false;

  constructor(options: InformerFactoryOptions) {
    this.#options = options;
  }

  /**
   * The informers for `kind` in this operator's namespaces (created on first use, shared after).
   * Two kinds with the same GVK must use the same parse function; the first one wins.
   */
  informersFor<T extends KubeObject>(kind: KindSpec<T>, scope: InformerScope = {}): Informer<T>[] {
    const namespaces: (string | undefined)[] =
      kind.resource.namespaced && this.#options.namespaces.length > 0
        ? [...this.#options.namespaces]
        : [undefined];
    return namespaces.map((namespace) => {
      const id = `${gvkString(kind.resource)}|${namespace ?? '*'}|${scope.labelSelector ?? ''}`;
      let informer = this.#informers.get(id);
      if (!informer) {
        informer = new Informer<T>({
          kind,
          client: this.#options.client,
          log: this.#options.log,
          namespace,
          labelSelector: scope.labelSelector,
          resyncMs: this.#options.resyncMs,
          watchTimeoutSeconds: this.#options.watchTimeoutSeconds,
          watchdogMs: this.#options.watchdogMs,
          backoff: this.#options.backoff,
          metrics: this.#options.metricsFor?.(kind.resource.kind, namespace ?? ''),
          transform: this.#options.transforms?.[gvkString(kind.resource)],
        }) as unknown as Informer<KubeObject>;
        this.#informers.set(id, informer);
        if (this.#started) informer.start();
      }
      return informer as unknown as Informer<T>;
    });
  }

  /** A read-only view of `kind` across this operator's namespaces. */
  reader<T extends KubeObject>(kind: KindSpec<T>, scope: InformerScope = {}): ObjectReader<T> {
    return new MultiInformerReader(this.informersFor(kind, scope));
  }

  /** Adds the same index to every informer of `kind` in `scope`. */
  addIndexer<T extends KubeObject>(
    kind: KindSpec<T>,
    name: string,
    fn: IndexFunction<T>,
    scope: InformerScope = {},
  ): void {
    for (const informer of this.informersFor(kind, scope)) informer.addIndexer(name, fn);
  }

  /** Registers the same handlers on every informer of `kind`. */
  addHandlers<T extends KubeObject>(
    kind: KindSpec<T>,
    handlers: InformerHandlers<T>,
    scope: InformerScope = {},
  ): void {
    for (const informer of this.informersFor(kind, scope)) informer.addHandlers(handlers);
  }

  start(): void {
    this.#started = true;
    for (const informer of this.#informers.values()) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
  }

  /** True when every informer has completed its first list. */
  hasSynced(): boolean {
    return [...this.#informers.values()].every((i) => i.hasSynced());
  }

  /** Descriptions of the informers not yet synced, for `/readyz` and logs. */
  unsynced(): string[] {
    return [...this.#informers.entries()].filter(([, i]) => !i.hasSynced()).map(([id]) => id);
  }

  get size(): number {
    return this.#informers.size;
  }
}

/** Reads one kind across several single-namespace informers. */
class MultiInformerReader<T extends KubeObject> implements ObjectReader<T> {
  readonly #informers: readonly Informer<T>[];

  constructor(informers: readonly Informer<T>[]) {
    this.#informers = informers;
  }

  #owner(namespace: string): Informer<T> | undefined {
    return this.#informers.find((i) => i.namespace === undefined || i.namespace === namespace);
  }

  get(namespace: string, name: string): T | undefined {
    return this.#owner(namespace)?.get(namespace, name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return this.#owner(namespace)?.list(namespace) ?? [];
    return this.#informers.flatMap((i) => i.list());
  }

  getInvalid(namespace: string, name: string): InvalidObject | undefined {
    return this.#owner(namespace)?.getInvalid(namespace, name);
  }

  byIndex(index: string, value: string): T[] {
    return this.#informers.flatMap((i) => i.byIndex(index, value));
  }

  hasSynced(): boolean {
    return this.#informers.every((i) => i.hasSynced());
  }
}
