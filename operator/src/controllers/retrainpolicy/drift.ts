/**
 * Drift: how far the inputs a service receives have moved from the data its model was trained
 * on. Pure: the training distributions (`stats.json` of the model's dataset version) and the
 * sampled request records in, a score per feature and overall out.
 *
 * The records are counted over the training bins and categories (`DistributionCounter`), and
 * drift is computed from those counts (`driftOfCounts`: PSI or KS, the worst feature's): the one
 * implementation a BatchPrediction's counts go through too (`contract/distribution-counts.ts`),
 * so a served reading and a batch reading of the same rows are the same number. Missing cells
 * are left out (the served model imputes them).
 */
import type { ColumnDistribution } from '../../../../contract/dataset-stats.js';
import {
  binOf,
  DistributionCounter,
  type DriftMetric,
  type DriftReport,
  driftOfCounts,
  fractionsOf,
} from '../../../../contract/distribution-counts.js';

export {
  type DriftMetric,
  type DriftReport,
  type FeatureDrift,
  kolmogorovSmirnov,
  populationStabilityIndex,
} from '../../../../contract/distribution-counts.js';

/** The fraction of `values` in each bin of `edges` (bin i: edges[i-1] <= v < edges[i]). */
export function binFractions(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) counts[binOf(edges, v)]! += 1;
  return fractionsOf(counts);
}

/** Drift of every column with a training distribution, over the sampled raw records. */
export function measureDrift(
  distributions: readonly ColumnDistribution[],
  records: readonly Readonly<Record<string, unknown>>[],
  metric: DriftMetric,
): DriftReport {
  const counter = new DistributionCounter(distributions);
  for (const record of records) counter.countInputs(record);
  return driftOfCounts(distributions, counter.counts(), metric);
}
