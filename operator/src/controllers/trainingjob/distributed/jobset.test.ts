import { describe, expect, it } from 'vitest';
import type { PodObject } from '../../../runtime/builtin-kinds.js';
import { KUEUE_QUEUE_NAME_LABEL, type WorkerGroupPlan } from './backend.js';
import {
  desiredJobSet,
  JOBSET_RESTART_LABEL,
  type JobSetObject,
  jobSetMasterAddr,
  observeJobSet,
} from './jobset.js';
import { JOB_COMPLETION_INDEX_FIELD_PATH, TRAINER_RESERVED_ENV } from './rendezvous.js';
import { workerGroupPlanOf } from './testdata/worker-group-plan.js';

function planOf(overrides: Partial<WorkerGroupPlan> = {}, maxRestarts = 2): WorkerGroupPlan {
  return workerGroupPlanOf('JobSet', maxRestarts, { activeDeadlineSeconds: 600, ...overrides });
}

const envOf = (jobset: JobSetObject) =>
  jobset.spec?.replicatedJobs[0]?.template.spec?.template.spec?.containers[0]?.env ?? [];

describe('desiredJobSet', () => {
  it('is one Indexed Job of all workers, failing on the first failed worker', () => {
    const jobset = desiredJobSet(planOf());
    const [workers, ...others] = jobset.spec?.replicatedJobs ?? [];
    expect(others).toEqual([]);
    expect(workers?.name).toBe('node');
    expect(workers?.replicas).toBe(1);
    expect(workers?.template.spec).toMatchObject({
      completionMode: 'Indexed',
      completions: 2,
      parallelism: 2,
      backoffLimit: 0,
      activeDeadlineSeconds: 600,
    });
  });

  it('lets JobSet restart the group spec.distributed.maxRestarts times', () => {
    expect(desiredJobSet(planOf({}, 4)).spec?.failurePolicy).toEqual({ maxRestarts: 4 });
    expect(desiredJobSet(planOf({}, 0)).spec?.failurePolicy).toEqual({ maxRestarts: 0 });
  });

  it("publishes the workers' hostnames, worker 0's being MASTER_ADDR", () => {
    const jobset = desiredJobSet(planOf());
    expect(jobset.spec?.network).toEqual({
      enableDNSHostnames: true,
      publishNotReadyAddresses: true,
    });
    expect(jobSetMasterAddr(planOf())).toBe('ddp-train-abc123-a0-node-0-0.ddp-train-abc123-a0');
    const env = envOf(jobset);
    expect(env[0]).toEqual({ name: 'LATHE_RUN', value: 'x' });
    expect(env).toContainEqual({
      name: 'MASTER_ADDR',
      value: 'ddp-train-abc123-a0-node-0-0.ddp-train-abc123-a0',
    });
    expect(env).toContainEqual({ name: 'WORLD_SIZE', value: '2' });
    expect(env).toContainEqual({
      name: 'NODE_RANK',
      valueFrom: { fieldRef: { fieldPath: JOB_COMPLETION_INDEX_FIELD_PATH } },
    });
    // JobSet reserves nothing: torchrun's defaults are there too.
    for (const name of TRAINER_RESERVED_ENV) expect(env.map((e) => e.name)).toContain(name);
  });

  it('labels and owns the JobSet, its Jobs and pods', () => {
    const jobset = desiredJobSet(planOf());
    expect(jobset.metadata?.ownerReferences?.[0]?.uid).toBe('u1');
    expect(jobset.metadata?.labels?.['lathe.dev/attempt']).toBe('0');
    expect(jobset.metadata?.annotations).toEqual({ 'lathe.dev/dataset-version': '3' });
    const job = jobset.spec?.replicatedJobs[0]?.template;
    expect(job?.metadata?.labels?.['lathe.dev/worker-group']).toBe('ddp-train-abc123');
    expect(job?.spec?.template.metadata?.labels).toMatchObject({
      app: 'trainer',
      'lathe.dev/worker-group': 'ddp-train-abc123',
    });
  });

  it.each([
    {
      name: 'not queued',
      queueName: undefined,
      suspend: false,
      label: undefined,
      suspended: false,
    },
    { name: 'queued', queueName: 'gpus', suspend: false, label: 'gpus', suspended: true },
    { name: 'suspended', queueName: undefined, suspend: true, label: undefined, suspended: true },
  ])(
    '$name: Kueue label $label, suspended $suspended',
    ({ queueName, suspend, label, suspended }) => {
      const jobset = desiredJobSet(planOf({ queueName, suspend }));
      expect(jobset.metadata?.labels?.[KUEUE_QUEUE_NAME_LABEL]).toBe(label);
      expect(jobset.spec?.suspend).toBe(suspended);
    },
  );
});

function pod(
  index: number,
  phase: string,
  options: { restart?: number; exitCode?: number; message?: string; finishedAt?: string } = {},
): PodObject {
  const terminated =
    options.exitCode !== undefined
      ? {
          terminated: {
            exitCode: options.exitCode,
            message: options.message,
            finishedAt: options.finishedAt ?? '2026-01-01T00:00:10Z',
          },
        }
      : undefined;
  return {
    metadata: {
      name: `p${index}-${options.restart ?? 0}`,
      labels: {
        'jobset.sigs.k8s.io/jobset-name': 'js',
        [JOBSET_RESTART_LABEL]: String(options.restart ?? 0),
      },
      annotations: { 'batch.kubernetes.io/job-completion-index': String(index) },
    },
    status: {
      phase,
      ...(terminated ? { containerStatuses: [{ name: 'trainer', state: terminated }] } : {}),
    },
  } as PodObject;
}

function jobsetOf(
  status: JobSetObject['status'],
  options: { suspend?: boolean; maxRestarts?: number } = {},
): JobSetObject {
  const jobset = desiredJobSet(planOf({ name: 'js', suspend: options.suspend ?? false }));
  return {
    ...jobset,
    metadata: { ...jobset.metadata, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { ...jobset.spec!, failurePolicy: { maxRestarts: options.maxRestarts ?? 2 } },
    status,
  };
}

const trueCondition = (type: string, message = '') => ({
  type,
  status: 'True',
  reason: type,
  message,
  lastTransitionTime: '2026-01-01T00:01:00Z',
});

describe('observeJobSet', () => {
  it("succeeds with worker 0's result, from the current restart's pods", () => {
    const run = observeJobSet(jobsetOf({ restarts: 1, conditions: [trueCondition('Completed')] }), [
      pod(0, 'Failed', { restart: 0, exitCode: 1, message: 'old' }),
      pod(0, 'Succeeded', { restart: 1, exitCode: 0, message: '{"outcome":"succeeded"}' }),
      pod(1, 'Succeeded', { restart: 1, exitCode: 0, message: 'rank 1' }),
    ]);
    expect(run).toMatchObject({
      phase: 'Succeeded',
      terminationMessage: '{"outcome":"succeeded"}',
      restarts: 1,
    });
  });

  it('fails without another attempt once JobSet spent its restarts, naming the worker', () => {
    const run = observeJobSet(
      jobsetOf({
        restarts: 2,
        conditions: [trueCondition('Failed', 'jobset js reached max restarts')],
      }),
      [
        pod(0, 'Failed', { restart: 2, exitCode: 137, finishedAt: '2026-01-01T00:00:20Z' }),
        pod(1, 'Failed', {
          restart: 2,
          exitCode: 3,
          message: 'boom',
          finishedAt: '2026-01-01T00:00:05Z',
        }),
      ],
    );
    expect(run).toMatchObject({
      phase: 'Failed',
      reason: 'JobSetFailed',
      failedWorker: 1,
      exitCode: 3,
      terminationMessage: 'boom',
      restartable: false,
      restarts: 2,
    });
    expect(run.phase === 'Failed' && run.message).toBe(
      'Worker 1 of JobSet js failed (exit code 3) after 2 restarts of the group by JobSet (failurePolicy.maxRestarts 2)',
    );
  });

  it('reports a deadline as DeadlineExceeded', () => {
    const run = observeJobSet(
      jobsetOf({ conditions: [trueCondition('Failed', 'job js-node-0 failed: DeadlineExceeded')] }),
      [],
    );
    expect(run).toMatchObject({
      phase: 'Failed',
      reason: 'DeadlineExceeded',
      failedWorker: undefined,
    });
  });

  it.each([
    {
      name: 'suspended',
      jobset: jobsetOf({}, { suspend: true }),
      pods: [],
      phase: 'Pending',
      reason: 'Suspended',
    },
    {
      name: 'one of two running',
      jobset: jobsetOf({ restarts: 0 }),
      pods: [pod(0, 'Running'), pod(1, 'Pending')],
      phase: 'Pending',
      reason: 'WorkersStarting',
    },
    {
      name: 'restarting: the old restart still running does not count',
      jobset: jobsetOf({ restarts: 1 }),
      pods: [pod(0, 'Running', { restart: 0 }), pod(1, 'Running', { restart: 0 })],
      phase: 'Pending',
      reason: 'Restarting',
    },
    {
      name: 'all running after a restart',
      jobset: jobsetOf({ restarts: 1 }),
      pods: [pod(0, 'Running', { restart: 1 }), pod(1, 'Running', { restart: 1 })],
      phase: 'Running',
      reason: undefined,
    },
  ])('$name: $phase $reason', ({ jobset, pods, phase, reason }) => {
    const run = observeJobSet(jobset, pods);
    expect(run.phase).toBe(phase);
    if (reason) expect(run).toMatchObject({ reason });
  });
});
