/**
 * The status of a TrainingJob: pure, from what the controller found — where the dataset stands,
 * the training Job and its pods, the trainer's progress file and result, and the ModelVersion
 * registered for it — and the clock.
 *
 * The phase is derived from the conditions' facts, for `kubectl get`: Pending (waiting for the
 * dataset, a node, an image), Running, Succeeded (the ModelVersion exists), Failed, Suspended.
 * A failure is terminal (`Stalled`, `Failed=True`) with a reason a user can act on.
 */

import type { TrainingProgress, TrainResult } from '../../../../contract/results.js';
import type { TrainingJob, TrainingJobStatus } from '../../api/trainingjob.js';
import {
  type Condition,
  type ConditionInput,
  removeCondition,
  setConditions,
} from '../../runtime/conditions.js';
import type { JobRun } from '../shared/job-run.js';

export type DatasetResolution =
  | { ready: true; version: string; task: 'classification' | 'regression' }
  | { ready: false; reason: string; message: string; terminal: boolean };

export interface TrainingObservation {
  dataset: DatasetResolution;
  job: { name: string; run: JobRun; attempts: number } | undefined;
  result: TrainResult | undefined;
  progress: TrainingProgress | undefined;
  modelVersion: { name: string; version: number } | undefined;
}

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
export function failureOf(
  run: JobRun,
  result: TrainResult | undefined,
): { reason: string; message: string } | undefined {
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

export function trainingJobStatus(
  tj: TrainingJob,
  observed: TrainingObservation,
  now: Date,
): TrainingJobStatus {
  const generation = tj.metadata.generation ?? 0;
  const previous = tj.status ?? {};
  const cond = (type: string, status: Condition['status'], reason: string, message: string) =>
    ({ type, status, reason, message, observedGeneration: generation }) satisfies ConditionInput;
  const { job, result, modelVersion } = observed;
  const run = job?.run;
  const failure = run ? failureOf(run, result) : undefined;

  let phase: NonNullable<TrainingJobStatus['phase']>;
  const inputs: ConditionInput[] = [];
  let reconciling: ConditionInput | undefined;
  let stalled: ConditionInput | undefined;

  if (modelVersion) {
    phase = 'Succeeded';
    const message = `Registered ModelVersion ${modelVersion.name}`;
    inputs.push(
      cond('Ready', 'True', 'ModelVersionRegistered', message),
      cond('Trained', 'True', 'TrainingSucceeded', 'The trainer finished and reported its result'),
      cond('Succeeded', 'True', 'ModelVersionRegistered', message),
      cond('Failed', 'False', 'ModelVersionRegistered', message),
    );
  } else if (failure) {
    phase = 'Failed';
    inputs.push(
      cond('Ready', 'False', failure.reason, failure.message),
      cond('Trained', 'False', failure.reason, failure.message),
      cond('Succeeded', 'False', failure.reason, failure.message),
      cond('Failed', 'True', failure.reason, failure.message),
    );
    stalled = cond('Stalled', 'True', failure.reason, failure.message);
  } else if (!observed.dataset.ready) {
    phase = 'Pending';
    const { reason, message, terminal } = observed.dataset;
    inputs.push(cond('Ready', 'False', reason, message));
    if (terminal) stalled = cond('Stalled', 'True', reason, message);
    else reconciling = cond('Reconciling', 'True', reason, message);
  } else if (tj.spec.suspend) {
    phase = 'Suspended';
    inputs.push(cond('Ready', 'False', 'Suspended', 'spec.suspend is true: no pod runs'));
  } else if (!run || run.phase === 'Pending') {
    phase = 'Pending';
    const reason = run?.phase === 'Pending' ? run.reason : 'Creating';
    const message = run?.phase === 'Pending' ? run.message : 'Creating the training Job';
    inputs.push(cond('Ready', 'False', reason, message));
    reconciling = cond('Reconciling', 'True', reason, message);
  } else {
    phase = 'Running';
    const message =
      run.phase === 'Succeeded'
        ? 'Trained; registering the ModelVersion'
        : `Training in Job ${job?.name}${observed.progress ? ` (epoch ${progressSummary(observed.progress)})` : ''}`;
    const reason = run.phase === 'Succeeded' ? 'Registering' : 'Training';
    inputs.push(cond('Ready', 'False', reason, message));
    if (run.phase === 'Succeeded')
      inputs.push(cond('Trained', 'True', 'TrainingSucceeded', 'The trainer reported its result'));
    reconciling = cond('Reconciling', 'True', reason, message);
  }
  if (reconciling) inputs.push(reconciling);
  if (stalled) inputs.push(stalled);
  let conditions = setConditions(previous.conditions as Condition[] | undefined, inputs, now);
  if (!reconciling) conditions = removeCondition(conditions, 'Reconciling');
  if (!stalled) conditions = removeCondition(conditions, 'Stalled');

  const progress = observed.progress
    ? {
        epoch: observed.progress.epoch,
        totalEpochs: observed.progress.totalEpochs,
        ...(observed.progress.loss !== undefined ? { loss: observed.progress.loss } : {}),
        ...(observed.progress.valLoss !== undefined ? { valLoss: observed.progress.valLoss } : {}),
        metrics: Object.fromEntries(Object.entries(observed.progress.metrics).slice(0, 32)),
        summary: progressSummary(observed.progress),
      }
    : previous.progress;
  const startTime =
    run && run.phase !== 'Pending' ? (run.startTime ?? previous.startTime) : previous.startTime;
  const completionTime =
    run && (run.phase === 'Succeeded' || run.phase === 'Failed')
      ? (run.completionTime ?? previous.completionTime)
      : previous.completionTime;
  const task = observed.dataset.ready ? observed.dataset.task : (tj.spec.task ?? previous.task);
  const datasetVersion = observed.dataset.ready
    ? observed.dataset.version
    : previous.datasetVersion;

  return Object.fromEntries(
    Object.entries({
      observedGeneration: generation,
      conditions,
      phase,
      task,
      startTime,
      completionTime,
      datasetVersion,
      progress,
      attempts: job?.attempts ?? previous.attempts,
      jobName: job?.name ?? previous.jobName,
      modelVersion: modelVersion ?? previous.modelVersion,
      failure: failure
        ? { reason: failure.reason.slice(0, 128), message: failure.message.slice(0, 4096) }
        : undefined,
    }).filter(([, v]) => v !== undefined),
  ) as TrainingJobStatus;
}
