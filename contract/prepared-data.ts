/**
 * The prepared form of a dataset version, and the fitted preparation that produced it.
 *
 * The ingestion program fits the preparation (imputation values, categories, scaling) on the
 * train split and writes it as `schema.json`; it then writes both splits as *prepared* CSV:
 * every feature a number, the label a class index (classification) or a number (regression).
 * A trainer in any language reads those CSVs without knowing how they were prepared. The
 * inference server applies the same `schema.json` (copied into the model artifact) to raw
 * records, through `prepareRecord` here, which is also what the ingestion program calls on each
 * row — one implementation, so training and serving cannot prepare a row differently.
 *
 * Prepared CSV: a header `<feature 1>,...,<feature n>,<label name>` (the names of
 * `PreparedSchema.features`, then `label.name`), then one line per row, numbers formatted by
 * `formatNumber`. Names are quoted as RFC 4180 requires when they contain `,` or `"`.
 */
import { z } from 'zod';
import { PII_HASH_SCHEME, type PiiHashing, piiHashing } from './pii-hash.js';
import { formatNumber, POWERS_OF_TEN } from './prepared-number.js';

export { formatNumber, formatNumberBytes, shortestFloat32 } from './prepared-number.js';

export const PREPARED_FORMAT_VERSION = 1;

/** Column types, as `Dataset.spec.schema.columns[].type` names them. */
export const columnTypes = ['number', 'integer', 'boolean', 'categorical', 'string'] as const;
export type ColumnType = (typeof columnTypes)[number];

export const isNumericType = (type: ColumnType): boolean => type === 'number' || type === 'integer';

const NumericTransformSchema = z.object({
  name: z.string().min(1),
  type: z.enum(['number', 'integer']),
  kind: z.literal('numeric'),
  /** The value imputed for a missing cell; null: the preparation dropped such rows. */
  impute: z.number().nullable(),
  scale: z.discriminatedUnion('method', [
    z.object({ method: z.literal('standard'), mean: z.number(), std: z.number().positive() }),
    z.object({ method: z.literal('minMax'), min: z.number(), max: z.number() }),
    z.object({ method: z.literal('none') }),
  ]),
});

const CategoricalTransformSchema = z.object({
  name: z.string().min(1),
  type: z.enum(['boolean', 'categorical', 'string']),
  kind: z.literal('categorical'),
  /** The value imputed for a missing cell; null: the preparation dropped such rows. */
  impute: z.string().nullable(),
  encoding: z.enum(['oneHot', 'ordinal']),
  /** The categories seen (the most frequent `maxCategories`), in feature order. */
  categories: z.array(z.string()),
  /**
   * Whether rarer categories were merged into one "other" feature (one-hot: an extra feature
   * named `<name>=__other__`; ordinal: the index `categories.length`). An unknown value at
   * serving time goes there; without it, one-hot gives all zeros and ordinal `-1`.
   */
  other: z.boolean(),
  /**
   * Present for a PII column prepared with `Hash`: values are hashed before anything else, with
   * the namespace's keyed hash (`pii-hash.ts`); the key is never here.
   */
  hash: z.literal(PII_HASH_SCHEME).optional(),
  /**
   * A version written before the keyed hash: its PII column was hashed with this per-version
   * salt (`legacySaltedHash`). Still read, never written.
   */
  hashSalt: z.string().optional(),
});

export const InputTransformSchema = z.discriminatedUnion('kind', [
  NumericTransformSchema,
  CategoricalTransformSchema,
]);
export type InputTransform = z.infer<typeof InputTransformSchema>;
export type NumericTransform = z.infer<typeof NumericTransformSchema>;
export type CategoricalTransform = z.infer<typeof CategoricalTransformSchema>;

/** `schema.json` of a dataset version and of every model artifact trained on it. */
export const PreparedSchemaSchema = z.object({
  formatVersion: z.literal(PREPARED_FORMAT_VERSION),
  task: z.enum(['classification', 'regression']),
  label: z.object({
    name: z.string().min(1),
    type: z.enum(columnTypes),
    /** Classification: the class names; the prepared label is the index into this list. */
    classes: z.array(z.string()).optional(),
  }),
  /** The raw input columns a prediction request carries, in order, and how each is prepared. */
  inputs: z.array(InputTransformSchema).min(1),
  /** The prepared feature names, in column order (what `prepareRecord` returns). */
  features: z.array(z.string()).min(1),
  /**
   * Raw columns the Dataset marks as personal data with `Drop`: not inputs, and never written
   * by the inference server's request log even when a client sends them.
   */
  piiDropped: z.array(z.string()).optional(),
  /**
   * The Dataset's sensitive columns (`spec.fairness.sensitiveColumns`), which models are
   * evaluated across. Each is an input or, when select/drop left it out of the features, a key
   * of every `test.raw.jsonl` line all the same (never an input: the server ignores it).
   */
  sensitiveColumns: z.array(z.string()).optional(),
});
export type PreparedSchema = z.infer<typeof PreparedSchemaSchema>;

/** Cell texts that mean "no value", as pandas' `read_csv` treats them by default. */
const missingTokens = new Set([
  '',
  'NA',
  'N/A',
  'n/a',
  'NaN',
  'nan',
  '-NaN',
  '-nan',
  'null',
  'NULL',
  'None',
  '#N/A',
  '<NA>',
  '?',
]);

/** Whether a raw cell (from CSV, JSON or SQL) is missing. */
export function isMissing(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'number') return Number.isNaN(value);
  if (typeof value === 'string') {
    // Fast path: every missing token is at most 4 characters once trimmed, so a longer text
    // that starts and ends with a printable ASCII character is a value.
    const n = value.length;
    if (n > 4) {
      const first = value.charCodeAt(0);
      const last = value.charCodeAt(n - 1);
      if (first > 32 && first < 127 && last > 32 && last < 127) return false;
    }
    return missingTokens.has(value.trim());
  }
  return false;
}

/** A raw cell that does not fit its column's type. */
export class CellError extends Error {
  readonly column: string;
  readonly value: unknown;

  constructor(column: string, value: unknown, message: string) {
    super(message);
    this.name = 'CellError';
    this.column = column;
    this.value = value;
  }
}

/** A raw numeric cell as a number, or undefined when missing. Throws `CellError` when not numeric. */
export function parseNumericCell(column: string, value: unknown): number | undefined {
  if (isMissing(value)) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') {
    const n = Number(value.trim());
    if (Number.isFinite(n)) return n;
  }
  throw new CellError(column, value, `column ${column}: ${JSON.stringify(value)} is not a number`);
}

/** A raw categorical or boolean cell as its category string, or undefined when missing. */
export function parseCategoryCell(type: ColumnType, value: unknown): string | undefined {
  if (isMissing(value)) return undefined;
  if (type === 'boolean') {
    const text = String(value).trim().toLowerCase();
    if (['true', 't', 'yes', 'y', '1'].includes(text)) return 'true';
    if (['false', 'f', 'no', 'n', '0'].includes(text)) return 'false';
    return text;
  }
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value);
}

/** Names of the features one input produces, in order. */
export function featureNamesOf(input: InputTransform): string[] {
  if (input.kind === 'numeric' || input.encoding === 'ordinal') return [input.name];
  const names = input.categories.map((c) => `${input.name}=${c}`);
  return input.other ? [...names, `${input.name}=__other__`] : names;
}

/** Applies a fitted scaling to a number. */
export function scaleNumber(input: NumericTransform, value: number): number {
  const s = input.scale;
  switch (s.method) {
    case 'standard':
      return (value - s.mean) / s.std;
    case 'minMax':
      return s.max === s.min ? 0 : (value - s.min) / (s.max - s.min);
    case 'none':
      return value;
  }
}

/** Where prepared features are written: a `number[]` or a `Float32Array`. */
export type FeatureSink = { [index: number]: number };

/**
 * Writes the prepared features of one raw record at `out[at]`, `out[at + 1]`, … in
 * `schema.features` order; returns the index after the last one written. Throws `CellError`
 * (the row's earlier features may already be written: the caller drops them).
 */
export type RecordPreparer = (
  record: Readonly<Record<string, unknown>>,
  out: FeatureSink,
  at: number,
) => number;

/**
 * `Number(text)` of a plain decimal — an optional minus, up to 15 digits, an optional point,
 * no exponent ("-12.5", "3", ".5") — else NaN (the caller then asks `Number`). Computed as
 * digits / 10^scale: both exact in a double (≤ 15 digits < 2^53, 10^scale ≤ 10^22), so the one
 * rounding of the division gives the double nearest the decimal, which is what `Number` gives
 * (Clinger's fast path), without the runtime call `Number` makes for a string.
 */
export function plainDecimal(text: string): number {
  return plainDecimalIn(text, 0, text.length);
}

/** `plainDecimal` of `text.slice(from, to)`, without making the slice. */
export function plainDecimalIn(text: string, from: number, to: number): number {
  const negative = text.charCodeAt(from) === 45;
  let i = negative ? from + 1 : from;
  let digits = 0;
  let mantissa = 0;
  /** Digits after the point; -1 before it. */
  let scale = -1;
  for (; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (scale >= 0) scale++;
    } else if (c === 46 && scale < 0) scale = 0;
    else return Number.NaN;
  }
  if (digits === 0 || digits > 15) return Number.NaN;
  const value = scale > 0 ? mantissa / POWERS_OF_TEN[scale]! : mantissa;
  return negative ? -value : value;
}

/** A missing cell of a column the preparation dropped such rows of. */
function requiredCellError(column: string, raw: unknown): CellError {
  return new CellError(column, raw, `column ${column}: a value is required`);
}

/** A numeric cell's value where the generated fast path does not read it (missing, boolean, bad). */
function numericSlowPath(input: NumericTransform): (raw: unknown) => number {
  return (raw) => {
    const value = parseNumericCell(input.name, raw) ?? input.impute;
    if (value === null) throw requiredCellError(input.name, raw);
    return value;
  };
}

/** A categorical cell's category index (`indexOf`'s answer, one `Map` lookup), or -1. */
function categoryIndexOf(
  input: CategoricalTransform,
  hashing: PiiHashing,
): (raw: unknown) => number {
  const hashed = input.hash !== undefined || input.hashSalt !== undefined;
  const indexOf = new Map<string, number>();
  for (const [i, category] of input.categories.entries())
    if (!indexOf.has(category)) indexOf.set(category, i);
  return (raw) => {
    let category = parseCategoryCell(input.type, raw);
    if (category !== undefined && hashed) category = hashing(input, category);
    const value = category ?? input.impute;
    if (value === null) throw requiredCellError(input.name, raw);
    return indexOf.get(value) ?? -1;
  };
}

/**
 * How generated code reads one input's cell: `read` sets `raw` (the cell's value) and, where it
 * can, `n` to a number or NaN without making the cell's text (`number`); `missing`: the input is
 * not in the record's layout, so `raw` is undefined.
 */
interface CellReader {
  /** Statements that set `raw` to the input's cell. */
  raw(input: InputTransform): string;
  /** An expression giving the cell's plain decimal or NaN, reading `raw` or the text in place. */
  plainNumber(input: InputTransform): string;
}

/** The statements that prepare one input whose cell `reader` reads, writing at `offset`. */
function inputSource(
  input: InputTransform,
  offset: number,
  reader: CellReader,
  hashing: PiiHashing,
  constant: (value: number) => string,
  call: (fn: (raw: unknown) => number) => string,
): string[] {
  const slot = `out[at + ${offset}]`;
  if (input.kind === 'numeric') {
    // A plain decimal (`plainDecimal`), or a cell that starts with a visible character and is
    // a finite number as `Number` reads it (trimming, as `parseNumericCell` does), is that
    // number: every missing token but "" reads as NaN. Anything else goes the general way.
    const lines = [
      `n = ${reader.plainNumber(input)};`,
      'if (n !== n) {',
      reader.raw(input),
      "  if (typeof raw === 'string' && raw.charCodeAt(0) > 32 && (n = +raw, n - n === 0)) {}",
      "  else if (typeof raw === 'number' && raw - raw === 0) n = raw;",
      `  else n = ${call(numericSlowPath(input))}(raw);`,
      '}',
    ];
    // Each scaling as `scaleNumber` computes it, operation for operation: the same floats.
    const s = input.scale;
    if (s.method === 'standard')
      lines.push(`${slot} = (n - ${constant(s.mean)}) / ${constant(s.std)};`);
    else if (s.method === 'minMax')
      lines.push(
        s.max === s.min
          ? `${slot} = 0;`
          : `${slot} = (n - ${constant(s.min)}) / ${constant(s.max - s.min)};`,
      );
    else lines.push(`${slot} = n;`);
    return lines;
  }
  const lines = [reader.raw(input), `i = ${call(categoryIndexOf(input, hashing))}(raw);`];
  const known = input.categories.length;
  if (input.encoding === 'ordinal') {
    lines.push(`${slot} = i >= 0 ? i : ${input.other ? known : -1};`);
    return lines;
  }
  const width = known + (input.other ? 1 : 0);
  for (let j = 0; j < width; j++) lines.push(`out[at + ${offset + j}] = 0;`);
  lines.push(`if (i >= 0) out[at + ${offset} + i] = 1;`);
  if (input.other) lines.push(`else out[at + ${offset + known}] = 1;`);
  return lines;
}

/** How many features an input prepares into. */
function featureWidthOf(input: InputTransform): number {
  if (input.kind === 'numeric' || input.encoding === 'ordinal') return 1;
  return input.categories.length + (input.other ? 1 : 0);
}

/**
 * A generated preparer: `body` (statements over `raw`, `n`, `i` and what `header` declares),
 * compiled with the constants `k`, the functions `f`, `d` (`plainDecimal`) and `r`
 * (`plainDecimalIn`) in scope.
 */
function compilePreparer<T extends (...args: never[]) => number>(
  parameters: string,
  build: (
    constant: (value: number) => string,
    call: (fn: (raw: unknown) => number) => string,
  ) => string[],
): T {
  /** Numeric constants (scaling), read as `k[i]`. */
  const k: number[] = [];
  /** Functions (slow paths, category lookups), called as `f[i](raw)`. */
  const f: ((raw: unknown) => number)[] = [];
  const body = build(
    (value) => `k[${k.push(value) - 1}]`,
    (fn) => `f[${f.push(fn) - 1}]`,
  );
  return new Function(
    'k',
    'f',
    'd',
    'r',
    `return function prepare(${parameters}) {\nlet raw, n, i;\n${body.join('\n')}\n};`,
  )(k, f, plainDecimal, plainDecimalIn) as T;
}

/** The record preparer of `schema` (see `recordPreparer`), compiled. */
function compileRecordPreparer(schema: PreparedSchema, hashing: PiiHashing): RecordPreparer {
  const reader: CellReader = {
    raw: (input) => `raw = record[${JSON.stringify(input.name)}];`,
    plainNumber: (input) => {
      const cell = `record[${JSON.stringify(input.name)}]`;
      return `typeof ${cell} === 'string' ? d(${cell}) : NaN`;
    },
  };
  return compilePreparer('record, out, at', (constant, call) => {
    const lines: string[] = [];
    let offset = 0;
    for (const input of schema.inputs) {
      lines.push(...inputSource(input, offset, reader, hashing, constant, call));
      offset += featureWidthOf(input);
    }
    lines.push(`return at + ${offset};`);
    return lines;
  });
}

/**
 * Writes the prepared features of one CSV line without quotes at `out[at]`, … (as
 * `RecordPreparer`), its fields cut at the delimiter and numbers read in place; returns the index
 * after the last feature, or -1 when the line has another number of fields than the columns
 * (the caller then reads it the general way, which says so). Throws `CellError`.
 */
export type CsvLinePreparer = (line: string, out: FeatureSink, at: number) => number;

/**
 * The preparation of `schema` for CSV lines of `columns` (the header's names) cut at
 * `delimiter`, generated as `recordPreparer` is: the same features and errors as preparing the
 * line's record (`csvRecordMaker`), without cutting the line into a string per field: each
 * field is found with `indexOf`, a plain decimal read where it lies (`plainDecimalIn`), and only
 * the other cells (categories, missing values, odd numbers) sliced out. A column named twice
 * is read from its last place, as the record's object keeps it. A line with a cell that does not
 * fit is prepared again as a record, so the error names the same column.
 */
export function csvLinePreparer(
  schema: PreparedSchema,
  columns: readonly string[],
  delimiter: string,
  hashing: PiiHashing = NO_KEY_HASHING,
): CsvLinePreparer {
  const place = new Map<string, number>();
  for (const [j, column] of columns.entries()) place.set(column, j);
  const offsets = new Map<InputTransform, number>();
  let width = 0;
  for (const input of schema.inputs) {
    offsets.set(input, width);
    width += featureWidthOf(input);
  }
  const last = columns.length - 1;
  const separator = JSON.stringify(delimiter);
  const inPlace = compilePreparer<CsvLinePreparer>('line, out, at', (constant, call) => {
    const field: CellReader = {
      raw: () => 'raw = line.slice(p, e);',
      plainNumber: () => 'r(line, p, e)',
    };
    const absent: CellReader = { raw: () => 'raw = undefined;', plainNumber: () => 'NaN' };
    const lines = ['let p = 0, e = 0;'];
    for (let j = 0; j <= last; j++) {
      // Field j lies in [p, e): up to the next delimiter, the last one to the line's end.
      lines.push(
        j < last
          ? `e = line.indexOf(${separator}, p); if (e === -1) return -1;`
          : `if (line.indexOf(${separator}, p) !== -1) return -1; e = line.length;`,
      );
      for (const input of schema.inputs)
        if (place.get(input.name) === j)
          lines.push(...inputSource(input, offsets.get(input)!, field, hashing, constant, call));
      lines.push('p = e + 1;');
    }
    for (const input of schema.inputs)
      if (!place.has(input.name))
        lines.push(...inputSource(input, offsets.get(input)!, absent, hashing, constant, call));
    lines.push(`return at + ${width};`);
    return lines;
  });
  // A cell that does not fit is met in the line's order: the record's preparation says which
  // one fails first in the schema's order, as for any other record.
  const ofRecord = recordPreparer(schema, hashing);
  return (line, out, at) => {
    try {
      return inPlace(line, out, at);
    } catch (error) {
      if (!(error instanceof CellError)) throw error;
      const fields = line.split(delimiter);
      if (fields.length !== columns.length) return -1;
      return ofRecord(Object.fromEntries(columns.map((c, j) => [c, fields[j]])), out, at);
    }
  };
}

/**
 * The preparation of `schema` as one function, made once per schema and hashing: generated
 * from the schema (as `csvRecordMaker` makes its records), each column read by its own name
 * (a monomorphic property load, where a loop over the inputs reads every column at one
 * megamorphic site), scaling constants and category maps fixed, a numeric cell read with one
 * `Number` when it is a plain number, every other case through `parseNumericCell` /
 * `parseCategoryCell` as before. The hot loop of batch scoring, ingestion and serving;
 * `prepareRecord` is it, appending to an array.
 */
export function recordPreparer(
  schema: PreparedSchema,
  hashing: PiiHashing = NO_KEY_HASHING,
): RecordPreparer {
  let byHashing = preparers.get(schema);
  if (!byHashing) {
    byHashing = new Map();
    preparers.set(schema, byHashing);
  }
  let preparer = byHashing.get(hashing);
  if (!preparer) {
    // A caller making a hashing per call gets no reuse, and no unbounded map either.
    if (byHashing.size >= 8) byHashing.clear();
    preparer = compileRecordPreparer(schema, hashing);
    byHashing.set(hashing, preparer);
  }
  return preparer;
}

/** The hashing of a program without a key: the default of `prepareRecord`. */
const NO_KEY_HASHING = piiHashing(undefined);
/** Hashing that takes a value as already hashed (`prepareTestRawRecord`). */
const ALREADY_HASHED: PiiHashing = (_column, hashed) => hashed;
/** Preparers made, by schema (held as long as the schema is) and hashing. */
const preparers = new WeakMap<PreparedSchema, Map<PiiHashing, RecordPreparer>>();

/**
 * The prepared features of one raw record (an object keyed by input column name), appended to
 * `out` in `schema.features` order. Missing values are imputed as fitted; a value that does not
 * fit its column, or a missing value where the preparation had dropped such rows, throws a
 * `CellError` naming the column. Extra keys in `record` are ignored. A hashed PII column's value
 * goes through `hashing` (the program's `piiHashing(key)`; without a key, only values already
 * hashed and old versions' salted columns can be prepared). `recordPreparer` is the same,
 * writing where it is told (into a `Float32Array` batch).
 */
export function prepareRecord(
  schema: PreparedSchema,
  record: Readonly<Record<string, unknown>>,
  out: number[] = [],
  hashing: PiiHashing = NO_KEY_HASHING,
): number[] {
  const start = out.length;
  try {
    recordPreparer(schema, hashing)(record, out, start);
  } catch (error) {
    out.length = start;
    throw error;
  }
  return out;
}

/**
 * The prepared features of one line of a dataset version's `test.raw.jsonl`, with that
 * version's own schema: `prepareRecord`, except that a hashed PII column's value is taken as
 * already hashed (the file never holds the raw value). It gives the line of `test.csv`.
 */
export function prepareTestRawRecord(
  schema: PreparedSchema,
  record: Readonly<Record<string, unknown>>,
  out: number[] = [],
): number[] {
  return prepareRecord(schema, record, out, ALREADY_HASHED);
}

/** The prepared label of a raw label cell: class index or number. Throws `CellError`. */
export function encodeLabel(schema: PreparedSchema, raw: unknown): number {
  const name = schema.label.name;
  if (schema.task === 'regression') {
    const n = parseNumericCell(name, raw);
    if (n === undefined) throw new CellError(name, raw, `label ${name}: a value is required`);
    return n;
  }
  const value = parseCategoryCell(schema.label.type, raw);
  if (value === undefined) throw new CellError(name, raw, `label ${name}: a value is required`);
  const index = (schema.label.classes ?? []).indexOf(value);
  if (index < 0) {
    throw new CellError(name, raw, `label ${name}: ${JSON.stringify(value)} is not a known class`);
  }
  return index;
}

/** The label a class index or regression output stands for. */
export function decodeLabel(schema: PreparedSchema, value: number): string | number {
  if (schema.task === 'regression') return value;
  const classes = schema.label.classes ?? [];
  return classes[value] ?? value;
}

/** Quotes a CSV field when RFC 4180 requires it. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The header line of a prepared CSV (without newline). */
export function preparedHeader(schema: PreparedSchema): string {
  return [...schema.features, schema.label.name].map(csvField).join(',');
}

/** One prepared CSV line (without newline). */
export function preparedLine(features: readonly number[], label: number): string {
  let line = '';
  for (const v of features) line += `${formatNumber(v)},`;
  return line + formatNumber(label);
}
