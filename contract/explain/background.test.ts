import { describe, expect, it } from 'vitest';
import type { PreparedSchema } from '../prepared-data.js';
import {
  ExplanationBackgroundSchema,
  explanationBackground,
  featureGroupsOf,
  sampleRowIndices,
} from './background.js';

const inputs: PreparedSchema['inputs'] = [
  { name: 'age', type: 'number', kind: 'numeric', impute: 0, scale: { method: 'none' } },
  {
    name: 'city',
    type: 'categorical',
    kind: 'categorical',
    impute: null,
    encoding: 'oneHot',
    categories: ['a', 'b'],
    other: true,
  },
  {
    name: 'grade',
    type: 'categorical',
    kind: 'categorical',
    impute: null,
    encoding: 'ordinal',
    categories: ['x', 'y', 'z'],
    other: false,
  },
];

describe('featureGroupsOf', () => {
  it('gives each raw column the indices of its prepared features, in order', () => {
    expect(featureGroupsOf({ inputs })).toEqual([
      { column: 'age', features: [0] },
      { column: 'city', features: [1, 2, 3] },
      { column: 'grade', features: [4] },
    ]);
  });
});

describe('sampleRowIndices', () => {
  it('takes every row, in order, when there are no more than asked for', () => {
    expect(sampleRowIndices(3, 5, 1)).toEqual([0, 1, 2]);
  });

  it('takes distinct rows, ascending, the same for the same seed', () => {
    const a = sampleRowIndices(1000, 10, 7);
    expect(a).toHaveLength(10);
    expect(new Set(a).size).toBe(10);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(sampleRowIndices(1000, 10, 7)).toEqual(a);
    expect(sampleRowIndices(1000, 10, 8)).not.toEqual(a);
  });

  it('samples uniformly: each row is taken about size/rowCount of the time', () => {
    const counts = new Array(20).fill(0);
    for (let seed = 0; seed < 2000; seed++)
      for (const i of sampleRowIndices(20, 5, seed)) counts[i]++;
    // Expected 500 each; a binomial(2000, 0.25) stays within ±100 with overwhelming probability.
    for (const c of counts) expect(Math.abs(c - 500)).toBeLessThan(100);
  });

  it('refuses a size below one', () => {
    expect(() => sampleRowIndices(5, 0, 0)).toThrow(/size must be a positive integer/);
  });
});

describe('explanationBackground', () => {
  const features = ['f0', 'f1'];
  const rows = Array.from({ length: 250 }, (_, i) => [i, -i]);

  it('keeps at most 100 sampled rows, valid against its schema', () => {
    const background = explanationBackground(features, rows.length, (i) => rows[i]!);
    expect(background.rows).toHaveLength(100);
    expect(background.sampledFrom).toBe(250);
    for (const [a, b] of background.rows) expect(b).toBe(-a!);
    expect(ExplanationBackgroundSchema.parse(background)).toEqual(background);
  });

  it('names a row of the wrong width', () => {
    expect(() => explanationBackground(features, 1, () => [1])).toThrow(/row 0 has 1 values/);
  });

  it('the schema refuses rows of the wrong width', () => {
    const parsed = ExplanationBackgroundSchema.safeParse({
      formatVersion: 1,
      features,
      rows: [[1, 2], [3]],
      sampledFrom: 2,
      seed: 0,
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['rows', 1]);
  });
});
