/**
 * The worker group of a distributed TrainingJob, in pure parts: its name, the plan of one
 * attempt, which attempt is current, and what a failed attempt leads to — a restart of the whole
 * group while `spec.distributed.maxRestarts` allows, else the TrainingJob's failure with the
 * failed worker's words.
 */
import type { TrainResult } from '../../../../../contract/results.js';
import {
  DEFAULT_RENDEZVOUS_PORT,
  type DistributedBackendName,
  type TrainingJob,
} from '../../../api/trainingjob.js';
import type { KubeObject, OwnerReference } from '../../../runtime/resource.js';
import { childName } from '../../shared/names.js';
import {
  runAnnotations,
  type TrainerPodOptions,
  type TrainingRun,
  trainerLabels,
  trainerPodTemplate,
  trainingSpecHash,
} from '../desired.js';
import type { RunFailure } from '../status.js';
import {
  attemptName,
  attemptOf,
  DistributedLabel,
  type WorkerGroupPlan,
  type WorkerGroupRun,
} from './backend.js';
import { processesPerWorkerOf } from './rendezvous.js';

/** Annotations of an attempt's top object: why its backend was chosen, kept with the run. */
export const ChoiceAnnotation = {
  reason: 'lathe.dev/distributed-reason',
  message: 'lathe.dev/distributed-message',
} as const;

/**
 * Room left in a 63-character hostname (`<group>-a<N>-<index>`) for attempts up to 100 and
 * 1024 workers: the group's name is at most 53 characters.
 */
const MAX_GROUP_NAME = 53;

/** The worker group of the current training spec: `<job>-train-<spec hash>`. */
export function workerGroupName(tj: TrainingJob): string {
  return childName(tj.metadata.name ?? '', `train-${trainingSpecHash(tj.spec)}`, MAX_GROUP_NAME);
}

/** The newest attempt among the top objects of the group. Pure. */
export function latestAttempt<T extends KubeObject>(
  tops: readonly T[],
  group: string,
): { attempt: number; object: T } | undefined {
  let latest: { attempt: number; object: T } | undefined;
  for (const object of tops) {
    if (object.metadata?.labels?.[DistributedLabel.group] !== group) continue;
    const attempt = attemptOf(object);
    if (attempt !== undefined && (!latest || attempt > latest.attempt))
      latest = { attempt, object };
  }
  return latest;
}

/** The plan of attempt `attempt` of the group on `backend`. Pure. */
export function workerGroupPlan(
  tj: TrainingJob,
  run: TrainingRun,
  options: TrainerPodOptions & { owner: OwnerReference },
  attempt: number,
  choice: { backend: DistributedBackendName; reason: string; message: string },
): WorkerGroupPlan {
  const distributed = tj.spec.distributed;
  if (!distributed) throw new Error('workerGroupPlan needs spec.distributed');
  const group = workerGroupName(tj);
  const labels = {
    ...trainerLabels(tj),
    [DistributedLabel.group]: group,
    [DistributedLabel.attempt]: String(attempt),
    [DistributedLabel.backend]: choice.backend,
  };
  return {
    trainingJob: tj,
    namespace: tj.metadata.namespace ?? '',
    group,
    name: attemptName(group, attempt),
    attempt,
    workers: distributed.workers,
    processesPerWorker: processesPerWorkerOf(
      distributed.processesPerWorker,
      tj.spec.resources?.gpu,
    ),
    port: distributed.port ?? DEFAULT_RENDEZVOUS_PORT,
    labels,
    annotations: {
      ...runAnnotations(run),
      [ChoiceAnnotation.reason]: choice.reason,
      [ChoiceAnnotation.message]: choice.message.slice(0, 1024),
    },
    queueName: tj.spec.queueName,
    owner: options.owner,
    suspend: tj.spec.suspend,
    activeDeadlineSeconds: tj.spec.activeDeadlineSeconds,
    template: trainerPodTemplate(tj, run, options, labels),
  };
}

/** What a finished or failing attempt leads to. Pure. */
export type AttemptOutcome =
  | { kind: 'continue' }
  | { kind: 'restart'; next: number }
  | { kind: 'fail'; failure: RunFailure };

/**
 * After attempt `attempt` (0 for the first) ends as `run`: restart the group while restarts are
 * left and a restart can help, else fail with the worker's message (its own result's reason
 * when it reported one). A succeeded attempt continues to registration.
 */
export function attemptOutcome(
  run: WorkerGroupRun,
  result: TrainResult | undefined,
  attempt: number,
  maxRestarts: number,
): AttemptOutcome {
  if (run.phase !== 'Failed') return { kind: 'continue' };
  if (run.restartable && attempt < maxRestarts) return { kind: 'restart', next: attempt + 1 };
  const own = result?.outcome === 'failed' ? result : undefined;
  const output = own ? own.message : run.terminationMessage?.trim().slice(-1500);
  const restarts =
    attempt === 0
      ? 'spec.distributed.maxRestarts is 0'
      : `after ${attempt} restart${attempt === 1 ? '' : 's'} of the group (spec.distributed.maxRestarts ${maxRestarts})`;
  const why = run.restartable
    ? restarts
    : run.restarts !== undefined
      ? 'the engine restarts the group itself, so no new attempt is made'
      : 'not restarted: a restart cannot help';
  return {
    kind: 'fail',
    failure: {
      reason:
        own?.reason ??
        (run.reason === 'DeadlineExceeded' || run.reason === 'OutOfMemory'
          ? run.reason
          : 'TrainingFailed'),
      message: `${run.message}; ${why}.${output ? ` Its last output: ${output}` : ''}`,
    },
  };
}
