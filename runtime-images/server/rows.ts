/**
 * Rows of a prediction request, whatever protocol they came in: each row is either a raw record
 * (an object keyed by raw input column, prepared here with the same `prepareRecord` ingestion
 * used) or an array of already prepared features. Both end as one row of a `Float32Array` the
 * model runs on; the raw record is kept for the request log.
 *
 * Everything here is pure and throws `BadRequestError` with a message that names the offending
 * place (`instances[3]`, `input "age"`) and what was expected.
 */
import type { PiiHashing } from '../../contract/pii-hash.js';
import { CellError, type PreparedSchema, prepareRecord } from '../../contract/prepared-data.js';

/** The request is wrong: HTTP 400 with this message. */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

/** What the model needs to know about its inputs to read a request. */
export interface InputShape {
  schema: PreparedSchema;
  featureCount: number;
  /** How raw values of hashed PII columns are hashed (the model's key; default: none). */
  piiHashing?: PiiHashing;
}

/** The rows of one request, prepared. */
export interface PreparedRows {
  rows: number;
  /** `rows × featureCount`, row-major. */
  features: Float32Array;
  /** One per row: the raw record as received, or null when the row came prepared. */
  records: (Record<string, unknown> | null)[];
}

/** Appends one raw record's prepared features to `out`; `where` names the row in errors. */
export function prepareRawRow(
  shape: InputShape,
  record: Record<string, unknown>,
  where: string,
  out: number[],
): void {
  const { schema } = shape;
  if (!schema.inputs.some((input) => Object.hasOwn(record, input.name))) {
    throw new BadRequestError(
      `${where} has none of the model's input columns (${schema.inputs.map((i) => i.name).join(', ')})`,
    );
  }
  try {
    prepareRecord(schema, record, out, shape.piiHashing);
  } catch (error) {
    if (error instanceof CellError) throw new BadRequestError(`${where}: ${error.message}`);
    throw error;
  }
}

/** Appends one prepared row (an array of numbers) to `out`, checking its length and values. */
export function appendPreparedRow(
  shape: InputShape,
  row: readonly unknown[],
  where: string,
  out: number[],
): void {
  if (row.length !== shape.featureCount) {
    throw new BadRequestError(
      `${where} has ${row.length} values; the model takes ${shape.featureCount} prepared features (${describeFeatures(shape)}), or a record keyed by input column`,
    );
  }
  for (let i = 0; i < row.length; i++) {
    const value = row[i];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new BadRequestError(
        `${where}[${i}]: ${JSON.stringify(value) ?? 'undefined'} is not a finite number`,
      );
    }
    out.push(value);
  }
}

/** The prepared feature names, shortened for an error message. */
export function describeFeatures(shape: InputShape): string {
  const names = shape.schema.features;
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')}, …`;
}

/** Whether `value` is a plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The rows as a `Float32Array` the model runs on. */
export function toPreparedRows(
  values: number[],
  records: (Record<string, unknown> | null)[],
): PreparedRows {
  return { rows: records.length, features: Float32Array.from(values), records };
}
