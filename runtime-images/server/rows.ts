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

/**
 * Limits on one request's rows, so a request within the body size cannot make the server build
 * arrays or run forward passes far larger than a prediction needs.
 */
export interface RequestLimits {
  /** Most rows one request may carry. */
  maxRows: number;
  /** Most elements one V2 input tensor may hold. */
  maxTensorElements: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxRows: 10_000,
  maxTensorElements: 1_000_000,
};

/** Refuses `rows` over the limit; `what` names where they came from. */
export function checkRowCount(rows: number, what: string, limits: RequestLimits): void {
  if (rows > limits.maxRows) {
    throw new BadRequestError(
      `${what} has ${rows} rows; the limit is ${limits.maxRows} rows per request`,
    );
  }
}

/** A client's value quoted for an error message, cut short: a message never echoes a body. */
export function quoteValue(value: unknown, maxLength = 64): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'undefined';
  } catch {
    text = Array.isArray(value) ? 'a list' : 'an object';
  }
  return text.length <= maxLength ? text : `${text.slice(0, maxLength)}…`;
}

/**
 * Appends one raw record's prepared features to `out`; `where` names the row in errors. Every
 * input the model declares must be in the record: a left-out input is an error naming it, and
 * only an explicit `null` is imputed as the preparation was fitted. Keys the model does not
 * know are ignored (a record may carry its own IDs).
 */
export function prepareRawRow(
  shape: InputShape,
  record: Record<string, unknown>,
  where: string,
  out: number[],
): void {
  const { schema } = shape;
  const missing: string[] = [];
  for (const input of schema.inputs) {
    if (!Object.hasOwn(record, input.name)) {
      missing.push(input.name);
      continue;
    }
    const cell = record[input.name];
    if (typeof cell === 'number' && !Number.isFinite(cell)) {
      throw new BadRequestError(`${where}: column ${input.name}: ${cell} is not a finite number`);
    }
    if (cell !== null && typeof cell === 'object') {
      throw new BadRequestError(
        `${where}: column ${input.name}: ${quoteValue(cell)} is not a value; a cell is a string, number, boolean or null`,
      );
    }
  }
  if (missing.length > 0) {
    throw new BadRequestError(
      `${where} leaves out the model's input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; every input must be given (null for a value to impute): ${schema.inputs.map((i) => i.name).join(', ')}`,
    );
  }
  try {
    prepareRecord(schema, record, out, shape.piiHashing);
  } catch (error) {
    if (error instanceof CellError) {
      const message = `${where}: ${error.message}`;
      throw new BadRequestError(message.length <= 300 ? message : `${message.slice(0, 300)}…`);
    }
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
      throw new BadRequestError(`${where}[${i}]: ${quoteValue(value)} is not a finite number`);
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
