import { describe, expect, it } from 'vitest';
import {
  JOB_COMPLETION_INDEX_FIELD_PATH,
  processesPerWorkerOf,
  type Rendezvous,
  rendezvousEnv,
  TRAINER_RESERVED_ENV,
} from './rendezvous.js';

const byIndex: Rendezvous = {
  workers: 2,
  processesPerWorker: 1,
  masterAddr: 'iris-train-1a2b3c4d-a0-0.iris-train-1a2b3c4d',
  port: 29500,
  nodeRank: { fieldPath: JOB_COMPLETION_INDEX_FIELD_PATH },
};

const asMap = (env: ReturnType<typeof rendezvousEnv>) =>
  Object.fromEntries(
    env.map((e) => [e.name, e.value ?? `fieldRef:${e.valueFrom?.fieldRef?.fieldPath}`]),
  );

describe('rendezvousEnv', () => {
  it('gives PyTorch and torchrun the same topology, the rank from the completion index', () => {
    expect(asMap(rendezvousEnv(byIndex))).toEqual({
      MASTER_ADDR: byIndex.masterAddr,
      MASTER_PORT: '29500',
      WORLD_SIZE: '2',
      NODE_RANK: `fieldRef:${JOB_COMPLETION_INDEX_FIELD_PATH}`,
      RANK: `fieldRef:${JOB_COMPLETION_INDEX_FIELD_PATH}`,
      PET_NNODES: '2',
      PET_NPROC_PER_NODE: '1',
      PET_NODE_RANK: `fieldRef:${JOB_COMPLETION_INDEX_FIELD_PATH}`,
      PET_MASTER_ADDR: byIndex.masterAddr,
      PET_MASTER_PORT: '29500',
    });
  });

  it.each([
    { workers: 1, procs: 1, worldSize: '1', rank: true },
    { workers: 3, procs: 1, worldSize: '3', rank: true },
    { workers: 2, procs: 4, worldSize: '8', rank: false },
  ])('$workers workers × $procs processes: WORLD_SIZE $worldSize, RANK set: $rank', (c) => {
    const env = asMap(
      rendezvousEnv({
        ...byIndex,
        workers: c.workers,
        processesPerWorker: c.procs,
        nodeRank: { value: 0 },
      }),
    );
    expect(env.WORLD_SIZE).toBe(c.worldSize);
    expect(env.PET_NPROC_PER_NODE).toBe(String(c.procs));
    expect('RANK' in env).toBe(c.rank);
    expect(env.NODE_RANK).toBe('0');
  });

  it("leaves out the names Kubeflow Trainer's webhook reserves, and only those", () => {
    const names = rendezvousEnv(byIndex, TRAINER_RESERVED_ENV).map((e) => e.name);
    expect(names).toEqual(['MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE', 'NODE_RANK', 'RANK']);
    expect([...TRAINER_RESERVED_ENV].sort()).toEqual([
      'PET_MASTER_ADDR',
      'PET_MASTER_PORT',
      'PET_NNODES',
      'PET_NODE_RANK',
      'PET_NPROC_PER_NODE',
    ]);
  });
});

describe('processesPerWorkerOf', () => {
  it.each([
    { explicit: undefined, gpus: undefined, expected: 1 },
    { explicit: undefined, gpus: 0, expected: 1 },
    { explicit: undefined, gpus: 4, expected: 4 },
    { explicit: 2, gpus: 4, expected: 2 },
  ])('explicit $explicit, $gpus GPUs: $expected', ({ explicit, gpus, expected }) => {
    expect(processesPerWorkerOf(explicit, gpus)).toBe(expected);
  });
});
