import { describe, expect, it } from 'vitest';
import { groupMetrics } from '../../../../contract/fairness/group-metrics.js';
import { fairnessSummaryOf } from '../../../../contract/fairness/summary.js';
import { loans } from '../../../../contract/fairness/testdata.js';
import { retrainPolicyFixture } from '../../../../e2e/testing/retrain-policy.js';
import type { TrainingFairness } from '../../api/fairness.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import { promotionRecord } from './decision.js';
import { fairnessGate, fairnessSummaryOfStatus, hasChampionRules } from './fairness-gate.js';

// The hand-counted loans table: sex DP ratio 1/2, race 3/4, intersection 1/3 (minGroupSize 3).
const summary = fairnessSummaryOf(
  groupMetrics(loans, {
    sensitiveColumns: ['sex', 'race'],
    minGroupSize: 3,
    intersections: true,
    positiveClass: 'yes',
  }),
);

function mv(
  name: string,
  fairness?: { verdict: string; message: string; withDisparities?: boolean },
): ModelVersionObject {
  return {
    metadata: { name, namespace: 'ns' },
    spec: {
      modelName: 'm',
      metrics: { accuracy: 0.9 },
      lineage: { dataset: { name: 'd', version: 'v2' } },
    },
    status: fairness
      ? {
          fairness: {
            verdict: fairness.verdict,
            message: fairness.message,
            ...(fairness.withDisparities === false
              ? {}
              : {
                  task: summary.task,
                  sensitiveColumns: summary.sensitiveColumns,
                  disparities: summary.disparities,
                }),
          },
        }
      : {},
  } as unknown as ModelVersionObject;
}

const threshold: TrainingFairness = {
  minGroupSize: 3,
  intersections: true,
  rules: [{ metric: 'demographicParityRatio', op: '>=', value: 0.4, scope: 'sex' }],
};
const versusChampion: TrainingFairness = {
  minGroupSize: 3,
  intersections: true,
  rules: [{ metric: 'demographicParityRatio', noWorseThanChampionBy: 0.1, scope: 'sex' }],
};

/** A champion whose sex DP ratio is `ratio` (everything else as the challenger's). */
const championWith = (ratio: number) => ({
  name: 'm-v1',
  summary: {
    ...summary,
    disparities: summary.disparities.map((d) =>
      d.scope === 'sex' ? { ...d, demographicParityRatio: ratio } : d,
    ),
  },
});

describe('fairnessGate', () => {
  it('has nothing to say without rules', () => {
    expect(fairnessGate({ fairness: undefined, challenger: mv('m-v2') })).toBeUndefined();
    expect(hasChampionRules(threshold)).toBe(false);
    expect(hasChampionRules(versusChampion)).toBe(true);
  });

  it.each([
    [
      'its verdict failed',
      { verdict: 'Failed', message: 'demographicParityRatio for sex is 0.5, below 0.8' },
      /below 0.8/,
    ],
    [
      'it was not evaluated',
      { verdict: 'NotEvaluated', message: 'no sensitive columns' },
      /no sensitive columns/,
    ],
    ['it has no fairness evaluation at all', undefined, /has no fairness evaluation/],
  ] as const)('rejects a challenger when %s', (_, fairness, message) => {
    const verdict = fairnessGate({ fairness: threshold, challenger: mv('m-v2', fairness) });
    expect(verdict?.passed).toBe(false);
    expect(verdict?.message).toMatch(message);
  });

  it('passes a challenger whose threshold rules passed, with no champion needed', () => {
    const verdict = fairnessGate({
      fairness: threshold,
      challenger: mv('m-v2', { verdict: 'Passed', message: 'all rules pass' }),
    });
    expect(verdict).toEqual({ passed: true, message: 'm-v2: all rules pass' });
  });

  it('compares with the champion on the same split: within the margin passes, beyond fails', () => {
    const challenger = mv('m-v2', { verdict: 'Passed', message: 'ok' });
    // The challenger's ratio is 1/2: 0.55 is worse by 0.05 (within 0.1), 0.7 by 0.2.
    expect(
      fairnessGate({ fairness: versusChampion, challenger, champion: championWith(0.55) })?.passed,
    ).toBe(true);
    const failed = fairnessGate({
      fairness: versusChampion,
      challenger,
      champion: championWith(0.7),
    });
    expect(failed?.passed).toBe(false);
    expect(failed?.message).toMatch(/worse by 0\.2/);
  });

  it('does not block on a champion whose disparities are unknown, and says why', () => {
    const verdict = fairnessGate({
      fairness: versusChampion,
      challenger: mv('m-v2', { verdict: 'Passed', message: 'ok' }),
      champion: { name: 'm-v1', problem: 'the dataset version names no sensitive columns' },
    });
    expect(verdict?.passed).toBe(true);
    expect(verdict?.message).toMatch(/m-v1's disparities on this split are unknown: the dataset/);
  });

  it('reads a ModelVersion status back as the summary it came from', () => {
    expect(fairnessSummaryOfStatus(mv('m-v2', { verdict: 'NoRules', message: '' }))).toEqual(
      summary,
    );
    expect(
      fairnessSummaryOfStatus(
        mv('m-v2', { verdict: 'NoRules', message: '', withDisparities: false }),
      ),
    ).toBeUndefined();
  });
});

describe('promotionRecord with the fairness gate', () => {
  const policy = retrainPolicyFixture({
    dataset: 'd',
    model: 'm',
    spec: { promotion: { metric: 'accuracy', direction: 'maximize', minImprovement: 0.01 } },
  });
  const base = {
    policy,
    challenger: mv('m-v2'),
    champion: undefined,
    championValue: undefined,
    problem: undefined,
    now: new Date('2026-01-01T00:00:00Z'),
  };

  it('rejects a better challenger that fails the gate, keeping both reasons', () => {
    const record = promotionRecord({
      ...base,
      fairness: {
        passed: false,
        message: 'm-v2: demographicParityRatio for sex is 0.5, below 0.8',
      },
    });
    expect(record.decision).toBe('Rejected');
    expect(record.reason).toMatch(
      /^fairness gate failed: m-v2: demographicParityRatio.*otherwise: no version is in/,
    );
  });

  it('promotes one that passes, saying so', () => {
    const record = promotionRecord({ ...base, fairness: { passed: true, message: 'm-v2: ok' } });
    expect(record.decision).toBe('Promoted');
    expect(record.reason).toMatch(/fairness gate passed: m-v2: ok$/);
  });
});
