/**
 * What a distributed backend is: the engine a multi-worker TrainingJob is handed to. Lathe does
 * not coordinate workers itself; it describes one *attempt* of the worker group to an existing
 * engine and reads back where the attempt stands:
 *
 * - `IndexedJob` (built in, `indexed-job.ts`): an Indexed `batch/v1` Job and a headless Service,
 *   as JobSet and Kubeflow Trainer do underneath;
 * - `JobSet` (jobset.x-k8s.io) and `TrainJob` (Kubeflow Trainer v2, trainer.kubeflow.org): when
 *   installed, the same attempt as one of their objects.
 *
 * The group restarts as a whole, never one pod (a DDP job cannot take a worker back mid-run):
 * each attempt fails fast on its first failed worker, and the TrainingJob controller starts the
 * next attempt under the next deterministic name (`<job>-train-<spec hash>-a<N>`), deleting the
 * old one, up to `spec.distributed.maxRestarts` (Kubeflow Trainer's JobSet `failurePolicy
 * .maxRestarts` does the same inside JobSet). The attempt number lives in the children's names
 * and labels, never only in status, so a wiped status resumes at the same attempt.
 *
 * A backend is pure where it can be: `desired` turns a plan into children, `observe` classifies
 * children and pods it reads from the caches; the steps (`steps.ts`) apply, delete and patch.
 */
import type { DistributedBackendName, TrainingJob } from '../../../api/trainingjob.js';
import type { Applicable } from '../../../runtime/apply.js';
import type { CacheReaders, ReconcileContext } from '../../../runtime/controller.js';
import type { KindSpec, KubeObject, OwnerReference } from '../../../runtime/resource.js';
import type { TrainingJobObject } from '../../lathe-kinds.js';
import type { JobRun } from '../../shared/job-run.js';
import type { TrainerPodTemplate } from '../desired.js';

/** Labels on every child of a distributed run and on its pods. */
export const DistributedLabel = {
  /** The backend that runs the attempt: `IndexedJob`, `JobSet`, `TrainJob`. */
  backend: 'lathe.dev/distributed-backend',
  /** The attempt number, 0 for the first start of the group. */
  attempt: 'lathe.dev/attempt',
  /** The worker group (one per training spec): what the headless Service selects. */
  group: 'lathe.dev/worker-group',
} as const;

/** Kueue's label naming the LocalQueue a workload is submitted to. */
export const KUEUE_QUEUE_NAME_LABEL = 'kueue.x-k8s.io/queue-name';

/** One attempt of the worker group, everything a backend needs to describe it. */
export interface WorkerGroupPlan {
  trainingJob: TrainingJob;
  namespace: string;
  /** The worker group's name, `<job>-train-<spec hash>`: the same for every attempt. */
  group: string;
  /** The attempt's name, `<group>-a<N>`: the name of the backend's top object. */
  name: string;
  attempt: number;
  workers: number;
  processesPerWorker: number;
  /** The rendezvous port on worker 0 (backends whose engine fixes its own may ignore it). */
  port: number;
  /** Labels of every child and pod (owner, component, group, attempt, backend). */
  labels: Record<string, string>;
  /** Annotations of the top object: the dataset version and task the run is pinned to. */
  annotations: Record<string, string>;
  /** `spec.queueName`: the Kueue label on the top object; the workload is created suspended. */
  queueName: string | undefined;
  owner: OwnerReference;
  suspend: boolean;
  activeDeadlineSeconds: number | undefined;
  /** One worker's pod: the trainer container with the contract's environment, no rendezvous yet. */
  template: TrainerPodTemplate;
}

/**
 * The metadata of an attempt's top object (Job, JobSet, TrainJob): its name, the plan's labels
 * (with Kueue's queue label when `spec.queueName` is set, which Kueue reads on the top object),
 * the pinning annotations and the owner reference.
 */
export function workloadMetadata(plan: WorkerGroupPlan) {
  return {
    name: plan.name,
    namespace: plan.namespace,
    labels: plan.queueName
      ? { ...plan.labels, [KUEUE_QUEUE_NAME_LABEL]: plan.queueName }
      : plan.labels,
    annotations: plan.annotations,
    ownerReferences: [plan.owner],
  };
}

/** One child to apply: its kind and its desired object. */
export interface DesiredChild {
  kind: KindSpec<KubeObject>;
  object: KubeObject & Applicable;
}

/**
 * Where an attempt stands: a `JobRun`, a failure naming the worker that failed first. An engine
 * that restarts the group itself within one attempt (JobSet's `failurePolicy.maxRestarts`)
 * reports how often it did in `restarts`.
 */
export type WorkerGroupRun = (
  | Exclude<JobRun, { phase: 'Failed' }>
  | (Extract<JobRun, { phase: 'Failed' }> & {
      /** The rank of the worker whose failure ended the attempt, when known. */
      failedWorker: number | undefined;
      /** False when a restart cannot help (the deadline passed, the engine spent its restarts). */
      restartable: boolean;
    })
) & {
  /** Restarts of the whole group the engine made itself within this attempt. */
  restarts?: number;
};

/** An attempt found among the TrainingJob's children. */
export interface ExistingAttempt {
  backend: DistributedBackendName;
  attempt: number;
  /** The backend's top object (Job, JobSet, TrainJob); carries the plan's annotations. */
  object: KubeObject;
}

export interface DistributedBackend {
  name: DistributedBackendName;
  /** The kinds the backend creates and the TrainingJob controller owns (watches, deletes). */
  ownedKinds: readonly KindSpec<KubeObject>[];
  /** The kind of the attempt's top object. */
  topKind: KindSpec<KubeObject>;
  /** Pure: the children of one attempt, in the order they are applied. */
  desired(plan: WorkerGroupPlan): DesiredChild[];
  /**
   * The children an attempt leaves behind for the next one to reuse, by kind (the headless
   * Service of the group): the steps prune every other child of the owned kinds.
   */
  keptAcrossAttempts(
    plan: Pick<WorkerGroupPlan, 'group'>,
  ): { kind: KindSpec<KubeObject>; name: string }[];
  /**
   * Where the attempt stands, from its top object and what the caches hold beneath it (an
   * engine whose pods are not in the caches reads them from the API server).
   */
  observe(
    ctx: CacheReaders & Pick<ReconcileContext<TrainingJobObject>, 'client'>,
    top: KubeObject,
  ): WorkerGroupRun | Promise<WorkerGroupRun>;
  /**
   * For an engine whose pods enqueue nothing (they are not in the operator's caches): how often
   * an unfinished attempt is looked at.
   */
  pollWhileActiveMs?: number;
  /** Sets the top object's suspension (a merge patch: the rest is left as created). */
  setSuspended(
    ctx: ReconcileContext<TrainingJobObject>,
    top: KubeObject,
    suspended: boolean,
  ): Promise<void>;
  /** Whether the top object is suspended now. */
  isSuspended(top: KubeObject): boolean;
}

/** The attempt number of a top object, from its label; undefined when it has none. */
export function attemptOf(object: KubeObject): number | undefined {
  const raw = object.metadata?.labels?.[DistributedLabel.attempt];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/** `<group>-a<N>`: the name of attempt N. */
export function attemptName(group: string, attempt: number): string {
  return `${group}-a${attempt}`;
}
