import { describe, expect, it } from 'vitest';
import type { ColumnDistribution } from '../../../../contract/dataset-stats.js';
import {
  binFractions,
  kolmogorovSmirnov,
  measureDrift,
  populationStabilityIndex,
} from './drift.js';

const deciles: ColumnDistribution = {
  name: 'x',
  numeric: { edges: [1, 2, 3, 4, 5, 6, 7, 8, 9], fractions: new Array(10).fill(0.1) },
};
const colour: ColumnDistribution = {
  name: 'colour',
  categorical: { fractions: { red: 0.5, blue: 0.5 } },
};

/** `n` values spread evenly over [from, to). */
const spread = (n: number, from: number, to: number) =>
  Array.from({ length: n }, (_, i) => from + ((to - from) * (i + 0.5)) / n);

describe('drift', () => {
  it('bins values by the training edges', () => {
    expect(binFractions([0.5, 1, 1.5, 9.5], [1, 2])).toEqual([0.25, 0.5, 0.25]);
  });

  it('is near zero for the training distribution and large for a shifted one', () => {
    const same = measureDrift(
      [deciles],
      spread(1000, 0, 10).map((x) => ({ x })),
      'psi',
    );
    expect(same.value).toBeLessThan(0.01);
    const shifted = measureDrift(
      [deciles],
      spread(1000, 5, 15).map((x) => ({ x })),
      'psi',
    );
    expect(shifted.value).toBeGreaterThan(1);
    expect(shifted.feature).toBe('x');
    const ks = measureDrift(
      [deciles],
      spread(1000, 5, 15).map((x) => ({ x })),
      'ks',
    );
    expect(ks.value).toBeCloseTo(0.5, 1);
  });

  it('counts unseen categories as other, and names the worst feature', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({
      x: (i % 10) + 0.5,
      colour: i < 80 ? 'green' : 'red',
    }));
    const report = measureDrift([deciles, colour], records, 'psi');
    expect(report.feature).toBe('colour');
    expect(report.features.find((f) => f.feature === 'x')?.value).toBeLessThan(0.01);
    expect(report.samples).toBe(100);
  });

  it.each([
    [[0.5, 0.5], [0.5, 0.5], 0],
    [[0.5, 0.5], [0.9, 0.1], 0.4 * Math.log(0.9 / 0.5) - 0.4 * Math.log(0.1 / 0.5)],
  ])('PSI of %j against %j', (e, o, expected) => {
    expect(populationStabilityIndex(e, o)).toBeCloseTo(expected, 6);
  });

  it('KS is the largest gap between the cumulative distributions', () => {
    expect(kolmogorovSmirnov([0.25, 0.25, 0.5], [0.5, 0.25, 0.25])).toBeCloseTo(0.25);
  });
});
