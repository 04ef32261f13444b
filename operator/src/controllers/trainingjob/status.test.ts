import { describe, expect, it } from 'vitest';
import { type TrainingJob, TrainingJobSchema } from '../../api/trainingjob.js';
import { progressSummary, type TrainingObservation, trainingJobStatus } from './status.js';

const now = new Date('2026-06-01T12:00:00Z');
const tj: TrainingJob = TrainingJobSchema.parse({
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'TrainingJob',
  metadata: { name: 't', namespace: 'ns', generation: 1 },
  spec: {
    datasetRef: { name: 'iris' },
    model: { builtin: { architecture: 'linear' } },
    modelName: 'iris',
  },
});
const ready = {
  ready: true as const,
  version: 'abcdefabcdef1234',
  task: 'classification' as const,
};
const base: TrainingObservation = {
  dataset: ready,
  job: undefined,
  result: undefined,
  progress: undefined,
  modelVersion: undefined,
};
const cond = (s: ReturnType<typeof trainingJobStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe('trainingJobStatus', () => {
  it.each([
    [
      'waiting for the dataset',
      {
        ...base,
        dataset: {
          ready: false as const,
          reason: 'DatasetNotReady',
          message: 'Dataset iris is not Ready',
          terminal: false,
        },
      },
      'Pending',
      'DatasetNotReady',
    ],
    [
      'a pod that no node can hold for want of GPUs',
      {
        ...base,
        job: {
          name: 't-train-g1',
          attempts: 0,
          run: {
            phase: 'Pending' as const,
            reason: 'InsufficientGPU',
            message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
          },
        },
      },
      'Pending',
      'InsufficientGPU',
    ],
    [
      'a running trainer with progress',
      {
        ...base,
        job: {
          name: 't-train-g1',
          attempts: 1,
          run: { phase: 'Running' as const, startTime: '2026-06-01T11:59:00Z', message: '' },
        },
        progress: {
          epoch: 12,
          totalEpochs: 50,
          loss: 0.2143,
          metrics: { acc: 0.9 },
          updatedAt: '',
        },
      },
      'Running',
      'Training',
    ],
    [
      'a failed Job, with the exit code and the trainer output',
      {
        ...base,
        job: {
          name: 't-train-g1',
          attempts: 3,
          run: {
            phase: 'Failed' as const,
            reason: 'BackoffLimitExceeded',
            message:
              'Job has reached the specified backoff limit. The last container exited with code 3.',
            startTime: undefined,
            completionTime: '2026-06-01T11:59:00Z',
            exitCode: 3,
            terminationMessage: 'Error: boom',
          },
        },
      },
      'Failed',
      'BackoffLimitExceeded',
    ],
    [
      'a registered ModelVersion',
      {
        ...base,
        job: {
          name: 't-train-g1',
          attempts: 1,
          run: {
            phase: 'Succeeded' as const,
            startTime: undefined,
            completionTime: '2026-06-01T11:59:00Z',
            terminationMessage: '',
          },
        },
        modelVersion: { name: 'iris-v1', version: 1 },
      },
      'Succeeded',
      'ModelVersionRegistered',
    ],
  ])('%s → %s (%s)', (_, observation, phase, reason) => {
    const s = trainingJobStatus(tj, observation, now);
    expect(s.phase).toBe(phase);
    expect(cond(s, 'Ready')?.reason).toBe(reason);
    expect(s.datasetVersion ?? ready.version).toBe(ready.version);
  });

  it('reports the failure reason and message, and stalls', () => {
    const s = trainingJobStatus(
      tj,
      {
        ...base,
        job: {
          name: 'j',
          attempts: 1,
          run: {
            phase: 'Failed',
            reason: 'DeadlineExceeded',
            message: 'too long',
            startTime: undefined,
            completionTime: undefined,
            exitCode: undefined,
            terminationMessage: undefined,
          },
        },
      },
      now,
    );
    expect(s.failure).toEqual({ reason: 'DeadlineExceeded', message: 'too long' });
    expect(cond(s, 'Stalled')?.status).toBe('True');
    expect(cond(s, 'Failed')?.status).toBe('True');
  });

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
