/**
 * What a Job run of Lathe's (an ingestion, a training) looks like from its Job and pods, read
 * from the caches: pure, no I/O, so every controller that runs Jobs classifies them the same
 * way and reports the same reasons.
 *
 * The reasons are the ones a user can act on: `Unschedulable` / `InsufficientGPU` with the
 * scheduler's message, `ImagePullFailed`, `OutOfMemory`, `DeadlineExceeded`,
 * `BackoffLimitExceeded` with the last exit code, and the program's own result from the
 * container's termination message (contract/results.ts), which the caller parses.
 */
import { type JobObject, kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import { type CacheReaders, POD_JOB_INDEX } from '../../runtime/controller.js';

export type JobRun =
  | { phase: 'Pending'; reason: string; message: string }
  | { phase: 'Running'; startTime: string | undefined; message: string }
  | {
      phase: 'Succeeded';
      startTime: string | undefined;
      completionTime: string | undefined;
      /** The termination message of the pod that succeeded. */
      terminationMessage: string | undefined;
    }
  | {
      phase: 'Failed';
      reason: string;
      message: string;
      startTime: string | undefined;
      completionTime: string | undefined;
      exitCode: number | undefined;
      /** The termination message of the last pod that ran, if it wrote one. */
      terminationMessage: string | undefined;
    };

const imagePullReasons = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
]);

/** The pods of `job` (by the controller-uid label the Job controller sets), newest first. */
export function podsOfJob(job: JobObject, pods: readonly PodObject[]): PodObject[] {
  const uid = job.metadata?.uid;
  return pods
    .filter(
      (p) =>
        p.metadata?.ownerReferences?.some((r) => r.controller && r.uid === uid) ||
        p.metadata?.labels?.['batch.kubernetes.io/controller-uid'] === uid,
    )
    .sort((a, b) =>
      (b.metadata?.creationTimestamp ?? '').localeCompare(a.metadata?.creationTimestamp ?? ''),
    );
}

/**
 * The pods of `job` from the pod cache, through the Job-name index `watchesPodsOf` declares
 * (never a scan of the namespace), newest first.
 */
export function cachedPodsOfJob(caches: CacheReaders, job: JobObject): PodObject[] {
  const candidates = caches.byField(
    kinds.pod,
    POD_JOB_INDEX,
    job.metadata?.namespace ?? '',
    job.metadata?.name ?? '',
  );
  return podsOfJob(job, candidates);
}

interface Terminated {
  exitCode: number | undefined;
  reason: string | undefined;
  message: string | undefined;
  finishedAt: string | undefined;
}

/** The last termination of the pod's first container (current state, else last state). */
function terminationOf(pod: PodObject | undefined): Terminated | undefined {
  const status = pod?.status?.containerStatuses?.[0];
  const t = status?.state?.terminated ?? status?.lastState?.terminated;
  if (!t) return undefined;
  return {
    exitCode: t.exitCode,
    reason: t.reason,
    message: t.message,
    finishedAt: t.finishedAt,
  };
}

function condition(job: JobObject, type: string) {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** Classifies `job` from its status and its pods (as `podsOfJob` returns them). */
export function observeJobRun(job: JobObject, pods: readonly PodObject[]): JobRun {
  const startTime = job.status?.startTime;
  const completionTime = job.status?.completionTime;
  const latest = pods[0];
  const terminated = pods.map(terminationOf).find((t) => t !== undefined);

  if (condition(job, 'Complete')) {
    const succeeded =
      pods.find((p) => p.status?.phase === 'Succeeded') ?? pods.find((p) => terminationOf(p));
    return {
      phase: 'Succeeded',
      startTime,
      completionTime,
      terminationMessage: terminationOf(succeeded)?.message,
    };
  }
  const failed = condition(job, 'Failed');
  if (failed) {
    const reason =
      terminated?.reason === 'OOMKilled'
        ? 'OutOfMemory'
        : failed.reason === 'DeadlineExceeded'
          ? 'DeadlineExceeded'
          : failed.reason === 'BackoffLimitExceeded'
            ? 'BackoffLimitExceeded'
            : (failed.reason ?? 'JobFailed');
    const exit =
      terminated?.exitCode !== undefined
        ? ` The last container exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}.`
        : '';
    return {
      phase: 'Failed',
      reason,
      message: `${failed.message ?? `Job ${job.metadata?.name} failed`}.${exit}`.replace(
        /\.\./g,
        '.',
      ),
      startTime,
      completionTime: completionTime ?? failed.lastTransitionTime,
      exitCode: terminated?.exitCode,
      terminationMessage: terminated?.message,
    };
  }
  if (job.spec?.suspend) {
    return {
      phase: 'Pending',
      reason: 'Suspended',
      message: `Job ${job.metadata?.name} is suspended`,
    };
  }
  if (!latest) {
    return {
      phase: 'Pending',
      reason: 'Creating',
      message: `Waiting for the pod of Job ${job.metadata?.name}`,
    };
  }
  const scheduled = latest.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    const message = scheduled.message ?? 'no node can run the pod';
    return {
      phase: 'Pending',
      reason: /Insufficient nvidia\.com\/gpu/.test(message) ? 'InsufficientGPU' : 'Unschedulable',
      message,
    };
  }
  const waiting = latest.status?.containerStatuses?.[0]?.state?.waiting;
  if (waiting?.reason && imagePullReasons.has(waiting.reason)) {
    return {
      phase: 'Pending',
      reason: 'ImagePullFailed',
      message:
        waiting.message ?? `cannot pull ${latest.spec?.containers?.[0]?.image ?? 'the image'}`,
    };
  }
  if (latest.status?.phase === 'Succeeded' || latest.status?.phase === 'Failed') {
    // The pod ended; the Job controller has not recorded it yet.
    return {
      phase: 'Running',
      startTime: latest.status.startTime ?? startTime,
      message: `Pod ${latest.metadata?.name} ${latest.status.phase === 'Succeeded' ? 'finished' : 'failed'}; the Job is recording it`,
    };
  }
  if (latest.status?.phase === 'Running') {
    return {
      phase: 'Running',
      startTime: latest.status.startTime ?? startTime,
      message: `Pod ${latest.metadata?.name} is running`,
    };
  }
  return {
    phase: 'Pending',
    reason: waiting?.reason ?? 'PodPending',
    message:
      waiting?.message ?? `Pod ${latest.metadata?.name} is ${latest.status?.phase ?? 'pending'}`,
  };
}
