/**
 * Counts of raw inputs over the training distribution's bins, and of predictions: what a
 * BatchPrediction shard records of the rows it scored, what the operator merges over the shards,
 * and what drift — PSI and KS — is computed from, for a batch run and for the requests an
 * InferenceService sampled alike (`operator/…/retrainpolicy/drift.ts` counts its records here).
 *
 * Counts, not samples: no raw value leaves a shard (a count per training bin or known category
 * says nothing about one row), and counts merge exactly, whatever the shard count — the way
 * Hadoop's combiners pre-aggregate map output, or SageMaker Model Monitor's baseline and
 * monitoring jobs compare histograms, not rows.
 *
 * - A numeric column (`ColumnDistribution.numeric`): non-missing cells per bin of the training
 *   edges (bin i: edges[i-1] <= v < edges[i]); a cell is read as `Number(cell)`, and one that is
 *   not a finite number is left out.
 * - A categorical one: non-missing cells per known category, any other under `__other__`; a cell
 *   is read with `parseCategoryCell` as text (booleans count as the text they were sent as).
 * - Predictions: rows per predicted class (classification), or count, sum, min and max of the
 *   predicted value (regression: the mean is exact after a merge, quantiles would not be).
 *
 * Drift compares the fractions of the counts with the training fractions (`driftOfCounts`):
 * PSI, Σ (observed − expected) · ln(observed / expected) with fractions smoothed by a small
 * epsilon so an empty bin does not make it infinite (0.1–0.2 is read as a moderate shift, above
 * 0.2 as a significant one), or KS, the largest gap between the cumulative distributions (for a
 * categorical column, half the total variation distance). The overall value is the worst
 * feature's.
 */
import { z } from 'zod';
import type { ColumnDistribution } from './dataset-stats.js';
import { isMissing, parseCategoryCell } from './prepared-data.js';

/** The category counting every value training did not keep. */
export const OTHER_CATEGORY = '__other__';

const count = z.number().int().min(0);

/** One column's counts: per training bin (numeric) or per category (categorical). */
export const ColumnCountsSchema = z.union([
  z.object({
    name: z.string(),
    numeric: z.object({ edges: z.array(z.number()), counts: z.array(count) }),
  }),
  z.object({
    name: z.string(),
    categorical: z.object({ counts: z.record(z.string(), count) }),
  }),
]);
export type ColumnCounts = z.infer<typeof ColumnCountsSchema>;

/** The predictions' counts: rows per predicted class, or a regression's count, sum and range. */
export const PredictionCountsSchema = z.union([
  z.object({ classes: z.record(z.string(), count) }),
  z.object({
    regression: z.object({ count, sum: z.number(), min: z.number(), max: z.number() }),
  }),
]);
export type PredictionCounts = z.infer<typeof PredictionCountsSchema>;

/** What a shard (or a whole run, merged) counted of the rows it scored. */
export const DistributionCountsSchema = z.object({
  /** Rows counted: every `stride`-th scored row. */
  rows: count,
  /** 1: every row; k: rows 0, k, 2k, … of each shard's scored rows. */
  stride: z.number().int().min(1),
  /** The input columns with a training distribution (none for a model without `stats.json`). */
  columns: z.array(ColumnCountsSchema),
  predictions: PredictionCountsSchema.optional(),
});
export type DistributionCounts = z.infer<typeof DistributionCountsSchema>;

/** The bin of `value` among ascending `edges`: the number of edges it is at or above. */
export function binOf(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value >= edges[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

type ColumnCounter =
  | { name: string; numeric: true; edges: readonly number[]; counts: number[] }
  | { name: string; numeric: false; index: Map<string, number>; keys: string[]; counts: number[] };

/**
 * Counts rows' raw inputs over the training distributions, and predictions. One per shard (or per
 * drift check); `counts()` gives what was counted so far. Columns named in `skip` are not counted
 * (a batch skips hashed PII columns: their training categories are keyed hashes, not values).
 */
export class DistributionCounter {
  private readonly columns: ColumnCounter[];
  private rows = 0;
  private classes: { names: readonly string[]; counts: number[] } | undefined;
  private regression: { count: number; sum: number; min: number; max: number } | undefined;

  constructor(
    distributions: readonly ColumnDistribution[],
    private readonly stride = 1,
    skip: ReadonlySet<string> = new Set(),
  ) {
    if (!Number.isInteger(stride) || stride < 1)
      throw new Error(`stride must be a positive integer, not ${stride}`);
    this.columns = distributions
      .filter((d) => !skip.has(d.name))
      .map((d): ColumnCounter => {
        if ('numeric' in d) {
          const edges = d.numeric.edges;
          return {
            name: d.name,
            numeric: true,
            edges,
            counts: new Array(edges.length + 1).fill(0),
          };
        }
        const keys = Object.keys(d.categorical.fractions);
        if (!keys.includes(OTHER_CATEGORY)) keys.push(OTHER_CATEGORY);
        return {
          name: d.name,
          numeric: false,
          index: new Map(keys.map((k, i) => [k, i])),
          keys,
          counts: new Array(keys.length).fill(0),
        };
      });
  }

  /** Counts one row's raw cells (`record[column]`); cells of other columns are ignored. */
  countInputs(record: Readonly<Record<string, unknown>>): void {
    this.countCells(record, (r, column) => r[column]);
  }

  /** `countInputs` of a row whose cells `cellOf` reads (a batch shard's records, in place). */
  countCells<Row>(row: Row, cellOf: (row: Row, column: string) => unknown): void {
    this.rows++;
    for (const column of this.columns) {
      const cell = cellOf(row, column.name);
      if (isMissing(cell)) continue;
      if (column.numeric) {
        const value = Number(cell);
        if (Number.isFinite(value)) column.counts[binOf(column.edges, value)]!++;
      } else {
        const value = parseCategoryCell('categorical', cell)!;
        const at = column.index.get(value) ?? column.counts.length - 1;
        column.counts[at]!++;
      }
    }
  }

  /** Counts a classification's predicted class, `k` of `classes` (the model's class names). */
  countClass(k: number, classes: readonly string[]): void {
    if (!this.classes) this.classes = { names: classes, counts: new Array(classes.length).fill(0) };
    this.classes.counts[k]! += 1;
  }

  /** Counts a regression's predicted value (a value that is not finite is left out). */
  countValue(value: number): void {
    if (!Number.isFinite(value)) return;
    const r = this.regression;
    if (!r) this.regression = { count: 1, sum: value, min: value, max: value };
    else {
      r.count++;
      r.sum += value;
      if (value < r.min) r.min = value;
      if (value > r.max) r.max = value;
    }
  }

  /** What was counted, as a marker records it. */
  counts(): DistributionCounts {
    const classes = this.classes;
    return {
      rows: this.rows,
      stride: this.stride,
      columns: this.columns.map((c) =>
        c.numeric
          ? { name: c.name, numeric: { edges: [...c.edges], counts: [...c.counts] } }
          : {
              name: c.name,
              categorical: {
                counts: Object.fromEntries(c.keys.map((k, i) => [k, c.counts[i]!])),
              },
            },
      ),
      ...(classes
        ? {
            predictions: {
              classes: Object.fromEntries(classes.names.map((n, i) => [n, classes.counts[i]!])),
            },
          }
        : this.regression
          ? { predictions: { regression: { ...this.regression } } }
          : {}),
    };
  }
}

function sumRecords(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function mergePredictions(
  a: PredictionCounts | undefined,
  b: PredictionCounts | undefined,
): PredictionCounts | undefined {
  if (!a || !b) return a ?? b;
  if ('classes' in a && 'classes' in b) return { classes: sumRecords(a.classes, b.classes) };
  if ('regression' in a && 'regression' in b) {
    const x = a.regression;
    const y = b.regression;
    return {
      regression: {
        count: x.count + y.count,
        sum: x.sum + y.sum,
        min: Math.min(x.min, y.min),
        max: Math.max(x.max, y.max),
      },
    };
  }
  throw new Error('cannot merge classification counts with regression counts');
}

/**
 * The counts of several shards as one: rows, bins, categories and predictions summed. Throws
 * naming the column when two shards binned it differently, or when their strides differ.
 */
export function mergeDistributionCounts(
  parts: readonly DistributionCounts[],
): DistributionCounts | undefined {
  if (parts.length === 0) return undefined;
  return parts.slice(1).reduce<DistributionCounts>((a, b) => {
    if (a.stride !== b.stride)
      throw new Error(
        `cannot merge counts of stride ${a.stride} with counts of stride ${b.stride}`,
      );
    const columns = [...a.columns];
    for (const column of b.columns) {
      const i = columns.findIndex((c) => c.name === column.name);
      const mine = columns[i];
      if (!mine) {
        columns.push(column);
      } else if ('numeric' in mine && 'numeric' in column) {
        const same =
          mine.numeric.edges.length === column.numeric.edges.length &&
          mine.numeric.edges.every((e, j) => e === column.numeric.edges[j]);
        if (!same) throw new Error(`column ${column.name} was binned by different edges`);
        columns[i] = {
          name: mine.name,
          numeric: {
            edges: mine.numeric.edges,
            counts: mine.numeric.counts.map((n, j) => n + (column.numeric.counts[j] ?? 0)),
          },
        };
      } else if ('categorical' in mine && 'categorical' in column) {
        columns[i] = {
          name: mine.name,
          categorical: { counts: sumRecords(mine.categorical.counts, column.categorical.counts) },
        };
      } else {
        throw new Error(`column ${column.name} is numeric in one count and categorical in another`);
      }
    }
    const predictions = mergePredictions(a.predictions, b.predictions);
    return {
      rows: a.rows + b.rows,
      stride: a.stride,
      columns,
      ...(predictions ? { predictions } : {}),
    };
  }, parts[0]!);
}

export type DriftMetric = 'psi' | 'ks';

export interface FeatureDrift {
  feature: string;
  value: number;
  /** Non-missing cells compared. */
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

/** `counts` as fractions of their total (all zero when there are none). */
export function fractionsOf(counts: readonly number[]): number[] {
  const total = counts.reduce((s, c) => s + c, 0);
  return counts.map((c) => (total === 0 ? 0 : c / total));
}

/** The drift of one column: its training distribution against its counts (none: nothing seen). */
export function featureDriftOfCounts(
  distribution: ColumnDistribution,
  counts: ColumnCounts | undefined,
  metric: DriftMetric,
): FeatureDrift {
  if ('numeric' in distribution) {
    const observedCounts =
      counts && 'numeric' in counts
        ? counts.numeric.counts
        : new Array(distribution.numeric.fractions.length).fill(0);
    const expected = distribution.numeric.fractions;
    const observed = fractionsOf(observedCounts);
    return {
      feature: distribution.name,
      value:
        metric === 'psi'
          ? populationStabilityIndex(expected, observed)
          : kolmogorovSmirnov(expected, observed),
      samples: observedCounts.reduce((s, c) => s + c, 0),
    };
  }
  const known = distribution.categorical.fractions;
  const categories = Object.keys(known);
  if (!categories.includes(OTHER_CATEGORY)) categories.push(OTHER_CATEGORY);
  const seen = counts && 'categorical' in counts ? counts.categorical.counts : {};
  // A category the counts hold that training did not (counted elsewhere) is other.
  const observedCounts = categories.map((c) => seen[c] ?? 0);
  for (const [c, n] of Object.entries(seen))
    if (!categories.includes(c)) observedCounts[categories.length - 1]! += n;
  const expected = categories.map((c) => known[c] ?? 0);
  const observed = fractionsOf(observedCounts);
  const value =
    metric === 'psi'
      ? populationStabilityIndex(expected, observed)
      : expected.reduce((s, e, i) => s + Math.abs(e - (observed[i] ?? 0)), 0) / 2;
  return {
    feature: distribution.name,
    value,
    samples: observedCounts.reduce((s, c) => s + c, 0),
  };
}

/**
 * Drift of every column with a training distribution, from counts: the worst feature (of those
 * with a cell counted) gives the value. A distribution without counts (a skipped PII column)
 * is left out.
 */
export function driftOfCounts(
  distributions: readonly ColumnDistribution[],
  counts: DistributionCounts,
  metric: DriftMetric,
): DriftReport {
  const features = distributions
    .map((d) => ({ d, c: counts.columns.find((c) => c.name === d.name) }))
    .filter(({ c }) => c !== undefined)
    .map(({ d, c }) => featureDriftOfCounts(d, c, metric));
  const worst = features.reduce<FeatureDrift | undefined>(
    (w, f) => (f.samples > 0 && (!w || f.value > w.value) ? f : w),
    undefined,
  );
  return {
    metric,
    value: worst?.value ?? 0,
    feature: worst?.feature,
    samples: counts.rows,
    features,
  };
}
