/**
 * The lines of `test.raw.jsonl`: a test row as it was before preparation, so that a model
 * trained on another version can be scored on this version's split through its own fitted
 * preparation (`DatasetFile.testRaw` in the contract says what a line holds).
 *
 * A line is built as text, keys in `schema.inputs` order and the label last, rather than
 * through `JSON.stringify` of an object, which would move integer-like column names first:
 * the same row always gives the same bytes, and the bytes are part of the version's hash.
 */
import { PII_HASH_SCHEME, type PiiHashing } from '../../contract/pii-hash.js';
import {
  type InputTransform,
  isMissing,
  type PreparedSchema,
  parseCategoryCell,
  parseNumericCell,
} from '../../contract/prepared-data.js';
import type { TextSink } from './files.js';
import type { EvaluationColumn } from './fit.js';
import { isMissingIn } from './rows.js';
import type { Cell } from './table.js';

/**
 * A cell's raw value as JSON text: a number, a string, or null when missing; a PII column's
 * value hashed (`hashing`), as in the prepared splits.
 */
export function rawValueJson(input: InputTransform, cell: Cell, hashing: PiiHashing): string {
  if (isMissing(cell)) return 'null';
  // A numeric column's present values are finite numbers, whose JSON text is String(n).
  if (input.kind === 'numeric') return String(parseNumericCell(input.name, cell)!);
  if (input.hash !== undefined) {
    return JSON.stringify(hashing(input, parseCategoryCell(input.type, cell)!));
  }
  return JSON.stringify(typeof cell === 'string' ? cell : String(cell));
}

/**
 * Where the digits of a plain decimal lie (`plainDecimalAt`), for writing it as `String` of its
 * number would: `sign` ("-" or ""), then either `text.slice(intFirst, intEnd)` and, when
 * `fracLast > fracStart`, "." and `text.slice(fracStart, fracLast)`; or, when `intFirst` is
 * `intEnd` (below 1), "0" and then the same fraction, if any.
 */
const decimal = { sign: '', intFirst: 0, intEnd: 0, fracStart: 0, fracLast: 0 };

/**
 * Whether `text.slice(from, to)` is a plain decimal — an optional minus, digits with at most
 * one point, 15 digits at most — whose `String(Number(…))` is its own digits without leading
 * or trailing zeros; sets `decimal` to where they lie. A decimal of at most 15 significant
 * digits is the shortest text of the double nearest it (a double holds 15 decimal digits: two
 * such decimals never round to the same double), so it is what `String` writes, except below
 * 1e-6, which `String` writes with an exponent: false then, and for any other text.
 */
function plainDecimalAt(text: string, from: number, to: number): boolean {
  let i = from;
  if (i < to && text.charCodeAt(i) === 45) i++;
  const intStart = i;
  while (i < to && isDigit(text.charCodeAt(i))) i++;
  const intEnd = i;
  let fracStart = i;
  let fracEnd = i;
  if (i < to && text.charCodeAt(i) === 46) {
    fracStart = ++i;
    while (i < to && isDigit(text.charCodeAt(i))) i++;
    fracEnd = i;
  }
  const digits = intEnd - intStart + fracEnd - fracStart;
  if (i !== to || digits === 0 || digits > 15) return false;
  let fracLast = fracEnd;
  while (fracLast > fracStart && text.charCodeAt(fracLast - 1) === 48) fracLast--;
  let intFirst = intStart;
  while (intFirst < intEnd && text.charCodeAt(intFirst) === 48) intFirst++;
  if (intFirst === intEnd && fracLast > fracStart) {
    let firstDigit = fracStart;
    while (text.charCodeAt(firstDigit) === 48) firstDigit++;
    if (firstDigit - fracStart >= 6) return false;
  }
  // Zero, minus zero too, is "0".
  decimal.sign = intStart > from && (intFirst < intEnd || fracLast > fracStart) ? '-' : '';
  decimal.intFirst = intFirst;
  decimal.intEnd = intEnd;
  decimal.fracStart = fracStart;
  decimal.fracLast = fracLast;
  return true;
}

/**
 * `String(Number(text.slice(from, to)))` of a plain decimal, written from its own digits
 * (`plainDecimalAt`); undefined for any other text (the caller then asks `rawValueJson`).
 */
export function plainDecimalJson(text: string, from: number, to: number): string | undefined {
  if (!plainDecimalAt(text, from, to)) return undefined;
  const { sign, intFirst, intEnd, fracStart, fracLast } = decimal;
  const whole = intFirst < intEnd ? text.slice(intFirst, intEnd) : '0';
  return fracLast > fracStart ? `${sign}${whole}.${text.slice(fracStart, fracLast)}` : sign + whole;
}

/** `plainDecimalJson` into `out`, without making the text; false (nothing written) otherwise. */
function writePlainDecimalJson(out: TextSink, text: string, from: number, to: number): boolean {
  if (!plainDecimalAt(text, from, to)) return false;
  const { sign, intFirst, intEnd, fracStart, fracLast } = decimal;
  if (sign !== '') out.writeByte(45);
  if (intFirst < intEnd) out.writeAscii(text, intFirst, intEnd);
  else out.writeByte(48);
  if (fracLast > fracStart) {
    out.writeByte(46);
    out.writeAscii(text, fracStart, fracLast);
  }
  return true;
}

/**
 * `JSON.stringify(text.slice(from, to))` into `out` when the text is printable ASCII without a
 * quote or backslash (nothing to escape); false (nothing written) otherwise.
 */
function writePlainJsonString(out: TextSink, text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 || c > 126 || c === 34 || c === 92) return false;
  }
  out.writeByte(34);
  out.writeAscii(text, from, to);
  out.writeByte(34);
  return true;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** A raw column of `test.raw.jsonl`: its transform, working index and key text. */
interface RawColumn {
  input: InputTransform;
  index: number;
  key: string;
}

function rawColumnsOf(
  schema: PreparedSchema,
  inputIndexes: readonly number[],
  evaluationColumns: readonly EvaluationColumn[],
): RawColumn[] {
  const inputs: RawColumn[] = schema.inputs.map((input, k) => ({
    input,
    index: inputIndexes[k]!,
    key: `${JSON.stringify(input.name)}:`,
  }));
  // Sensitive columns that are not features follow the inputs, taken as categories (hashed
  // when they are PII), so group metrics can be computed on the test rows.
  for (const column of evaluationColumns) {
    inputs.push({
      input: {
        name: column.name,
        type: 'categorical',
        kind: 'categorical',
        impute: null,
        encoding: 'oneHot',
        categories: [],
        other: false,
        ...(column.pii ? { hash: PII_HASH_SCHEME } : {}),
      },
      index: column.index,
      key: `${JSON.stringify(column.name)}:`,
    });
  }
  return inputs;
}

/**
 * A function from a kept row (working columns, as spilled) to its `test.raw.jsonl` line,
 * without the line break. `inputIndexes[k]` is the working index of `schema.inputs[k]`;
 * `hashing` hashes the PII columns (the fit's `piiHashing`).
 */
export function rawLineWriter(
  schema: PreparedSchema,
  inputIndexes: readonly number[],
  labelIndex: number,
  hashing: PiiHashing,
  evaluationColumns: readonly EvaluationColumn[] = [],
): (row: readonly Cell[]) => string {
  const inputs = rawColumnsOf(schema, inputIndexes, evaluationColumns);
  const labelName = schema.label.name;
  const labelKey = `${JSON.stringify(labelName)}:`;
  const regression = schema.task === 'regression';
  return (row) => {
    let line = '{';
    for (const { input, index, key } of inputs) {
      line += `${key}${rawValueJson(input, row[index] ?? null, hashing)},`;
    }
    // Kept rows always have their label (rows without one are dropped).
    const label = row[labelIndex] ?? null;
    const value = regression ? parseNumericCell(labelName, label)! : String(label);
    return `${line}${labelKey}${JSON.stringify(value)}}`;
  };
}

/**
 * `rawLineWriter` for a spill line without a quote whose field j lies in
 * `[starts[j], starts[j + 1] - 1)`, written into `out` with its line break: the same bytes,
 * numbers and plain texts copied from the line's own characters (`plainDecimalJson`), each
 * other cell cut out and written as `rawValueJson` writes it.
 */
export function rawSpillLineWriter(
  schema: PreparedSchema,
  inputIndexes: readonly number[],
  labelIndex: number,
  hashing: PiiHashing,
  evaluationColumns: readonly EvaluationColumn[] = [],
): (out: TextSink, line: string, starts: Int32Array) => void {
  const columns = rawColumnsOf(schema, inputIndexes, evaluationColumns);
  const labelName = schema.label.name;
  // Each key with what comes before it ("{" or ","), encoded once.
  const keys = [...columns.map((c) => c.key), `${JSON.stringify(labelName)}:`].map((key, i) =>
    Buffer.from(`${i === 0 ? '{' : ','}${key}`),
  );
  const inputs = columns.map((c, i) => ({
    ...c,
    keyBytes: keys[i]!,
    numeric: c.input.kind === 'numeric',
    plain: c.input.kind === 'categorical' && c.input.hash === undefined,
  }));
  const labelKey = keys[columns.length]!;
  const regression = schema.task === 'regression';
  return (out, line, starts) => {
    for (const { input, index, keyBytes, numeric, plain } of inputs) {
      out.writeBytes(keyBytes);
      const from = starts[index]!;
      const to = starts[index + 1]! - 1;
      if (numeric && writePlainDecimalJson(out, line, from, to)) continue;
      if (plain && !isMissingIn(line, from, to) && writePlainJsonString(out, line, from, to))
        continue;
      out.write(rawValueJson(input, line.slice(from, to), hashing));
    }
    out.writeBytes(labelKey);
    const from = starts[labelIndex]!;
    const to = starts[labelIndex + 1]! - 1;
    if (regression) {
      if (!writePlainDecimalJson(out, line, from, to))
        out.write(String(parseNumericCell(labelName, line.slice(from, to))!));
    } else if (!writePlainJsonString(out, line, from, to)) {
      out.write(JSON.stringify(line.slice(from, to)));
    }
    out.writeByte(125);
    out.writeByte(10);
  };
}
