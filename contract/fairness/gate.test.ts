import { describe, expect, it } from 'vitest';
import {
  type FairnessRule,
  formatFairnessRule,
  judgeFairness,
  parseFairnessRules,
} from './gate.js';
import {
  type ClassificationFairnessReport,
  groupMetrics,
  regressionGroupMetrics,
} from './group-metrics.js';
import { loans, prices } from './testdata.js';

const reportWith = (minGroupSize: number) =>
  groupMetrics(loans, {
    sensitiveColumns: ['sex', 'race'],
    positiveClass: 'yes',
    minGroupSize,
    intersections: true,
  });
const report = reportWith(3);

/** `report` with some disparity values replaced, as another model's evaluation. */
function withValues(
  base: ClassificationFairnessReport,
  scope: string,
  values: Partial<Record<'demographicParityRatio' | 'equalizedOddsDifference', number>>,
): ClassificationFairnessReport {
  const copy = structuredClone(base);
  Object.assign(copy.disparities.find((each) => each.scope === scope)!, values);
  return copy;
}

describe('judgeFairness with threshold rules', () => {
  it.each<[FairnessRule, boolean, string]>([
    [
      { metric: 'demographicParityRatio', op: '>=', value: 0.7, scope: 'race' },
      true,
      'demographicParityRatio for race is 0.75, at least 0.7',
    ],
    [
      { metric: 'demographicParityRatio', op: '>=', value: 0.8, scope: 'race' },
      false,
      'demographicParityRatio for race is 0.75, below 0.8 (selection rate 0.5 for race=A, 0.667 for race=B)',
    ],
    [
      { metric: 'equalizedOddsDifference', op: '<=', value: 0.25, scope: 'race' },
      true,
      'equalizedOddsDifference for race is 0.25, at most 0.25',
    ],
    [
      // the false positive rates differ more than the true positive rates (2/5 against 1/3)
      { metric: 'equalizedOddsDifference', op: '<=', value: 0.1, scope: 'sex' },
      false,
      'equalizedOddsDifference for sex is 0.4, above 0.1 (false positive rate 0.2 for sex=F, 0.6 for sex=M)',
    ],
    [
      { metric: 'demographicParityDifference', op: '<', value: 0.375, scope: 'sex' },
      false,
      'demographicParityDifference for sex is 0.375, not below 0.375 (selection rate 0.375 for sex=F, 0.75 for sex=M)',
    ],
    [
      { metric: 'demographicParityDifference', op: '<', value: 0.4, scope: 'sex' },
      true,
      'demographicParityDifference for sex is 0.375, below 0.4',
    ],
    [
      { metric: 'demographicParityDifference', op: '>', value: 0.1, scope: 'race' },
      true,
      'demographicParityDifference for race is 0.167, above 0.1',
    ],
    [
      { metric: 'demographicParityRatio', op: '>', value: 0.75, scope: 'race' },
      false,
      'demographicParityRatio for race is 0.75, not above 0.75 (selection rate 0.5 for race=A, 0.667 for race=B)',
    ],
    [
      { metric: 'truePositiveRateDifference', op: '<=', value: 0.3, scope: 'sex' },
      false,
      'truePositiveRateDifference for sex is 0.333, above 0.3 (true positive rate 0.667 for sex=F, 1 for sex=M)',
    ],
    [
      { metric: 'falsePositiveRateDifference', op: '<=', value: 0.5, scope: 'intersection' },
      true,
      'falsePositiveRateDifference for the intersection of sex and race is 0.5, at most 0.5',
    ],
  ])('%j passes: %s', (rule, passed, reason) => {
    const verdict = judgeFairness(report, [rule]);
    expect(verdict.passed).toBe(passed);
    expect(verdict.results).toEqual([
      {
        rule: formatFairnessRule(rule),
        scope: rule.scope,
        value: expect.any(Number),
        passed,
        judged: true,
        reason,
      },
    ]);
  });

  it('applies a rule without a scope to every column and the intersection', () => {
    const verdict = judgeFairness(report, [
      { metric: 'demographicParityRatio', op: '>=', value: 0.8 },
    ]);
    expect(verdict.passed).toBe(false);
    expect(verdict.results.map(({ scope, value, passed }) => ({ scope, value, passed }))).toEqual([
      { scope: 'sex', value: 0.5, passed: false },
      { scope: 'race', value: expect.closeTo(0.75, 12), passed: false },
      { scope: 'intersection', value: expect.closeTo(1 / 3, 12), passed: false },
    ]);
    expect(verdict.results[2]!.reason).toBe(
      'demographicParityRatio for the intersection of sex and race is 0.333, below 0.8 (selection rate 0.25 for sex=F,race=A, 0.75 for sex=M,race=A)',
    );
    expect(verdict.results[0]!.rule).toBe('demographicParityRatio >= 0.8');
    expect(verdict.message).toBe(
      `3 of 3 fairness checks failed: ${verdict.results.map((each) => each.reason).join('; ')}`,
    );
  });

  it('passes a value equal to the bound up to floating point, and prints a near miss in full', () => {
    const equal = withValues(report, 'race', { demographicParityRatio: 0.6 / 0.75 });
    expect(0.6 / 0.75).toBeLessThan(0.8);
    const rule: FairnessRule = {
      metric: 'demographicParityRatio',
      op: '>=',
      value: 0.8,
      scope: 'race',
    };
    expect(judgeFairness(equal, [rule]).results[0]).toMatchObject({
      passed: true,
      reason: 'demographicParityRatio for race is 0.8, at least 0.8',
    });
    const nearMiss = withValues(report, 'race', { demographicParityRatio: 0.7996 });
    expect(judgeFairness(nearMiss, [rule]).results[0]!.reason).toMatch(
      /^demographicParityRatio for race is 0\.7996, below 0\.8/,
    );
  });

  it('does not judge, and does not fail, a rule whose value could not be computed', () => {
    // minGroupSize 7: race=A (8 rows) is the only judged race group
    const verdict = judgeFairness(reportWith(7), [
      { metric: 'demographicParityRatio', op: '>=', value: 0.8, scope: 'race' },
      { metric: 'demographicParityRatio', op: '>=', value: 0.4, scope: 'sex' },
    ]);
    expect(verdict.passed).toBe(true);
    expect(verdict.results[0]).toEqual({
      rule: 'demographicParityRatio >= 0.8 for race',
      scope: 'race',
      value: null,
      passed: true,
      judged: false,
      reason:
        'demographicParityRatio for race is not judged: 1 of 3 groups of race has at least 7 rows; two are needed to compare',
    });
    expect(verdict.message).toBe(
      `All 2 fairness checks passed, 1 not judged: ${verdict.results[0]!.reason}`,
    );
  });

  it.each<[FairnessRule, ClassificationFairnessReport, string]>([
    [
      { metric: 'demographicParityRatio', op: '>=', value: 0.8, scope: 'age' },
      report,
      'demographicParityRatio >= 0.8 for age: age is not a sensitive column of the evaluation (its columns: sex, race)',
    ],
    [
      { metric: 'meanAbsoluteErrorDifference', op: '<=', value: 1 },
      report,
      'meanAbsoluteErrorDifference does not apply to a classification model (its metrics: demographicParityDifference, demographicParityRatio, truePositiveRateDifference, falsePositiveRateDifference, equalizedOddsDifference)',
    ],
    [
      { metric: 'equalizedOddsDifference', op: '<=', value: 0.1, scope: 'intersection' },
      groupMetrics(loans, {
        sensitiveColumns: ['sex'],
        positiveClass: 'yes',
        minGroupSize: 3,
        intersections: true,
      }),
      'equalizedOddsDifference <= 0.1 for intersection: the evaluation has no intersection (it needs two sensitive columns and intersections on)',
    ],
  ])('fails a rule that does not fit the report: %j', (rule, evaluated, reason) => {
    const verdict = judgeFairness(evaluated, [rule]);
    expect(verdict.passed).toBe(false);
    expect(verdict.results).toEqual([
      expect.objectContaining({ value: null, passed: false, judged: false, reason }),
    ]);
  });

  it('passes with no rules', () => {
    expect(judgeFairness(report, [])).toEqual({
      passed: true,
      results: [],
      message: 'No fairness rules to check',
    });
  });
});

describe('judgeFairness against the champion', () => {
  it.each<[FairnessRule, ClassificationFairnessReport, boolean, string]>([
    [
      { metric: 'equalizedOddsDifference', noWorseThanChampionBy: 0.02, scope: 'sex' },
      withValues(report, 'sex', { equalizedOddsDifference: 0.35 }),
      false,
      "equalizedOddsDifference for sex is 0.4 against the champion's 0.35, worse by 0.05, more than 0.02 (false positive rate 0.2 for sex=F, 0.6 for sex=M)",
    ],
    [
      // 0.4 − 0.35 is 0.05000000000000004 in floating point
      { metric: 'equalizedOddsDifference', noWorseThanChampionBy: 0.05, scope: 'sex' },
      withValues(report, 'sex', { equalizedOddsDifference: 0.35 }),
      true,
      "equalizedOddsDifference for sex is 0.4 against the champion's 0.35, worse by 0.05, within 0.05",
    ],
    [
      // a lower difference is better
      { metric: 'equalizedOddsDifference', noWorseThanChampionBy: 0, scope: 'sex' },
      withValues(report, 'sex', { equalizedOddsDifference: 0.5 }),
      true,
      "equalizedOddsDifference for sex is 0.4 against the champion's 0.5, no worse",
    ],
    [
      // a higher ratio is better: 0.5 against 0.52 is worse by 0.02
      { metric: 'demographicParityRatio', noWorseThanChampionBy: 0.02, scope: 'sex' },
      withValues(report, 'sex', { demographicParityRatio: 0.52 }),
      true,
      "demographicParityRatio for sex is 0.5 against the champion's 0.52, worse by 0.02, within 0.02",
    ],
    [
      { metric: 'demographicParityRatio', noWorseThanChampionBy: 0.02, scope: 'sex' },
      withValues(report, 'sex', { demographicParityRatio: 0.6 }),
      false,
      "demographicParityRatio for sex is 0.5 against the champion's 0.6, worse by 0.1, more than 0.02 (selection rate 0.375 for sex=F, 0.75 for sex=M)",
    ],
    [
      { metric: 'demographicParityRatio', noWorseThanChampionBy: 0, scope: 'sex' },
      withValues(report, 'sex', { demographicParityRatio: 0.4 }),
      true,
      "demographicParityRatio for sex is 0.5 against the champion's 0.4, no worse",
    ],
  ])('%j', (rule, champion, passed, reason) => {
    const verdict = judgeFairness(report, [rule], champion);
    expect(verdict.passed).toBe(passed);
    expect(verdict.results).toEqual([
      {
        rule: formatFairnessRule(rule),
        scope: 'sex',
        value: expect.any(Number),
        championValue: expect.any(Number),
        passed,
        judged: true,
        reason,
      },
    ]);
  });

  it('compares each scope with the same scope of the champion', () => {
    const champion = withValues(report, 'race', { equalizedOddsDifference: 0.1 });
    const verdict = judgeFairness(
      report,
      [{ metric: 'equalizedOddsDifference', noWorseThanChampionBy: 0.01 }],
      champion,
    );
    expect(verdict.results.map(({ scope, passed }) => [scope, passed])).toEqual([
      ['sex', true],
      ['race', false],
      ['intersection', true],
    ]);
    expect(verdict.message).toMatch(
      /^1 of 3 fairness checks failed: equalizedOddsDifference for race/,
    );
  });

  it('does not judge a champion rule without a champion', () => {
    const rule: FairnessRule = {
      metric: 'equalizedOddsDifference',
      noWorseThanChampionBy: 0.02,
      scope: 'sex',
    };
    const verdict = judgeFairness(report, [rule]);
    expect(verdict.passed).toBe(true);
    expect(verdict.results[0]).toEqual({
      rule: 'equalizedOddsDifference no worse than the champion by more than 0.02 for sex',
      scope: 'sex',
      value: expect.closeTo(0.4, 12),
      championValue: null,
      passed: true,
      judged: false,
      reason:
        'equalizedOddsDifference for sex is 0.4, not compared: there is no champion to compare with',
    });
  });

  it("does not judge a champion rule when the champion's value could not be computed", () => {
    const verdict = judgeFairness(
      report,
      [{ metric: 'demographicParityRatio', noWorseThanChampionBy: 0.02, scope: 'race' }],
      reportWith(7),
    );
    expect(verdict.passed).toBe(true);
    expect(verdict.results[0]).toMatchObject({
      championValue: null,
      judged: false,
      reason:
        "demographicParityRatio for race is 0.75, not compared: the champion's is not known (1 of 3 groups of race has at least 7 rows; two are needed to compare)",
    });
  });
});

describe('judgeFairness on a regression model', () => {
  const regression = regressionGroupMetrics(prices, {
    sensitiveColumns: ['sex', 'region'],
    minGroupSize: 2,
    intersections: false,
  });

  it('bounds the mean absolute error difference per column', () => {
    // MAE: sex=F 7/4, sex=M 6/4; region=N 5/4, region=S 2
    const verdict = judgeFairness(regression, [
      { metric: 'meanAbsoluteErrorDifference', op: '<=', value: 0.5 },
    ]);
    expect(verdict.passed).toBe(false);
    expect(verdict.results.map((each) => each.reason)).toEqual([
      'meanAbsoluteErrorDifference for sex is 0.25, at most 0.5',
      'meanAbsoluteErrorDifference for region is 0.75, above 0.5 (mean absolute error 1.25 for region=N, 2 for region=S)',
    ]);
  });

  it('fails a classification metric on a regression model', () => {
    const verdict = judgeFairness(regression, [
      { metric: 'demographicParityRatio', op: '>=', value: 0.8 },
    ]);
    expect(verdict.results).toEqual([
      expect.objectContaining({
        passed: false,
        reason:
          'demographicParityRatio does not apply to a regression model (its metrics: meanAbsoluteErrorDifference)',
      }),
    ]);
  });
});

describe('parseFairnessRules', () => {
  it('parses both kinds of rule', () => {
    expect(
      parseFairnessRules([
        { metric: 'demographicParityRatio', op: '>=', value: 0.8 },
        { metric: 'equalizedOddsDifference', noWorseThanChampionBy: 0.02, scope: 'intersection' },
      ]),
    ).toEqual([
      { metric: 'demographicParityRatio', op: '>=', value: 0.8 },
      { metric: 'equalizedOddsDifference', noWorseThanChampionBy: 0.02, scope: 'intersection' },
    ]);
  });

  it.each([
    [
      [
        { metric: 'demographicParityRatio', op: '>=', value: 0.8 },
        { metric: 'equalizedOddsDifference', op: '=<', value: 0.1 },
      ],
      'rules[1].op: ',
    ],
    [[{ metric: 'disparateImpact', op: '>=', value: 0.8 }], 'rules[0].metric: '],
    [[{ metric: 'demographicParityRatio', op: '>=', value: '0.8' }], 'rules[0].value: '],
    [[{ metric: 'demographicParityRatio', op: '>=' }], 'rules[0].value: value is required with op'],
    [[{ metric: 'demographicParityRatio', value: 0.8 }], 'rules[0].op: op is required with value'],
    [
      [{ metric: 'demographicParityRatio' }],
      'rules[0].op: a rule needs op and value, or noWorseThanChampionBy',
    ],
    [
      [{ metric: 'demographicParityRatio', op: '>=', value: 0.8, noWorseThanChampionBy: 0.1 }],
      'rules[0].noWorseThanChampionBy: a rule is either a threshold',
    ],
    [
      [{ metric: 'equalizedOddsDifference', noWorseThanChampionBy: -0.1 }],
      'rules[0].noWorseThanChampionBy: ',
    ],
    [[{ metric: 'equalizedOddsDifference', op: '<=', value: 0.1, scope: '' }], 'rules[0].scope: '],
    [[{ metric: 'equalizedOddsDifference', op: '<=', value: 0.1, threshold: 1 }], 'rules[0]: '],
    [{ metric: 'equalizedOddsDifference' }, 'rules: '],
  ])('refuses %j, naming the field', (input, message) => {
    expect(() => parseFairnessRules(input)).toThrow(message);
  });

  it('names the field it was given', () => {
    expect(() =>
      parseFairnessRules([{ metric: 'x', op: '>=', value: 1 }], 'spec.fairness.rules'),
    ).toThrow('spec.fairness.rules[0].metric: ');
  });
});
