/**
 * The built-in backend: one attempt of the worker group as an Indexed `batch/v1` Job
 * (completions = parallelism = workers) behind a headless Service — the shape JobSet and
 * Kubeflow Trainer build underneath, with nothing to install.
 *
 * - Names: the Job controller names each pod's hostname `<job>-<index>`; with the template's
 *   `subdomain` equal to the headless Service's name, the EndpointSlice controller publishes it
 *   and the cluster DNS answers `<job>-0.<service>` (and its FQDN) with worker 0's address — the
 *   `MASTER_ADDR`. `publishNotReadyAddresses` publishes it before any readiness, as the workers
 *   look each other up while they start.
 * - Ranks: `NODE_RANK` is the pod's completion index, through the downward API on the
 *   `batch.kubernetes.io/job-completion-index` annotation (as Trainer's torch plugin does).
 * - Failure: `backoffLimit: 0`, so the first failed worker fails the Job and the Job controller
 *   stops the others; the TrainingJob controller then starts the next attempt. The Service is
 *   the group's, kept across attempts: each attempt's hostnames differ by the Job's name.
 * - Success: the Job completes when every index has; the model is rank 0's (its termination
 *   message is the run's result).
 */

import {
  type JobObject,
  kinds,
  type PodObject,
  type ServiceObject,
} from '../../../runtime/builtin-kinds.js';
import type { CacheReaders } from '../../../runtime/controller.js';
import type { KubeObject } from '../../../runtime/resource.js';
import { cachedPodsOfJob, type JobRun, observeJobRun } from '../../shared/job-run.js';
import {
  type DesiredChild,
  type DistributedBackend,
  DistributedLabel,
  type WorkerGroupPlan,
  type WorkerGroupRun,
  workloadMetadata,
} from './backend.js';
import { JOB_COMPLETION_INDEX_FIELD_PATH, rendezvousEnv } from './rendezvous.js';

/** The annotation the Job controller puts the completion index in. */
export const COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';

/** The DNS name of worker 0 of an attempt: `<job>-0.<service>`. */
export function indexedJobMasterAddr(plan: Pick<WorkerGroupPlan, 'name' | 'group'>): string {
  return `${plan.name}-0.${plan.group}`;
}

/** The group's headless Service: `<group>`, selecting the group's pods of every attempt. */
export function desiredWorkerService(plan: WorkerGroupPlan): ServiceObject {
  const { [DistributedLabel.attempt]: _attempt, ...labels } = plan.labels;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: plan.group,
      namespace: plan.namespace,
      labels,
      ownerReferences: [plan.owner],
    },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { [DistributedLabel.group]: plan.group },
      ports: [{ name: 'rendezvous', port: plan.port, targetPort: plan.port, protocol: 'TCP' }],
    },
  };
}

/** The attempt's Indexed Job. */
export function desiredWorkerJob(plan: WorkerGroupPlan): JobObject {
  const { template } = plan;
  const env = rendezvousEnv({
    workers: plan.workers,
    processesPerWorker: plan.processesPerWorker,
    masterAddr: indexedJobMasterAddr(plan),
    port: plan.port,
    nodeRank: { fieldPath: JOB_COMPLETION_INDEX_FIELD_PATH },
  });
  const [trainer, ...others] = template.spec.containers;
  if (!trainer) throw new Error('The trainer pod template has no container');
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: workloadMetadata(plan),
    spec: {
      completionMode: 'Indexed',
      completions: plan.workers,
      parallelism: plan.workers,
      backoffLimit: 0,
      ...(plan.activeDeadlineSeconds ? { activeDeadlineSeconds: plan.activeDeadlineSeconds } : {}),
      suspend: plan.suspend || plan.queueName !== undefined,
      template: {
        metadata: { labels: { ...template.metadata.labels, ...plan.labels } },
        spec: {
          ...template.spec,
          subdomain: plan.group,
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
  };
}

/** The worker (completion index) a pod runs. */
export function workerOf(pod: PodObject): number | undefined {
  const raw = pod.metadata?.annotations?.[COMPLETION_INDEX_ANNOTATION];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

function terminated(pod: PodObject) {
  const status = pod.status?.containerStatuses?.[0];
  return status?.state?.terminated ?? status?.lastState?.terminated;
}

/**
 * The worker whose failure ended the attempt: the failed pod that finished first, preferring
 * pods nobody deleted (the Job controller deletes the others once the Job has failed). Pure.
 */
export function firstFailedWorker(pods: readonly PodObject[]): PodObject | undefined {
  const failed = pods
    .filter((p) => p.status?.phase === 'Failed' || (terminated(p)?.exitCode ?? 0) !== 0)
    .sort((a, b) =>
      (terminated(a)?.finishedAt ?? '~').localeCompare(terminated(b)?.finishedAt ?? '~'),
    );
  return failed.find((p) => !p.metadata?.deletionTimestamp) ?? failed[0];
}

/** Where an attempt stands, from its Job and the Job's pods. Pure. */
export function observeWorkerJob(job: JobObject, pods: readonly PodObject[]): WorkerGroupRun {
  const run = observeJobRun(job, pods);
  const workers = job.spec?.completions ?? 1;
  if (run.phase === 'Succeeded') {
    const rank0 = pods.find((p) => workerOf(p) === 0 && p.status?.phase === 'Succeeded');
    return { ...run, terminationMessage: rank0 ? terminated(rank0)?.message : undefined };
  }
  if (run.phase === 'Failed') {
    const culprit = firstFailedWorker(pods);
    const worker = culprit ? workerOf(culprit) : undefined;
    const ended = culprit ? terminated(culprit) : undefined;
    const exit =
      ended?.exitCode !== undefined
        ? ` (exit code ${ended.exitCode}${ended.reason ? `, ${ended.reason}` : ''})`
        : '';
    return {
      ...run,
      reason: ended?.reason === 'OOMKilled' ? 'OutOfMemory' : run.reason,
      message:
        worker === undefined
          ? `A worker of Job ${job.metadata?.name} failed: ${run.message}`
          : `Worker ${worker} of Job ${job.metadata?.name} failed${exit}`,
      exitCode: ended?.exitCode ?? run.exitCode,
      terminationMessage: ended?.message ?? run.terminationMessage,
      failedWorker: worker,
      restartable: run.reason !== 'DeadlineExceeded',
    };
  }
  if (run.phase === 'Pending' && (run.reason === 'Suspended' || pods.length === 0)) return run;
  // A group runs only when all its workers do; one that cannot start holds the others.
  const blocked = pods
    .map((p) => observeJobRun({ ...job, status: {} }, [p]))
    .find(
      (r): r is Extract<JobRun, { phase: 'Pending' }> =>
        r.phase === 'Pending' && r.reason !== 'PodPending' && r.reason !== 'Creating',
    );
  if (blocked) return blocked;
  const running = pods.filter(
    (p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp,
  );
  if (running.length >= workers) {
    return {
      phase: 'Running',
      startTime: job.status?.startTime,
      message: `${workers} of ${workers} workers of Job ${job.metadata?.name} are running`,
    };
  }
  return {
    phase: 'Pending',
    reason: 'WorkersStarting',
    message: `${running.length} of ${workers} workers of Job ${job.metadata?.name} are running`,
  };
}

/** The Indexed Job backend. */
export const indexedJobBackend: DistributedBackend = {
  name: 'IndexedJob',
  ownedKinds: [kinds.job, kinds.service] as DistributedBackend['ownedKinds'],
  topKind: kinds.job as DistributedBackend['topKind'],
  desired(plan): DesiredChild[] {
    return [
      { kind: kinds.service as DesiredChild['kind'], object: desiredWorkerService(plan) },
      { kind: kinds.job as DesiredChild['kind'], object: desiredWorkerJob(plan) },
    ];
  },
  keptAcrossAttempts(plan) {
    return [{ kind: kinds.service as DesiredChild['kind'], name: plan.group }];
  },
  observe(caches: CacheReaders, top: KubeObject): WorkerGroupRun {
    const job = top as JobObject;
    return observeWorkerJob(job, cachedPodsOfJob(caches, job));
  },
  isSuspended(top) {
    return (top as JobObject).spec?.suspend ?? false;
  },
  async setSuspended(ctx, top, suspended) {
    await ctx.client.patch(
      kinds.job.resource,
      top.metadata?.namespace,
      top.metadata?.name ?? '',
      'merge',
      { spec: { suspend: suspended } },
      { fieldManager: ctx.fieldManager },
    );
  },
};
