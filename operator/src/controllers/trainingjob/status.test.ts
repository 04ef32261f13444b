import { describe, expect, it } from 'vitest';
import type { TrainingProgress } from '../../../../contract/results.js';
import { type TrainingJob, TrainingJobSchema } from '../../api/trainingjob.js';
import type { JobObject } from '../../runtime/builtin-kinds.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import type { JobRun } from '../shared/job-run.js';
import {
  failureOf,
  jobReadiness,
  progressSummary,
  runConditions,
  succeededCondition,
  suspendedCondition,
  type TrainingFacts,
  trainingJobStatusFields,
  trainingPhase,
  workloadDescription,
} from './status.js';

function trainingJob(suspend = false): TrainingJob {
  return TrainingJobSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: 't', namespace: 'ns', generation: 1 },
    spec: {
      datasetRef: { name: 'iris' },
      model: { builtin: { architecture: 'linear' } },
      modelName: 'iris',
      suspend,
    },
  });
}
const tj = trainingJob();
const suspended = trainingJob(true);

const pending: JobRun = { phase: 'Pending', reason: 'Creating', message: 'waiting for the pod' };
const noGpu: JobRun = {
  phase: 'Pending',
  reason: 'InsufficientGPU',
  message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
};
const jobSuspended: JobRun = { phase: 'Pending', reason: 'Suspended', message: 'suspended' };
const running: JobRun = { phase: 'Running', startTime: '2026-06-01T11:59:00Z', message: '' };
const succeeded: JobRun = {
  phase: 'Succeeded',
  startTime: '2026-06-01T11:00:00Z',
  completionTime: '2026-06-01T11:59:00Z',
  terminationMessage: '',
};
const failed: JobRun = {
  phase: 'Failed',
  reason: 'BackoffLimitExceeded',
  message: 'Job has reached the specified backoff limit. The last container exited with code 3.',
  startTime: undefined,
  completionTime: '2026-06-01T11:59:00Z',
  exitCode: 3,
  terminationMessage: 'Error: boom',
};
const failure = { reason: 'BackoffLimitExceeded', message: 'Job failed' };
const modelVersion = { name: 'iris-v1', version: 1 };
const registered = {
  metadata: { name: 'iris-v1', namespace: 'ns' },
  spec: { modelName: 'iris', version: 1 },
} as unknown as ModelVersionObject;
const job = {
  metadata: { name: 't-train-0123abcd', namespace: 'ns' },
} as JobObject;
const progress: TrainingProgress = {
  epoch: 12,
  totalEpochs: 50,
  loss: 0.2143,
  metrics: { acc: 0.9 },
  updatedAt: '',
};
const dataset = { version: 'abcdefabcdef1234', task: 'classification' as const };

describe('trainingPhase', () => {
  it.each<[string, TrainingJob, Partial<TrainingFacts>, string]>([
    ['nothing found yet', tj, {}, 'Pending'],
    ['a pod waiting for GPUs', tj, { job, run: noGpu }, 'Pending'],
    ['a running trainer', tj, { job, run: running }, 'Running'],
    ['a finished trainer not yet registered', tj, { job, run: succeeded }, 'Running'],
    ['a registered ModelVersion', tj, { job, run: succeeded, modelVersion }, 'Succeeded'],
    ['a registered run whose Job is gone', tj, { registered }, 'Succeeded'],
    ['a failed run', tj, { job, run: failed, failure }, 'Failed'],
    ['a suspended run', suspended, { job, run: running }, 'Suspended'],
    ['suspended before its Job exists', suspended, {}, 'Suspended'],
    ['suspended after it failed', suspended, { job, run: failed, failure }, 'Failed'],
    ['suspended after it registered', suspended, { registered }, 'Succeeded'],
  ])('%s → %s', (_, object, facts, phase) => {
    expect(trainingPhase(object, facts)).toBe(phase);
  });
});

describe('trainingJobStatusFields', () => {
  it('builds every field from the facts alone', () => {
    expect(
      trainingJobStatusFields(tj, {
        job,
        run: succeeded,
        attempts: 1,
        dataset,
        progress,
        modelVersion,
      }),
    ).toEqual({
      phase: 'Succeeded',
      task: 'classification',
      startTime: '2026-06-01T11:00:00Z',
      completionTime: '2026-06-01T11:59:00Z',
      datasetVersion: dataset.version,
      progress: {
        epoch: 12,
        totalEpochs: 50,
        loss: 0.2143,
        metrics: { acc: 0.9 },
        summary: '12/50 loss=0.2143 acc=0.900',
      },
      attempts: 1,
      jobName: 't-train-0123abcd',
      modelVersion,
      failure: undefined,
    });
  });

  it('leaves undefined what no step found (kept on an error path, removed on success)', () => {
    const fields = trainingJobStatusFields(tj, {});
    expect(fields.phase).toBe('Pending');
    for (const field of ['datasetVersion', 'jobName', 'modelVersion', 'progress', 'startTime'])
      expect(fields[field as keyof typeof fields], field).toBeUndefined();
  });

  it('reads the ModelVersion of a registered run from the object found', () => {
    expect(trainingJobStatusFields(tj, { registered }).modelVersion).toEqual(modelVersion);
  });

  it('cuts a failure to the schema limits', () => {
    const long = { reason: 'R'.repeat(200), message: 'm'.repeat(5000) };
    const fields = trainingJobStatusFields(tj, { job, run: failed, failure: long });
    expect(fields.failure?.reason).toHaveLength(128);
    expect(fields.failure?.message).toHaveLength(4096);
  });
});

describe('runConditions', () => {
  it.each<[string, Partial<TrainingFacts>, string, string, string]>([
    ['no Job yet', {}, 'False', 'False', 'NotStarted'],
    ['training', { run: running }, 'False', 'False', 'Training'],
    ['trained', { run: succeeded }, 'True', 'False', 'TrainingSucceeded'],
    ['registered, the Job gone', { registered }, 'True', 'False', 'TrainingSucceeded'],
    ['failed', { run: failed, failure }, 'False', 'True', 'BackoffLimitExceeded'],
  ])('%s: Trained=%s Failed=%s (%s)', (_, facts, trained, failedStatus, reason) => {
    const [t, f] = runConditions(facts);
    expect([t?.type, t?.status, t?.reason]).toEqual(['Trained', trained, reason]);
    expect([f?.type, f?.status, f?.reason]).toEqual(['Failed', failedStatus, reason]);
  });
});

describe('suspendedCondition', () => {
  it.each<[string, TrainingJob, boolean, string, string]>([
    ['not suspended', tj, false, 'False', 'NotSuspended'],
    ['suspended while the run is unfinished', suspended, false, 'True', 'Suspended'],
    ['suspended after the run finished', suspended, true, 'False', 'Finished'],
  ])('%s → %s (%s)', (_, object, finished, status, reason) => {
    expect(suspendedCondition(object, finished)).toMatchObject({
      type: 'Suspended',
      status,
      reason,
    });
  });
});

describe('succeededCondition', () => {
  it.each<[string, Partial<TrainingFacts>, string, string]>([
    ['registered', { modelVersion }, 'True', 'ModelVersionRegistered'],
    ['failed', { failure }, 'False', 'BackoffLimitExceeded'],
    ['not yet', {}, 'False', 'NotRegistered'],
  ])('%s → %s (%s)', (_, facts, status, reason) => {
    expect(succeededCondition(facts)).toMatchObject({ type: 'Succeeded', status, reason });
  });
});

describe('jobReadiness', () => {
  it.each<[string, TrainingJob, JobRun | undefined, boolean, string | undefined]>([
    ['a Job to create', tj, undefined, false, 'Creating'],
    ['a pod waiting for a node', tj, noGpu, false, 'InsufficientGPU'],
    ['a pod being created', tj, pending, false, 'Creating'],
    ['a running pod (the progress step reports it)', tj, running, false, undefined],
    ['spec.suspend on a running Job', suspended, running, false, 'Suspended'],
    ['spec.suspend before the Job exists', suspended, undefined, false, 'Suspended'],
    ['resumed, the Job still suspended', tj, jobSuspended, false, 'Resuming'],
    [
      'waiting for Kueue to admit it',
      { ...tj, spec: { ...tj.spec, queueName: 'team-a' } },
      jobSuspended,
      false,
      'Queued',
    ],
    ['a finished run', suspended, succeeded, true, undefined],
  ])('%s → %s', (_, object, run, finished, reason) => {
    const readiness = jobReadiness(object, run, finished);
    expect(readiness?.reason).toBe(reason);
    if (readiness) expect(readiness.state).toBe('progressing');
  });
});

describe('failureOf', () => {
  it.each<[string, JobRun, Parameters<typeof failureOf>[1], string | undefined]>([
    ['a running Job', running, undefined, undefined],
    ['a Job that succeeded with a result', succeeded, succeededResult(), undefined],
    ['a Job that succeeded without a result', succeeded, undefined, 'NoResult'],
    [
      "the trainer's own failure",
      failed,
      { kind: 'train', outcome: 'failed', reason: 'InvalidData', message: 'no rows' },
      'InvalidData',
    ],
    ['a failed Job without a result', failed, undefined, 'BackoffLimitExceeded'],
  ])('%s → %s', (_, run, result, reason) => {
    expect(failureOf(run, result)?.reason).toBe(reason);
  });

  it("adds the trainer's last output to a failed Job's message", () => {
    expect(failureOf(failed, undefined)?.message).toMatch(/code 3\. Its last output: Error: boom$/);
  });
});

function succeededResult(): Parameters<typeof failureOf>[1] {
  return {
    kind: 'train',
    outcome: 'succeeded',
    artifact: { uri: 's3://b/a/', digest: `sha256:${'a'.repeat(64)}`, format: 'tfjs' },
    metrics: { accuracy: 0.9 },
    backend: 'tensorflow',
    epochs: 1,
  };
}

describe('progressSummary', () => {
  it('summarises progress for kubectl get', () => {
    expect(
      progressSummary({
        epoch: 12,
        totalEpochs: 50,
        loss: 0.21434,
        metrics: { val_acc: 0.9667 },
        updatedAt: '',
      }),
    ).toBe('12/50 loss=0.2143 acc=0.967');
  });
});

describe('a distributed run in status', () => {
  const distributed = {
    backend: 'IndexedJob' as const,
    reason: 'NoEngineInstalled',
    message: 'Auto: an Indexed Job with a headless Service (JobSet is not installed)',
    workers: 2,
    attempt: 1,
    failedWorker: 1,
    restartNext: undefined,
  };
  const workload = { metadata: { name: 'ddp-train-1a2b3c4d-a1' } };

  it('reports the backend, why, the restarts and the failed worker; the attempt is the job', () => {
    const fields = trainingJobStatusFields(tj, { workload, distributed, attempts: 2 });
    expect(fields).toMatchObject({
      jobName: 'ddp-train-1a2b3c4d-a1',
      attempts: 2,
      distributed: {
        backend: 'IndexedJob',
        reason: 'NoEngineInstalled',
        message: distributed.message,
        workers: 2,
        restarts: 1,
        failedWorker: 1,
      },
    });
    expect(trainingJobStatusFields(tj, {}).distributed).toBeUndefined();
  });

  it.each([
    { name: 'a single-pod run', facts: { workload }, expected: 'Job ddp-train-1a2b3c4d-a1' },
    {
      name: 'a first attempt',
      facts: { workload, distributed: { ...distributed, attempt: 0 } },
      expected: '2 workers on IndexedJob (NoEngineInstalled) in ddp-train-1a2b3c4d-a1',
    },
    {
      name: 'a restarted group',
      facts: { workload, distributed },
      expected: '2 workers on IndexedJob (NoEngineInstalled, restart 1) in ddp-train-1a2b3c4d-a1',
    },
    {
      name: 'a group JobSet restarted twice in its first attempt',
      facts: {
        workload,
        distributed: { ...distributed, backend: 'JobSet' as const, attempt: 0, engineRestarts: 2 },
      },
      expected: '2 workers on JobSet (NoEngineInstalled, restart 2) in ddp-train-1a2b3c4d-a1',
    },
  ])('the Ready message says where $name trains', ({ facts, expected }) => {
    expect(workloadDescription(facts)).toBe(expected);
  });

  it("counts the engine's own restarts with the attempts", () => {
    const engine = { ...distributed, attempt: 0, engineRestarts: 2 };
    expect(trainingJobStatusFields(tj, { distributed: engine }).distributed?.restarts).toBe(2);
    const both = { ...distributed, attempt: 1, engineRestarts: 1 };
    expect(trainingJobStatusFields(tj, { distributed: both }).distributed?.restarts).toBe(2);
  });
});
