import { describe, expect, it } from 'vitest';
import { judgeFairness } from '../../../../contract/fairness/gate.js';
import { groupMetrics } from '../../../../contract/fairness/group-metrics.js';
import { loans } from '../../../../contract/fairness/testdata.js';
import type { ModelCard } from '../../../../contract/model-card.js';
import { fairnessCheckedCondition, modelCardSummary, parseModelCard } from './model-card.js';

const report = groupMetrics(loans, {
  sensitiveColumns: ['sex', 'race'],
  minGroupSize: 3,
  intersections: true,
  positiveClass: 'yes',
});

function card(fairness: ModelCard['fairness'], columns = 3): ModelCard {
  return {
    formatVersion: 1,
    model: { task: 'classification', framework: 'tensorflow.js', inputs: ['a'], features: 1 },
    data: { datasetVersion: 'v1', trainRows: 64, testRows: 16 },
    metrics: { accuracy: 11 / 16 },
    importance: {
      method: 'permutation',
      score: 'accuracy',
      baseline: 0.6875,
      repeats: 5,
      rows: 16,
      seed: 0,
      columns: Array.from({ length: columns }, (_, i) => ({
        column: `c${i}`,
        mean: 1 / (i + 3),
        std: 0.01,
      })),
    },
    ...(fairness ? { fairness } : {}),
    intendedUse: { intendedUse: 'Pre-screening loans' },
  };
}

/** The card as the operator reads it back from the artifact. */
const readBack = (c: ModelCard) => {
  const parsed = parseModelCard(Buffer.from(JSON.stringify(c)));
  if (!parsed.card) throw new Error(parsed.problem);
  return parsed.card;
};

describe('modelCardSummary', () => {
  it('summarises importance (rounded, at most 20), the groups and the card location', () => {
    const summary = modelCardSummary(readBack(card({ report }, 25)), 's3://lathe/models/ns/m/3/');
    expect(summary.modelCard).toEqual({
      uri: 's3://lathe/models/ns/m/3/model-card.json',
      datasetVersion: 'v1',
      trainRows: 64,
      testRows: 16,
      intendedUse: 'Pre-screening loans',
    });
    expect(summary.importance?.columns).toHaveLength(20);
    expect(summary.importance?.columns[0]).toEqual({ column: 'c0', mean: 0.3333, std: 0.01 });
    expect(summary.fairness).toMatchObject({
      verdict: 'NoRules',
      sensitiveColumns: ['sex', 'race'],
      positiveClass: 'yes',
      minGroupSize: 3,
    });
    // The hand counts of contract/fairness/testdata.ts: sex DP ratio 1/2, EO difference 2/5.
    const sex = summary.fairness?.disparities?.find((d) => d.scope === 'sex');
    expect(sex?.demographicParityRatio).toBeCloseTo(1 / 2, 12);
    expect(sex?.equalizedOddsDifference).toBeCloseTo(2 / 5, 12);
    expect(summary.fairness?.task).toBe('classification');
    const female = summary.fairness?.groups?.find((g) => g.group === 'sex=F');
    expect(female).toMatchObject({ count: 8, judged: true, selectionRate: 0.375, accuracy: 0.75 });
    // race=C has a single positive prediction and no actual positive: no TPR to report.
    const c = summary.fairness?.groups?.find((g) => g.group === 'race=C');
    expect(c).toMatchObject({ count: 2, judged: false });
    expect(c?.truePositiveRate).toBeUndefined();
  });

  it('reports a failed gate as FairnessChecked=False with the failing rule', () => {
    const verdict = judgeFairness(report, [
      { metric: 'demographicParityRatio', op: '>=', value: 0.8, scope: 'sex' },
    ]);
    const read = readBack(card({ report, verdict }));
    expect(modelCardSummary(read, 's3://b/p/').fairness?.verdict).toBe('Failed');
    expect(fairnessCheckedCondition(read)).toMatchObject({
      type: 'FairnessChecked',
      status: 'False',
      reason: 'RulesFailed',
    });
    expect(fairnessCheckedCondition(read)?.message).toMatch(/demographicParityRatio.*sex.*0\.5/);
  });

  it('passes a gate whose rules hold, and says so', () => {
    const verdict = judgeFairness(report, [
      { metric: 'demographicParityRatio', op: '>=', value: 0.3 },
    ]);
    expect(fairnessCheckedCondition(readBack(card({ report, verdict })))).toMatchObject({
      status: 'True',
      reason: 'RulesPassed',
    });
  });

  it('is False when fairness was asked for and could not be evaluated, absent when not asked', () => {
    const error = 'the dataset version names no sensitive columns';
    expect(fairnessCheckedCondition(readBack(card({ error })))).toMatchObject({
      status: 'False',
      reason: 'NotEvaluated',
      message: error,
    });
    expect(fairnessCheckedCondition(readBack(card(undefined)))).toBeUndefined();
    expect(modelCardSummary(readBack(card(undefined)), 's3://b/p/').fairness).toBeUndefined();
  });

  it('names what is wrong with a card that is not one', () => {
    expect(parseModelCard(Buffer.from('{'))).toMatchObject({
      problem: expect.stringMatching(/model-card.json is not JSON/),
    });
    expect(parseModelCard(Buffer.from('{"formatVersion":1}')).problem).toMatch(/model-card.json: /);
  });
});
