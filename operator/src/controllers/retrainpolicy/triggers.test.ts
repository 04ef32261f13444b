import { describe, expect, it } from 'vitest';
import { retrainPolicyFixture } from '../../../../e2e/testing/retrain-policy.js';
import type { RetrainPolicy } from '../../api/retrainpolicy.js';
import type { TrainingJobObject } from '../lathe-kinds.js';
import { runName } from './desired.js';
import type { TriggerRecord } from './trigger-record.js';
import {
  admitRun,
  type DueRun,
  dueRuns,
  strongestDriftReading,
  type TriggerInputs,
} from './triggers.js';

function policy(
  spec: Record<string, unknown> = {},
  annotations: Record<string, string> = {},
): RetrainPolicy {
  return retrainPolicyFixture({ metadata: { uid: 'u', annotations }, spec });
}

function run(name: string, created: string, phase?: string): TrainingJobObject {
  return {
    metadata: { name, creationTimestamp: created },
    ...(phase ? { status: { phase } } : {}),
  } as unknown as TrainingJobObject;
}

const inputs = (over: Partial<TriggerInputs>): TriggerInputs => ({
  record: {},
  runs: [],
  datasetVersion: undefined,
  drift: undefined,
  accuracy: undefined,
  ...over,
});

const drift = {
  triggers: {
    drift: { inferenceServiceRef: { name: 's' }, threshold: 0.2, checkInterval: '10m' },
  },
};
const accuracy = {
  triggers: {
    accuracy: {
      inferenceServiceRef: { name: 's' },
      minimum: 0.9,
      minSamples: 50,
      checkInterval: '5m',
    },
  },
};
const at = '2026-01-01T01:00:00Z';

describe('dueRuns', () => {
  it.each<{ name: string; policy: RetrainPolicy; inputs: TriggerInputs; want: DueRun[] }>([
    {
      name: 'the baseline version: nothing',
      policy: policy(),
      inputs: inputs({ record: { datasetVersion: 'v1' }, datasetVersion: 'v1' }),
      want: [],
    },
    {
      name: 'a new version: a run pinned to it',
      policy: policy(),
      inputs: inputs({ record: { datasetVersion: 'v1' }, datasetVersion: 'v2' }),
      want: [
        {
          name: runName('p', 'datasetChange', 'v2'),
          trigger: 'datasetChange',
          datasetVersion: 'v2',
        },
      ],
    },
    {
      name: 'a new version whose run exists: nothing',
      policy: policy(),
      inputs: inputs({
        record: { datasetVersion: 'v1' },
        datasetVersion: 'v2',
        runs: [run(runName('p', 'datasetChange', 'v2'), at)],
      }),
      want: [],
    },
    {
      name: 'no version recorded yet (no baseline): nothing',
      policy: policy(),
      inputs: inputs({ datasetVersion: 'v2' }),
      want: [],
    },
    {
      name: 'a new manual request',
      policy: policy({}, { 'lathe.dev/run-now': 'go' }),
      inputs: inputs({ record: { manualRequest: 'before' } }),
      want: [{ name: runName('p', 'manual', 'go'), trigger: 'manual', manualRequest: 'go' }],
    },
    {
      name: 'a request acted on already',
      policy: policy({}, { 'lathe.dev/run-now': 'go' }),
      inputs: inputs({ record: { manualRequest: 'go' } }),
      want: [],
    },
    {
      name: 'an empty request is none',
      policy: policy({}, { 'lathe.dev/run-now': '' }),
      inputs: inputs({}),
      want: [],
    },
    {
      name: 'drift above the threshold on enough rows',
      policy: policy(drift),
      inputs: inputs({ drift: { time: at, value: 0.5, samples: 100 } }),
      want: [{ name: runName('p', 'drift', at), trigger: 'drift', readingTime: at }],
    },
    {
      name: 'drift above the threshold on too few rows',
      policy: policy(drift),
      inputs: inputs({ drift: { time: at, value: 0.5, samples: 10 } }),
      want: [],
    },
    {
      name: 'drift below the threshold',
      policy: policy(drift),
      inputs: inputs({ drift: { time: at, value: 0.1, samples: 100 } }),
      want: [],
    },
    {
      name: 'drift read less than a check interval after the reading last acted on',
      policy: policy(drift),
      inputs: inputs({
        record: { driftReading: '2026-01-01T00:55:00Z' },
        drift: { time: at, value: 0.5, samples: 100 },
      }),
      want: [],
    },
    {
      name: 'drift read a check interval after the reading last acted on',
      policy: policy(drift),
      inputs: inputs({
        record: { driftReading: '2026-01-01T00:50:00Z' },
        drift: { time: at, value: 0.5, samples: 100 },
      }),
      want: [{ name: runName('p', 'drift', at), trigger: 'drift', readingTime: at }],
    },
    {
      // A batch reading's time is its run's completion: the same run read again is the same
      // reading, already acted on; a run finished a check interval later is new evidence.
      name: 'a batch run read again after it started a run',
      policy: policy({
        triggers: { drift: { source: 'batch', threshold: 0.2, checkInterval: '10m' } },
      }),
      inputs: inputs({
        record: { driftReading: at },
        drift: { time: at, value: 0.9, samples: 500 },
      }),
      want: [],
    },
    {
      name: 'live accuracy below the floor on enough labelled rows',
      policy: policy(accuracy),
      inputs: inputs({ accuracy: { time: at, value: 0.5, samples: 60 } }),
      want: [{ name: runName('p', 'accuracy', at), trigger: 'accuracy', readingTime: at }],
    },
    {
      name: 'live accuracy below the floor on too few labelled rows',
      policy: policy(accuracy),
      inputs: inputs({ accuracy: { time: at, value: 0.5, samples: 40 } }),
      want: [],
    },
    {
      name: 'live accuracy above the floor',
      policy: policy(accuracy),
      inputs: inputs({ accuracy: { time: at, value: 0.95, samples: 60 } }),
      want: [],
    },
    {
      name: 'several at once, in order: dataset, manual',
      policy: policy({}, { 'lathe.dev/run-now': 'go' }),
      inputs: inputs({ record: { datasetVersion: 'v1' }, datasetVersion: 'v2' }),
      want: [
        {
          name: runName('p', 'datasetChange', 'v2'),
          trigger: 'datasetChange',
          datasetVersion: 'v2',
        },
        { name: runName('p', 'manual', 'go'), trigger: 'manual', manualRequest: 'go' },
      ],
    },
  ])('$name', ({ policy, inputs, want }) => {
    expect(dueRuns(policy, inputs)).toEqual(want);
  });
});

describe('admitRun', () => {
  const now = new Date('2026-01-01T01:00:00Z');
  const due: DueRun[] = [{ name: 'p-manual-x', trigger: 'manual', manualRequest: 'x' }];
  const active = run('p-old', '2026-01-01T00:00:00Z');
  const finished = run('p-done', '2026-01-01T00:00:00Z', 'Succeeded');
  it.each<{
    name: string;
    policy: RetrainPolicy;
    due: DueRun[];
    runs: TrainingJobObject[];
    lastRun?: TriggerRecord['lastRun'];
    want: unknown;
  }>([
    { name: 'nothing due', policy: policy(), due: [], runs: [], want: { verdict: 'none' } },
    {
      name: 'suspended: nothing starts',
      policy: policy({ suspend: true }),
      due,
      runs: [],
      want: { verdict: 'none' },
    },
    {
      name: 'no guard in the way',
      policy: policy(),
      due,
      runs: [finished],
      want: { verdict: 'start', run: due[0], replace: [] },
    },
    {
      name: 'Forbid with a run active waits',
      policy: policy(),
      due,
      runs: [active],
      want: { verdict: 'defer', message: 'a manual run waits for p-old to finish' },
    },
    {
      name: 'Replace replaces the active run',
      policy: policy({ concurrencyPolicy: 'Replace' }),
      due,
      runs: [active, finished],
      want: { verdict: 'start', run: due[0], replace: [active] },
    },
    {
      name: 'Allow runs both',
      policy: policy({ concurrencyPolicy: 'Allow' }),
      due,
      runs: [active],
      want: { verdict: 'start', run: due[0], replace: [] },
    },
    {
      name: 'within the cooldown of the newest run',
      policy: policy({ cooldown: '2h' }),
      due,
      runs: [finished],
      want: {
        verdict: 'defer',
        message: 'a manual run waits for the cooldown until 2026-01-01T02:00:00Z',
        retryAfterMs: 60 * 60_000,
      },
    },
    {
      name: 'within the cooldown of a run the history limits deleted',
      policy: policy({ cooldown: '30m' }),
      due,
      runs: [],
      lastRun: { name: 'gone', trigger: 'manual', time: '2026-01-01T00:45:00Z' },
      want: {
        verdict: 'defer',
        message: 'a manual run waits for the cooldown until 2026-01-01T01:15:00Z',
        retryAfterMs: 15 * 60_000,
      },
    },
    {
      name: 'after the cooldown',
      policy: policy({ cooldown: '30m' }),
      due,
      runs: [finished],
      want: { verdict: 'start', run: due[0], replace: [] },
    },
  ])('$name', ({ policy, due, runs, lastRun, want }) => {
    expect(admitRun(policy, due, runs, lastRun?.time, now)).toEqual(want);
  });
});

describe('strongestDriftReading', () => {
  const served = { time: '2026-01-01T01:00:00Z', value: 0.3, samples: 40 };
  const batch = { time: '2026-01-01T00:30:00Z', value: 0.6, samples: 5000 };
  const thin = { time: '2026-01-01T00:40:00Z', value: 2, samples: 10 };
  it.each([
    { name: 'none', readings: [], want: undefined },
    { name: 'the larger of two on enough rows', readings: [served, batch], want: batch },
    {
      name: 'one on enough rows over a larger one on too few',
      readings: [thin, served],
      want: served,
    },
    {
      name: 'the larger when none has enough rows',
      readings: [thin, { ...served, samples: 3 }],
      want: thin,
    },
  ])('$name', ({ readings, want }) => {
    expect(strongestDriftReading(readings)).toEqual(want);
  });

  it('passes over a batch reading already acted on for a newer served one', () => {
    expect(strongestDriftReading([served, batch], batch.time)).toEqual(served);
    expect(strongestDriftReading([batch], batch.time)).toEqual(batch);
  });
});
