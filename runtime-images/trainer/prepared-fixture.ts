/**
 * A prepared dataset version made from numeric columns, in the contract's format (schema.json,
 * train.csv, test.csv, test.raw.jsonl, manifest.json): what the ingestion program would write
 * for a table of numbers. The tests and the benchmark train on these; the scaling is fitted on
 * the train split only, as the ingestion program does.
 */
import { manifestFor } from '../../contract/manifest.js';
import { DatasetFile, MANIFEST_FILE } from '../../contract/object-store-layout.js';
import {
  type NumericTransform,
  PREPARED_FORMAT_VERSION,
  type PreparedSchema,
  preparedHeader,
  preparedLine,
  scaleNumber,
} from '../../contract/prepared-data.js';
import { permutation, seededRandom } from './train.js';

export interface NumericTable {
  featureNames: string[];
  /** One array of feature values per row; NaN is a missing cell. */
  rows: number[][];
  /** Classification: class names; regression: numbers. */
  labels: (string | number)[];
  labelName: string;
  task: 'classification' | 'regression';
  /**
   * Sensitive columns kept for evaluation only (`schema.sensitiveColumns`): each row's value
   * per column, written to `test.raw.jsonl` only.
   */
  sensitive?: Record<string, string[]>;
}

/** How a version is prepared, as a Dataset's `spec.preparation` would say. */
export interface NumericPreparation {
  /** `scaleNumerics` (default `standard`). */
  scale?: 'standard' | 'minMax';
  /**
   * Missing cells: `impute` the train split's mean (default), or `drop` the rows that have one
   * (the version then holds no such row, and its schema imputes nothing).
   */
  missing?: 'impute' | 'drop';
}

/**
 * The files of a prepared version of `table`, split `testFraction` / rest with `seed`.
 * `test.raw.jsonl` holds the test rows before preparation, keyed by column, with the label.
 */
export function preparedVersionOf(
  table: NumericTable,
  testFraction = 0.2,
  seed = 7,
  preparation: NumericPreparation = {},
): { schema: PreparedSchema; files: Record<string, Buffer> } {
  const kept = table.rows.flatMap((row, r) =>
    preparation.missing === 'drop' && row.some(Number.isNaN) ? [] : [r],
  );
  const order = permutation(kept.length, seededRandom(seed)).map((i) => kept[i]!);
  const testRows = Math.round(kept.length * testFraction);
  const test = order.subarray(0, testRows);
  const train = order.subarray(testRows);
  const classes =
    table.task === 'classification'
      ? [...new Set(kept.map((r) => String(table.labels[r])))].sort()
      : undefined;
  const inputs = table.featureNames.map((name, column): NumericTransform => {
    const values = [...train].map((r) => table.rows[r]![column]!).filter((v) => !Number.isNaN(v));
    const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length);
    const min = Math.min(...values);
    const max = Math.max(...values);
    return {
      name,
      type: 'number',
      kind: 'numeric',
      impute: preparation.missing === 'drop' ? null : mean,
      scale:
        preparation.scale === 'minMax'
          ? { method: 'minMax', min, max }
          : std > 0
            ? { method: 'standard', mean, std }
            : { method: 'none' },
    };
  });
  const schema: PreparedSchema = {
    formatVersion: PREPARED_FORMAT_VERSION,
    task: table.task,
    label: {
      name: table.labelName,
      type: table.task === 'classification' ? 'categorical' : 'number',
      ...(classes ? { classes } : {}),
    },
    inputs,
    features: [...table.featureNames],
    ...(table.sensitive ? { sensitiveColumns: Object.keys(table.sensitive) } : {}),
  };
  const csv = (rows: Int32Array) => {
    const lines = [preparedHeader(schema)];
    for (const r of rows) {
      const features = table.rows[r]!.map((v, c) =>
        scaleNumber(inputs[c]!, Number.isNaN(v) ? (inputs[c]!.impute as number) : v),
      );
      const label = classes ? classes.indexOf(String(table.labels[r])) : Number(table.labels[r]);
      lines.push(preparedLine(features, label));
    }
    return Buffer.from(`${lines.join('\n')}\n`);
  };
  const rawLines = [...test].map((r) => {
    const record: Record<string, number | string | null> = {};
    for (const [c, name] of table.featureNames.entries()) {
      const v = table.rows[r]![c]!;
      record[name] = Number.isNaN(v) ? null : v;
    }
    for (const [name, values] of Object.entries(table.sensitive ?? {})) record[name] = values[r]!;
    record[table.labelName] = table.labels[r]!;
    return `${JSON.stringify(record)}\n`;
  });
  const files: Record<string, Buffer> = {
    [DatasetFile.schema]: Buffer.from(`${JSON.stringify(schema, null, 2)}\n`),
    [DatasetFile.train]: csv(train),
    [DatasetFile.test]: csv(test),
    [DatasetFile.testRaw]: Buffer.from(rawLines.join('')),
  };
  files[MANIFEST_FILE] = manifestFor(files).manifest;
  return { schema, files };
}

/** A table whose class is the largest of `classes` noisy linear scores: learnable, not trivial. */
export function syntheticClassification(
  rows: number,
  features: number,
  classes: number,
  seed = 1,
): NumericTable {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const weights = Array.from({ length: classes }, () =>
    Array.from({ length: features }, () => normal()),
  );
  const table: NumericTable = {
    featureNames: Array.from({ length: features }, (_, i) => `x${i + 1}`),
    rows: [],
    labels: [],
    labelName: 'class',
    task: 'classification',
  };
  for (let r = 0; r < rows; r++) {
    const x = Array.from({ length: features }, () => normal() * 3 + 1);
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < classes; c++) {
      const score = weights[c]!.reduce((s, w, i) => s + w * x[i]!, 0) + normal() * 0.5;
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
    table.rows.push(x);
    table.labels.push(`class-${best}`);
  }
  return table;
}

/** A table whose label is a linear function of the features, in large units, plus noise. */
export function syntheticRegression(rows: number, features: number, seed = 2): NumericTable {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const weights = Array.from({ length: features }, () => normal() * 1000);
  const table: NumericTable = {
    featureNames: Array.from({ length: features }, (_, i) => `x${i + 1}`),
    rows: [],
    labels: [],
    labelName: 'price',
    task: 'regression',
  };
  for (let r = 0; r < rows; r++) {
    const x = Array.from({ length: features }, () => normal());
    table.rows.push(x);
    table.labels.push(50_000 + weights.reduce((s, w, i) => s + w * x[i]!, 0) + normal() * 100);
  }
  return table;
}
