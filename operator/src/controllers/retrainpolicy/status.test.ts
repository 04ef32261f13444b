import { describe, expect, it } from 'vitest';
import { retrainPolicyFixture } from '../../../../e2e/testing/retrain-policy.js';
import type { RetrainPolicy } from '../../api/retrainpolicy.js';
import type { TrainingJobObject } from '../lathe-kinds.js';
import type { PromotionRecord } from './decision.js';
import type { RetrainFacts } from './facts.js';
import { nextRunTime, readyOf, retrainPolicyStatus, untilNextRunMs } from './status.js';

function policy(spec: Record<string, unknown> = {}): RetrainPolicy {
  return retrainPolicyFixture({ metadata: { generation: 2 }, spec });
}

const run = (name: string, created: string, trigger: string, phase?: string) =>
  ({
    metadata: { name, creationTimestamp: created, labels: { 'lathe.dev/trigger': trigger } },
    ...(phase ? { status: { phase } } : {}),
  }) as unknown as TrainingJobObject;

const now = new Date('2026-01-01T12:00:30Z');
const decision: PromotionRecord = {
  time: '2026-01-01T11:00:00Z',
  decision: 'Rejected',
  metric: 'accuracy',
  challenger: { modelVersion: 'iris-v3', value: 0.9 },
  champion: { modelVersion: 'iris-v2', value: 0.95 },
  reason: 'accuracy 0.9 does not beat 0.95 + 0',
  datasetVersion: 'v1',
  policy: 'p',
};

describe('retrainPolicyStatus', () => {
  it.each<{
    name: string;
    policy: RetrainPolicy;
    facts: Partial<RetrainFacts>;
    want: Record<string, unknown>;
  }>([
    { name: 'nothing found yet: no fields', policy: policy(), facts: {}, want: {} },
    {
      name: 'the newest run, the active ones, the record and the decision',
      policy: policy(),
      facts: {
        runs: [
          run('p-a', '2026-01-01T10:00:00Z', 'manual', 'Succeeded'),
          run('p-c', '2026-01-01T11:30:00Z', 'datasetChange'),
          run('p-b', '2026-01-01T11:00:00Z', 'schedule', 'Running'),
        ],
        record: { datasetVersion: 'v2', manualRequest: 'go' },
        lastPromotion: decision,
      },
      want: {
        lastRunTime: '2026-01-01T11:30:00Z',
        lastTrainingJob: { name: 'p-c' },
        lastTrigger: 'datasetChange',
        active: [{ name: 'p-b' }, { name: 'p-c' }],
        lastDatasetVersion: 'v2',
        lastManualRun: 'go',
        lastPromotion: {
          time: decision.time,
          decision: 'Rejected',
          metric: 'accuracy',
          challenger: decision.challenger,
          champion: decision.champion,
          reason: decision.reason,
        },
      },
    },
    {
      name: 'every run deleted by the history limits: the last run from the record',
      policy: policy(),
      facts: {
        runs: [],
        record: { lastRun: { name: 'p-x', trigger: 'drift', time: '2026-01-01T09:00:00Z' } },
      },
      want: {
        lastRunTime: '2026-01-01T09:00:00Z',
        lastTrainingJob: { name: 'p-x' },
        lastTrigger: 'drift',
      },
    },
    {
      name: 'readings are shown',
      policy: policy(),
      facts: {
        lastDrift: { time: '2026-01-01T12:00:00Z', value: 0.3, samples: 100 },
        lastAccuracy: { time: '2026-01-01T12:00:00Z', value: 0.8, samples: 60 },
      },
      want: {
        lastDrift: { time: '2026-01-01T12:00:00Z', value: 0.3, samples: 100 },
        lastAccuracy: { time: '2026-01-01T12:00:00Z', value: 0.8, samples: 60 },
      },
    },
    {
      name: 'a schedule: the next run',
      policy: policy({ triggers: { schedule: { cron: '0 * * * *' } } }),
      facts: {},
      want: { nextRunTime: '2026-01-01T13:00:00Z' },
    },
    {
      name: 'a suspended schedule: no next run',
      policy: policy({ triggers: { schedule: { cron: '0 * * * *' } }, suspend: true }),
      facts: {},
      want: {},
    },
  ])('$name', ({ policy, facts, want }) => {
    const status = Object.fromEntries(
      Object.entries(retrainPolicyStatus(policy, facts, now)).filter(([, v]) => v !== undefined),
    );
    expect(status).toEqual(want);
  });

  it('is the same whatever the previous status said', () => {
    const p = policy();
    const wiped = { ...p, status: undefined };
    const stale = {
      ...p,
      status: { lastManualRun: 'old', lastTrainingJob: { name: 'gone' }, lastDatasetVersion: 'v0' },
    };
    const facts = { runs: [run('p-a', '2026-01-01T10:00:00Z', 'manual')], record: {} };
    expect(retrainPolicyStatus(stale, facts, now)).toEqual(retrainPolicyStatus(wiped, facts, now));
  });
});

describe('readyOf', () => {
  it.each<[string, RetrainPolicy, Partial<RetrainFacts>, { reason: string; message: string }]>([
    [
      'watching',
      policy(),
      {},
      { reason: 'Watching', message: 'Watching new versions of Dataset iris' },
    ],
    [
      'watching, a run waiting',
      policy(),
      { deferred: 'a manual run waits for p-a to finish' },
      {
        reason: 'Watching',
        message: 'Watching new versions of Dataset iris; a manual run waits for p-a to finish',
      },
    ],
    [
      'suspended',
      policy({ suspend: true }),
      {},
      { reason: 'Suspended', message: 'spec.suspend is true: no trigger starts a run' },
    ],
  ])('%s', (_name, p, facts, want) => {
    expect(readyOf(p, facts)).toEqual(want);
  });
});

describe('the next run time', () => {
  it.each([
    ['in a time zone', '0 3 * * *', 'Europe/Paris', '2026-01-02T02:00:00Z'],
    ['every minute', '* * * * *', 'Etc/UTC', '2026-01-01T12:01:00Z'],
  ])('%s', (_name, cron, timeZone, want) => {
    expect(nextRunTime(policy({ triggers: { schedule: { cron, timeZone } } }), now)).toBe(want);
  });

  it.each([
    ['none', undefined, undefined],
    ['soon', '2026-01-01T12:01:00Z', 31_000],
    ['just passed: a second', '2026-01-01T12:00:00Z', 1_000],
    ['far: an hour at most', '2026-01-03T00:00:00Z', 3_600_000],
  ])('is looked at again %s', (_name, next, want) => {
    expect(untilNextRunMs(next, now)).toBe(want);
  });
});
