/**
 * How a controller is declared, and the loop that runs it.
 *
 * A controller names the kind it reconciles (`for`), the kinds it creates (`owns`: their events
 * are mapped to the owner through the controller ownerReference) and any other kinds whose
 * changes matter (`watches`, with a mapping to keys). Informer callbacks only enqueue keys;
 * `reconcile` gets a key and reads the world from the caches, so it is level-based.
 *
 * Outcomes, as in controller-runtime:
 * - `done()`: success; the key's backoff is reset.
 * - `requeueAfter(ms)`: success, look again later (polling an external system).
 * - throw `TerminalError`: the spec cannot work (invalid, 422); no retry until the object
 *   changes, which enqueues it again through the informer.
 * - throw anything else: transient; retried with per-key exponential backoff.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { OperatorMetrics } from '../observability/metrics.js';
import type { BackoffPolicy } from './backoff.js';
import type { ObjectReader } from './cache.js';
import type { EventRecorder } from './events.js';
import type { InformerHandlers } from './informer.js';
import type { InformerFactory, InformerScope } from './informer-factory.js';
import type { KubeClient } from './kube-client.js';
import { keyString, keyStringOf, type ObjectKey, parseKey } from './object-key.js';
import { controllerOwnerKey } from './owners.js';
import { gvkString, type KindSpec, type KubeObject } from './resource.js';
import { WorkQueue } from './workqueue.js';

export type Result = { kind: 'done' } | { kind: 'requeueAfter'; ms: number };

export const done = (): Result => ({ kind: 'done' });
export const requeueAfter = (ms: number): Result => ({ kind: 'requeueAfter', ms });

/**
 * An error that retrying cannot fix (invalid spec, 422 from the API server). The controller
 * should have written `Stalled=True` before throwing it. Wrap the underlying error as `cause`.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export function isTerminalError(error: unknown): error is TerminalError {
  return error instanceof TerminalError;
}

/** What a reconcile gets besides its key. */
export interface ReconcileContext<T extends KubeObject> {
  /** Child logger carrying controller, namespace, name and reconcileID. */
  log: Logger;
  reconcileID: string;
  client: KubeClient;
  /** The cache of the reconciled kind (read-only, deep-frozen objects). */
  primary: ObjectReader<T>;
  /** The cache of another kind this controller owns or watches. */
  reader<U extends KubeObject>(kind: KindSpec<U>): ObjectReader<U>;
  events: EventRecorder;
  /** Aborted when the replica loses leadership or shutdown gives up waiting. */
  signal: AbortSignal;
  now(): Date;
}

export interface OwnedKind {
  kind: KindSpec<KubeObject>;
  /** Narrow the informer, e.g. `app.kubernetes.io/managed-by=lathe`. */
  labelSelector?: string;
}

export interface WatchedKind {
  kind: KindSpec<KubeObject>;
  labelSelector?: string;
  /** Keys of the reconciled kind to enqueue when an object of this kind changes. */
  mapToKeys(obj: KubeObject): ObjectKey[];
}

export interface ControllerDefinition<T extends KubeObject> {
  /** Short, unique, used in metrics and logs: `modelversion`. */
  name: string;
  for: KindSpec<T>;
  owns?: OwnedKind[];
  watches?: WatchedKind[];
  /** Workers; defaults to the operator's `LATHE_WORKERS`. */
  workers?: number;
  reconcile(key: ObjectKey, ctx: ReconcileContext<T>): Promise<Result>;
}

/** Declares a child kind; `kind` may be a typed `KindSpec`. */
export function owns<U extends KubeObject>(kind: KindSpec<U>, labelSelector?: string): OwnedKind {
  return {
    kind: kind as unknown as KindSpec<KubeObject>,
    ...(labelSelector ? { labelSelector } : {}),
  };
}

/** Declares a watched kind with a typed mapping to keys of the reconciled kind. */
export function watches<U extends KubeObject>(
  kind: KindSpec<U>,
  mapToKeys: (obj: U) => ObjectKey[],
  labelSelector?: string,
): WatchedKind {
  return {
    kind: kind as unknown as KindSpec<KubeObject>,
    mapToKeys: mapToKeys as (obj: KubeObject) => ObjectKey[],
    ...(labelSelector ? { labelSelector } : {}),
  };
}

/**
 * Erases the type parameter so definitions of different kinds fit in one list. Use this in
 * `controllers/index.ts`.
 */
export function defineController<T extends KubeObject>(
  definition: ControllerDefinition<T>,
): ControllerDefinition<KubeObject> {
  return definition as unknown as ControllerDefinition<KubeObject>;
}

export interface ControllerDeps {
  informers: InformerFactory;
  client: KubeClient;
  events: EventRecorder;
  log: Logger;
  metrics: OperatorMetrics;
  defaultWorkers: number;
  backoff?: BackoffPolicy;
  now?: () => Date;
}

/** Runs one controller: wires its informers to its queue, and its workers to `reconcile`. */
export class ControllerRunner<T extends KubeObject> {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #definition: ControllerDefinition<T>;
  readonly #deps: ControllerDeps;
  readonly #log: Logger;
  readonly #workers: number;
  readonly #readers = new Map<string, ObjectReader<KubeObject>>();
  readonly #primary: ObjectReader<T>;
  #abort = new AbortController();
  #running: Promise<void>[] = [];
  #started = false;

  constructor(definition: ControllerDefinition<T>, deps: ControllerDeps) {
    this.name = definition.name;
    this.#definition = definition;
    this.#deps = deps;
    this.#log = deps.log.child({ controller: definition.name });
    this.#workers = Math.max(1, definition.workers ?? deps.defaultWorkers);
    this.queue = new WorkQueue({
      backoff: deps.backoff,
      metrics: deps.metrics.workqueue(definition.name),
    });
    deps.metrics.maxConcurrentReconciles.set({ controller: this.name }, this.#workers);
    deps.metrics.activeWorkers.set({ controller: this.name }, 0);

    const forKind = definition.for;
    this.#primary = deps.informers.reader(forKind);
    this.#readers.set(
      gvkString(forKind.resource),
      this.#primary as unknown as ObjectReader<KubeObject>,
    );
    deps.informers.addHandlers(forKind, this.#enqueueSelf());

    for (const owned of definition.owns ?? []) {
      const scope: InformerScope = owned.labelSelector
        ? { labelSelector: owned.labelSelector }
        : {};
      this.#readers.set(gvkString(owned.kind.resource), deps.informers.reader(owned.kind, scope));
      deps.informers.addHandlers(owned.kind, this.#enqueueOwner(), scope);
    }
    for (const watched of definition.watches ?? []) {
      const scope: InformerScope = watched.labelSelector
        ? { labelSelector: watched.labelSelector }
        : {};
      this.#readers.set(
        gvkString(watched.kind.resource),
        deps.informers.reader(watched.kind, scope),
      );
      deps.informers.addHandlers(watched.kind, this.#enqueueMapped(watched), scope);
    }
  }

  /** Starts the workers (the manager calls this once this replica leads and caches synced). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#log.info({ workers: this.#workers }, 'Started the controller');
    for (let i = 0; i < this.#workers; i++) this.#running.push(this.#worker());
  }

  /** Stops taking keys at once and aborts the signal of in-flight reconciles. */
  stopNow(): void {
    this.queue.shutDown();
    this.#abort.abort(new Error('The controller is stopping'));
  }

  /**
   * Stops taking keys and waits up to `timeoutMs` for in-flight reconciles to finish. Returns
   * false if some were still running at the deadline (their signal is then aborted).
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const drained = this.queue.drain();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      drained.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (!finished) this.#abort.abort(new Error('Shutdown timed out'));
    else await Promise.all(this.#running);
    return finished;
  }

  #enqueueSelf(): InformerHandlers<T> {
    const add = (obj: KubeObject) => this.queue.add(keyStringOf(obj));
    return {
      onAdd: add,
      onUpdate: (_old, obj) => add(obj),
      onDelete: add,
      onInvalid: (invalid) => add(invalid.raw),
    };
  }

  #enqueueOwner(): InformerHandlers<KubeObject> {
    const owner = this.#definition.for.resource;
    const add = (obj: KubeObject) => {
      const key = controllerOwnerKey(obj, owner);
      if (key) this.queue.add(keyString(key));
    };
    return {
      onAdd: add,
      onUpdate: (old, obj) => {
        add(old);
        add(obj);
      },
      onDelete: add,
      onInvalid: (invalid) => add(invalid.raw),
    };
  }

  #enqueueMapped(watched: WatchedKind): InformerHandlers<KubeObject> {
    const add = (obj: KubeObject) => {
      for (const key of watched.mapToKeys(obj)) this.queue.add(keyString(key));
    };
    return {
      onAdd: add,
      onUpdate: (old, obj) => {
        add(old);
        add(obj);
      },
      onDelete: add,
    };
  }

  #reader<U extends KubeObject>(kind: KindSpec<U>): ObjectReader<U> {
    const reader = this.#readers.get(gvkString(kind.resource));
    if (!reader) {
      throw new Error(
        `Controller ${this.name} reads ${kind.resource.kind} but neither owns nor watches it`,
      );
    }
    return reader as unknown as ObjectReader<U>;
  }

  async #worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Runs one reconcile of `key` and acts on its outcome. Exposed for tests. */
  async reconcileKey(key: string): Promise<void> {
    const objectKey = parseKey(key);
    const reconcileID = randomUUID();
    const log = this.#log.child({
      namespace: objectKey.namespace,
      name: objectKey.name,
      reconcileID,
    });
    const ctx: ReconcileContext<T> = {
      log,
      reconcileID,
      client: this.#deps.client,
      primary: this.#primary,
      reader: (kind) => this.#reader(kind),
      events: this.#deps.events,
      signal: this.#abort.signal,
      now: this.#deps.now ?? (() => new Date()),
    };
    const m = this.#deps.metrics;
    const labels = { controller: this.name };
    m.activeWorkers.inc(labels);
    const endTimer = m.reconcileTime.startTimer(labels);
    try {
      const result = await this.#definition.reconcile(objectKey, ctx);
      this.queue.forget(key);
      if (result.kind === 'requeueAfter') {
        this.queue.addAfter(key, result.ms);
        m.reconcileTotal.inc({ ...labels, result: 'requeue_after' });
        log.debug({ requeueAfterMs: result.ms }, 'Reconciled; requeued');
      } else {
        m.reconcileTotal.inc({ ...labels, result: 'success' });
        log.debug('Reconciled');
      }
    } catch (error) {
      m.reconcileTotal.inc({ ...labels, result: 'error' });
      m.reconcileErrors.inc(labels);
      if (isTerminalError(error)) {
        this.queue.forget(key);
        m.terminalReconcileErrors.inc(labels);
        log.warn({ err: error }, 'Reconcile failed terminally; waiting for the object to change');
      } else {
        this.queue.addRateLimited(key);
        log.error(
          { err: error, retries: this.queue.numRequeues(key) },
          'Reconcile failed; will retry',
        );
      }
    } finally {
      endTimer();
      m.activeWorkers.dec(labels);
    }
  }
}
