import { describe, expect, it } from 'vitest';
import { seededRandom } from '../seeded-random.js';
import { permutationImportance } from './permutation-importance.js';

/**
 * 60 rows: `signal` (feature 0) decides the label, `noise` (feature 1) does not, `colour` is
 * one-hot over features 2..4 and also does not.
 */
const random = seededRandom(11);
const rows = Array.from({ length: 60 }, (_, i) => {
  const colour = [0, 0, 0];
  colour[i % 3] = 1;
  return [random() * 2 - 1, random(), ...colour];
});
const labels = rows.map((row) => (row[0]! > 0 ? 1 : 0));
const accuracy = (predictions: number[]) =>
  predictions.filter((p, i) => p === labels[i]).length / labels.length;
const groups = [
  { column: 'signal', features: [0] },
  { column: 'noise', features: [1] },
  { column: 'colour', features: [2, 3, 4] },
];

describe('permutation importance', () => {
  it('ranks the column the model uses first and gives the others exactly 0', () => {
    const result = permutationImportance({
      rows,
      groups,
      predict: (batch) => batch.map((row) => (row[0]! > 0 ? 1 : 0)),
      score: accuracy,
      repeats: 4,
    });
    expect(result.baseline).toBe(1);
    expect(result.importances.map((c) => c.column)).toEqual(['signal', 'colour', 'noise']);
    const [signal, ...others] = result.importances;
    expect(signal!.mean).toBeGreaterThan(0.2);
    expect(signal!.drops).toHaveLength(4);
    for (const column of others) expect(column).toMatchObject({ mean: 0, std: 0 });
  });

  it('shuffles a one-hot column as one: every shuffled row stays valid one-hot', () => {
    let invalid = 0;
    permutationImportance({
      rows,
      groups,
      predict: (batch) =>
        batch.map((row) => {
          if (row[2]! + row[3]! + row[4]! !== 1) invalid++;
          return row[3]!;
        }),
      score: accuracy,
    });
    expect(invalid).toBe(0);
  });

  it('reports the mean and the population spread of its drops, the same for a seed', () => {
    const run = (seed: number) =>
      permutationImportance({
        rows,
        groups,
        predict: (batch) => batch.map((row) => (row[0]! > 0 ? 1 : 0)),
        score: accuracy,
        repeats: 6,
        seed,
      }).importances[0]!;
    const first = run(3);
    const mean = first.drops.reduce((a, b) => a + b, 0) / 6;
    const std = Math.sqrt(first.drops.reduce((a, d) => a + (d - mean) ** 2, 0) / 6);
    expect(first.mean).toBeCloseTo(mean, 12);
    expect(first.std).toBeCloseTo(std, 12);
    expect(run(3)).toEqual(first);
    expect(run(4).drops).not.toEqual(first.drops);
  });

  it.each([
    [{ rows: [[1]] }, 'at least 2 rows'],
    [{ repeats: 0 }, 'repeats must be a positive integer, not 0'],
    [
      { groups: [{ column: 'x', features: [9] }] },
      'column "x" names feature 9; rows have 5 features',
    ],
    [{ groups: [{ column: 'x', features: [] }] }, 'column "x" has no features'],
    [
      {
        groups: [
          { column: 'x', features: [0] },
          { column: 'x', features: [1] },
        ],
      },
      'column "x" is given twice',
    ],
  ])('refuses bad input: %j', (override, message) => {
    expect(() =>
      permutationImportance({
        rows,
        groups,
        predict: (batch) => batch.map(() => 0),
        score: () => 0,
        ...override,
      }),
    ).toThrow(message);
  });
});
