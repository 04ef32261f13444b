/**
 * What an explanation of a model is measured against: the raw input columns as groups of
 * prepared features, and a background sample of the training split stored with the artifact
 * (`ModelFile.background`).
 *
 * Preparation works column by column (`prepareRecord`: each raw column's features depend on
 * that column's cell alone), so a row that takes some columns from one record and the rest from
 * another is, prepared, the row that takes those columns' feature groups from each prepared
 * row. The trainer therefore keeps the background already prepared, and the explainer and the
 * permutation importance both work on feature groups: the players stay raw columns (one credit
 * per categorical column, not one per one-hot feature), and nothing has to be un-prepared.
 *
 * The background is SHAP's "background data set": KernelExplainer's documentation suggests 50
 * to 100 rows (or a k-means summary); Lathe stores a seeded uniform sample of at most
 * `MAX_BACKGROUND_ROWS` training rows, and the server may use fewer.
 */
import { z } from 'zod';
import type { PreparedSchema } from '../prepared-data.js';
import { featureNamesOf } from '../prepared-data.js';
import { seededRandom } from '../seeded-random.js';
import type { FeatureGroup } from './permutation-importance.js';

/** The most training rows an artifact's background holds. */
export const MAX_BACKGROUND_ROWS = 100;

/**
 * `background.json` of a model artifact: prepared training rows (`schema.json`'s `features`, in
 * order), without labels.
 */
export const ExplanationBackgroundSchema = z
  .object({
    formatVersion: z.literal(1),
    /** The prepared feature names, as `schema.json` has them. */
    features: z.array(z.string()).min(1),
    /** Each row's prepared feature values, `features.length` of them. */
    rows: z.array(z.array(z.number())).min(1).max(10_000),
    /** How many training rows the sample was drawn from. */
    sampledFrom: z.number().int().min(1),
    seed: z.number().int(),
  })
  .superRefine((background, ctx) => {
    const width = background.features.length;
    const bad = background.rows.findIndex((row) => row.length !== width);
    if (bad >= 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['rows', bad],
        message: `has ${background.rows[bad]!.length} values; features has ${width}`,
      });
    }
  });
export type ExplanationBackground = z.infer<typeof ExplanationBackgroundSchema>;

/**
 * Each raw input column of `schema` and the indices of its prepared features, in
 * `schema.inputs` order (`featureNamesOf` says how many each produces).
 */
export function featureGroupsOf(schema: Pick<PreparedSchema, 'inputs'>): FeatureGroup[] {
  const groups: FeatureGroup[] = [];
  let next = 0;
  for (const input of schema.inputs) {
    const width = featureNamesOf(input).length;
    groups.push({
      column: input.name,
      features: Array.from({ length: width }, (_, i) => next + i),
    });
    next += width;
  }
  return groups;
}

/**
 * A seeded uniform sample, without replacement, of at most `size` of `rowCount` rows: their
 * indices in ascending order (reservoir sampling, so the rows can be streamed).
 */
export function sampleRowIndices(rowCount: number, size: number, seed: number): number[] {
  if (!Number.isInteger(rowCount) || rowCount < 0)
    throw new Error(`rowCount must be a non-negative integer, not ${rowCount}`);
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`size must be a positive integer, not ${size}`);
  const random = seededRandom(seed);
  const reservoir: number[] = [];
  for (let i = 0; i < rowCount; i++) {
    if (reservoir.length < size) reservoir.push(i);
    else {
      const j = Math.floor(random() * (i + 1));
      if (j < size) reservoir[j] = i;
    }
  }
  return reservoir.sort((a, b) => a - b);
}

/**
 * The background of a model trained on `rows` (prepared training rows, `features` wide): a
 * seeded sample of at most `MAX_BACKGROUND_ROWS` (or `size`) of them.
 */
export function explanationBackground(
  features: readonly string[],
  rowCount: number,
  rowAt: (index: number) => ArrayLike<number>,
  options: { size?: number; seed?: number } = {},
): ExplanationBackground {
  const seed = options.seed ?? 0;
  if (rowCount < 1) throw new Error('an explanation background needs at least one training row');
  const indices = sampleRowIndices(rowCount, options.size ?? MAX_BACKGROUND_ROWS, seed);
  return {
    formatVersion: 1,
    features: [...features],
    rows: indices.map((i) => {
      const row = rowAt(i);
      if (row.length !== features.length)
        throw new Error(
          `training row ${i} has ${row.length} values; features has ${features.length}`,
        );
      return Array.from(row);
    }),
    sampledFrom: rowCount,
    seed,
  };
}
