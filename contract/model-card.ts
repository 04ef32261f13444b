/**
 * `model-card.json` of a model artifact (`ModelFile.card`): what a reviewer needs to judge a
 * model without running it, after Google's Model Card Toolkit and "Model Cards for Model
 * Reporting" (Mitchell et al., FAT* 2019): the data it was trained and evaluated on, its metrics
 * overall and by group with their counts, which inputs matter, the fairness gate's verdict, and
 * the intended-use fields the TrainingJob gives (`spec.modelCard`).
 *
 * The trainer writes it with the artifact, so the manifest's digest pins it with the model; the
 * ModelVersion controller reads it once, when it verifies the artifact, and summarises it in
 * status (`kubectl describe modelversion`). The schema checks only what readers rely on; a
 * fairness report keeps every field `group-metrics.ts` writes.
 */
import { z } from 'zod';
import { ColumnStatsSchema } from './dataset-stats.js';
import type { FairnessVerdict } from './fairness/gate.js';
import type { FairnessReport } from './fairness/group-metrics.js';

export const MODEL_CARD_FORMAT_VERSION = 1;

/** One raw input column's permutation importance on the test split. */
export const ColumnImportanceSchema = z.object({
  column: z.string(),
  /** Mean drop of the score when the column is shuffled; near 0 or below: the model ignores it. */
  mean: z.number(),
  /** Its spread over the repeats (population standard deviation). */
  std: z.number(),
});
export type ColumnImportanceEntry = z.infer<typeof ColumnImportanceSchema>;

export const ImportanceSchema = z.object({
  method: z.literal('permutation'),
  /** What dropped: `accuracy` (classification) or `negativeMeanSquaredError` (regression). */
  score: z.string(),
  baseline: z.number(),
  repeats: z.number().int().min(1),
  /** Test rows it was computed on (a sample of the split when the split is larger). */
  rows: z.number().int().min(1),
  seed: z.number().int(),
  /** Every input column, most important first. */
  columns: z.array(ColumnImportanceSchema),
});
export type Importance = z.infer<typeof ImportanceSchema>;

const GroupEntrySchema = z.looseObject({
  scope: z.string(),
  group: z.string(),
  values: z.record(z.string(), z.string()),
  judged: z.boolean(),
  count: z.number().int().min(0),
});

const DisparityEntrySchema = z.looseObject({
  scope: z.string(),
  judgedGroups: z.number().int().min(0),
});

/** A fairness report (`FairnessReport` of `contract/fairness/group-metrics.ts`), as read back. */
export const FairnessReportSchema = z.looseObject({
  task: z.enum(['classification', 'regression']),
  positiveClass: z.string().optional(),
  sensitiveColumns: z.array(z.string()),
  minGroupSize: z.number().int().min(1),
  intersections: z.boolean(),
  overall: z.looseObject({ count: z.number().int().min(0) }),
  groups: z.array(GroupEntrySchema),
  disparities: z.array(DisparityEntrySchema),
});

export const FairnessVerdictSchema = z.object({
  passed: z.boolean(),
  message: z.string(),
  results: z.array(
    z.object({
      rule: z.string(),
      scope: z.string(),
      value: z.number().nullable(),
      championValue: z.number().nullable().optional(),
      passed: z.boolean(),
      judged: z.boolean(),
      reason: z.string(),
    }),
  ),
});

export const ModelCardFairnessSchema = z.object({
  /** The group metrics; absent when they could not be computed (`error` says why). */
  report: FairnessReportSchema.optional(),
  /** The gate's verdict on the TrainingJob's rules (none: no rules were given). */
  verdict: FairnessVerdictSchema.optional(),
  error: z.string().optional(),
});
/** The fairness section as the trainer writes it (the schema reads it back loosely). */
export interface ModelCardFairness {
  report?: FairnessReport;
  verdict?: FairnessVerdict;
  error?: string;
}

export const ModelCardSchema = z.object({
  formatVersion: z.literal(MODEL_CARD_FORMAT_VERSION),
  model: z.object({
    task: z.enum(['classification', 'regression']),
    framework: z.string(),
    backend: z.string().optional(),
    /** Classification: the class names, in output order. */
    classes: z.array(z.string()).optional(),
    /** The raw input columns a request carries. */
    inputs: z.array(z.string()),
    features: z.number().int().min(1),
  }),
  data: z.object({
    datasetVersion: z.string(),
    trainRows: z.number().int().min(0),
    testRows: z.number().int().min(0),
    /** The dataset version's column statistics (`stats.json`), when it has them. */
    columns: z.array(ColumnStatsSchema).optional(),
    /** Classification: rows per class over both splits. */
    labels: z.record(z.string(), z.number()).optional(),
  }),
  /** Test metrics (as `metrics.json`). */
  metrics: z.record(z.string(), z.number()),
  importance: ImportanceSchema.optional(),
  fairness: ModelCardFairnessSchema.optional(),
  /** `spec.modelCard` of the TrainingJob, as given. */
  intendedUse: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
});
/** A model card as read back (`ModelCardSchema`). */
export type ParsedModelCard = z.infer<typeof ModelCardSchema>;
/** A model card as the trainer writes it. */
export type ModelCard = Omit<ParsedModelCard, 'fairness'> & { fairness?: ModelCardFairness };
