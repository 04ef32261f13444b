/**
 * One attempt of a two-worker group, as the backends' unit tests build on it: a JobSet or a
 * TrainJob is described from this plan, changed where a test needs another value.
 */
import type { DistributedBackendName, TrainingJob } from '../../../../api/trainingjob.js';
import type { WorkerGroupPlan } from '../backend.js';

/** The attempt's name (`<group>-a0`). */
export const PLAN_NAME = 'ddp-train-abc123-a0';

/** A plan for `backend` with `maxRestarts`, then `overrides`. */
export function workerGroupPlanOf(
  backend: DistributedBackendName,
  maxRestarts: number,
  overrides: Partial<WorkerGroupPlan> = {},
): WorkerGroupPlan {
  return {
    trainingJob: {
      metadata: { name: 'ddp', namespace: 'team' },
      spec: { distributed: { workers: 2, backend, maxRestarts } },
    } as unknown as TrainingJob,
    namespace: 'team',
    group: 'ddp-train-abc123',
    name: PLAN_NAME,
    attempt: 0,
    workers: 2,
    processesPerWorker: 1,
    port: 29500,
    labels: { 'lathe.dev/worker-group': 'ddp-train-abc123', 'lathe.dev/attempt': '0' },
    annotations: { 'lathe.dev/dataset-version': '3' },
    queueName: undefined,
    owner: {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'TrainingJob',
      name: 'ddp',
      uid: 'u1',
      controller: true,
      blockOwnerDeletion: true,
    },
    suspend: false,
    activeDeadlineSeconds: undefined,
    template: {
      metadata: { labels: { app: 'trainer' } },
      spec: {
        restartPolicy: 'Never',
        containers: [
          { name: 'trainer', image: 'trainer:1', env: [{ name: 'LATHE_RUN', value: 'x' }] },
        ],
      },
    },
    ...overrides,
  };
}
