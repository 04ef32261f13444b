/**
 * Drift: how far the inputs a service receives have moved from the data its model was trained
 * on. Pure: the training distributions (`stats.json` of the model's dataset version) and the
 * sampled request records in, a score per feature and overall out.
 *
 * - PSI, the population stability index: Σ (observed − expected) · ln(observed / expected)
 *   over the bins of a numeric column (the training split's bin edges, e.g. deciles) or the
 *   categories of a categorical one (values unseen in training go to `__other__`). Fractions
 *   are smoothed by a small epsilon so an empty bin does not make it infinite. 0.1–0.2 is
 *   usually read as a moderate shift, above 0.2 as a significant one.
 * - KS, the Kolmogorov–Smirnov statistic on the same bins: the largest gap between the two
 *   cumulative distributions (for a categorical column, half the total variation distance).
 *
 * The overall score is the worst feature's, which is what `spec.triggers.drift.threshold` is
 * compared with. Missing cells are left out (the served model imputes them).
 */
import type { ColumnDistribution } from '../../../../contract/dataset-stats.js';
import { isMissing, parseCategoryCell } from '../../../../contract/prepared-data.js';

export type DriftMetric = 'psi' | 'ks';

export interface FeatureDrift {
  feature: string;
  value: number;
  samples: number;
}

export interface DriftReport {
  metric: DriftMetric;
  /** The worst feature's value. */
  value: number;
  feature: string | undefined;
  /** Rows compared. */
  samples: number;
  features: FeatureDrift[];
}

const EPSILON = 1e-4;
const OTHER = '__other__';

/** The fraction of `values` in each bin of `edges` (bin i: edges[i-1] <= v < edges[i]). */
export function binFractions(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) {
    let bin = 0;
    while (bin < edges.length && v >= edges[bin]!) bin++;
    counts[bin]! += 1;
  }
  return counts.map((c) => (values.length === 0 ? 0 : c / values.length));
}

/** PSI between an expected and an observed distribution over the same bins. */
export function populationStabilityIndex(
  expected: readonly number[],
  observed: readonly number[],
): number {
  let psi = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i] ?? 0, EPSILON);
    const o = Math.max(observed[i] ?? 0, EPSILON);
    psi += (o - e) * Math.log(o / e);
  }
  return psi;
}

/** KS statistic between two distributions over the same ordered bins. */
export function kolmogorovSmirnov(
  expected: readonly number[],
  observed: readonly number[],
): number {
  let ce = 0;
  let co = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    ce += expected[i] ?? 0;
    co += observed[i] ?? 0;
    worst = Math.max(worst, Math.abs(ce - co));
  }
  return worst;
}

/** The drift of one column between its training distribution and the sampled values. */
export function featureDrift(
  distribution: ColumnDistribution,
  cells: readonly unknown[],
  metric: DriftMetric,
): FeatureDrift {
  if ('numeric' in distribution) {
    const values = cells
      .filter((c) => !isMissing(c))
      .map((c) => Number(c))
      .filter((n) => Number.isFinite(n));
    const observed = binFractions(values, distribution.numeric.edges);
    const expected = distribution.numeric.fractions;
    return {
      feature: distribution.name,
      value:
        metric === 'psi'
          ? populationStabilityIndex(expected, observed)
          : kolmogorovSmirnov(expected, observed),
      samples: values.length,
    };
  }
  const known = distribution.categorical.fractions;
  const categories = Object.keys(known);
  if (!categories.includes(OTHER)) categories.push(OTHER);
  const counts = new Map<string, number>(categories.map((c) => [c, 0]));
  let total = 0;
  for (const cell of cells) {
    const value = parseCategoryCell('categorical', cell);
    if (value === undefined) continue;
    const key = Object.hasOwn(known, value) ? value : OTHER;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    total += 1;
  }
  const expected = categories.map((c) => known[c] ?? 0);
  const observed = categories.map((c) => (total === 0 ? 0 : (counts.get(c) ?? 0) / total));
  const value =
    metric === 'psi'
      ? populationStabilityIndex(expected, observed)
      : expected.reduce((s, e, i) => s + Math.abs(e - (observed[i] ?? 0)), 0) / 2;
  return { feature: distribution.name, value, samples: total };
}

/** Drift of every column with a training distribution, over the sampled raw records. */
export function measureDrift(
  distributions: readonly ColumnDistribution[],
  records: readonly Readonly<Record<string, unknown>>[],
  metric: DriftMetric,
): DriftReport {
  const features = distributions.map((d) =>
    featureDrift(
      d,
      records.map((r) => r[d.name]),
      metric,
    ),
  );
  const worst = features.reduce<FeatureDrift | undefined>(
    (w, f) => (f.samples > 0 && (!w || f.value > w.value) ? f : w),
    undefined,
  );
  return {
    metric,
    value: worst?.value ?? 0,
    feature: worst?.feature,
    samples: records.length,
    features,
  };
}
