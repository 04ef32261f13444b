/**
 * The JobSet backend: the worker group handed to JobSet (jobset.x-k8s.io/v1alpha2,
 * sigs.k8s.io/jobset), the engine Kubeflow Trainer builds on. One JobSet per attempt, with one
 * replicatedJob `node` (Trainer's name for it) of one Indexed Job of `workers` pods:
 *
 * - Names: with `network.enableDNSHostnames` JobSet gives each pod the hostname
 *   `<jobset>-node-0-<index>` under a headless Service named after the JobSet (its default
 *   subdomain) and publishes not-ready addresses, so worker 0 is `<jobset>-node-0-0.<jobset>`,
 *   the `MASTER_ADDR` — the same rendezvous environment as every backend (`rendezvous.ts`).
 * - Restarts: JobSet restarts the whole group itself. The Job has `backoffLimit: 0`, so a failed
 *   worker fails it; JobSet's `failurePolicy.maxRestarts` (= `spec.distributed.maxRestarts`)
 *   then recreates every Job of the set (`status.restarts` counts them, and pods carry the
 *   attempt in `jobset.sigs.k8s.io/restart-attempt`). Only once JobSet has spent them does the
 *   JobSet fail, and then a new attempt cannot help: the run fails.
 * - Queueing: Kueue's JobSet integration reads the queue label from the JobSet, which is created
 *   suspended; JobSet's own `spec.suspend` is what Kueue lifts.
 *
 * Status comes from the JobSet's conditions and restarts; the failed worker and worker 0's
 * result (its termination message) from the pods of the current restart.
 */
import type { V1Condition } from '@kubernetes/client-node';
import type { Wire } from '../../../runtime/builtin-kinds.js';
import { type JobObject, kinds, type PodObject } from '../../../runtime/builtin-kinds.js';
import { type CacheReaders, POD_JOB_INDEX } from '../../../runtime/controller.js';
import { builtinKind, type KubeObject } from '../../../runtime/resource.js';
import {
  type DesiredChild,
  type DistributedBackend,
  type WorkerGroupPlan,
  type WorkerGroupRun,
  workloadMetadata,
} from './backend.js';
import { engineResources } from './choose.js';
import { JOB_COMPLETION_INDEX_FIELD_PATH, rendezvousEnv } from './rendezvous.js';

/** The replicatedJob of the workers (Kubeflow Trainer's torch runtimes call theirs `node`). */
export const JOBSET_WORKERS = 'node';

/** The label JobSet puts the restart a Job or pod belongs to in. */
export const JOBSET_RESTART_LABEL = 'jobset.sigs.k8s.io/restart-attempt';

/** The annotation the Job controller puts a pod's completion index in. */
const COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';

/** A JobSet, as far as Lathe writes and reads it. */
export interface JobSetObject extends KubeObject {
  apiVersion: 'jobset.x-k8s.io/v1alpha2';
  kind: 'JobSet';
  spec?: {
    suspend?: boolean;
    network?: { enableDNSHostnames?: boolean; publishNotReadyAddresses?: boolean };
    failurePolicy?: { maxRestarts?: number };
    replicatedJobs: {
      name: string;
      replicas: number;
      template: Omit<JobObject, 'apiVersion' | 'kind'>;
    }[];
  };
  status?: {
    conditions?: Wire<V1Condition>[];
    restarts?: number;
    terminalState?: string;
    replicatedJobsStatus?: {
      name: string;
      ready?: number;
      succeeded?: number;
      failed?: number;
      active?: number;
      suspended?: number;
    }[];
  };
}

/** The JobSet kind (jobset.x-k8s.io/v1alpha2). */
export const jobSetKind = builtinKind<JobSetObject>(engineResources.jobSet);

/** The name of the attempt's one Job: `<jobset>-<replicatedJob>-<job index>`. */
export function jobSetWorkerJobName(jobset: string): string {
  return `${jobset}-${JOBSET_WORKERS}-0`;
}

/** The DNS name of worker 0: `<jobset>-node-0-0.<jobset>` (the subdomain is the JobSet's name). */
export function jobSetMasterAddr(plan: Pick<WorkerGroupPlan, 'name'>): string {
  return `${jobSetWorkerJobName(plan.name)}-0.${plan.name}`;
}

/** The attempt's JobSet. Pure. */
export function desiredJobSet(plan: WorkerGroupPlan): JobSetObject {
  const { template } = plan;
  const [trainer, ...others] = template.spec.containers;
  if (!trainer) throw new Error('The trainer pod template has no container');
  const env = rendezvousEnv({
    workers: plan.workers,
    processesPerWorker: plan.processesPerWorker,
    masterAddr: jobSetMasterAddr(plan),
    port: plan.port,
    nodeRank: { fieldPath: JOB_COMPLETION_INDEX_FIELD_PATH },
  });
  const maxRestarts = plan.trainingJob.spec.distributed?.maxRestarts ?? 0;
  return {
    apiVersion: 'jobset.x-k8s.io/v1alpha2',
    kind: 'JobSet',
    metadata: workloadMetadata(plan),
    spec: {
      suspend: plan.suspend || plan.queueName !== undefined,
      network: { enableDNSHostnames: true, publishNotReadyAddresses: true },
      failurePolicy: { maxRestarts },
      replicatedJobs: [
        {
          name: JOBSET_WORKERS,
          replicas: 1,
          template: {
            metadata: { labels: plan.labels },
            spec: {
              completionMode: 'Indexed',
              completions: plan.workers,
              parallelism: plan.workers,
              backoffLimit: 0,
              ...(plan.activeDeadlineSeconds
                ? { activeDeadlineSeconds: plan.activeDeadlineSeconds }
                : {}),
              template: {
                metadata: { labels: { ...template.metadata.labels, ...plan.labels } },
                spec: {
                  ...template.spec,
                  containers: [
                    {
                      ...trainer,
                      env: [...(trainer.env ?? []), ...env],
                      ports: [{ name: 'rendezvous', containerPort: plan.port, protocol: 'TCP' }],
                    },
                    ...others,
                  ],
                },
              },
            },
          },
        },
      ],
    },
  };
}

function condition(jobset: JobSetObject, type: string): Wire<V1Condition> | undefined {
  return jobset.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

function terminated(pod: PodObject) {
  const status = pod.status?.containerStatuses?.[0];
  return status?.state?.terminated ?? status?.lastState?.terminated;
}

function workerOf(pod: PodObject): number | undefined {
  const raw = pod.metadata?.annotations?.[COMPLETION_INDEX_ANNOTATION];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** The pods of the JobSet's current restart, from the pods it has ever had. Pure. */
export function podsOfRestart(jobset: JobSetObject, pods: readonly PodObject[]): PodObject[] {
  const restart = String(jobset.status?.restarts ?? 0);
  return pods.filter(
    (p) =>
      p.metadata?.labels?.['jobset.sigs.k8s.io/jobset-name'] === jobset.metadata?.name &&
      (p.metadata?.labels?.[JOBSET_RESTART_LABEL] ?? '0') === restart,
  );
}

/** The failed pod that finished first, preferring pods nobody deleted. Pure. */
function firstFailed(pods: readonly PodObject[]): PodObject | undefined {
  const failed = pods
    .filter((p) => p.status?.phase === 'Failed' || (terminated(p)?.exitCode ?? 0) !== 0)
    .sort((a, b) =>
      (terminated(a)?.finishedAt ?? '~').localeCompare(terminated(b)?.finishedAt ?? '~'),
    );
  return failed.find((p) => !p.metadata?.deletionTimestamp) ?? failed[0];
}

/** Where the attempt stands, from its JobSet and the pods of its current restart. Pure. */
export function observeJobSet(jobset: JobSetObject, allPods: readonly PodObject[]): WorkerGroupRun {
  const name = jobset.metadata?.name ?? '';
  const pods = podsOfRestart(jobset, allPods);
  const restarts = jobset.status?.restarts ?? 0;
  const maxRestarts = jobset.spec?.failurePolicy?.maxRestarts ?? 0;
  const workers = jobset.spec?.replicatedJobs[0]?.template.spec?.completions ?? 1;
  const startTime = jobset.metadata?.creationTimestamp;
  const afterRestarts =
    restarts > 0
      ? ` after ${restarts} restart${restarts === 1 ? '' : 's'} of the group by JobSet`
      : '';

  const completed = condition(jobset, 'Completed');
  if (completed) {
    const rank0 = pods.find((p) => workerOf(p) === 0 && p.status?.phase === 'Succeeded');
    return {
      phase: 'Succeeded',
      startTime,
      completionTime: completed.lastTransitionTime,
      terminationMessage: rank0 ? terminated(rank0)?.message : undefined,
      restarts,
    };
  }
  const failedCondition = condition(jobset, 'Failed');
  if (failedCondition) {
    const culprit = firstFailed(pods);
    const worker = culprit ? workerOf(culprit) : undefined;
    const ended = culprit ? terminated(culprit) : undefined;
    const exit =
      ended?.exitCode !== undefined
        ? ` (exit code ${ended.exitCode}${ended.reason ? `, ${ended.reason}` : ''})`
        : '';
    const what =
      worker === undefined
        ? `JobSet ${name} failed: ${failedCondition.message ?? failedCondition.reason}`
        : `Worker ${worker} of JobSet ${name} failed${exit}`;
    const deadline = /DeadlineExceeded/.test(failedCondition.message ?? '');
    return {
      phase: 'Failed',
      reason:
        ended?.reason === 'OOMKilled'
          ? 'OutOfMemory'
          : deadline
            ? 'DeadlineExceeded'
            : 'JobSetFailed',
      message: `${what}${afterRestarts} (failurePolicy.maxRestarts ${maxRestarts})`,
      startTime,
      completionTime: failedCondition.lastTransitionTime,
      exitCode: ended?.exitCode,
      terminationMessage: ended?.message,
      failedWorker: worker,
      // JobSet restarted the group as often as allowed: another attempt would only repeat it.
      restartable: false,
      restarts,
    };
  }
  if (jobset.spec?.suspend)
    return { phase: 'Pending', reason: 'Suspended', message: `JobSet ${name} is suspended` };
  const running = pods.filter(
    (p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp,
  );
  if (running.length >= workers)
    return {
      phase: 'Running',
      startTime,
      message: `${workers} of ${workers} workers of JobSet ${name} are running${afterRestarts}`,
      restarts,
    };
  return {
    phase: 'Pending',
    reason: restarts > 0 && running.length === 0 ? 'Restarting' : 'WorkersStarting',
    message: `${running.length} of ${workers} workers of JobSet ${name} are running${afterRestarts}`,
    restarts,
  };
}

/** The JobSet backend. */
export const jobSetBackend: DistributedBackend = {
  name: 'JobSet',
  ownedKinds: [jobSetKind] as DistributedBackend['ownedKinds'],
  topKind: jobSetKind as DistributedBackend['topKind'],
  desired(plan): DesiredChild[] {
    return [{ kind: jobSetKind as DesiredChild['kind'], object: desiredJobSet(plan) }];
  },
  keptAcrossAttempts() {
    return [];
  },
  observe(caches: CacheReaders, top: KubeObject): WorkerGroupRun {
    const jobset = top as JobSetObject;
    const pods = caches.byField(
      kinds.pod,
      POD_JOB_INDEX,
      jobset.metadata?.namespace ?? '',
      jobSetWorkerJobName(jobset.metadata?.name ?? ''),
    );
    return observeJobSet(jobset, pods);
  },
  isSuspended(top) {
    return (top as JobSetObject).spec?.suspend ?? false;
  },
  async setSuspended(ctx, top, suspended) {
    await ctx.client.patch(
      jobSetKind.resource,
      top.metadata?.namespace,
      top.metadata?.name ?? '',
      'merge',
      { spec: { suspend: suspended } },
      { fieldManager: ctx.fieldManager },
    );
  },
};
