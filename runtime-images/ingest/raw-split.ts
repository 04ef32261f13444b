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
import type { EvaluationColumn } from './fit.js';
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
  const inputs = schema.inputs.map((input, k) => ({
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
