import { describe, expect, it } from 'vitest';
import { retrainPolicyFixture } from '../../../../e2e/testing/retrain-policy.js';
import type { RetrainPolicy } from '../../api/retrainpolicy.js';
import type { ModelVersionObject, TrainingJobObject } from '../lathe-kinds.js';
import {
  awaitsDecision,
  championEvidence,
  newestDecision,
  type PromotionRecord,
  promotionRecord,
  recordedDecision,
} from './decision.js';

const policy: RetrainPolicy = retrainPolicyFixture({
  dataset: 'd',
  model: 'm',
  spec: { promotion: { metric: 'accuracy', direction: 'maximize', minImprovement: 0.01 } },
});

function mv(
  name: string,
  metrics: Record<string, number>,
  version = 'v2',
  annotations: Record<string, string> = {},
): ModelVersionObject {
  return {
    metadata: { name, namespace: 'ns', annotations },
    spec: {
      modelName: 'm',
      metrics,
      lineage: { dataset: { name: 'd', version } },
    },
  } as unknown as ModelVersionObject;
}

const now = new Date('2026-01-01T00:00:00Z');
const record = (over: Partial<PromotionRecord>): PromotionRecord => ({
  time: '2026-01-01T00:00:00Z',
  decision: 'Promoted',
  metric: 'accuracy',
  challenger: { modelVersion: 'm-v2', value: 0.9 },
  reason: 'r',
  policy: 'p',
  ...over,
});

describe('promotionRecord', () => {
  it.each<{
    name: string;
    challenger: ModelVersionObject;
    champion?: ModelVersionObject;
    championValue?: number;
    problem?: string;
    want: Partial<PromotionRecord>;
  }>([
    {
      name: 'no champion: promoted',
      challenger: mv('m-v2', { accuracy: 0.9 }),
      want: {
        decision: 'Promoted',
        reason: 'no version is in production; accuracy 0.9',
        datasetVersion: 'v2',
      },
    },
    {
      name: 'beats the champion by enough: promoted',
      challenger: mv('m-v2', { accuracy: 0.95 }),
      champion: mv('m-v1', { accuracy: 0.9 }),
      championValue: 0.9,
      want: { decision: 'Promoted', champion: { modelVersion: 'm-v1', value: 0.9 } },
    },
    {
      name: 'not by enough: rejected',
      challenger: mv('m-v2', { accuracy: 0.905 }),
      champion: mv('m-v1', { accuracy: 0.9 }),
      championValue: 0.9,
      want: { decision: 'Rejected' },
    },
    {
      name: 'a challenger without the metric: rejected, not compared',
      challenger: mv('m-v2', {}),
      want: {
        decision: 'Rejected',
        reason: 'not compared: m-v2 has no metric accuracy',
        challenger: { modelVersion: 'm-v2', value: 0 },
      },
    },
    {
      name: 'a failed evaluation: rejected, not compared',
      challenger: mv('m-v2', { accuracy: 0.95 }),
      champion: mv('m-v1', {}),
      problem: 'the evaluation of m-v1 failed',
      want: { decision: 'Rejected', reason: 'not compared: the evaluation of m-v1 failed' },
    },
  ])('$name', ({ challenger, champion, championValue, problem, want }) => {
    const made = promotionRecord({ policy, challenger, champion, championValue, problem, now });
    expect(made).toMatchObject({
      time: '2026-01-01T00:00:00Z',
      policy: 'p',
      metric: 'accuracy',
      ...want,
    });
  });
});

describe('championEvidence', () => {
  it.each([
    [
      'same split with the metric: its metrics',
      mv('m-v1', { accuracy: 0.8 }, 'v2'),
      { source: 'metrics', value: 0.8 },
    ],
    [
      'another dataset version: evaluate',
      mv('m-v1', { accuracy: 0.8 }, 'v1'),
      { source: 'evaluate' },
    ],
    ['same split without the metric: evaluate', mv('m-v1', {}, 'v2'), { source: 'evaluate' }],
  ])('%s', (_name, champion, want) => {
    expect(championEvidence('accuracy', mv('m-v2', { accuracy: 0.9 }, 'v2'), champion)).toEqual(
      want,
    );
  });
});

describe('recorded decisions', () => {
  const on = (value: string) => ({ metadata: { annotations: { 'lathe.dev/promotion': value } } });
  it.each([
    ['a valid record', on(JSON.stringify(record({}))), record({})],
    ['none', { metadata: {} }, undefined],
    ['not JSON', on('{'), undefined],
    ['not a decision', on(JSON.stringify({ ...record({}), decision: 'Maybe' })), undefined],
  ])('%s', (_name, obj, want) => {
    expect(recordedDecision(obj)).toEqual(want);
  });

  it('the newest of the policy wins; other policies do not count', () => {
    const old = record({ time: '2026-01-01T00:00:00Z' });
    const newer = record({ time: '2026-01-02T00:00:00Z', decision: 'Rejected' });
    const other = record({ time: '2026-01-03T00:00:00Z', policy: 'q' });
    expect(newestDecision([old, undefined, other, newer], 'p')).toBe(newer);
    expect(newestDecision([other], 'p')).toBeUndefined();
  });

  it.each<[string, Record<string, string>, Record<string, string> | undefined, boolean]>([
    ['neither carries one', {}, {}, true],
    ['the run carries it', { 'lathe.dev/promotion': JSON.stringify(record({})) }, {}, false],
    ['the model carries it', {}, { 'lathe.dev/promotion': JSON.stringify(record({})) }, false],
    ['no model', {}, undefined, false],
  ])('awaits a decision when %s: %s', (_name, onRun, onModel, want) => {
    const run = { metadata: { annotations: onRun } } as unknown as TrainingJobObject;
    const model = onModel ? mv('m-v2', {}, 'v2', onModel) : undefined;
    expect(awaitsDecision(run, model)).toBe(want);
  });
});
