/**
 * The operator's Prometheus metrics, under controller-runtime's names and labels so existing
 * controller-runtime dashboards and alerts work unchanged, plus Lathe's informer metrics.
 *
 * Metrics live in a registry the manager owns (never prom-client's global one), so tests can
 * create as many managers as they like.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { InformerMetrics, RestartReason } from '../runtime/informer.js';
import type { WorkQueueMetrics } from '../runtime/workqueue.js';

/** controller-runtime's reconcile-time buckets. */
const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
  1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
/** client-go's workqueue buckets: 10 ns to 1000 s, by factors of 10. */
const workqueueBuckets = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000];

export type ReconcileResult = 'success' | 'requeue_after' | 'error';

export class OperatorMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalReconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly maxConcurrentReconciles: Gauge<'controller'>;
  readonly workqueueDepth: Gauge<'name' | 'controller'>;
  readonly workqueueAdds: Counter<'name' | 'controller'>;
  readonly workqueueRetries: Counter<'name' | 'controller'>;
  readonly workqueueQueueDuration: Histogram<'name' | 'controller'>;
  readonly workqueueWorkDuration: Histogram<'name' | 'controller'>;
  readonly leaderStatus: Gauge<'name'>;
  readonly informerRestarts: Counter<'kind' | 'namespace' | 'reason'>;
  readonly informerSynced: Gauge<'kind' | 'namespace'>;
  readonly informerObjects: Gauge<'kind' | 'namespace'>;

  constructor(registry = new Registry(), options: { processMetrics?: boolean } = {}) {
    this.registry = registry;
    const registers = [registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.terminalReconcileErrors = new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: reconcileBuckets,
      registers,
    });
    this.activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    });
    this.maxConcurrentReconciles = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    });
    this.workqueueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue',
      labelNames: ['name', 'controller'],
      registers,
    });
    this.workqueueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: ['name', 'controller'],
      registers,
    });
    this.workqueueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: ['name', 'controller'],
      registers,
    });
    this.workqueueQueueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name', 'controller'],
      buckets: workqueueBuckets,
      registers,
    });
    this.workqueueWorkDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['name', 'controller'],
      buckets: workqueueBuckets,
      registers,
    });
    this.leaderStatus = new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
      labelNames: ['name'],
      registers,
    });
    this.informerRestarts = new Counter({
      name: 'lathe_informer_restarts_total',
      help: 'Times an informer restarted its list/watch cycle, by reason (error, gone, stalled)',
      labelNames: ['kind', 'namespace', 'reason'],
      registers,
    });
    this.informerSynced = new Gauge({
      name: 'lathe_informer_synced',
      help: 'Whether an informer has completed its initial list (1) or not (0)',
      labelNames: ['kind', 'namespace'],
      registers,
    });
    this.informerObjects = new Gauge({
      name: 'lathe_informer_objects',
      help: 'Objects held in the informer caches (the operator memory scales with this)',
      labelNames: ['kind', 'namespace'],
      registers,
    });
  }

  /** Work-queue observations for one controller's queue. */
  workqueue(controller: string): WorkQueueMetrics {
    const labels = { name: controller, controller };
    this.workqueueDepth.set(labels, 0);
    return {
      added: () => this.workqueueAdds.inc(labels),
      depth: (depth) => this.workqueueDepth.set(labels, depth),
      retried: () => this.workqueueRetries.inc(labels),
      queued: (seconds) => this.workqueueQueueDuration.observe(labels, seconds),
      worked: (seconds) => this.workqueueWorkDuration.observe(labels, seconds),
    };
  }

  /** Informer observations for one informer. */
  informer(kind: string, namespace: string): InformerMetrics {
    this.informerSynced.set({ kind, namespace }, 0);
    this.informerObjects.inc({ kind, namespace }, 0);
    // Informers of one kind with different label selectors share labels: each adds its change.
    let held = 0;
    return {
      restarted: (reason: RestartReason) => this.informerRestarts.inc({ kind, namespace, reason }),
      synced: (synced) => this.informerSynced.set({ kind, namespace }, synced ? 1 : 0),
      objects: (count) => {
        this.informerObjects.inc({ kind, namespace }, count - held);
        held = count;
      },
    };
  }
}
