/**
 * The records an inference server writes under `feedback/<namespace>/<inferenceservice>/`
 * (layout in `object-store-layout.ts`: `FeedbackDir`, `feedbackFileKey`): one JSON object per
 * line. The drift detector reads `requests/` (the served feature distribution); a Dataset that
 * learns from production reads `labels/`, which carries the request's rows and predictions when
 * the replica that took the label still remembered them, and otherwise joins with `requests/`
 * on `requestId`.
 *
 * Every row appears twice when known: `records` as the client sent it (an object keyed by raw
 * input column; `null` for a row sent already prepared) and `features` as the model saw it
 * (`PreparedSchema.features` order), so a reader can compare raw columns with `stats.json`'s
 * distributions or prepared features with the prepared splits.
 */
import { z } from 'zod';

/** One row's prediction: classification gives the label and class probabilities. */
export const LoggedPredictionSchema = z.union([
  z.object({
    /** The predicted class (`schema.label.classes[argmax]`). */
    label: z.union([z.string(), z.number()]),
    /** Softmax probabilities over `schema.label.classes`, in that order. */
    probabilities: z.array(z.number()),
  }),
  /** Regression: the predicted value in label units. */
  z.number(),
]);
export type LoggedPrediction = z.infer<typeof LoggedPredictionSchema>;

const RowsSchema = {
  /** One per row: the raw record as received, or null when the row came prepared. */
  records: z.array(z.record(z.string(), z.unknown()).nullable()),
  /** One per row: the prepared features the model was given. */
  features: z.array(z.array(z.number())),
  /** One per row, in the same order. */
  predictions: z.array(LoggedPredictionSchema),
};

/** A line of `requests/…jsonl`: one sampled prediction request. */
export const SampledRequestSchema = z.object({
  /** The request ID the server returned (`x-request-id`); labels refer to it. */
  requestId: z.string(),
  /** The client's own ID for the request (its `x-request-id` or V2 `id`), for correlation only. */
  correlationId: z.string().optional(),
  /** When the request was answered, ISO 8601 UTC. */
  time: z.string(),
  model: z.string(),
  modelVersion: z.string(),
  protocol: z.enum(['v1', 'v2']),
  ...RowsSchema,
});
export type SampledRequest = z.infer<typeof SampledRequestSchema>;

/** A line of `labels/…jsonl`: ground truth submitted for an earlier request. */
export const FeedbackLabelsSchema = z.object({
  requestId: z.string(),
  /** When the label was received, ISO 8601 UTC. */
  time: z.string(),
  model: z.string(),
  modelVersion: z.string(),
  /** One raw label per row of the request: a class name, or a number for regression. */
  labels: z.array(z.union([z.string(), z.number(), z.boolean()])),
  /** The request's rows and predictions, when this replica still held them; else null. */
  records: RowsSchema.records.nullable(),
  features: RowsSchema.features.nullable(),
  predictions: RowsSchema.predictions.nullable(),
});
export type FeedbackLabels = z.infer<typeof FeedbackLabelsSchema>;
