import { describe, expect, it } from 'vitest';
import type { ColumnDistribution } from './dataset-stats.js';
import {
  binOf,
  DistributionCounter,
  type DistributionCounts,
  driftOfCounts,
  mergeDistributionCounts,
  populationStabilityIndex,
} from './distribution-counts.js';

const x: ColumnDistribution = {
  name: 'x',
  numeric: { edges: [1, 2], fractions: [0.25, 0.5, 0.25] },
};
const colour: ColumnDistribution = {
  name: 'colour',
  categorical: { fractions: { red: 0.5, blue: 0.5 } },
};

describe('DistributionCounter', () => {
  it.each([
    [0.5, 0],
    [1, 1],
    [1.5, 1],
    [2, 2],
    [99, 2],
    [-99, 0],
  ])('bins %d into bin %d of edges [1, 2]', (value, bin) => {
    expect(binOf([1, 2], value)).toBe(bin);
  });

  it('counts non-missing cells per training bin and category, others under __other__', () => {
    const counter = new DistributionCounter([x, colour]);
    for (const record of [
      { x: 0.5, colour: 'red' },
      { x: '1.5', colour: ' red ' },
      { x: 'NA', colour: 'green' },
      { x: 'abc', colour: null },
      { x: 2, colour: 'blue' },
    ])
      counter.countInputs(record);
    expect(counter.counts()).toEqual({
      rows: 5,
      stride: 1,
      columns: [
        { name: 'x', numeric: { edges: [1, 2], counts: [1, 1, 1] } },
        { name: 'colour', categorical: { counts: { red: 2, blue: 1, __other__: 1 } } },
      ],
    });
  });

  it('leaves out skipped (hashed PII) columns and counts predictions', () => {
    const counter = new DistributionCounter([x, colour], 3, new Set(['colour']));
    counter.countClass(1, ['a', 'b']);
    counter.countClass(1, ['a', 'b']);
    counter.countClass(0, ['a', 'b']);
    const counts = counter.counts();
    expect(counts.columns.map((c) => c.name)).toEqual(['x']);
    expect(counts.stride).toBe(3);
    expect(counts.predictions).toEqual({ classes: { a: 1, b: 2 } });

    const regression = new DistributionCounter([]);
    for (const v of [2, -1, Number.NaN, 5]) regression.countValue(v);
    expect(regression.counts().predictions).toEqual({
      regression: { count: 3, sum: 6, min: -1, max: 5 },
    });
  });

  it('rejects a stride that is not a positive integer', () => {
    expect(() => new DistributionCounter([], 0)).toThrow('stride must be a positive integer');
  });
});

describe('mergeDistributionCounts', () => {
  const shard = (xs: number[], red: number, other: number, a: number): DistributionCounts => ({
    rows: 10,
    stride: 1,
    columns: [
      { name: 'x', numeric: { edges: [1, 2], counts: xs } },
      { name: 'colour', categorical: { counts: { red, __other__: other } } },
    ],
    predictions: { classes: { a, b: 10 - a } },
  });

  it('sums rows, bins, categories and classes', () => {
    expect(mergeDistributionCounts([shard([1, 2, 3], 4, 0, 7), shard([0, 5, 1], 1, 2, 3)])).toEqual(
      {
        rows: 20,
        stride: 1,
        columns: [
          { name: 'x', numeric: { edges: [1, 2], counts: [1, 7, 4] } },
          { name: 'colour', categorical: { counts: { red: 5, __other__: 2 } } },
        ],
        predictions: { classes: { a: 10, b: 10 } },
      },
    );
    expect(mergeDistributionCounts([])).toBeUndefined();
  });

  it('merges regressions into one count, sum and range', () => {
    const r = (count: number, sum: number, min: number, max: number): DistributionCounts => ({
      rows: count,
      stride: 1,
      columns: [],
      predictions: { regression: { count, sum, min, max } },
    });
    expect(mergeDistributionCounts([r(2, 3, 1, 2), r(3, 30, 5, 15)])?.predictions).toEqual({
      regression: { count: 5, sum: 33, min: 1, max: 15 },
    });
  });

  it('refuses counts binned by other edges, naming the column', () => {
    const other = shard([1, 1, 1], 0, 0, 0);
    other.columns[0] = { name: 'x', numeric: { edges: [1, 3], counts: [1, 1, 1] } };
    expect(() => mergeDistributionCounts([shard([1, 1, 1], 0, 0, 0), other])).toThrow(
      'column x was binned by different edges',
    );
  });
});

describe('driftOfCounts', () => {
  it('is the PSI of the counts’ fractions against the training fractions, worst feature first', () => {
    const counts: DistributionCounts = {
      rows: 4,
      stride: 1,
      columns: [
        { name: 'x', numeric: { edges: [1, 2], counts: [1, 2, 1] } },
        { name: 'colour', categorical: { counts: { red: 3, blue: 1, __other__: 0 } } },
      ],
    };
    const report = driftOfCounts([x, colour], counts, 'psi');
    // x: the training fractions exactly, 0. colour: (0.75-0.5)ln(1.5) + (0.25-0.5)ln(0.5) + 0.
    const colourPsi = 0.25 * Math.log(1.5) - 0.25 * Math.log(0.5);
    expect(report.features[0]!.value).toBeCloseTo(0, 9);
    expect(report.value).toBeCloseTo(colourPsi, 9);
    expect(report.feature).toBe('colour');
    expect(report.samples).toBe(4);
    expect(colourPsi).toBeCloseTo(populationStabilityIndex([0.5, 0.5, 0], [0.75, 0.25, 0]), 9);
    // KS of colour: half the total variation, (0.25 + 0.25) / 2.
    expect(driftOfCounts([x, colour], counts, 'ks').value).toBeCloseTo(0.25, 9);
  });

  it('gives what counting the rows directly gives, whatever the shards', () => {
    const rows = Array.from({ length: 90 }, (_, i) => ({
      x: (i % 7) / 2,
      colour: ['red', 'blue', 'green'][i % 3],
    }));
    const whole = new DistributionCounter([x, colour]);
    const shards = [0, 1, 2].map(() => new DistributionCounter([x, colour]));
    rows.forEach((r, i) => {
      whole.countInputs(r);
      shards[Math.floor(i / 30)]!.countInputs(r);
    });
    const merged = mergeDistributionCounts(shards.map((s) => s.counts()))!;
    expect(merged).toEqual(whole.counts());
    expect(driftOfCounts([x, colour], merged, 'psi')).toEqual(
      driftOfCounts([x, colour], whole.counts(), 'psi'),
    );
  });
});
