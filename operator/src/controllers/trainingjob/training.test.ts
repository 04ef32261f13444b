import { describe, expect, it } from 'vitest';
import { TrainingJobSchema } from '../../api/trainingjob.js';
import type { JobObject } from '../../runtime/builtin-kinds.js';
import type { TrainingJobObject } from '../lathe-kinds.js';
import { trainingJobName } from './desired.js';
import { runJobOf, suspensionToPatch } from './training.js';

const tj = TrainingJobSchema.parse({
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'TrainingJob',
  metadata: { name: 't', namespace: 'ns', uid: 'u', generation: 2 },
  spec: {
    datasetRef: { name: 'iris' },
    model: { builtin: { architecture: 'linear' } },
    modelName: 'iris',
  },
}) as TrainingJobObject;
const current = trainingJobName(tj);

function job(name: string, created: string, complete = false): JobObject {
  return {
    metadata: { name, namespace: 'ns', creationTimestamp: created },
    spec: { template: {} },
    ...(complete ? { status: { conditions: [{ type: 'Complete', status: 'True' }] } } : {}),
  } as JobObject;
}

describe('runJobOf', () => {
  it.each<[string, JobObject[], boolean, string | undefined]>([
    ['no Job yet', [], false, undefined],
    ['the Job of the current spec', [job(current, '2026-01-01T00:00:00Z')], false, current],
    [
      "an older spec's Job is not the run (the job step deletes it)",
      [job('t-train-00000000', '2026-01-01T00:00:00Z', true)],
      false,
      undefined,
    ],
    [
      'once registered: the Job that completed, whatever the spec says now',
      [job('t-train-00000000', '2026-01-01T00:00:00Z', true)],
      true,
      't-train-00000000',
    ],
    [
      'once registered: the newest completed Job',
      [
        job('t-train-00000001', '2026-01-01T00:00:00Z', true),
        job('t-train-00000002', '2026-01-02T00:00:00Z', true),
        job(current, '2026-01-03T00:00:00Z'),
      ],
      true,
      't-train-00000002',
    ],
    ['once registered, with its Job gone', [], true, undefined],
  ])('%s', (_, jobs, registered, want) => {
    expect(runJobOf(tj, jobs, registered)?.metadata?.name).toBe(want);
  });
});

describe('suspensionToPatch', () => {
  const with_ = (spec: Partial<TrainingJobObject['spec']>) =>
    ({ ...tj, spec: { ...tj.spec, ...spec } }) as TrainingJobObject;
  it.each([
    { name: 'in step', suspend: false, queueName: undefined, workload: false, patch: false },
    {
      name: 'suspend a running Job',
      suspend: true,
      queueName: undefined,
      workload: false,
      patch: true,
    },
    {
      name: 'resume a suspended Job',
      suspend: false,
      queueName: undefined,
      workload: true,
      patch: true,
    },
    {
      name: 'Kueue holds it: leave it',
      suspend: false,
      queueName: 'q',
      workload: true,
      patch: false,
    },
    {
      name: 'suspend a Kueue-admitted Job',
      suspend: true,
      queueName: 'q',
      workload: false,
      patch: true,
    },
  ])('$name: $patch', ({ suspend, queueName, workload, patch }) => {
    expect(suspensionToPatch(with_({ suspend, queueName }), workload)).toBe(patch);
  });
});
