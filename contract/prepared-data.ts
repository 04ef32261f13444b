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

/**
 * The prepared features of one raw record (an object keyed by input column name), appended to
 * `out` in `schema.features` order. Missing values are imputed as fitted; a value that does not
 * fit its column, or a missing value where the preparation had dropped such rows, throws a
 * `CellError` naming the column. Extra keys in `record` are ignored. A hashed PII column's value
 * goes through `hashing` (the program's `piiHashing(key)`; without a key, only values already
 * hashed and old versions' salted columns can be prepared).
 */
export function prepareRecord(
  schema: PreparedSchema,
  record: Readonly<Record<string, unknown>>,
  out: number[] = [],
  hashing: PiiHashing = piiHashing(undefined),
): number[] {
  for (const input of schema.inputs) {
    const raw = record[input.name];
    if (input.kind === 'numeric') {
      const parsed = parseNumericCell(input.name, raw);
      const value = parsed ?? input.impute;
      if (value === null) {
        throw new CellError(input.name, raw, `column ${input.name}: a value is required`);
      }
      out.push(scaleNumber(input, value));
      continue;
    }
    let category = parseCategoryCell(input.type, raw);
    if (category !== undefined && (input.hash !== undefined || input.hashSalt !== undefined))
      category = hashing(input, category);
    const value = category ?? input.impute;
    if (value === null) {
      throw new CellError(input.name, raw, `column ${input.name}: a value is required`);
    }
    const index = input.categories.indexOf(value);
    if (input.encoding === 'ordinal') {
      out.push(index >= 0 ? index : input.other ? input.categories.length : -1);
      continue;
    }
    const width = input.categories.length + (input.other ? 1 : 0);
    const start = out.length;
    for (let i = 0; i < width; i++) out.push(0);
    if (index >= 0) out[start + index] = 1;
    else if (input.other) out[start + input.categories.length] = 1;
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
  return prepareRecord(schema, record, out, (_column, hashed) => hashed);
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

/**
 * How prepared numbers are written: shortest round-trip form of the float32 nearest the value
 * (what a trainer computes in anyway), so the same data always gives the same bytes and the
 * same content hash. Integers print without a decimal point.
 */
export function formatNumber(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 2 ** 24) return String(value);
  const f = Math.fround(value);
  const a = Math.abs(f);
  if (!(a < 2 ** 22) || a < 1e-14 || isPowerOfTwo(f)) return shortestFloat32(f);
  // Below 2^22 and off a power of two, f's rounding interval is symmetric and holds no short
  // decimal on its edge, so "d digits read back as f" holds for every d above the shortest:
  // search down from 8 digits (9 always read back). Each rounding is computed with doubles
  // and integers (`roundedTo`), as `f.toPrecision(d)` would give it, and the text is built
  // from its digits as `String(Number(...))` would write it, without formatting or parsing
  // text. The unit test checks this against `shortestFloat32` on a million float32 values.
  let exponent = Math.floor(Math.log10(a));
  const y9 = scaled(a, 8 - exponent);
  if (y9 >= 1e9) exponent++;
  else if (y9 < 1e8) exponent--;
  let best = roundedTo(f, a, exponent, 9);
  for (let d = 8; d >= 1; d--) {
    const candidate = roundedTo(f, a, exponent, d);
    if (Math.fround(scaled(candidate.digits, -candidate.scale)) !== a) break;
    best = candidate;
  }
  return decimalText(f < 0, best.digits, best.scale);
}

/** Powers of ten that doubles hold exactly. */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** a × 10^k, rounded once (|k| ≤ 22, so 10^|k| is exact). */
function scaled(a: number, k: number): number {
  return k >= 0 ? a * POWERS_OF_TEN[k]! : a / POWERS_OF_TEN[-k]!;
}

/**
 * |f| (= a, with 10^exponent ≤ a < 10^(exponent+1)) rounded half up to d significant digits:
 * the integer `digits` and `scale` with value digits × 10^-scale. a × 10^(d-1-exponent) is
 * below 10^9 and off by less than 2e-7, so rounding it is exact unless it lies within 1e-6 of
 * a half: then toExponential (exact) decides.
 */
function roundedTo(
  f: number,
  a: number,
  exponent: number,
  d: number,
): { digits: number; scale: number } {
  const scale = d - 1 - exponent;
  const y = scaled(a, scale);
  const floor = Math.floor(y);
  const fraction = y - floor;
  if (Math.abs(fraction - 0.5) >= 1e-6) {
    return { digits: fraction > 0.5 ? floor + 1 : floor, scale };
  }
  const text = Math.abs(f).toExponential(d - 1);
  const e = text.indexOf('e');
  return {
    digits: Number(text.slice(0, e).replace('.', '')),
    scale: d - 1 - Number(text.slice(e + 1)),
  };
}

/**
 * How JavaScript writes the number digits × 10^-scale (`Number.prototype.toString`): its
 * shortest digits are those of `digits` without trailing zeros, as a decimal up to 21 digits
 * and down to 1e-6, else in exponent form.
 */
function decimalText(negative: boolean, digits: number, scale: number): string {
  let s = String(digits);
  let end = s.length;
  while (end > 1 && s.charCodeAt(end - 1) === 48) end--;
  const zeros = s.length - end;
  s = s.slice(0, end);
  const k = s.length;
  const n = k + zeros - scale;
  let text: string;
  if (k <= n && n <= 21) text = s + '0'.repeat(n - k);
  else if (0 < n && n <= 21) text = `${s.slice(0, n)}.${s.slice(n)}`;
  else if (-6 < n && n <= 0) text = `0.${'0'.repeat(-n)}${s}`;
  else {
    const e = n - 1;
    text = `${s[0]}${k > 1 ? `.${s.slice(1)}` : ''}e${e >= 0 ? '+' : '-'}${Math.abs(e)}`;
  }
  return negative ? `-${text}` : text;
}

/** Whether `f` (a float32 value) is ± a power of two: its mantissa bits are all zero. */
function isPowerOfTwo(f: number): boolean {
  FLOAT32[0] = f;
  return (BITS32[0]! & 0x7fffff) === 0;
}
const FLOAT32 = new Float32Array(1);
const BITS32 = new Uint32Array(FLOAT32.buffer);

/**
 * The definition `formatNumber` implements: the shortest `toPrecision` text (1 to 9 digits)
 * that reads back as the float32 `f`.
 */
export function shortestFloat32(f: number): string {
  for (let digits = 1; digits <= 9; digits++) {
    const text = f.toPrecision(digits);
    if (Math.fround(Number(text)) === f) return String(Number(text));
  }
  return String(f);
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
