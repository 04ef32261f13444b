/**
 * The status of a TrainingJob, in pure parts: each step of the reconcile (`reconcile.ts`) asks
 * here for its conditions and its readiness, and the runner asks `trainingJobStatusFields` for
 * the fields — all from the facts the steps found (the Job and its pods, the trainer's result
 * and progress file, the ModelVersion registered for the TrainingJob), never from the previous
 * status, so a wiped status comes back the same on the next pass.
 *
 * The phase is derived for `kubectl get`: Pending (waiting for the dataset, a node, an image),
 * Running, Succeeded (the ModelVersion exists), Failed, Suspended (`spec.suspend` while the run
 * has not finished). A failed run is terminal (`Stalled`, `Failed=True`) with a reason a user
 * can act on.
 */

import type { ObjectStore } from '../../../../contract/object-store.js';
import type { TrainingProgress, TrainResult } from '../../../../contract/results.js';
import type {
  DistributedBackendName,
  TrainingJob,
  TrainingJobStatus,
} from '../../api/trainingjob.js';
import type { JobObject } from '../../runtime/builtin-kinds.js';
import type { ConditionInput } from '../../runtime/conditions.js';
import type { KubeObject } from '../../runtime/resource.js';
import type { Readiness } from '../../runtime/steps.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import type { JobRun } from '../shared/job-run.js';
import type { ObjectStoreConfig } from '../shared/object-store-access.js';

export type Task = 'classification' | 'regression';

/** The dataset version a run trains on, and its task (unknown only for a registered run whose Job is gone). */
export interface DatasetPin {
  version: string;
  task: Task | undefined;
}

export type DatasetResolution =
  | { ready: true; pin: DatasetPin }
  | { ready: false; reason: string; message: string; terminal: boolean };

export interface RunFailure {
  reason: string;
  message: string;
}

/** What the steps found, in the order they find it. */
export interface TrainingFacts {
  storage: { store: ObjectStore; config: ObjectStoreConfig };
  /** The ModelVersion this TrainingJob registered (by its UID label), if any. */
  registered: ModelVersionObject | undefined;
  /** The Job of the run: the one that completed once registered, else the current spec's. */
  job: JobObject | undefined;
  run: JobRun | undefined;
  /**
   * The object that runs the training: the Job, or a distributed run's current attempt (an
   * Indexed Job, a JobSet, a TrainJob). Carries the pinned dataset version and task.
   */
  workload: KubeObject | undefined;
  /** A distributed run: its backend and why, its attempts (`distributed/steps.ts`). */
  distributed: DistributedFacts | undefined;
  /** Pods the Job started: active + failed + succeeded. */
  attempts: number | undefined;
  result: TrainResult | undefined;
  failure: RunFailure | undefined;
  dataset: DatasetPin;
  progress: TrainingProgress | undefined;
  modelVersion: { name: string; version: number } | undefined;
}

/** Where a distributed run stands. */
export interface DistributedFacts {
  /** Undefined when no backend can run it (a pinned one not installed). */
  backend: DistributedBackendName | undefined;
  reason: string;
  message: string;
  workers: number;
  /** The current attempt (0 for the first start of the group); undefined before the first. */
  attempt: number | undefined;
  failedWorker: number | undefined;
  /** The failed attempt is to be followed by this one. */
  restartNext: number | undefined;
  /** Restarts the engine made itself within the current attempt (JobSet's failurePolicy). */
  engineRestarts?: number;
}

/** Restarts of the whole group: one per attempt after the first, plus the engine's own. */
export function groupRestarts(d: DistributedFacts): number {
  return (d.attempt ?? 0) + (d.engineRestarts ?? 0);
}

type Facts = Readonly<Partial<TrainingFacts>>;
type KindCondition = Omit<ConditionInput, 'observedGeneration'>;

/** `12/50 loss=0.2143`: the one-line progress `kubectl get` shows. */
export function progressSummary(p: TrainingProgress): string {
  const loss = p.loss === undefined ? '' : ` loss=${p.loss.toPrecision(4)}`;
  const acc = p.metrics.val_acc ?? p.metrics.val_accuracy ?? p.metrics.acc ?? p.metrics.accuracy;
  return `${p.epoch}/${p.totalEpochs}${loss}${acc === undefined ? '' : ` acc=${acc.toFixed(3)}`}`.slice(
    0,
    128,
  );
}

/** The failure of a finished run: from the trainer's result, else from the Job. */
export function failureOf(run: JobRun, result: TrainResult | undefined): RunFailure | undefined {
  if (result?.outcome === 'failed') return { reason: result.reason, message: result.message };
  if (run.phase === 'Succeeded' && result?.outcome !== 'succeeded') {
    return {
      reason: 'NoResult',
      message:
        'The trainer exited successfully without reporting a result (see the runtime contract: contract/results.ts)',
    };
  }
  if (run.phase !== 'Failed') return undefined;
  const output = run.terminationMessage?.trim();
  return {
    reason: run.reason,
    message: output ? `${run.message} Its last output: ${output.slice(-1500)}` : run.message,
  };
}

/** Whether the run is over: registered, failed, or its Job completed. */
export function runFinished(facts: Facts): boolean {
  return (
    facts.registered !== undefined ||
    facts.run?.phase === 'Succeeded' ||
    facts.run?.phase === 'Failed'
  );
}

/** `Trained` and `Failed`: where the trainer stands. */
export function runConditions(facts: Facts): KindCondition[] {
  const { failure, run } = facts;
  if (failure) {
    return [
      { type: 'Trained', status: 'False', reason: failure.reason, message: failure.message },
      { type: 'Failed', status: 'True', reason: failure.reason, message: failure.message },
    ];
  }
  if (facts.registered || run?.phase === 'Succeeded') {
    const message = 'The trainer finished and reported its result';
    return [
      { type: 'Trained', status: 'True', reason: 'TrainingSucceeded', message },
      { type: 'Failed', status: 'False', reason: 'TrainingSucceeded', message },
    ];
  }
  const [reason, message] = run
    ? ['Training', 'The trainer has not finished']
    : ['NotStarted', 'The training Job has not started'];
  return [
    { type: 'Trained', status: 'False', reason, message },
    { type: 'Failed', status: 'False', reason, message },
  ];
}

/** `Suspended`: True while `spec.suspend` holds the unfinished run's Job. */
export function suspendedCondition(tj: TrainingJob, finished: boolean): KindCondition {
  if (!tj.spec.suspend)
    return {
      type: 'Suspended',
      status: 'False',
      reason: 'NotSuspended',
      message: 'spec.suspend is false',
    };
  if (finished) {
    return {
      type: 'Suspended',
      status: 'False',
      reason: 'Finished',
      message: 'The run has finished; spec.suspend no longer applies',
    };
  }
  return {
    type: 'Suspended',
    status: 'True',
    reason: 'Suspended',
    message: 'spec.suspend is true: the training Job is suspended and runs no pod',
  };
}

/** `Succeeded`: the ModelVersion is registered. */
export function succeededCondition(facts: Facts): KindCondition {
  const { modelVersion, failure } = facts;
  if (modelVersion) {
    return {
      type: 'Succeeded',
      status: 'True',
      reason: 'ModelVersionRegistered',
      message: `Registered ModelVersion ${modelVersion.name}`,
    };
  }
  if (failure)
    return { type: 'Succeeded', status: 'False', reason: failure.reason, message: failure.message };
  return {
    type: 'Succeeded',
    status: 'False',
    reason: 'NotRegistered',
    message: 'No ModelVersion is registered yet',
  };
}

/** Readiness of a failed run: stalled until the spec changes. */
export function failureReadiness(failure: RunFailure): Readiness {
  return { state: 'stalled', reason: failure.reason, message: failure.message };
}

/**
 * Readiness of an unfinished run before it trains: suspended, being created, waiting for a node
 * or an image, resuming. Undefined once it runs (`trainingReadiness` takes over) or finished.
 */
export function jobReadiness(
  tj: TrainingJob,
  run: JobRun | undefined,
  finished: boolean,
): Readiness | undefined {
  if (finished) return undefined;
  if (tj.spec.suspend) {
    return {
      state: 'progressing',
      reason: 'Suspended',
      message: 'spec.suspend is true: the training Job is suspended and runs no pod',
    };
  }
  if (!run)
    return { state: 'progressing', reason: 'Creating', message: 'Creating the training Job' };
  if (run.phase !== 'Pending') return undefined;
  if (run.reason === 'Suspended' && tj.spec.queueName)
    return {
      state: 'progressing',
      reason: 'Queued',
      message: `Waiting for Kueue to admit the training workload (spec.queueName ${tj.spec.queueName})`,
    };
  if (run.reason === 'Suspended')
    return { state: 'progressing', reason: 'Resuming', message: 'Resuming the training Job' };
  return { state: 'progressing', reason: run.reason, message: run.message };
}

/** Readiness of a running trainer, with its latest epoch. */
export function trainingReadiness(
  where: string,
  progress: TrainingProgress | undefined,
): Readiness {
  return {
    state: 'progressing',
    reason: 'Training',
    message: `Training in ${where}${progress ? ` (epoch ${progressSummary(progress)})` : ''}`,
  };
}

/** Where the training runs, in words: `Job x`, or `2 workers on IndexedJob (…) in x`. */
export function workloadDescription(facts: Facts): string {
  const name = facts.workload?.metadata?.name ?? '';
  const d = facts.distributed;
  if (!d?.backend) return `Job ${name}`;
  const restarts = groupRestarts(d) ? `, restart ${groupRestarts(d)}` : '';
  return `${d.workers} workers on ${d.backend} (${d.reason}${restarts}) in ${name}`;
}

/** The phase `kubectl get` shows, from the facts. */
export function trainingPhase(
  tj: TrainingJob,
  facts: Facts,
): NonNullable<TrainingJobStatus['phase']> {
  if (facts.modelVersion || facts.registered) return 'Succeeded';
  if (facts.failure) return 'Failed';
  if (tj.spec.suspend && facts.run?.phase !== 'Succeeded') return 'Suspended';
  if (facts.run?.phase === 'Running' || facts.run?.phase === 'Succeeded') return 'Running';
  return 'Pending';
}

function statusProgress(p: TrainingProgress): NonNullable<TrainingJobStatus['progress']> {
  return {
    epoch: p.epoch,
    totalEpochs: p.totalEpochs,
    ...(p.loss !== undefined ? { loss: p.loss } : {}),
    ...(p.valLoss !== undefined ? { valLoss: p.valLoss } : {}),
    metrics: Object.fromEntries(Object.entries(p.metrics).slice(0, 32)),
    summary: progressSummary(p),
  };
}

/**
 * The status fields (all but `conditions` and `observedGeneration`) from the facts. A field
 * whose fact no step found is left undefined: removed on success, kept on an error path.
 */
export function trainingJobStatusFields(
  tj: TrainingJob,
  facts: Facts,
): Omit<TrainingJobStatus, 'conditions' | 'observedGeneration'> {
  const { run, failure, registered } = facts;
  const started = run && run.phase !== 'Pending' ? run.startTime : undefined;
  const completed =
    run && (run.phase === 'Succeeded' || run.phase === 'Failed') ? run.completionTime : undefined;
  const modelVersion =
    facts.modelVersion ??
    (registered
      ? { name: registered.metadata?.name ?? '', version: registered.spec.version }
      : undefined);
  return {
    phase: trainingPhase(tj, facts),
    task: facts.dataset?.task ?? tj.spec.task,
    startTime: started,
    completionTime: completed,
    datasetVersion: facts.dataset?.version,
    progress: facts.progress ? statusProgress(facts.progress) : undefined,
    attempts: facts.attempts,
    jobName: (facts.workload ?? facts.job)?.metadata?.name,
    distributed: facts.distributed
      ? {
          backend: facts.distributed.backend,
          reason: facts.distributed.reason.slice(0, 128),
          message: facts.distributed.message.slice(0, 1024),
          workers: facts.distributed.workers,
          restarts: groupRestarts(facts.distributed),
          failedWorker: facts.distributed.failedWorker,
        }
      : undefined,
    modelVersion,
    failure: failure
      ? { reason: failure.reason.slice(0, 128), message: failure.message.slice(0, 4096) }
      : undefined,
  };
}
