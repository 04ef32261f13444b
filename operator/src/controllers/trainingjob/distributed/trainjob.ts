/**
 * The TrainJob backend: the worker group handed to Kubeflow Trainer v2 (trainer.kubeflow.org
 * /v1alpha1, github.com/kubeflow/trainer), one TrainJob per attempt on Trainer's own torch
 * runtime, the `torch-distributed` ClusterTrainingRuntime its manifests install
 * (`manifests/base/runtimes/torch_distributed.yaml`):
 *
 * - What Lathe sets: the TrainJob's `trainer` (image, command, args, env, `numNodes` = workers,
 *   `numProcPerNode`, `resourcesPerNode`) and `podSpecOverrides` for the `node` job (volumes and
 *   their mounts, service account, node selector, tolerations). Trainer's torch plugin sets the
 *   five `PET_*` names itself and its webhook rejects a trainer env that sets them, so Lathe leaves
 *   them out (`rendezvous.ts`) and adds the rest of the rendezvous (`MASTER_ADDR` = Trainer's
 *   `<trainjob>-node-0-0.<trainjob>`, `MASTER_PORT` = its 29500, `WORLD_SIZE`, `NODE_RANK`).
 *   The runtime's container has a command of its own: a TrainJob without
 *   `spec.model.custom.command` would run it, so Auto passes Trainer over for such a run.
 * - What Trainer cannot take in v2.0.1: pod labels (its `spec.labels` reach the JobSet only),
 *   `activeDeadlineSeconds`, affinity, priority class and security contexts.
 * - Observation: the pods carry none of Lathe's labels, so they are not in the operator's pod
 *   cache (it watches Lathe's pods only). They are read from the API server by what JobSet puts
 *   on them, `jobset.sigs.k8s.io/jobset-name=<trainjob>` (Trainer names the JobSet after the
 *   TrainJob), together with that JobSet, and classified as the JobSet backend does
 *   (`observeJobSet`); the TrainJob's `Complete`/`Failed` conditions decide the end. Nothing
 *   enqueues the TrainingJob when those pods change, so an unfinished attempt is polled.
 * - Restarts: the runtime has no JobSet `failurePolicy`, so JobSet does not restart the group;
 *   a failed TrainJob is a failed attempt, and the TrainingJob controller starts the next one
 *   (`spec.distributed.maxRestarts`), a new TrainJob with all workers.
 */
import type { V1Condition } from '@kubernetes/client-node';
import type { PodObject, Wire } from '../../../runtime/builtin-kinds.js';
import { kinds } from '../../../runtime/builtin-kinds.js';
import type { ReconcileContext } from '../../../runtime/controller.js';
import { isNotFound } from '../../../runtime/kube-client.js';
import { builtinKind, type KubeObject } from '../../../runtime/resource.js';
import type { TrainingJobObject } from '../../lathe-kinds.js';
import {
  type DesiredChild,
  type DistributedBackend,
  type WorkerGroupPlan,
  type WorkerGroupRun,
  workloadMetadata,
} from './backend.js';
import { engineResources } from './choose.js';
import {
  JOBSET_WORKERS,
  type JobSetObject,
  jobSetKind,
  jobSetMasterAddr,
  observeJobSet,
} from './jobset.js';
import {
  JOB_COMPLETION_INDEX_FIELD_PATH,
  rendezvousEnv,
  TRAINER_RESERVED_ENV,
} from './rendezvous.js';

/** The ClusterTrainingRuntime a TrainJob runs on: Kubeflow Trainer's PyTorch runtime. */
export const TRAINJOB_RUNTIME = 'torch-distributed';

/** The port Trainer's torch plugin gives worker 0 (`constants.ContainerTrainerPort`). */
export const TRAINER_MASTER_PORT = 29500;

/** The label JobSet puts the name of its JobSet in, on every Job and pod of it. */
export const JOBSET_NAME_LABEL = 'jobset.sigs.k8s.io/jobset-name';

/** How often an unfinished TrainJob is looked at (its pods enqueue nothing). */
export const TRAINJOB_POLL_MS = 5_000;

type Container = NonNullable<WorkerGroupPlan['template']['spec']['containers'][number]>;

/** A TrainJob, as far as Lathe writes and reads it. */
export interface TrainJobObject extends KubeObject {
  apiVersion: 'trainer.kubeflow.org/v1alpha1';
  kind: 'TrainJob';
  spec?: {
    runtimeRef: { name: string; apiGroup?: string; kind?: string };
    trainer?: {
      image?: string;
      command?: string[];
      args?: string[];
      env?: Container['env'];
      numNodes?: number;
      numProcPerNode?: number | string;
      resourcesPerNode?: Container['resources'];
    };
    podSpecOverrides?: {
      targetJobs: { name: string }[];
      serviceAccountName?: string;
      nodeSelector?: Record<string, string>;
      tolerations?: NonNullable<WorkerGroupPlan['template']['spec']['tolerations']>;
      volumes?: NonNullable<WorkerGroupPlan['template']['spec']['volumes']>;
      containers?: { name: string; volumeMounts?: Container['volumeMounts'] }[];
    }[];
    suspend?: boolean;
  };
  status?: { conditions?: Wire<V1Condition>[] };
}

/** The TrainJob kind (trainer.kubeflow.org/v1alpha1). */
export const trainJobKind = builtinKind<TrainJobObject>(engineResources.trainJob);

/** The attempt's TrainJob. Pure. */
export function desiredTrainJob(plan: WorkerGroupPlan): TrainJobObject {
  const { template } = plan;
  const trainer = template.spec.containers[0];
  if (!trainer) throw new Error('The trainer pod template has no container');
  if (!trainer.command)
    throw new Error(
      "A TrainJob needs spec.model.custom.command: Trainer's runtime container has a command of its own",
    );
  const env = rendezvousEnv(
    {
      workers: plan.workers,
      processesPerWorker: plan.processesPerWorker,
      masterAddr: jobSetMasterAddr(plan),
      port: TRAINER_MASTER_PORT,
      nodeRank: { fieldPath: JOB_COMPLETION_INDEX_FIELD_PATH },
    },
    TRAINER_RESERVED_ENV,
  );
  const pod = template.spec;
  return {
    apiVersion: 'trainer.kubeflow.org/v1alpha1',
    kind: 'TrainJob',
    metadata: workloadMetadata(plan),
    spec: {
      runtimeRef: {
        name: TRAINJOB_RUNTIME,
        apiGroup: engineResources.clusterTrainingRuntime.group,
        kind: engineResources.clusterTrainingRuntime.kind,
      },
      trainer: {
        image: trainer.image,
        command: trainer.command,
        ...(trainer.args ? { args: trainer.args } : {}),
        env: [...(trainer.env ?? []).filter((v) => !TRAINER_RESERVED_ENV.has(v.name)), ...env],
        numNodes: plan.workers,
        numProcPerNode: plan.processesPerWorker,
        ...(trainer.resources ? { resourcesPerNode: trainer.resources } : {}),
      },
      podSpecOverrides: [
        {
          targetJobs: [{ name: JOBSET_WORKERS }],
          ...(pod.serviceAccountName ? { serviceAccountName: pod.serviceAccountName } : {}),
          ...(pod.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
          ...(pod.tolerations ? { tolerations: pod.tolerations } : {}),
          ...(pod.volumes ? { volumes: pod.volumes } : {}),
          ...(trainer.volumeMounts
            ? { containers: [{ name: JOBSET_WORKERS, volumeMounts: trainer.volumeMounts }] }
            : {}),
        },
      ],
      suspend: plan.suspend || plan.queueName !== undefined,
    },
  };
}

function condition(trainJob: TrainJobObject, type: string): Wire<V1Condition> | undefined {
  return trainJob.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/**
 * Where the attempt stands, from its TrainJob, the JobSet Trainer made of it (undefined while
 * there is none) and that JobSet's pods. Pure.
 */
export function observeTrainJob(
  trainJob: TrainJobObject,
  jobset: JobSetObject | undefined,
  pods: readonly PodObject[],
): WorkerGroupRun {
  const name = trainJob.metadata?.name ?? '';
  const complete = condition(trainJob, 'Complete');
  const failed = condition(trainJob, 'Failed');
  if (!jobset) {
    if (failed)
      return {
        phase: 'Failed',
        reason: 'TrainJobFailed',
        message: `TrainJob ${name} failed: ${failed.message ?? failed.reason}`,
        startTime: trainJob.metadata?.creationTimestamp,
        completionTime: failed.lastTransitionTime,
        exitCode: undefined,
        terminationMessage: undefined,
        failedWorker: undefined,
        restartable: true,
      };
    if (trainJob.spec?.suspend)
      return { phase: 'Pending', reason: 'Suspended', message: `TrainJob ${name} is suspended` };
    return {
      phase: 'Pending',
      reason: 'WorkersStarting',
      message: `Kubeflow Trainer has not created the JobSet of TrainJob ${name} yet`,
    };
  }
  // The JobSet's own conditions lead to the TrainJob's; the TrainJob's decide the end.
  const conditions = (jobset.status?.conditions ?? []).filter(
    (c) => c.type !== 'Completed' && c.type !== 'Failed',
  );
  const ended = complete
    ? [{ type: 'Completed', status: 'True', ...pick(complete) }]
    : failed
      ? [{ type: 'Failed', status: 'True', ...pick(failed) }]
      : [];
  const run = observeJobSet(
    {
      ...jobset,
      spec: jobset.spec && { ...jobset.spec, suspend: trainJob.spec?.suspend ?? false },
      status: { ...jobset.status, conditions: [...conditions, ...ended] },
    },
    pods,
  );
  if (run.phase !== 'Failed') return run;
  const deadline = run.reason === 'DeadlineExceeded';
  return {
    ...run,
    reason: run.reason === 'JobSetFailed' ? 'TrainJobFailed' : run.reason,
    message: `${run.message.replace(/ \(failurePolicy\.maxRestarts \d+\)$/, '')} (TrainJob ${name})`,
    // The runtime restarts nothing itself: the next attempt restarts the whole group.
    restartable: !deadline,
  };
}

function pick(c: Wire<V1Condition>) {
  return {
    reason: c.reason,
    message: c.message,
    lastTransitionTime: c.lastTransitionTime,
  } as Omit<Wire<V1Condition>, 'type' | 'status'>;
}

/** The TrainJob backend. */
export const trainJobBackend: DistributedBackend = {
  name: 'TrainJob',
  ownedKinds: [trainJobKind] as DistributedBackend['ownedKinds'],
  topKind: trainJobKind as DistributedBackend['topKind'],
  pollWhileActiveMs: TRAINJOB_POLL_MS,
  desired(plan): DesiredChild[] {
    return [{ kind: trainJobKind as DesiredChild['kind'], object: desiredTrainJob(plan) }];
  },
  keptAcrossAttempts() {
    return [];
  },
  async observe(ctx: ReconcileContext<TrainingJobObject>, top: KubeObject) {
    const trainJob = top as TrainJobObject;
    const namespace = trainJob.metadata?.namespace ?? '';
    const name = trainJob.metadata?.name ?? '';
    const jobset = await ctx.client
      .get<JobSetObject>(jobSetKind.resource, namespace, name)
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
    const pods = jobset
      ? (
          await ctx.client.list<PodObject>(kinds.pod.resource, {
            namespace,
            labelSelector: `${JOBSET_NAME_LABEL}=${name}`,
          })
        ).items
      : [];
    return observeTrainJob(trainJob, jobset, pods);
  },
  isSuspended(top) {
    return (top as TrainJobObject).spec?.suspend ?? false;
  },
  async setSuspended(ctx, top, suspended) {
    await ctx.client.patch(
      trainJobKind.resource,
      top.metadata?.namespace,
      top.metadata?.name ?? '',
      'merge',
      { spec: { suspend: suspended } },
      { fieldManager: ctx.fieldManager },
    );
  },
};
