import { describe, expect, it } from 'vitest';
import { type TrainingJobInput, TrainingJobSchema } from '../../../api/trainingjob.js';
import type { JobObject, PodObject } from '../../../runtime/builtin-kinds.js';
import { workerGroupPlan } from './group.js';
import {
  desiredWorkerJob,
  desiredWorkerService,
  firstFailedWorker,
  observeWorkerJob,
} from './indexed-job.js';
import { JOB_COMPLETION_INDEX_FIELD_PATH } from './rendezvous.js';

const store = {
  endpoint: 'http://minio:9000',
  bucket: 'lathe',
  region: 'us-east-1',
  accessKey: 'AK',
  secretKey: 'SK',
};
const owner = {
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'TrainingJob',
  name: 'ddp',
  uid: 'u',
  controller: true,
  blockOwnerDeletion: true,
};
const run = {
  datasetVersion: 'abcdefabcdef1234',
  datasetUri: 's3://lathe/datasets/ns/iris/abcdefabcdef1234/',
  runUri: 's3://lathe/runs/ns/ddp/',
  outputUri: 's3://lathe/runs/ns/ddp/artifact/',
  task: 'classification' as const,
};
const choice = {
  backend: 'IndexedJob' as const,
  reason: 'NoEngineInstalled',
  message: 'Auto: an Indexed Job',
};

function plan(spec: Partial<TrainingJobInput['spec']> = {}, attempt = 0) {
  const tj = TrainingJobSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: 'ddp', namespace: 'ns', uid: 'u' },
    spec: {
      datasetRef: { name: 'iris' },
      model: { custom: { image: 'ghcr.io/lathe-dev/lathe-trainer-pytorch:1' } },
      modelName: 'iris',
      distributed: { workers: 3 },
      ...spec,
    },
  });
  return workerGroupPlan(tj, run, { image: 'i', gpuImage: 'g', store, owner }, attempt, choice);
}

const envOf = (job: JobObject) =>
  Object.fromEntries(
    (job.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [
      e.name,
      e.value ?? e.valueFrom?.fieldRef?.fieldPath,
    ]),
  );

describe('desiredWorkerJob', () => {
  it('runs every worker at once as an Indexed Job that fails on its first failed worker', () => {
    const p = plan();
    const job = desiredWorkerJob(p);
    expect(job.metadata?.name).toBe(`${p.group}-a0`);
    expect(job.spec).toMatchObject({
      completionMode: 'Indexed',
      completions: 3,
      parallelism: 3,
      backoffLimit: 0,
      suspend: false,
    });
    expect(job.spec?.template.spec?.subdomain).toBe(p.group);
    expect(job.spec?.template.metadata?.labels).toMatchObject({
      'lathe.dev/trainingjob': 'ddp',
      'lathe.dev/worker-group': p.group,
      'lathe.dev/attempt': '0',
      'lathe.dev/distributed-backend': 'IndexedJob',
    });
    expect(job.metadata?.annotations).toMatchObject({
      'lathe.dev/dataset-version': run.datasetVersion,
      'lathe.dev/distributed-reason': 'NoEngineInstalled',
    });
  });

  it('gives each worker the rendezvous on worker 0 and its rank from the completion index', () => {
    const p = plan({}, 2);
    const env = envOf(desiredWorkerJob(p));
    expect(env).toMatchObject({
      MASTER_ADDR: `${p.group}-a2-0.${p.group}`,
      MASTER_PORT: '29500',
      WORLD_SIZE: '3',
      NODE_RANK: JOB_COMPLETION_INDEX_FIELD_PATH,
      PET_NNODES: '3',
      PET_NODE_RANK: JOB_COMPLETION_INDEX_FIELD_PATH,
      LATHE_TRAINING_JOB_NAME: 'ddp',
    });
    expect(desiredWorkerJob(p).spec?.template.spec?.containers[0]?.ports).toEqual([
      { name: 'rendezvous', containerPort: 29500, protocol: 'TCP' },
    ]);
  });

  it('uses the GPUs per worker as processes per worker unless told, and the port asked for', () => {
    const env = envOf(
      desiredWorkerJob(plan({ resources: { gpu: 4 }, distributed: { workers: 2, port: 23456 } })),
    );
    expect(env).toMatchObject({ WORLD_SIZE: '8', PET_NPROC_PER_NODE: '4', MASTER_PORT: '23456' });
    expect(env.RANK).toBeUndefined();
  });

  it('carries the Kueue queue as a label and starts suspended for Kueue to admit', () => {
    const job = desiredWorkerJob(plan({ queueName: 'team-a' }));
    expect(job.metadata?.labels?.['kueue.x-k8s.io/queue-name']).toBe('team-a');
    expect(job.spec?.suspend).toBe(true);
  });

  it('keeps hostnames within 63 characters for a long TrainingJob name', () => {
    const long = 'x'.repeat(63);
    const tj = TrainingJobSchema.parse({
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name: long, namespace: 'ns' },
      spec: {
        datasetRef: { name: 'iris' },
        model: { custom: { image: 'x:1' } },
        modelName: 'iris',
        distributed: { workers: 1024, maxRestarts: 100 },
      },
    });
    const p = workerGroupPlan(tj, run, { image: 'i', gpuImage: 'g', store, owner }, 100, choice);
    expect(`${p.name}-1023`.length).toBeLessThanOrEqual(63);
  });
});

describe('desiredWorkerService', () => {
  it('is headless, publishes not-ready workers and selects the group of every attempt', () => {
    const p = plan({}, 1);
    const service = desiredWorkerService(p);
    expect(service.metadata?.name).toBe(p.group);
    expect(service.spec).toMatchObject({
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { 'lathe.dev/worker-group': p.group },
    });
    expect(service.metadata?.labels?.['lathe.dev/attempt']).toBeUndefined();
  });
});

function pod(
  index: number,
  phase: string,
  terminated?: { exitCode: number; finishedAt: string; message?: string; reason?: string },
  deleted = false,
): PodObject {
  return {
    metadata: {
      name: `w-${index}`,
      annotations: { 'batch.kubernetes.io/job-completion-index': String(index) },
      creationTimestamp: '2026-12-07T10:00:00Z',
      ...(deleted ? { deletionTimestamp: '2026-12-07T10:05:00Z' } : {}),
    },
    status: {
      phase,
      ...(terminated ? { containerStatuses: [{ name: 'trainer', state: { terminated } }] } : {}),
    },
  } as PodObject;
}

const job = (status: JobObject['status'], completions = 2): JobObject =>
  ({ metadata: { name: 'g-a0' }, spec: { completions, template: {} }, status }) as JobObject;
const failedJob = job({
  conditions: [
    {
      type: 'Failed',
      status: 'True',
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    },
  ],
});

describe('observeWorkerJob', () => {
  it.each([
    { name: 'no pod yet', pods: [], phase: 'Pending', reason: 'Creating' },
    {
      name: 'one of two running',
      pods: [pod(0, 'Running'), pod(1, 'Pending')],
      phase: 'Pending',
      reason: 'WorkersStarting',
    },
    {
      name: 'both running',
      pods: [pod(0, 'Running'), pod(1, 'Running')],
      phase: 'Running',
      reason: undefined,
    },
  ])('$name: $phase', ({ pods, phase, reason }) => {
    const observed = observeWorkerJob(job({ startTime: '2026-12-07T10:00:00Z' }), pods);
    expect(observed.phase).toBe(phase);
    if (reason) expect(observed).toMatchObject({ reason });
  });

  it('takes the result of rank 0, not of the last worker to finish', () => {
    const done = job({ conditions: [{ type: 'Complete', status: 'True' }] });
    const observed = observeWorkerJob(done, [
      pod(1, 'Succeeded', { exitCode: 0, finishedAt: '2026-12-07T10:02:00Z', message: 'rank1' }),
      pod(0, 'Succeeded', { exitCode: 0, finishedAt: '2026-12-07T10:01:00Z', message: 'rank0' }),
    ]);
    expect(observed).toMatchObject({ phase: 'Succeeded', terminationMessage: 'rank0' });
  });

  it('names the worker that failed first, not the ones the Job controller stopped after', () => {
    const observed = observeWorkerJob(failedJob, [
      pod(
        0,
        'Failed',
        { exitCode: 143, finishedAt: '2026-12-07T10:03:01Z', reason: 'Error' },
        true,
      ),
      pod(1, 'Failed', { exitCode: 1, finishedAt: '2026-12-07T10:03:00Z', message: 'boom' }),
    ]);
    expect(observed).toMatchObject({
      phase: 'Failed',
      failedWorker: 1,
      restartable: true,
      message: 'Worker 1 of Job g-a0 failed (exit code 1)',
      terminationMessage: 'boom',
    });
  });

  it('does not restart a group whose deadline passed', () => {
    const expired = job({
      conditions: [
        {
          type: 'Failed',
          status: 'True',
          reason: 'DeadlineExceeded',
          message: 'Job was active longer than specified deadline',
        },
      ],
    });
    expect(observeWorkerJob(expired, [])).toMatchObject({
      restartable: false,
      failedWorker: undefined,
    });
  });

  it('prefers a worker nobody deleted, else the earliest', () => {
    const a = pod(0, 'Failed', { exitCode: 137, finishedAt: '2026-12-07T10:00:01Z' }, true);
    const b = pod(1, 'Failed', { exitCode: 143, finishedAt: '2026-12-07T10:00:02Z' }, true);
    expect(firstFailedWorker([b, a])).toBe(a);
    expect(firstFailedWorker([pod(2, 'Running'), pod(3, 'Succeeded')])).toBeUndefined();
  });
});
