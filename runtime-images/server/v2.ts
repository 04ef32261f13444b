/**
 * The Open Inference Protocol (KServe V2), HTTP/REST: the inference request and response, and
 * the model's metadata.
 *
 * A request carries its rows in one of two ways:
 * - tabular, as KServe's and MLServer's pandas codecs do: one input per raw column, named after
 *   it, shape `[n]` or `[n, 1]`, datatype `BYTES` (strings), `BOOL`, or a numeric type; rows
 *   are prepared with the fitted preparation like V1's raw records; every input of the model
 *   must be sent, and a `null` element is imputed as the preparation was fitted;
 * - prepared: a single numeric input (any name that is not a raw column, e.g. `features`) of
 *   shape `[n, <features>]`.
 * Tensor data may be nested as the shape says or flat (row-major), as the protocol allows, and
 * must hold exactly as many elements as the shape says, within `RequestLimits`.
 *
 * Outputs: classification gives `probabilities` (FP32 `[n, classes]`, in `schema.label.classes`
 * order) and `label` (BYTES `[n]`); regression gives `prediction` (FP32 `[n]`). A request's
 * `outputs` may select some of them.
 *
 * `POST /v2/models/<m>[/versions/<v>]/explain` is Lathe's extension (the protocol has no explain
 * endpoint): the same request, the same response with `explanations` added (`explain.ts`).
 */
import type { PreparedSchema } from '../../contract/prepared-data.js';
import { argmax, className } from './predictions.js';
import {
  appendPreparedRow,
  BadRequestError,
  checkRowCount,
  DEFAULT_REQUEST_LIMITS,
  describeFeatures,
  type InputShape,
  isRecord,
  type PreparedRows,
  prepareRawRow,
  quoteValue,
  type RequestLimits,
  toPreparedRows,
} from './rows.js';

export const V2_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
const datatypes = new Set<string>(V2_DATATYPES);
const numericDatatypes = new Set<string>(V2_DATATYPES.filter((d) => d !== 'BOOL' && d !== 'BYTES'));

/** A parsed V2 inference request. */
export interface V2Request {
  /** The request's `id`, echoed in the response. */
  id: string | undefined;
  rows: PreparedRows;
  /** The outputs asked for (undefined: all). */
  outputs: string[] | undefined;
}

interface RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  /** Flattened, row-major. */
  data: unknown[];
}

/** The output tensors this model produces: name → datatype. */
export function v2OutputNames(schema: PreparedSchema): string[] {
  return schema.task === 'classification' ? ['probabilities', 'label'] : ['prediction'];
}

/** Reads a V2 inference request body (already JSON-parsed) into prepared rows. */
export function parseV2Infer(
  shape: InputShape,
  body: unknown,
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): V2Request {
  if (!isRecord(body)) {
    throw new BadRequestError('the request body must be a JSON object with "inputs"');
  }
  if (body.id !== undefined && typeof body.id !== 'string') {
    throw new BadRequestError('"id" must be a string');
  }
  if (body.parameters !== undefined && !isRecord(body.parameters)) {
    throw new BadRequestError('"parameters" must be an object');
  }
  const inputs = readInputs(body.inputs, limits);
  const outputs = readRequestedOutputs(shape.schema, body.outputs);
  const columns = new Set(shape.schema.inputs.map((i) => i.name));
  const rows =
    inputs.length === 1 && !columns.has(inputs[0]!.name)
      ? preparedTensorRows(shape, inputs[0]!, columns)
      : tabularRows(shape, inputs, columns);
  return { id: body.id as string | undefined, rows, outputs };
}

function readInputs(value: unknown, limits: RequestLimits): RequestInput[] {
  if (value === undefined) throw new BadRequestError('the request body has no "inputs"');
  if (!Array.isArray(value)) throw new BadRequestError('"inputs" must be a list of tensors');
  if (value.length === 0) throw new BadRequestError('"inputs" is empty');
  const seen = new Set<string>();
  return value.map((input: unknown, i) => {
    const where = `inputs[${i}]`;
    if (!isRecord(input)) throw new BadRequestError(`${where} must be an object`);
    const { name, shape, datatype, data } = input;
    if (typeof name !== 'string' || name === '' || name.length > 256) {
      throw new BadRequestError(
        `${where}.name must be a non-empty string of at most 256 characters`,
      );
    }
    const label = `input "${name}"`;
    if (seen.has(name)) throw new BadRequestError(`${label} is given twice`);
    seen.add(name);
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)
    ) {
      throw new BadRequestError(`${label}: shape must be a list of non-negative integers`);
    }
    if (typeof datatype !== 'string' || !datatypes.has(datatype)) {
      throw new BadRequestError(
        `${label}: datatype ${quoteValue(datatype)} is not one of ${V2_DATATYPES.join(', ')}`,
      );
    }
    if (!Array.isArray(data)) throw new BadRequestError(`${label}: data must be a list`);
    let expected = 1;
    for (const d of shape as number[]) {
      expected *= d;
      if (expected > limits.maxTensorElements) {
        throw new BadRequestError(
          `${label}: shape ${quoteValue(shape)} is over the limit of ${limits.maxTensorElements} elements per tensor`,
        );
      }
    }
    if (shape.length > 0) checkRowCount(shape[0] as number, label, limits);
    // Nested as deep as the shape says, no deeper: a deeper list is an element of the wrong type.
    const flat = data.flat(Math.max(0, shape.length - 1)) as unknown[];
    if (flat.length !== expected) {
      throw new BadRequestError(
        `${label}: shape ${quoteValue(shape)} needs ${expected} elements, data has ${flat.length}`,
      );
    }
    checkElements(label, datatype, flat);
    return { name, shape: shape as number[], datatype, data: flat };
  });
}

/**
 * Checks every element against the declared datatype. `null` passes: in a column it is a value
 * to impute, in a tensor of prepared features `appendPreparedRow` refuses it.
 */
function checkElements(label: string, datatype: string, data: unknown[]): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    const ok =
      v === null ||
      (datatype === 'BYTES'
        ? typeof v === 'string'
        : datatype === 'BOOL'
          ? typeof v === 'boolean'
          : typeof v === 'number' &&
            Number.isFinite(v) &&
            (datatype.startsWith('FP') || Number.isInteger(v)));
    if (!ok) {
      throw new BadRequestError(
        `${label}: element ${i} (${quoteValue(v)}) is not a ${datatype} value`,
      );
    }
  }
}

function preparedTensorRows(
  shape: InputShape,
  input: RequestInput,
  columns: Set<string>,
): PreparedRows {
  const label = `input "${input.name}"`;
  if (!numericDatatypes.has(input.datatype)) {
    throw new BadRequestError(
      `${label} is not a column of the model (${[...columns].join(', ')}); a single tensor of prepared features must be numeric (FP32), not ${input.datatype}`,
    );
  }
  if (input.shape.length !== 2 || input.shape[1] !== shape.featureCount) {
    throw new BadRequestError(
      `${label} has shape ${quoteValue(input.shape)}; prepared features must have shape [n, ${shape.featureCount}] (${describeFeatures(shape)}), or send one input per column (${[...columns].join(', ')})`,
    );
  }
  const rows = input.shape[0]!;
  if (rows === 0) throw new BadRequestError(`${label} has no rows`);
  const values: number[] = [];
  const width = shape.featureCount;
  for (let r = 0; r < rows; r++) {
    appendPreparedRow(
      shape,
      input.data.slice(r * width, (r + 1) * width),
      `${label} row ${r}`,
      values,
    );
  }
  return toPreparedRows(values, new Array(rows).fill(null));
}

function tabularRows(
  shape: InputShape,
  inputs: RequestInput[],
  columns: Set<string>,
): PreparedRows {
  let rows = -1;
  for (const input of inputs) {
    const label = `input "${input.name}"`;
    if (!columns.has(input.name)) {
      throw new BadRequestError(
        `${label} is not a column of the model; its columns are ${[...columns].join(', ')} (or send one FP32 tensor [n, ${shape.featureCount}] of prepared features)`,
      );
    }
    if (!(input.shape.length === 1 || (input.shape.length === 2 && input.shape[1] === 1))) {
      throw new BadRequestError(
        `${label} has shape ${quoteValue(input.shape)}; a column must have shape [n] or [n, 1]`,
      );
    }
    const n = input.shape[0]!;
    if (rows === -1) rows = n;
    else if (n !== rows) {
      throw new BadRequestError(`${label} has ${n} rows; input "${inputs[0]!.name}" has ${rows}`);
    }
  }
  if (rows === 0) throw new BadRequestError('the inputs have no rows');
  const given = new Set(inputs.map((input) => input.name));
  const missing = [...columns].filter((name) => !given.has(name));
  if (missing.length > 0) {
    throw new BadRequestError(
      `the request leaves out the model's input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; send one input per column (${[...columns].join(', ')}), with null elements for values to impute`,
    );
  }
  const values: number[] = [];
  const records: Record<string, unknown>[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    const record: Record<string, unknown> = {};
    for (const input of inputs) record[input.name] = input.data[r];
    prepareRawRow(shape, record, `row ${r}`, values);
    records[r] = record;
  }
  return toPreparedRows(values, records);
}

function readRequestedOutputs(schema: PreparedSchema, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const known = v2OutputNames(schema);
  if (!Array.isArray(value)) throw new BadRequestError('"outputs" must be a list');
  return value.map((output: unknown, i) => {
    const name = isRecord(output) ? output.name : undefined;
    if (typeof name !== 'string') throw new BadRequestError(`outputs[${i}].name must be a string`);
    if (!known.includes(name)) {
      throw new BadRequestError(
        `output ${quoteValue(name)} does not exist; this model's outputs are ${known.join(', ')}`,
      );
    }
    return name;
  });
}

/**
 * The V2 response body for `outputs` (`rows × width`) of a request. `id` is the request's own
 * `id` (the protocol echoes it) or, when it had none, the server's request ID; the server's ID
 * is also under `parameters.request_id` when the two differ, so a labelling client finds it.
 */
export function v2InferResponseBody(
  model: { name: string; version: string; schema: PreparedSchema; outputWidth: number },
  id: string,
  outputs: Float32Array,
  rows: number,
  requested: string[] | undefined,
  /** The server's request ID; under `parameters.request_id` when `id` is the client's own. */
  requestId: string = id,
): Record<string, unknown> {
  const { schema, outputWidth: width } = model;
  const wanted = requested ?? v2OutputNames(schema);
  const tensors: object[] = [];
  for (const name of wanted) {
    if (name === 'probabilities') {
      tensors.push({ name, shape: [rows, width], datatype: 'FP32', data: Array.from(outputs) });
    } else if (name === 'label') {
      const labels: string[] = new Array(rows);
      for (let r = 0; r < rows; r++)
        labels[r] = String(className(schema, argmax(outputs, r * width, width)));
      tensors.push({ name, shape: [rows], datatype: 'BYTES', data: labels });
    } else {
      tensors.push({ name, shape: [rows], datatype: 'FP32', data: Array.from(outputs) });
    }
  }
  return {
    model_name: model.name,
    model_version: model.version,
    id,
    ...(requestId !== id ? { parameters: { request_id: requestId } } : {}),
    outputs: tensors,
  };
}

/** `v2InferResponseBody` as the JSON text of the response. */
export function v2InferResponse(...args: Parameters<typeof v2InferResponseBody>): string {
  return JSON.stringify(v2InferResponseBody(...args));
}

/** `GET /v2/models/<name>`: the model's metadata. */
export function v2ModelMetadata(model: {
  name: string;
  version: string;
  schema: PreparedSchema;
  outputWidth: number;
}): object {
  const { schema } = model;
  return {
    name: model.name,
    versions: [model.version],
    platform: 'tensorflowjs_layers',
    inputs: schema.inputs.map((input) => ({
      name: input.name,
      datatype: input.kind === 'numeric' ? 'FP64' : input.type === 'boolean' ? 'BOOL' : 'BYTES',
      shape: [-1],
    })),
    outputs:
      schema.task === 'classification'
        ? [
            { name: 'probabilities', datatype: 'FP32', shape: [-1, model.outputWidth] },
            { name: 'label', datatype: 'BYTES', shape: [-1] },
          ]
        : [{ name: 'prediction', datatype: 'FP32', shape: [-1] }],
  };
}
