/**
 * KServe's V1 protocol (the TensorFlow Serving REST API's row format):
 *
 *   GET  /v1/models/<name>            {"name": <name>, "ready": <bool>}
 *   POST /v1/models/<name>:predict    {"instances": [...]} → {"predictions": [...]}
 *
 * An instance is a raw record (an object keyed by input column; every input must be there, and
 * a `null` cell is imputed as the preparation was fitted) or an array of prepared features. TensorFlow Serving's columnar
 * form, `{"inputs": {"<column>": [v1, v2, ...]}}`, and `{"inputs": [...]}` (same as instances)
 * are read too. A prediction is, as TensorFlow Serving writes a model with named outputs,
 * `{"label": <class>, "probabilities": [...]}` per row for classification (probabilities over
 * the classes in `schema.label.classes` order), and the number itself for regression.
 *
 *   POST /v1/models/<name>:explain    {"instances": [...]} → {"predictions", "explanations"}
 *
 * `:explain` takes what `:predict` takes, read by the same `parseV1Predict`, and answers KServe's
 * explainer envelope: the predictions, and one explanation per row (`explain.ts`).
 */
import type { LoggedPrediction } from '../../contract/feedback-log.js';
import {
  appendPreparedRow,
  BadRequestError,
  checkRowCount,
  DEFAULT_REQUEST_LIMITS,
  type InputShape,
  isRecord,
  type PreparedRows,
  prepareRawRow,
  quoteValue,
  type RequestLimits,
  toPreparedRows,
} from './rows.js';

/** Reads a V1 predict body (already JSON-parsed) into prepared rows. */
export function parseV1Predict(
  shape: InputShape,
  body: unknown,
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): PreparedRows {
  if (!isRecord(body)) {
    throw new BadRequestError('the request body must be a JSON object with "instances"');
  }
  let instances: unknown = body.instances;
  let field = 'instances';
  if (instances === undefined && body.inputs !== undefined) {
    field = 'inputs';
    instances = isRecord(body.inputs) ? columnsToRecords(body.inputs, limits) : body.inputs;
  }
  if (instances === undefined) {
    throw new BadRequestError('the request body has no "instances" (a list of rows)');
  }
  if (!Array.isArray(instances)) {
    throw new BadRequestError(`"${field}" must be a list of rows`);
  }
  if (instances.length === 0) throw new BadRequestError(`"${field}" is empty`);
  checkRowCount(instances.length, `"${field}"`, limits);
  const values: number[] = [];
  const records: (Record<string, unknown> | null)[] = new Array(instances.length);
  for (let i = 0; i < instances.length; i++) {
    const instance: unknown = instances[i];
    const where = `${field}[${i}]`;
    if (Array.isArray(instance)) {
      appendPreparedRow(shape, instance, where, values);
      records[i] = null;
    } else if (isRecord(instance)) {
      prepareRawRow(shape, instance, where, values);
      records[i] = instance;
    } else {
      throw new BadRequestError(
        `${where} must be an object keyed by input column or a list of ${shape.featureCount} prepared features, not ${quoteValue(instance)}`,
      );
    }
  }
  return toPreparedRows(values, records);
}

/** TensorFlow Serving's columnar `inputs`: `{"a": [1, 2], "b": ["x", "y"]}` → two records. */
function columnsToRecords(
  columns: Record<string, unknown>,
  limits: RequestLimits,
): Record<string, unknown>[] {
  const names = Object.keys(columns);
  if (names.length === 0) throw new BadRequestError('"inputs" has no columns');
  let rows = -1;
  for (const name of names) {
    const values = columns[name];
    if (!Array.isArray(values)) {
      throw new BadRequestError(`inputs.${name} must be a list with one value per row`);
    }
    if (rows === -1) {
      rows = values.length;
      checkRowCount(rows, `inputs.${name}`, limits);
    } else if (values.length !== rows) {
      throw new BadRequestError(
        `inputs.${name} has ${values.length} values; inputs.${names[0]} has ${rows}`,
      );
    }
  }
  const records: Record<string, unknown>[] = [];
  for (let r = 0; r < rows; r++) {
    const record: Record<string, unknown> = {};
    for (const name of names) record[name] = (columns[name] as unknown[])[r];
    records.push(record);
  }
  return records;
}

/** The V1 response body. */
export function v1PredictResponse(predictions: LoggedPrediction[]): string {
  return JSON.stringify({ predictions });
}

/** The V1 `:explain` response body: KServe's envelope. */
export function v1ExplainResponse(
  predictions: LoggedPrediction[],
  explanations: readonly object[],
): string {
  return JSON.stringify({ predictions, explanations });
}
