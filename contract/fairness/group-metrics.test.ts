import { describe, expect, it } from 'vitest';
import { type ClassificationRow, groupMetrics, regressionGroupMetrics } from './group-metrics.js';
import { loans, prices } from './testdata.js';

const options = {
  sensitiveColumns: ['sex', 'race'],
  positiveClass: 'yes',
  minGroupSize: 3,
  intersections: true,
};

const metricsOf = (
  count: number,
  positives: number,
  predictedPositives: number,
  selectionRate: number,
  truePositiveRate: number | null,
  falsePositiveRate: number | null,
  accuracy: number,
) => ({
  count,
  positives,
  predictedPositives,
  selectionRate,
  truePositiveRate,
  falsePositiveRate,
  accuracy,
});

describe('groupMetrics', () => {
  const report = groupMetrics(loans, options);
  const group = (name: string) => report.groups.find((each) => each.group === name);
  const disparity = (scope: string) => report.disparities.find((each) => each.scope === scope)!;

  it('computes the overall metrics', () => {
    expect(report.overall).toEqual(metricsOf(16, 6, 9, 9 / 16, 5 / 6, 4 / 10, 11 / 16));
  });

  it.each([
    ['sex=F', 'sex', 8, 3, 3, 3 / 8, 2 / 3, 1 / 5, 6 / 8, true],
    ['sex=M', 'sex', 8, 3, 6, 6 / 8, 1, 3 / 5, 5 / 8, true],
    ['race=A', 'race', 8, 4, 4, 1 / 2, 3 / 4, 1 / 4, 6 / 8, true],
    ['race=B', 'race', 6, 2, 4, 4 / 6, 1, 2 / 4, 4 / 6, true],
    ['race=C', 'race', 2, 0, 1, 1 / 2, null, 1 / 2, 1 / 2, false],
    ['sex=F,race=A', 'intersection', 4, 2, 1, 1 / 4, 1 / 2, 0, 3 / 4, true],
    ['sex=F,race=B', 'intersection', 3, 1, 2, 2 / 3, 1, 1 / 2, 2 / 3, true],
    ['sex=F,race=C', 'intersection', 1, 0, 0, 0, null, 0, 1, false],
    ['sex=M,race=A', 'intersection', 4, 2, 3, 3 / 4, 1, 1 / 2, 3 / 4, true],
    ['sex=M,race=B', 'intersection', 3, 1, 2, 2 / 3, 1, 1 / 2, 2 / 3, true],
    ['sex=M,race=C', 'intersection', 1, 0, 1, 1, null, 1, 0, false],
  ] as const)('computes %s', (name, scope, count, pos, sel, rate, tpr, fpr, acc, judged) => {
    expect(group(name)).toEqual({
      scope,
      group: name,
      values: Object.fromEntries(name.split(',').map((pair) => pair.split('='))),
      ...metricsOf(count, pos, sel, rate, tpr, fpr, acc),
      judged,
    });
  });

  it('lists each column’s groups sorted, then the intersections present', () => {
    expect(report.groups.map((each) => each.group)).toEqual([
      'sex=F',
      'sex=M',
      'race=A',
      'race=B',
      'race=C',
      'sex=F,race=A',
      'sex=F,race=B',
      'sex=F,race=C',
      'sex=M,race=A',
      'sex=M,race=B',
      'sex=M,race=C',
    ]);
  });

  it.each([
    // scope, judged, DP difference, DP ratio, TPR difference, FPR difference, EO difference
    ['sex', 2, 3 / 8, 1 / 2, 1 / 3, 2 / 5, 2 / 5],
    // race=C (2 rows) is below the minimum: not judged, so its rates take no part
    ['race', 2, 1 / 6, 3 / 4, 1 / 4, 1 / 4, 1 / 4],
    ['intersection', 4, 1 / 2, 1 / 3, 1 / 2, 1 / 2, 1 / 2],
  ] as const)(
    'computes the disparities of %s over judged groups',
    (scope, judged, dpd, dpr, tprd, fprd, eod) => {
      const found = disparity(scope);
      expect(found.judgedGroups).toBe(judged);
      expect(found.demographicParityDifference).toBeCloseTo(dpd, 12);
      expect(found.demographicParityRatio).toBeCloseTo(dpr, 12);
      expect(found.truePositiveRateDifference).toBeCloseTo(tprd, 12);
      expect(found.falsePositiveRateDifference).toBeCloseTo(fprd, 12);
      expect(found.equalizedOddsDifference).toBeCloseTo(eod, 12);
      expect(found.reasons).toEqual({});
    },
  );

  it('names the groups at the extremes', () => {
    expect(disparity('sex').selectionRate).toEqual({
      lowest: { group: 'sex=F', value: 3 / 8 },
      highest: { group: 'sex=M', value: 6 / 8 },
    });
    expect(disparity('intersection').truePositiveRate).toEqual({
      lowest: { group: 'sex=F,race=A', value: 1 / 2 },
      highest: { group: 'sex=F,race=B', value: 1 },
    });
  });

  it('leaves a judged group without positives out of the true positive rate difference', () => {
    // minGroupSize 2 judges race=C (TPR undefined): counting it as 0 would make the difference 1
    const found = groupMetrics(loans, { ...options, minGroupSize: 2 }).disparities.find(
      (each) => each.scope === 'race',
    )!;
    expect(found.judgedGroups).toBe(3);
    expect(found.truePositiveRateDifference).toBeCloseTo(1 / 4, 12);
    expect(found.falsePositiveRateDifference).toBeCloseTo(1 / 4, 12);
    expect(found.truePositiveRate?.highest.group).toBe('race=B');
  });

  it('reports no disparity, with the reason, when fewer than two groups are judged', () => {
    const few = groupMetrics(loans, { ...options, minGroupSize: 7 });
    const race = few.disparities.find((each) => each.scope === 'race')!;
    expect(race).toMatchObject({
      judgedGroups: 1,
      demographicParityDifference: null,
      demographicParityRatio: null,
      equalizedOddsDifference: null,
    });
    expect(race.reasons.demographicParityRatio).toBe(
      '1 of 3 groups of race has at least 7 rows; two are needed to compare',
    );
    expect(few.disparities.find((each) => each.scope === 'intersection')!.reasons).toMatchObject({
      equalizedOddsDifference:
        '0 of 6 groups of the intersection of sex and race have at least 7 rows; two are needed to compare',
    });
    // the small groups are still reported, with their metrics
    expect(few.groups.find((each) => each.group === 'race=B')).toMatchObject({
      count: 6,
      judged: false,
      selectionRate: 4 / 6,
    });
  });

  it('takes equalized odds from the false positive rates when only one group has positives', () => {
    // F: 2 negatives, 1 predicted yes (FPR 1/2, no TPR); M: 1 positive found, 1 negative (FPR 0)
    const rows: ClassificationRow[] = [
      { groups: { sex: 'F' }, label: 'no', prediction: 'yes' },
      { groups: { sex: 'F' }, label: 'no', prediction: 'no' },
      { groups: { sex: 'M' }, label: 'yes', prediction: 'yes' },
      { groups: { sex: 'M' }, label: 'no', prediction: 'no' },
    ];
    const [sex] = groupMetrics(rows, {
      sensitiveColumns: ['sex'],
      positiveClass: 'yes',
      minGroupSize: 1,
      intersections: true,
    }).disparities;
    expect(sex).toMatchObject({
      truePositiveRateDifference: null,
      falsePositiveRateDifference: 0.5,
      equalizedOddsDifference: 0.5,
      demographicParityDifference: 0,
      demographicParityRatio: 1,
      reasons: {
        truePositiveRateDifference: 'fewer than two judged groups of sex have actual positives',
      },
    });
  });

  it('has no intersection for one sensitive column', () => {
    const single = groupMetrics(loans, { ...options, sensitiveColumns: ['sex'] });
    expect(single.disparities.map((each) => each.scope)).toEqual(['sex']);
    expect(single.groups.map((each) => each.group)).toEqual(['sex=F', 'sex=M']);
  });

  it('judges a multi-class model for the positive class, one-vs-rest', () => {
    const rows: ClassificationRow[] = [
      { groups: { sex: 'F' }, label: 'yes', prediction: 'maybe' },
      { groups: { sex: 'F' }, label: 'maybe', prediction: 'no' },
      { groups: { sex: 'F' }, label: 'maybe', prediction: 'maybe' },
      { groups: { sex: 'F' }, label: 'no', prediction: 'yes' },
    ];
    const { overall } = groupMetrics(rows, {
      sensitiveColumns: ['sex'],
      positiveClass: 'yes',
      minGroupSize: 1,
      intersections: false,
    });
    // positives: row 1; predicted yes: row 4 (a false positive of 3 negatives); exact matches: row 3
    expect(overall).toEqual(metricsOf(4, 1, 1, 1 / 4, 0, 1 / 3, 1 / 4));
  });

  it('sets the ratio to 1 when no group is selected', () => {
    const none = loans.map((row) => ({ ...row, prediction: 'no' }));
    const [sex] = groupMetrics(none, options).disparities;
    expect(sex).toMatchObject({ demographicParityDifference: 0, demographicParityRatio: 1 });
  });

  it.each([
    [
      { ...options, minGroupSize: 0 },
      loans,
      'minGroupSize is 0: it must be an integer of at least 1',
    ],
    [{ ...options, minGroupSize: 2.5 }, loans, 'minGroupSize is 2.5'],
    [{ ...options, sensitiveColumns: [] }, loans, 'sensitiveColumns is empty'],
    [{ ...options, sensitiveColumns: ['sex', 'sex'] }, loans, 'sensitiveColumns lists "sex" twice'],
    [{ ...options, sensitiveColumns: ['intersection'] }, loans, 'reserved for intersections'],
    [options, [], 'There are no rows to evaluate'],
    [
      options,
      [loans[0]!, { groups: { sex: 'F' }, label: 'no', prediction: 'no' }],
      'Row 1 has no value for the sensitive column race',
    ],
  ])('refuses bad input (%#)', (badOptions, rows, message) => {
    expect(() => groupMetrics(rows, badOptions)).toThrow(message);
  });
});

describe('regressionGroupMetrics', () => {
  const grouping = { sensitiveColumns: ['sex', 'region'], minGroupSize: 2, intersections: true };
  const report = regressionGroupMetrics(prices, grouping);

  it('computes the overall errors', () => {
    expect(report.overall.count).toBe(8);
    expect(report.overall.meanAbsoluteError).toBeCloseTo(13 / 8, 12);
    expect(report.overall.rootMeanSquaredError).toBeCloseTo(Math.sqrt(35 / 8), 12);
    expect(report.overall.meanError).toBeCloseTo(7 / 8, 12);
  });

  it.each([
    ['sex=F', 4, 7 / 4, 17 / 4, 3 / 4],
    ['sex=M', 4, 6 / 4, 18 / 4, 1],
    ['region=N', 4, 5 / 4, 9 / 4, 1 / 4],
    ['region=S', 4, 2, 26 / 4, 6 / 4],
    ['sex=F,region=N', 2, 2, 4, 0],
    ['sex=F,region=S', 2, 3 / 2, 9 / 2, 3 / 2],
    ['sex=M,region=N', 2, 1 / 2, 1 / 2, 1 / 2],
    ['sex=M,region=S', 2, 5 / 2, 17 / 2, 3 / 2],
  ] as const)('computes the errors of %s', (name, count, mae, meanSquared, meanError) => {
    const found = report.groups.find((each) => each.group === name)!;
    expect(found).toMatchObject({ count, judged: true });
    expect(found.meanAbsoluteError).toBeCloseTo(mae, 12);
    expect(found.rootMeanSquaredError).toBeCloseTo(Math.sqrt(meanSquared), 12);
    expect(found.meanError).toBeCloseTo(meanError, 12);
  });

  it.each([
    ['sex', 1 / 4, 'sex=M', 'sex=F'],
    ['region', 3 / 4, 'region=N', 'region=S'],
    ['intersection', 2, 'sex=M,region=N', 'sex=M,region=S'],
  ])('computes the mean absolute error difference of %s', (scope, difference, lowest, highest) => {
    const found = report.disparities.find((each) => each.scope === scope)!;
    expect(found.meanAbsoluteErrorDifference).toBeCloseTo(difference, 12);
    expect(found.meanAbsoluteError?.lowest.group).toBe(lowest);
    expect(found.meanAbsoluteError?.highest.group).toBe(highest);
  });

  it('does not judge groups below the minimum size', () => {
    const few = regressionGroupMetrics(prices, { ...grouping, minGroupSize: 3 });
    const intersection = few.disparities.find((each) => each.scope === 'intersection')!;
    expect(intersection.meanAbsoluteErrorDifference).toBeNull();
    expect(intersection.reasons.meanAbsoluteErrorDifference).toContain('0 of 4 groups');
    expect(
      few.disparities.find((each) => each.scope === 'sex')!.meanAbsoluteErrorDifference,
    ).toBeCloseTo(1 / 4, 12);
  });

  it('refuses a non-finite prediction, naming the row', () => {
    const bad = [
      ...prices,
      { groups: { sex: 'F', region: 'N' }, label: 1, prediction: Number.NaN },
    ];
    expect(() => regressionGroupMetrics(bad, grouping)).toThrow(
      'Row 8 has label 1 and prediction NaN',
    );
  });
});
