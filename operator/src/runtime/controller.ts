/**
 * How a controller is declared, and the loop that runs it.
 *
 * A controller names the kind it reconciles (`for`), the kinds it creates (`owns`: their events
 * are mapped to the owner through the controller ownerReference, and they are indexed by owner
 * UID so `ctx.childrenOf` never scans the cache) and any other kinds whose changes matter
 * (`watches`, with a mapping to keys that may read the caches; `watchesPodsOf` follows the pods
 * of the controller's Jobs and Deployments through the standard labels). Informer callbacks
 * only enqueue keys; a worker takes a key, reads the world from the caches and reconciles.
 *
 * Before `reconcile` runs, the runner does what every controller needs, in this order:
 * 1. An object being deleted: run the controller's finalizer (if it holds one) and release it —
 *    also for an object that no longer parses, so a bad edit can never make an object
 *    undeletable.
 * 2. An object in a refused namespace (`namespace-policy.ts`: kube-system and the install's
 *    list): `Stalled=True`/`NamespaceRefused`, a Warning event, no finalizer, no reconcile, no
 *    retry. `ctx.apply` and `ctx.delete` refuse a child in such a namespace too.
 * 3. An object that fails its schema: `Stalled=True`/`InvalidSpec` with the parse error, a
 *    Warning event, and no retry until the object changes.
 * 4. The finalizer added or removed as the object wants it.
 * Then `reconcile(obj, ctx)` gets the parsed object; it is level-based and idempotent.
 *
 * Outcomes, as in controller-runtime:
 * - `done()`: success; the key's backoff is reset.
 * - `requeueAfter(ms)`: success, look again later (polling an external system).
 * - throw `TerminalError`, or an API error with HTTP 422: the spec cannot work; no retry until
 *   the object changes, which enqueues it again through the informer.
 * - throw anything else: transient; retried with per-key exponential backoff.
 * A failed reconcile also records a Warning event on the object (deduplicated, sent in the
 * background), with the error's `reason` when it has one; optimistic-concurrency conflicts
 * (409) are not reported, nor a terminal failure the object's `Stalled` condition already
 * records for its generation (the reconcile its own status write triggered).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { OperatorMetrics } from '../observability/metrics.js';
import type { PermissionRule } from '../rbac/permissions.js';
import {
  type Applicable,
  applyChild,
  ChildConflictError,
  deleteChild,
  fieldManagerFor,
  patchStatusIfChanged,
  statusEqual,
  takeoverRefusal,
} from './apply.js';
import type { BackoffPolicy } from './backoff.js';
import type { ObjectReader } from './cache.js';
import { type Condition, findCondition, setKstatus } from './conditions.js';
import type { EventRecorder } from './events.js';
import { ExpiringMap } from './expiring-map.js';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizers.js';
import type { InformerHandlers } from './informer.js';
import type { InformerFactory, InformerScope } from './informer-factory.js';
import {
  isApiError,
  isConflict,
  isInvalid,
  isNotFound,
  type KubeClient,
  withContext,
} from './kube-client.js';
import { managedBySelector, ownerKeyFromLabels } from './labels.js';
import { NAMESPACE_REFUSED_REASON, namespaceRefusal } from './namespace-policy.js';
import { keyString, keyStringOf, type ObjectKey, parseKey } from './object-key.js';
import { controllerOwnerKey, controllerOwnerUid } from './owners.js';
import { builtin, builtinKind, gvkString, type KindSpec, type KubeObject } from './resource.js';
import { WorkQueue } from './workqueue.js';

export type Result = { kind: 'done' } | { kind: 'requeueAfter'; ms: number };

export const done = (): Result => ({ kind: 'done' });
export const requeueAfter = (ms: number): Result => ({ kind: 'requeueAfter', ms });

/** The index of owned children by the UID of their controller owner. */
export const OWNER_UID_INDEX = 'lathe.dev/controller-owner-uid';

/**
 * An error that retrying cannot fix (invalid spec). The controller should have written
 * `Stalled=True` before throwing it. `reason` (CamelCase) becomes the Warning event's reason.
 */
export class TerminalError extends Error {
  readonly reason: string;

  constructor(message: string, options?: ErrorOptions & { reason?: string }) {
    super(message, options);
    this.name = 'TerminalError';
    this.reason = options?.reason ?? 'ReconcileFailed';
  }
}

/** Whether retrying cannot help: a `TerminalError`, or an API 422 anywhere in the cause chain. */
export function isTerminalError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 8; depth++) {
    if (e instanceof TerminalError || isInvalid(e)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Read access to the caches of the kinds a controller declared. */
export interface CacheReaders {
  reader<U extends KubeObject>(kind: KindSpec<U>): ObjectReader<U>;
  /**
   * The objects of `kind` in `namespace` whose field index `index` (declared with
   * `indexField`) has `value`: controller-runtime's `MatchingFields`, without a scan.
   */
  byField<U extends KubeObject>(
    kind: KindSpec<U>,
    index: string,
    namespace: string,
    value: string,
  ): U[];
}

/**
 * A field index (controller-runtime's `IndexField`): `values(obj)` are the values `obj` is
 * found under, within its namespace. Lookups go through `byField`.
 */
export interface FieldIndex {
  kind: KindSpec<KubeObject>;
  name: string;
  values(obj: KubeObject): string[];
}

/** Declares a field index on a kind the controller reconciles, owns or watches. */
export function indexField<U extends KubeObject>(
  kind: KindSpec<U>,
  name: string,
  values: (obj: U) => readonly (string | undefined)[],
): FieldIndex {
  return {
    kind: kind as unknown as KindSpec<KubeObject>,
    name,
    values: (obj) =>
      (values as (o: KubeObject) => readonly (string | undefined)[])(obj).filter(
        (v): v is string => typeof v === 'string' && v !== '',
      ),
  };
}

const fieldIndexName = (name: string) => `field:${name}`;
const fieldIndexValue = (namespace: string | undefined, value: string) =>
  `${namespace ?? ''}/${value}`;

/** What a reconcile gets besides the object. */
export interface ReconcileContext<T extends KubeObject> extends CacheReaders {
  /** Child logger carrying controller, namespace, name and reconcileID. */
  log: Logger;
  reconcileID: string;
  client: KubeClient;
  /** The cache of the reconciled kind (read-only, deep-frozen objects). */
  primary: ObjectReader<T>;
  events: EventRecorder;
  /** Aborted when the replica loses leadership or shutdown gives up waiting. */
  signal: AbortSignal;
  now(): Date;
  /** This controller's field manager, `lathe-<name>`. */
  fieldManager: string;
  /**
   * Server-side applies a child (or any object) under this controller's field manager. The
   * desired object has the kind's type (`kinds.job` → `JobObject`), so a wrong field does not
   * compile.
   */
  apply<U extends KubeObject>(
    kind: KindSpec<U>,
    desired: U & Applicable,
    options?: { recreateOnImmutable?: boolean },
  ): Promise<U>;
  /** The objects of an owned kind whose controller owner is `owner`, from the owner-UID index. */
  childrenOf<U extends KubeObject>(kind: KindSpec<U>, owner: KubeObject): U[];
  /** Deletes the children of `owner` of an owned kind whose names are not in `keep`. */
  prune<U extends KubeObject>(
    kind: KindSpec<U>,
    owner: KubeObject,
    keep: Iterable<string>,
  ): Promise<string[]>;
  /** Deletes one object (uid precondition; already gone is fine). */
  delete<U extends KubeObject>(kind: KindSpec<U>, obj: U): Promise<void>;
  /** Writes the reconciled object's status if it changed (see `patchStatusIfChanged`). */
  patchStatus(current: T, status: Record<string, unknown>): Promise<boolean>;
}

export interface OwnedKind {
  kind: KindSpec<KubeObject>;
  /** Narrow the informer; defaults to `app.kubernetes.io/managed-by=lathe`. */
  labelSelector: string;
  /** The controller deletes children of this kind (pruning, replacing): RBAC grants `delete`. */
  deletes: boolean;
}

export interface WatchedKind {
  kind: KindSpec<KubeObject>;
  labelSelector?: string;
  /** Field indexes the watch brings with it (the pods of a Job, of an InferenceService). */
  indexes?: FieldIndex[];
  /** Keys of the reconciled kind to enqueue when an object of this kind changes. */
  mapToKeys(obj: KubeObject, caches: CacheReaders): ObjectKey[];
}

/** A finalizer for state outside the cluster (object-store data). */
export interface FinalizerSpec<T extends KubeObject> {
  /** e.g. `lathe.dev/artifact-cleanup`. */
  name: string;
  /** Whether this object needs the finalizer (added when true, removed when false). */
  wanted(obj: T): boolean;
  /**
   * Cleans up before the object goes. Gets the object as the API server has it, which may
   * not parse (an invalid object must stay deletable): read its fields defensively.
   */
  finalize(obj: KubeObject, ctx: ReconcileContext<T>): Promise<void>;
}

export interface ControllerDefinition<T extends KubeObject> {
  /** Short, unique, used in metrics, logs and the field manager: `modelversion`. */
  name: string;
  for: KindSpec<T>;
  owns?: OwnedKind[];
  watches?: WatchedKind[];
  finalizer?: FinalizerSpec<T>;
  /** Field indexes on the kinds above, for lookups by `byField` instead of namespace scans. */
  indexes?: FieldIndex[];
  /**
   * API permissions beyond what `for`, `owns`, `watches` and `finalizer` imply (those are
   * derived by `rbac/derive.ts`); the chart's ClusterRole is generated from both.
   */
  permissions?: PermissionRule[];
  /** Workers; defaults to the operator's `LATHE_WORKERS`. */
  workers?: number;
  reconcile(obj: T, ctx: ReconcileContext<T>): Promise<Result>;
}

/** Declares a child kind. Children are labelled `app.kubernetes.io/managed-by=lathe`. */
export function owns<U extends KubeObject>(
  kind: KindSpec<U>,
  options: { deletes?: boolean; labelSelector?: string } = {},
): OwnedKind {
  return {
    kind: kind as unknown as KindSpec<KubeObject>,
    labelSelector: options.labelSelector ?? managedBySelector,
    deletes: options.deletes ?? false,
  };
}

/** Declares a watched kind with a typed mapping to keys of the reconciled kind. */
export function watches<U extends KubeObject>(
  kind: KindSpec<U>,
  mapToKeys: (obj: U, caches: CacheReaders) => ObjectKey[],
  labelSelector?: string,
): WatchedKind {
  return {
    kind: kind as unknown as KindSpec<KubeObject>,
    mapToKeys: mapToKeys as (obj: KubeObject, caches: CacheReaders) => ObjectKey[],
    ...(labelSelector ? { labelSelector } : {}),
  };
}

/**
 * Follows the pods of the reconciled kind's Jobs and Deployments: a pod's controller owner is
 * its Job or ReplicaSet, so pods are mapped to the Lathe object by the `lathe.dev/<kind>` label
 * every pod template carries (`labels.ts`).
 */
export function watchesPodsOf(ownerKind: string): WatchedKind {
  const pod = builtinKind(builtin.pod);
  return {
    ...watches(
      pod,
      (p) => {
        const key = ownerKeyFromLabels(p, ownerKind);
        return key ? [key] : [];
      },
      managedBySelector,
    ),
    indexes: [
      indexField(pod, POD_JOB_INDEX, (p) => [p.metadata?.labels?.[JOB_NAME_LABEL]]),
      indexField(pod, podOwnerIndex(ownerKind), (p) => [ownerKeyFromLabels(p, ownerKind)?.name]),
    ],
  };
}

/** The label the Job controller puts on its pods (`batch.kubernetes.io/job-name` from 1.27 on). */
const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
/** Field index of pods by the name of their Job (declared by `watchesPodsOf`). */
export const POD_JOB_INDEX = 'pod.job-name';
/** Field index of pods by the name of their Lathe owner of `kind` (declared by `watchesPodsOf`). */
export const podOwnerIndex = (kind: string) => `pod.owner.${kind.toLowerCase()}`;

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
  /** Namespaces the controller never acts in; kube-system is refused whatever this says. */
  refusedNamespaces?: readonly string[];
}

/**
 * Status writes a controller remembers (see `#patchStatus`): an entry lives until the cache shows
 * a newer version of the object (normally the write's own watch event, within milliseconds), and
 * at most this long or this many — a bound, not the usual case.
 */
const maxRememberedStatusWrites = 10_000;
const statusWriteMemoryMs = 5 * 60_000;

/** Every `result` label value controller-runtime reports, so dashboards show 0, not "no data". */
const reconcileResults = ['success', 'error', 'requeue', 'requeue_after'] as const;

/** Runs one controller: wires its informers to its queue, and its workers to `reconcile`. */
export class ControllerRunner<T extends KubeObject> {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly fieldManager: string;
  readonly #definition: ControllerDefinition<T>;
  readonly #deps: ControllerDeps;
  readonly #log: Logger;
  readonly #workers: number;
  readonly #readers = new Map<string, ObjectReader<KubeObject>>();
  readonly #owned = new Set<string>();
  readonly #primary: ObjectReader<T>;
  /**
   * Per object UID: the status last written, the resourceVersion it was computed from, and when
   * (ms). Only writes whose echo the cache has not shown yet stay here.
   */
  readonly #lastStatusWrites = new ExpiringMap<
    string,
    { basedOn: string | undefined; status: Record<string, unknown> }
  >({ maxEntries: maxRememberedStatusWrites, maxAgeMs: statusWriteMemoryMs });
  #abort = new AbortController();
  #running: Promise<void>[] = [];
  #started = false;

  constructor(definition: ControllerDefinition<T>, deps: ControllerDeps) {
    this.name = definition.name;
    this.fieldManager = fieldManagerFor(definition.name);
    this.#definition = definition;
    this.#deps = deps;
    this.#log = deps.log.child({ controller: definition.name });
    this.#workers = Math.max(1, definition.workers ?? deps.defaultWorkers);
    this.queue = new WorkQueue({
      backoff: deps.backoff,
      metrics: deps.metrics.workqueue(definition.name),
    });
    const labels = { controller: this.name };
    deps.metrics.maxConcurrentReconciles.set(labels, this.#workers);
    deps.metrics.activeWorkers.set(labels, 0);
    for (const result of reconcileResults)
      deps.metrics.reconcileTotal.inc({ ...labels, result }, 0);
    deps.metrics.reconcileErrors.inc(labels, 0);
    deps.metrics.terminalReconcileErrors.inc(labels, 0);

    const forKind = definition.for;
    this.#primary = deps.informers.reader(forKind);
    this.#readers.set(
      gvkString(forKind.resource),
      this.#primary as unknown as ObjectReader<KubeObject>,
    );
    deps.informers.addHandlers(forKind, this.#enqueueSelf());

    for (const owned of definition.owns ?? []) {
      const scope: InformerScope = { labelSelector: owned.labelSelector };
      deps.informers.addIndexer(owned.kind, OWNER_UID_INDEX, ownerUidIndexValues, scope);
      this.#readers.set(gvkString(owned.kind.resource), deps.informers.reader(owned.kind, scope));
      this.#owned.add(gvkString(owned.kind.resource));
      deps.informers.addHandlers(owned.kind, this.#enqueueOwner(), scope);
    }
    const scopes = new Map<string, InformerScope>([[gvkString(forKind.resource), {}]]);
    for (const owned of definition.owns ?? [])
      scopes.set(gvkString(owned.kind.resource), { labelSelector: owned.labelSelector });
    for (const watched of definition.watches ?? []) {
      const scope: InformerScope = watched.labelSelector
        ? { labelSelector: watched.labelSelector }
        : {};
      const id = gvkString(watched.kind.resource);
      if (!this.#readers.has(id)) {
        this.#readers.set(id, deps.informers.reader(watched.kind, scope));
        scopes.set(id, scope);
      }
      deps.informers.addHandlers(watched.kind, this.#enqueueMapped(watched), scope);
    }
    const indexes = [
      ...(definition.indexes ?? []),
      ...(definition.watches ?? []).flatMap((w) => w.indexes ?? []),
    ];
    for (const index of indexes) {
      const scope = scopes.get(gvkString(index.kind.resource));
      if (!scope) {
        throw new Error(
          `Controller ${this.name} indexes ${index.kind.resource.kind} but neither reconciles, owns nor watches it`,
        );
      }
      deps.informers.addIndexer(
        index.kind,
        fieldIndexName(index.name),
        (obj) => index.values(obj).map((v) => fieldIndexValue(obj.metadata?.namespace, v)),
        scope,
      );
    }
  }

  #byField<U extends KubeObject>(
    kind: KindSpec<U>,
    index: string,
    namespace: string,
    value: string,
  ): U[] {
    return this.#reader(kind).byIndex(fieldIndexName(index), fieldIndexValue(namespace, value));
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
      onUpdate: (_old, obj) => {
        this.#forgetStatusWrite(obj, false);
        add(obj);
      },
      onDelete: (obj) => {
        this.#forgetStatusWrite(obj, true);
        add(obj);
      },
      onInvalid: (invalid) => add(invalid.raw),
    };
  }

  /** Drops the remembered status write of `obj` once the cache holds a newer version of it. */
  #forgetStatusWrite(obj: KubeObject, deleted: boolean): void {
    const uid = obj.metadata?.uid ?? keyStringOf(obj);
    const last = this.#lastStatusWrites.get(uid);
    if (last && (deleted || last.basedOn !== obj.metadata?.resourceVersion))
      this.#lastStatusWrites.delete(uid);
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
    const caches: CacheReaders = {
      reader: (kind) => this.#reader(kind),
      byField: (kind, index, namespace, value) => this.#byField(kind, index, namespace, value),
    };
    const add = (obj: KubeObject) => {
      for (const key of watched.mapToKeys(obj, caches)) this.queue.add(keyString(key));
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

  #childrenOf<U extends KubeObject>(kind: KindSpec<U>, owner: KubeObject): U[] {
    if (!this.#owned.has(gvkString(kind.resource))) {
      throw new Error(
        `Controller ${this.name} lists ${kind.resource.kind} children but does not own them`,
      );
    }
    const uid = owner.metadata?.uid;
    return uid ? this.#reader(kind).byIndex(OWNER_UID_INDEX, uid) : [];
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

  #context(objectKey: ObjectKey): ReconcileContext<T> {
    const reconcileID = randomUUID();
    const client = this.#deps.client;
    const fieldManager = this.fieldManager;
    return {
      log: this.#log.child({
        namespace: objectKey.namespace,
        name: objectKey.name,
        reconcileID,
      }),
      reconcileID,
      client,
      primary: this.#primary,
      reader: (kind) => this.#reader(kind),
      byField: (kind, index, namespace, value) => this.#byField(kind, index, namespace, value),
      events: this.#deps.events,
      signal: this.#abort.signal,
      now: this.#deps.now ?? (() => new Date()),
      fieldManager,
      apply: async (kind, desired, options) => {
        this.#refuseNamespace(kind.resource.kind, desired);
        await this.#refuseTakeover(kind, desired);
        return applyChild(client, kind.resource, desired, { fieldManager, ...options });
      },
      childrenOf: (kind, owner) => this.#childrenOf(kind, owner),
      prune: async (kind, owner, keep) => {
        const wanted = new Set(keep);
        const deleted: string[] = [];
        for (const child of this.#childrenOf(kind, owner)) {
          const name = child.metadata?.name ?? '';
          if (wanted.has(name)) continue;
          this.#refuseNamespace(kind.resource.kind, child);
          await deleteChild(client, kind.resource, child);
          deleted.push(name);
        }
        return deleted;
      },
      delete: async (kind, obj) => {
        this.#refuseNamespace(kind.resource.kind, obj);
        await deleteChild(client, kind.resource, obj);
      },
      patchStatus: (current, status) => this.#patchStatus(current, status),
    };
  }

  /** Throws a terminal `NamespaceRefused` error when `obj` is in a namespace Lathe never acts in. */
  #refuseNamespace(kind: string, obj: { metadata?: { namespace?: string; name?: string } }): void {
    const why = namespaceRefusal(obj.metadata?.namespace, this.#deps.refusedNamespaces ?? []);
    if (why) {
      throw new TerminalError(`Refused to write ${kind} ${obj.metadata?.name ?? ''}: ${why}`, {
        reason: NAMESPACE_REFUSED_REASON,
      });
    }
  }

  /**
   * Throws `ChildConflictError` when an object of the desired child's name exists and is not
   * Lathe's. The cache answers for kinds this controller reads (an owned kind's cache holds only
   * Lathe's objects, so a miss there is asked of the API server: once per child, at creation);
   * other kinds are always asked.
   */
  async #refuseTakeover<U extends KubeObject>(
    kind: KindSpec<U>,
    desired: Applicable,
  ): Promise<void> {
    const namespace = desired.metadata?.namespace;
    const name = desired.metadata?.name ?? '';
    let existing: KubeObject | undefined = this.#readers
      .get(gvkString(kind.resource))
      ?.get(namespace ?? '', name);
    if (!existing) {
      try {
        existing = await this.#deps.client.get(kind.resource, namespace, name);
      } catch (error) {
        if (isNotFound(error)) return;
        throw withContext(error, `Failed to read ${kind.resource.kind} ${namespace ?? ''}/${name}`);
      }
    }
    const why = takeoverRefusal(existing, desired);
    if (why) throw new ChildConflictError(kind.resource.kind, namespace, name, why);
  }

  /**
   * Writes status when it changed, and not again while the cache still shows the object as it
   * was before this controller's last write: a reconcile that runs before the cache catches up
   * computes the same status from the stale copy and would otherwise write it twice.
   */
  async #patchStatus(current: T, status: Record<string, unknown>): Promise<boolean> {
    const uid = current.metadata?.uid ?? keyStringOf(current);
    const cachedVersion = current.metadata?.resourceVersion;
    const last = this.#lastStatusWrites.get(uid);
    if (last && last.basedOn === cachedVersion && statusEqual(last.status, status)) return false;
    if (last && last.basedOn !== cachedVersion) this.#lastStatusWrites.delete(uid);
    const written = await patchStatusIfChanged(
      this.#deps.client,
      this.#definition.for.resource,
      current,
      status,
      this.fieldManager,
    );
    if (written) this.#lastStatusWrites.set(uid, { basedOn: cachedVersion, status });
    return written;
  }

  /** How many status writes are remembered now (see `#patchStatus`). Exposed for tests. */
  get rememberedStatusWrites(): number {
    return this.#lastStatusWrites.size;
  }

  /** Runs one reconcile of `key` and acts on its outcome. Exposed for tests. */
  async reconcileKey(key: string): Promise<void> {
    const objectKey = parseKey(key);
    const ctx = this.#context(objectKey);
    const m = this.#deps.metrics;
    const labels = { controller: this.name };
    m.activeWorkers.inc(labels);
    const endTimer = m.reconcileTime.startTimer(labels);
    let subject: KubeObject | undefined;
    try {
      const cached = this.#primary.get(objectKey.namespace, objectKey.name);
      const invalid = this.#primary.getInvalid(objectKey.namespace, objectKey.name);
      subject = cached ?? (invalid && !invalid.deleted ? invalid.raw : undefined);
      const result = subject ? await this.#reconcileObject(cached, subject, ctx) : done();
      this.queue.forget(key);
      if (result.kind === 'requeueAfter') {
        this.queue.addAfter(key, result.ms);
        m.reconcileTotal.inc({ ...labels, result: 'requeue_after' });
        ctx.log.debug({ requeueAfterMs: result.ms }, 'Reconciled; requeued');
      } else {
        m.reconcileTotal.inc({ ...labels, result: 'success' });
        ctx.log.debug('Reconciled');
      }
    } catch (error) {
      m.reconcileTotal.inc({ ...labels, result: 'error' });
      m.reconcileErrors.inc(labels);
      const terminal = isTerminalError(error);
      if (terminal) {
        this.queue.forget(key);
        m.terminalReconcileErrors.inc(labels);
        ctx.log.warn(
          { err: error },
          'Reconcile failed terminally; waiting for the object to change',
        );
      } else {
        this.queue.addRateLimited(key);
        ctx.log.error(
          { err: error, retries: this.queue.numRequeues(key) },
          'Reconcile failed; will retry',
        );
      }
      const reason = reasonOf(error, terminal);
      const message = (error as Error)?.message ?? String(error);
      if (
        subject &&
        !isConflict(error) &&
        !(terminal && alreadyStalledWith(subject, reason, message))
      ) {
        // Sent in the background, as controller-runtime's recorder does: the worker moves on
        // to the next key instead of waiting for a courtesy write (the manager flushes events
        // before it exits; `record` never rejects).
        void ctx.events.record(subject, 'Warning', reason, 'Reconcile', message);
      }
    } finally {
      endTimer();
      m.activeWorkers.dec(labels);
    }
  }

  /** Deletion, invalid spec and finalizer bookkeeping, then the controller's reconcile. */
  async #reconcileObject(
    parsed: T | undefined,
    subject: KubeObject,
    ctx: ReconcileContext<T>,
  ): Promise<Result> {
    const finalizer = this.#definition.finalizer;
    const resource = this.#definition.for.resource;
    const write = { fieldManager: this.fieldManager };
    if (subject.metadata?.deletionTimestamp) {
      if (finalizer && hasFinalizer(subject, finalizer.name)) {
        await finalizer.finalize(subject, ctx);
        await removeFinalizer(ctx.client, resource, subject, finalizer.name, write);
        ctx.log.info({ finalizer: finalizer.name }, `Finalized the ${resource.kind}`);
      }
      return done();
    }
    const refusal = namespaceRefusal(
      subject.metadata?.namespace,
      this.#deps.refusedNamespaces ?? [],
    );
    if (refusal) {
      await this.#reportStalled(subject, NAMESPACE_REFUSED_REASON, refusal, ctx);
      throw new TerminalError(refusal, { reason: NAMESPACE_REFUSED_REASON });
    }
    if (!parsed) {
      const invalid = this.#primary.getInvalid(
        subject.metadata?.namespace ?? '',
        subject.metadata?.name ?? '',
      );
      const message = (invalid?.error.message ?? 'the object does not match its schema').slice(
        0,
        1000,
      );
      await this.#reportStalled(subject, 'InvalidSpec', message, ctx);
      throw new TerminalError(`The ${resource.kind} is invalid: ${message}`, {
        cause: invalid?.error,
        reason: 'InvalidSpec',
      });
    }
    let obj = parsed;
    if (finalizer) {
      obj = finalizer.wanted(obj)
        ? await addFinalizer(ctx.client, resource, obj, finalizer.name, write)
        : await removeFinalizer(ctx.client, resource, obj, finalizer.name, write);
    }
    return await this.#definition.reconcile(obj, ctx);
  }

  /** Writes `Stalled=True`/`Ready=False` with `reason` before any controller code ran. */
  async #reportStalled(
    raw: KubeObject,
    reason: string,
    message: string,
    ctx: ReconcileContext<T>,
  ): Promise<void> {
    const generation = raw.metadata?.generation;
    const previous = (raw.status as { conditions?: Condition[] } | undefined)?.conditions;
    const conditions = setKstatus(
      previous,
      { state: 'stalled', reason, message },
      generation,
      ctx.now(),
    );
    await patchStatusIfChanged(
      ctx.client,
      this.#definition.for.resource,
      raw,
      {
        ...((raw.status as Record<string, unknown>) ?? {}),
        observedGeneration: generation,
        conditions,
      },
      this.fieldManager,
    );
  }
}

function ownerUidIndexValues(obj: KubeObject): string[] {
  const uid = controllerOwnerUid(obj);
  return uid ? [uid] : [];
}

/**
 * Whether the object's status already records this terminal failure: `Stalled=True` with the
 * same reason and message, observed at its current generation. The reconcile that the failure's
 * own status write triggers meets the same failure; its Warning would only repeat the first
 * one (an API write per object for nothing), so it is not sent. A spec change, or a different
 * failure, is reported again.
 */
function alreadyStalledWith(obj: KubeObject, reason: string, message: string): boolean {
  const conditions = (obj.status as { conditions?: Condition[] } | undefined)?.conditions;
  const stalled = findCondition(conditions, 'Stalled');
  return (
    stalled?.status === 'True' &&
    stalled.reason === reason &&
    stalled.message === message &&
    stalled.observedGeneration === obj.metadata?.generation
  );
}

/** The reason of a failed reconcile: its Warning event's, and the kstatus conditions' (`steps.ts`). */
export function reasonOf(error: unknown, terminal: boolean): string {
  if (error instanceof TerminalError) return error.reason;
  const reason = (error as { reason?: unknown })?.reason;
  if (typeof reason === 'string' && /^[A-Z][A-Za-z0-9]*$/.test(reason) && !isApiError(error))
    return reason;
  return terminal ? 'ReconcileFailed' : 'ReconcileError';
}
