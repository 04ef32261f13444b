/**
 * What the model's outputs mean, per row: the model returns softmax probabilities over
 * `schema.label.classes` (in that order) for classification, and one value in label units for
 * regression. Both protocols and the request log describe a row's prediction the same way.
 */
import type { LoggedPrediction } from '../../contract/feedback-log.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';

/** The index of the largest of `width` values starting at `offset` (the first on ties). */
export function argmax(values: Float32Array, offset: number, width: number): number {
  let best = 0;
  for (let k = 1; k < width; k++) if (values[offset + k]! > values[offset + best]!) best = k;
  return best;
}

/** The class name of a class index (the index itself if the schema has no such class). */
export function className(schema: PreparedSchema, index: number): string | number {
  return schema.label.classes?.[index] ?? index;
}

/** One prediction per row of `outputs` (`rows × width`, row-major). */
export function predictionsOf(
  schema: PreparedSchema,
  outputs: Float32Array,
  rows: number,
  width: number,
): LoggedPrediction[] {
  const predictions: LoggedPrediction[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    if (schema.task === 'regression') {
      predictions[r] = outputs[r]!;
      continue;
    }
    const offset = r * width;
    predictions[r] = {
      label: className(schema, argmax(outputs, offset, width)),
      probabilities: Array.from(outputs.subarray(offset, offset + width)),
    };
  }
  return predictions;
}
