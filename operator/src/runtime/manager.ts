/**
 * The manager ties the runtime together, in controller-runtime's order:
 *
 * 1. Informers start on every replica, so a standby has warm caches and `/readyz` reflects
 *    cache sync, not leadership.
 * 2. With leader election on, the manager campaigns; controllers' workers start only when this
 *    replica leads and every cache has synced. Without it, they start once caches sync.
 * 3. Losing the lease stops every controller at once (no new key is taken, in-flight
 *    reconciles see their signal aborted) and calls `onLeadershipLost`; the process then exits
 *    non-zero so Kubernetes restarts it as a fresh candidate.
 * 4. `stop()` (SIGTERM) marks the manager not ready, lets in-flight reconciles finish within a
 *    bound, stops the informers and releases the lease so the standby takes over at once.
 */
import type { Logger } from 'pino';
import type { OperatorMetrics } from '../observability/metrics.js';
import type { BackoffPolicy } from './backoff.js';
import { defaultCacheTransforms } from './cache-transforms.js';
import { type ControllerDefinition, ControllerRunner } from './controller.js';
import { EventRecorder } from './events.js';
import type { CacheTransform } from './informer.js';
import { InformerFactory } from './informer-factory.js';
import type { KubeClient } from './kube-client.js';
import { LeaderElector } from './leader-election.js';
import type { KubeObject } from './resource.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface ManagerOptions {
  client: KubeClient;
  log: Logger;
  metrics: OperatorMetrics;
  /** This replica's name (pod name), used as lease holder and event reporting instance. */
  identity: string;
  /** Namespaces to watch; empty: all. */
  namespaces: readonly string[];
  /**
   * Namespaces no controller acts in (`namespace-policy.ts`); kube-system is refused whatever
   * this says.
   */
  refusedNamespaces?: readonly string[];
  defaultWorkers: number;
  /** Undefined: no leader election (a single replica, or tests). */
  leaderElection?: LeaderElectionOptions;
  /** Called when this replica loses the lease, after controllers were stopped. */
  onLeadershipLost?: () => void;
  queueBackoff?: BackoffPolicy;
  informerBackoff?: BackoffPolicy;
  resyncMs?: number;
  watchdogMs?: number;
  watchTimeoutSeconds?: number;
  /** How long `stop()` waits for in-flight reconciles. Default 25 s. */
  shutdownTimeoutMs?: number;
  /** Events dedupe window. Default 10 minutes. */
  eventDedupeWindowMs?: number;
  /** Cache transforms by `gvkString`; default `defaultCacheTransforms` (cache-transforms.ts). */
  cacheTransforms?: Readonly<Record<string, CacheTransform>>;
}

export class Manager {
  readonly informers: InformerFactory;
  readonly events: EventRecorder;
  readonly #o: ManagerOptions;
  readonly #controllers: ControllerRunner<KubeObject>[] = [];
  #elector: LeaderElector | undefined;
  #leading = false;
  #controllersStarted = false;
  #started = false;
  #stopping = false;
  #syncPoll: NodeJS.Timeout | undefined;

  constructor(options: ManagerOptions) {
    this.#o = options;
    this.informers = new InformerFactory({
      client: options.client,
      log: options.log,
      namespaces: options.namespaces,
      resyncMs: options.resyncMs,
      watchdogMs: options.watchdogMs,
      watchTimeoutSeconds: options.watchTimeoutSeconds,
      backoff: options.informerBackoff,
      metricsFor: (kind, namespace) => options.metrics.informer(kind, namespace),
      transforms: options.cacheTransforms ?? defaultCacheTransforms,
    });
    this.events = new EventRecorder({
      client: options.client,
      log: options.log,
      controller: 'lathe.dev/operator',
      instance: options.identity,
      dedupeWindowMs: options.eventDedupeWindowMs,
    });
  }

  /** Registers a controller; must be called before `start()`. */
  add(definition: ControllerDefinition<KubeObject>): ControllerRunner<KubeObject> {
    if (this.#started)
      throw new Error(`Controller ${definition.name} was added after the manager started`);
    if (this.#controllers.some((c) => c.name === definition.name)) {
      throw new Error(`Two controllers are named ${definition.name}`);
    }
    const runner = new ControllerRunner(definition, {
      informers: this.informers,
      client: this.#o.client,
      events: this.events,
      log: this.#o.log,
      metrics: this.#o.metrics,
      defaultWorkers: this.#o.defaultWorkers,
      refusedNamespaces: this.#o.refusedNamespaces,
      backoff: this.#o.queueBackoff,
    });
    this.#controllers.push(runner);
    return runner;
  }

  get controllers(): readonly ControllerRunner<KubeObject>[] {
    return this.#controllers;
  }

  /** Starts informers and (through leader election, if on) controllers. Returns at once. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.informers.start();
    this.#o.log.info(
      {
        controllers: this.#controllers.map((c) => c.name),
        informers: this.informers.size,
        namespaces: this.#o.namespaces,
        refusedNamespaces: this.#o.refusedNamespaces,
      },
      'Started the manager',
    );
    const le = this.#o.leaderElection;
    if (!le) {
      this.#leading = true;
      this.#startControllersWhenSynced();
      return;
    }
    this.#elector = new LeaderElector({
      client: this.#o.client,
      log: this.#o.log,
      namespace: le.namespace,
      name: le.name,
      identity: this.#o.identity,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      onStatus: (leading) => this.#o.metrics.leaderStatus.set({ name: le.name }, leading ? 1 : 0),
      onStartedLeading: () => {
        this.#leading = true;
        this.#startControllersWhenSynced();
      },
      onStoppedLeading: () => {
        this.#leading = false;
        this.#stopControllersNow();
        this.#o.onLeadershipLost?.();
      },
    });
    this.#elector.start();
  }

  /** Why the manager is not ready, or undefined when it is. */
  notReadyReason(): string | undefined {
    if (this.#stopping) return 'shutting down';
    if (!this.#started) return 'not started';
    const unsynced = this.informers.unsynced();
    if (unsynced.length > 0) return `informers not synced: ${unsynced.join(', ')}`;
    return undefined;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /**
   * Graceful stop: not ready, no new keys, wait (bounded) for in-flight reconciles, stop the
   * informers, release the lease. Returns whether every reconcile finished in time.
   */
  async stop(): Promise<boolean> {
    if (this.#stopping) return true;
    this.#stopping = true;
    if (this.#syncPoll) clearInterval(this.#syncPoll);
    const timeoutMs = this.#o.shutdownTimeoutMs ?? 25_000;
    this.#o.log.info({ timeoutMs }, 'Stopping the manager');
    const drained = await Promise.all(this.#controllers.map((c) => c.drain(timeoutMs)));
    const allDrained = drained.every(Boolean);
    if (!allDrained) this.#o.log.warn('Stopped with reconciles still in flight');
    // Warning events of failed reconciles are sent in the background.
    await this.events.flush();
    await this.informers.stop();
    await this.#elector?.release();
    this.#o.log.info('Stopped the manager');
    return allDrained;
  }

  #startControllersWhenSynced(): void {
    const tryStart = () => {
      if (this.#controllersStarted || this.#stopping || !this.#leading) return true;
      if (!this.informers.hasSynced()) return false;
      this.#controllersStarted = true;
      for (const controller of this.#controllers) controller.start();
      return true;
    };
    if (tryStart()) return;
    this.#syncPoll = setInterval(() => {
      if (tryStart() && this.#syncPoll) {
        clearInterval(this.#syncPoll);
        this.#syncPoll = undefined;
      }
    }, 100);
  }

  #stopControllersNow(): void {
    if (this.#syncPoll) clearInterval(this.#syncPoll);
    for (const controller of this.#controllers) controller.stopNow();
  }
}
