import { describe, expect, it } from 'vitest';
import { type HealthLevel, healthOf, needsAttention } from './health.js';
import type { KindKey } from './kinds.js';
import { condition, latheObject } from './testdata/objects.js';

const ready = condition('Ready', 'True', 'Ready');
const notReady = condition('Ready', 'False', 'ModelNotReady', 'waiting for the model');
const stalled = condition('Stalled', 'True', 'InvalidSpec', 'spec.x is wrong');
const reconciling = condition('Reconciling', 'True', 'Progressing');

const policy = latheObject('retrainPolicy', {
  namespace: 'a',
  name: 'p',
  spec: {
    triggers: {
      drift: { inferenceServiceRef: { name: 's' }, threshold: 0.2 },
      accuracy: { inferenceServiceRef: { name: 's' }, minimum: 0.9 },
    },
  },
});

const cases: [string, KindKey, Parameters<typeof latheObject>[1], HealthLevel, string][] = [
  ['no status', 'dataset', { name: 'd' }, 'unknown', 'NoStatus'],
  [
    'Ready=True',
    'dataset',
    { name: 'd', status: { observedGeneration: 1, conditions: [ready] } },
    'healthy',
    'Ready',
  ],
  [
    'Stalled over Ready',
    'dataset',
    { name: 'd', status: { conditions: [ready, stalled] } },
    'stalled',
    'InvalidSpec',
  ],
  [
    'Reconciling',
    'inferenceService',
    { name: 's', status: { conditions: [notReady, reconciling] } },
    'progressing',
    'Progressing',
  ],
  [
    'Ready=False alone',
    'inferenceService',
    { name: 's', status: { conditions: [notReady] } },
    'degraded',
    'ModelNotReady',
  ],
  [
    'an unobserved generation',
    'dataset',
    { name: 'd', generation: 2, status: { observedGeneration: 1, conditions: [ready] } },
    'progressing',
    'NotObserved',
  ],
  [
    'a failed run',
    'trainingJob',
    {
      name: 't',
      status: { phase: 'Failed', failure: { reason: 'OutOfMemory', message: 'killed' } },
    },
    'failed',
    'OutOfMemory',
  ],
  [
    'a running run',
    'trainingJob',
    {
      name: 't',
      status: { phase: 'Running', conditions: [condition('Ready', 'False', 'Running')] },
    },
    'progressing',
    'Running',
  ],
  [
    'a succeeded run',
    'trainingJob',
    { name: 't', status: { phase: 'Succeeded' } },
    'healthy',
    'Succeeded',
  ],
  [
    'a failed batch',
    'batchPrediction',
    { name: 'b', status: { phase: 'Failed' } },
    'failed',
    'Failed',
  ],
  [
    'a failed ingestion',
    'dataset',
    {
      name: 'd',
      status: {
        conditions: [ready],
        lastIngestion: {
          jobName: 'd-1',
          trigger: 'Refresh',
          attempt: 2,
          phase: 'Failed',
          reason: 'SourceUnavailable',
        },
      },
    },
    'failed',
    'SourceUnavailable',
  ],
  [
    'drift above the threshold',
    'retrainPolicy',
    {
      name: 'p',
      spec: policy.spec,
      status: { conditions: [ready], lastDrift: { time: '2026-12-07T10:00:00Z', value: 0.31 } },
    },
    'drifting',
    'DriftAboveThreshold',
  ],
  [
    'drift at the threshold',
    'retrainPolicy',
    {
      name: 'p',
      spec: policy.spec,
      status: { conditions: [ready], lastDrift: { time: '2026-12-07T10:00:00Z', value: 0.2 } },
    },
    'healthy',
    'Ready',
  ],
  [
    'live accuracy below the minimum',
    'retrainPolicy',
    {
      name: 'p',
      spec: policy.spec,
      status: {
        conditions: [ready],
        lastAccuracy: { time: '2026-12-07T10:00:00Z', value: 0.8, samples: 60 },
      },
    },
    'degraded',
    'AccuracyBelowMinimum',
  ],
  [
    "a service's drift, judged by its policy's threshold",
    'inferenceService',
    {
      namespace: 'a',
      name: 's',
      status: {
        conditions: [ready],
        drift: {
          time: '2026-12-07T10:00:00Z',
          metric: 'psi',
          value: 0.5,
          samples: 100,
          retrainPolicy: 'p',
        },
      },
    },
    'drifting',
    'DriftAboveThreshold',
  ],
  [
    "a service's drift with no policy found",
    'inferenceService',
    {
      namespace: 'a',
      name: 's',
      status: {
        conditions: [ready],
        drift: {
          time: '2026-12-07T10:00:00Z',
          metric: 'psi',
          value: 0.5,
          samples: 100,
          retrainPolicy: 'gone',
        },
      },
    },
    'healthy',
    'Ready',
  ],
];

describe('healthOf', () => {
  it.each(cases)('%s', (_, kind, fixture, level, reason) => {
    const lookup = (ns: string, name: string) => (ns === 'a' && name === 'p' ? policy : undefined);
    const health = healthOf(kind, latheObject(kind, fixture), lookup);
    expect(health.level).toBe(level);
    expect(health.reason).toBe(reason);
  });

  it('quotes the threshold it judged by', () => {
    const p = latheObject('retrainPolicy', {
      name: 'p',
      spec: policy.spec,
      status: { lastDrift: { time: '2026-12-07T10:00:00Z', value: 0.31, feature: 'petal_width' } },
    });
    expect(healthOf('retrainPolicy', p).message).toBe(
      'Drift psi 0.31 (feature petal_width) is above the threshold 0.2.',
    );
  });
});

describe('needsAttention', () => {
  it.each([
    ['failed', true],
    ['stalled', true],
    ['drifting', true],
    ['degraded', true],
    ['progressing', false],
    ['healthy', false],
    ['unknown', false],
  ] as const)('%s → %s', (level, expected) => {
    expect(needsAttention(level)).toBe(expected);
  });
});
