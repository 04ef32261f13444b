/**
 * Permutation importance per raw input column (scikit-learn's `permutation_importance`): how
 * much a model's score on held-out rows drops when one column's values are shuffled across the
 * rows, breaking its link to the label while keeping its distribution.
 *
 * Lathe's models see prepared features, where one categorical column is several one-hot
 * features. Preparation works row by row, so shuffling a raw column and preparing again is the
 * same as shuffling that column's features together, with one permutation of the rows for the
 * whole group: that is what this does, so the trainer can rank raw columns on the prepared test
 * split it already holds, and every shuffled row is still a valid one-hot row.
 *
 * Repeats use independent permutations; each column reports the mean drop, its spread (the
 * population standard deviation, as scikit-learn's `importances_std`) and every drop. Pure: the
 * permutations come from the seeded generator every Lathe program uses.
 */
import { seededRandom } from '../seeded-random.js';

/** A raw column and the indices of the prepared features it became. */
export interface FeatureGroup {
  column: string;
  features: readonly number[];
}

export interface PermutationImportanceInput<P> {
  /** The held-out rows, prepared (one array of feature values per row). */
  rows: readonly (readonly number[])[];
  groups: readonly FeatureGroup[];
  /** The model on a batch of prepared rows. */
  predict: (rows: number[][]) => P[];
  /** The score of predictions for `rows`, in their order; higher is better (e.g. accuracy, −MSE). */
  score: (predictions: P[]) => number;
  /** Permutations per column (default 5). */
  repeats?: number;
  /** Seed of the permutations (default 0). */
  seed?: number;
}

/** One column's importance: the score's drop when it is shuffled. */
export interface ColumnImportance {
  column: string;
  mean: number;
  std: number;
  drops: number[];
}

export interface PermutationImportance {
  /** The score on the rows as they are. */
  baseline: number;
  /** Most important first. */
  importances: ColumnImportance[];
}

export const DEFAULT_IMPORTANCE_REPEATS = 5;

/** The drop in score per column under shuffling; see the module header. */
export function permutationImportance<P>(
  input: PermutationImportanceInput<P>,
): PermutationImportance {
  const repeats = input.repeats ?? DEFAULT_IMPORTANCE_REPEATS;
  validate(input, repeats);
  const rows = input.rows.map((row) => [...row]);
  const baseline = input.score(input.predict(rows));
  const random = seededRandom(input.seed ?? 0);
  const importances = input.groups.map(({ column, features }) => {
    const drops: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const order = shuffledIndices(rows.length, random);
      const shuffled = rows.map((row, i) => {
        const copy = [...row];
        const source = rows[order[i]!]!;
        for (const f of features) copy[f] = source[f]!;
        return copy;
      });
      drops.push(baseline - input.score(input.predict(shuffled)));
    }
    const mean = drops.reduce((a, b) => a + b, 0) / drops.length;
    const std = Math.sqrt(drops.reduce((a, d) => a + (d - mean) ** 2, 0) / drops.length);
    return { column, mean, std, drops };
  });
  importances.sort((a, b) => b.mean - a.mean || a.column.localeCompare(b.column));
  return { baseline, importances };
}

/** A uniformly random order of 0..n−1 (Fisher–Yates). */
function shuffledIndices(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function validate<P>(input: PermutationImportanceInput<P>, repeats: number): void {
  if (input.rows.length < 2) throw new Error('permutation importance needs at least 2 rows');
  if (!Number.isInteger(repeats) || repeats < 1)
    throw new Error(`repeats must be a positive integer, not ${repeats}`);
  const width = input.rows[0]!.length;
  const seen = new Set<string>();
  for (const { column, features } of input.groups) {
    if (seen.has(column)) throw new Error(`column "${column}" is given twice`);
    seen.add(column);
    if (features.length === 0) throw new Error(`column "${column}" has no features`);
    const outside = features.find((f) => !Number.isInteger(f) || f < 0 || f >= width);
    if (outside !== undefined)
      throw new Error(`column "${column}" names feature ${outside}; rows have ${width} features`);
  }
}
