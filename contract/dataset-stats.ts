/**
 * `stats.json` of a dataset version: what the Dataset's status shows, and the training
 * distribution that drift detection compares served requests and batch runs against
 * (`distribution-counts.ts`).
 */
import { z } from 'zod';
import { columnTypes } from './prepared-data.js';

export const ColumnStatsSchema = z.object({
  name: z.string(),
  type: z.enum(columnTypes),
  /** Rows with a missing value, before imputation (all rows of the source, both splits). */
  missing: z.number().int().min(0),
  mean: z.number().optional(),
  stddev: z.number().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  distinct: z.number().int().min(0).optional(),
});
export type ColumnStats = z.infer<typeof ColumnStatsSchema>;

/**
 * The distribution of one raw input column over the train split, after imputation: for a
 * numeric column, `edges` (ascending interior bin edges, e.g. deciles) and the fraction of rows
 * in each of the `edges.length + 1` bins (value < edges[0], ..., value >= edges[last]); for a
 * categorical one, the fraction of rows per category (categories beyond the preparation's
 * `maxCategories` counted under `__other__`). Population stability index compares against it.
 */
export const ColumnDistributionSchema = z.union([
  z.object({
    name: z.string(),
    numeric: z.object({ edges: z.array(z.number()), fractions: z.array(z.number()) }),
  }),
  z.object({
    name: z.string(),
    categorical: z.object({ fractions: z.record(z.string(), z.number()) }),
  }),
]);
export type ColumnDistribution = z.infer<typeof ColumnDistributionSchema>;

export const DatasetStatsSchema = z.object({
  formatVersion: z.literal(1),
  /** Rows after preparation (both splits). */
  rows: z.number().int().min(0),
  trainRows: z.number().int().min(0),
  testRows: z.number().int().min(0),
  /** Rows of the source, before rows were dropped for missing values. */
  sourceRows: z.number().int().min(0),
  columns: z.array(ColumnStatsSchema),
  /** Classification: rows per label value. */
  labels: z.record(z.string(), z.number().int().min(0)).optional(),
  distributions: z.array(ColumnDistributionSchema),
});
export type DatasetStats = z.infer<typeof DatasetStatsSchema>;
