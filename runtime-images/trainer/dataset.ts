/**
 * A prepared dataset version in memory: the train and test splits as dense float32 feature
 * matrices and label vectors, checked against the version's `schema.json`. The prepared CSV is
 * numbers only (`contract/prepared-data.ts`), so parsing is a split on commas;
 * anything else is a broken version, reported with the file, line and column.
 */
import {
  csvField,
  type PreparedSchema,
  PreparedSchemaSchema,
} from '../../contract/prepared-data.js';

/** A dataset version that cannot be trained on: the program reports `DatasetInvalid`. */
export class DatasetError extends Error {
  override name = 'DatasetError';
}

/** One split: `rows` x `features` values, row-major, and one label per row. */
export interface Split {
  rows: number;
  features: Float32Array;
  /** Classification: class indices. Regression: the label's values. */
  labels: Int32Array | Float32Array;
}

export interface PreparedDataset {
  schema: PreparedSchema;
  featureCount: number;
  /** Classification: the number of classes. */
  classCount: number;
  train: Split;
  test: Split;
}

/** Parses and checks `schema.json` of a dataset version. */
export function parsePreparedSchema(text: string, task: 'classification' | 'regression') {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DatasetError(`schema.json is not JSON: ${(error as Error).message}`);
  }
  const parsed = PreparedSchemaSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DatasetError(
      `schema.json is not a prepared schema: ${issue.path.join('.')}: ${issue.message}`,
    );
  }
  const schema = parsed.data;
  if (schema.task !== task) {
    throw new DatasetError(
      `the TrainingJob's task is ${task}, but the dataset version was prepared for ${schema.task}`,
    );
  }
  if (task === 'classification' && (schema.label.classes?.length ?? 0) < 2) {
    throw new DatasetError(
      `label ${schema.label.name}: classification needs at least 2 classes in schema.json, found ${schema.label.classes?.length ?? 0}`,
    );
  }
  return schema;
}

/** Parses one prepared CSV split against `schema`. */
export function parsePreparedCsv(text: string, schema: PreparedSchema, file: string): Split {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const expectedHeader = [...schema.features, schema.label.name].map(csvField).join(',');
  const header = (lines[0] ?? '').replace(/\r$/, '');
  if (header !== expectedHeader) {
    throw new DatasetError(
      `${file}: the header does not match schema.json (expected "${expectedHeader.slice(0, 200)}", got "${header.slice(0, 200)}")`,
    );
  }
  const featureCount = schema.features.length;
  const columns = featureCount + 1;
  const rows = lines.length - 1;
  const features = new Float32Array(rows * featureCount);
  const classification = schema.task === 'classification';
  const classCount = schema.label.classes?.length ?? 0;
  const labels = classification ? new Int32Array(rows) : new Float32Array(rows);
  const columnName = (c: number) => (c < featureCount ? schema.features[c]! : schema.label.name);

  for (let r = 0; r < rows; r++) {
    const line = lines[r + 1]!;
    let start = 0;
    for (let c = 0; c < columns; c++) {
      let end = line.indexOf(',', start);
      if (end === -1) end = line.length;
      if (c === columns - 1 && end !== line.length && line[end] === ',') {
        throw new DatasetError(`${file} line ${r + 2}: more than ${columns} fields`);
      }
      const cell = line.slice(start, end);
      const value = Number(cell);
      if (cell.trim() === '' || !Number.isFinite(value)) {
        throw new DatasetError(
          `${file} line ${r + 2}, column ${columnName(c)}: ${JSON.stringify(cell.slice(0, 40))} is not a number`,
        );
      }
      if (c < featureCount) {
        features[r * featureCount + c] = value;
      } else if (classification) {
        if (!Number.isInteger(value) || value < 0 || value >= classCount) {
          throw new DatasetError(
            `${file} line ${r + 2}, column ${schema.label.name}: ${cell} is not a class index (0..${classCount - 1})`,
          );
        }
        labels[r] = value;
      } else {
        labels[r] = value;
      }
      if (c < columns - 1 && end === line.length) {
        throw new DatasetError(`${file} line ${r + 2}: ${c + 1} fields, expected ${columns}`);
      }
      start = end + 1;
    }
  }
  return { rows, features, labels };
}

/** The whole version: schema and both splits. Throws `DatasetError`. */
export function preparedDataset(
  files: { schema: string; train: string; test: string },
  task: 'classification' | 'regression',
): PreparedDataset {
  const schema = parsePreparedSchema(files.schema, task);
  const train = parsePreparedCsv(files.train, schema, 'train.csv');
  const test = parsePreparedCsv(files.test, schema, 'test.csv');
  if (train.rows === 0) throw new DatasetError('train.csv has no rows');
  if (test.rows === 0) throw new DatasetError('test.csv has no rows: nothing to evaluate on');
  return {
    schema,
    featureCount: schema.features.length,
    classCount: schema.label.classes?.length ?? 0,
    train,
    test,
  };
}
