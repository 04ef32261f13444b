import { describe, expect, it } from 'vitest';
import type { PodObject } from '../../../runtime/builtin-kinds.js';
import { KUEUE_QUEUE_NAME_LABEL, type WorkerGroupPlan } from './backend.js';
import { JOBSET_RESTART_LABEL, type JobSetObject } from './jobset.js';
import { TRAINER_RESERVED_ENV } from './rendezvous.js';
import { PLAN_NAME, workerGroupPlanOf } from './testdata/worker-group-plan.js';
import {
  desiredTrainJob,
  JOBSET_NAME_LABEL,
  observeTrainJob,
  TRAINJOB_RUNTIME,
  type TrainJobObject,
} from './trainjob.js';

const NAME = PLAN_NAME;

function planOf(overrides: Partial<WorkerGroupPlan> = {}): WorkerGroupPlan {
  return workerGroupPlanOf('TrainJob', 1, {
    port: 23456,
    template: {
      metadata: { labels: { app: 'trainer' } },
      spec: {
        restartPolicy: 'Never',
        serviceAccountName: 'trainer',
        volumes: [{ name: 'tmp', emptyDir: {} }],
        containers: [
          {
            name: 'trainer',
            image: 'trainer:1',
            command: ['torchrun', 'train.py'],
            env: [{ name: 'LATHE_RUN', value: 'x' }],
            resources: { limits: { cpu: '1' } },
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          },
        ],
      },
    },
    ...overrides,
  });
}

describe('desiredTrainJob', () => {
  it("runs the trainer on Trainer's torch runtime, one node per worker", () => {
    const job = desiredTrainJob(planOf());
    expect(job.metadata?.name).toBe(NAME);
    expect(job.metadata?.ownerReferences?.[0]?.uid).toBe('u1');
    expect(job.spec?.runtimeRef).toEqual({
      name: TRAINJOB_RUNTIME,
      apiGroup: 'trainer.kubeflow.org',
      kind: 'ClusterTrainingRuntime',
    });
    expect(job.spec?.trainer).toMatchObject({
      image: 'trainer:1',
      command: ['torchrun', 'train.py'],
      numNodes: 2,
      numProcPerNode: 1,
      resourcesPerNode: { limits: { cpu: '1' } },
    });
    expect(job.spec?.podSpecOverrides).toEqual([
      {
        targetJobs: [{ name: 'node' }],
        serviceAccountName: 'trainer',
        volumes: [{ name: 'tmp', emptyDir: {} }],
        containers: [{ name: 'node', volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }] }],
      },
    ]);
    expect(job.spec?.suspend).toBe(false);
  });

  it("gives the rendezvous at Trainer's worker 0 and port, without the names it reserves", () => {
    const env = desiredTrainJob(planOf()).spec?.trainer?.env ?? [];
    const names = env.map((v) => v.name);
    expect(names.filter((n) => TRAINER_RESERVED_ENV.has(n))).toEqual([]);
    const value = (n: string) => env.find((v) => v.name === n)?.value;
    expect(value('MASTER_ADDR')).toBe(`${NAME}-node-0-0.${NAME}`);
    expect(value('MASTER_PORT')).toBe('29500');
    expect(value('WORLD_SIZE')).toBe('2');
    expect(value('LATHE_RUN')).toBe('x');
    expect(names).toContain('NODE_RANK');
  });

  it('carries the Kueue label and is created suspended with a queue', () => {
    const job = desiredTrainJob(planOf({ queueName: 'team-q' }));
    expect(job.metadata?.labels?.[KUEUE_QUEUE_NAME_LABEL]).toBe('team-q');
    expect(job.spec?.suspend).toBe(true);
  });

  it("refuses a trainer without a command (the runtime's own would run)", () => {
    const plan = planOf();
    const [trainer] = plan.template.spec.containers;
    const template = {
      ...plan.template,
      spec: {
        ...plan.template.spec,
        containers: [{ ...trainer, name: 'trainer', command: undefined }],
      },
    };
    expect(() => desiredTrainJob(planOf({ template }))).toThrow(/spec.model.custom.command/);
  });
});

function trainJob(conditions: { type: string; message?: string }[] = []): TrainJobObject {
  return {
    apiVersion: 'trainer.kubeflow.org/v1alpha1',
    kind: 'TrainJob',
    metadata: { name: NAME, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { runtimeRef: { name: TRAINJOB_RUNTIME } },
    status: {
      conditions: conditions.map((c) => ({
        type: c.type,
        status: 'True',
        reason: c.type,
        message: c.message ?? '',
        lastTransitionTime: '2026-01-01T00:01:00Z',
      })),
    },
  };
}

const jobset: JobSetObject = {
  apiVersion: 'jobset.x-k8s.io/v1alpha2',
  kind: 'JobSet',
  metadata: { name: NAME },
  spec: {
    replicatedJobs: [
      {
        name: 'node',
        replicas: 1,
        template: { spec: { completions: 2, template: { spec: { containers: [] } } } },
      },
    ],
  },
  status: { restarts: 0 },
};

function pod(index: number, phase: string, exitCode?: number, message?: string): PodObject {
  return {
    metadata: {
      name: `p${index}`,
      labels: { [JOBSET_NAME_LABEL]: NAME, [JOBSET_RESTART_LABEL]: '0' },
      annotations: { 'batch.kubernetes.io/job-completion-index': String(index) },
    },
    status: {
      phase,
      ...(exitCode !== undefined
        ? {
            containerStatuses: [
              {
                name: 'node',
                image: 'x',
                imageID: '',
                ready: false,
                restartCount: 0,
                state: { terminated: { exitCode, message, finishedAt: '2026-01-01T00:00:30Z' } },
              },
            ],
          }
        : {}),
    },
  } as PodObject;
}

describe('observeTrainJob', () => {
  it.each([
    {
      name: 'before Trainer made the JobSet',
      job: trainJob(),
      set: undefined,
      pods: [],
      phase: 'Pending',
      reason: 'WorkersStarting',
    },
    {
      name: 'one of two workers running',
      job: trainJob(),
      set: jobset,
      pods: [pod(0, 'Running'), pod(1, 'Pending')],
      phase: 'Pending',
      reason: 'WorkersStarting',
    },
    {
      name: 'both workers running',
      job: trainJob(),
      set: jobset,
      pods: [pod(0, 'Running'), pod(1, 'Running')],
      phase: 'Running',
      reason: undefined,
    },
    {
      name: 'a failed TrainJob without its JobSet',
      job: trainJob([{ type: 'Failed', message: 'runtime not found' }]),
      set: undefined,
      pods: [],
      phase: 'Failed',
      reason: 'TrainJobFailed',
    },
  ] as const)('$name: $phase', ({ job, set, pods, phase, reason }) => {
    const run = observeTrainJob(job, set, pods);
    expect(run.phase).toBe(phase);
    if (reason) expect('reason' in run && run.reason).toBe(reason);
  });

  it("succeeds on the TrainJob's Complete, with worker 0's result", () => {
    const run = observeTrainJob(trainJob([{ type: 'Complete' }]), jobset, [
      pod(0, 'Succeeded', 0, '{"outcome":"succeeded"}'),
      pod(1, 'Succeeded', 0),
    ]);
    expect(run).toMatchObject({
      phase: 'Succeeded',
      terminationMessage: '{"outcome":"succeeded"}',
    });
  });

  it('fails on its Failed naming the worker, restartable by a new attempt', () => {
    const run = observeTrainJob(trainJob([{ type: 'Failed', message: 'jobset failed' }]), jobset, [
      pod(0, 'Running'),
      pod(1, 'Failed', 3, 'boom'),
    ]);
    expect(run).toMatchObject({
      phase: 'Failed',
      reason: 'TrainJobFailed',
      failedWorker: 1,
      restartable: true,
      message: `Worker 1 of JobSet ${NAME} failed (exit code 3) (TrainJob ${NAME})`,
    });
  });
});
