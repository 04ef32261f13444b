/**
 * What the trainer learns about a model beyond its metrics, for `model-card.json` and
 * `background.json` (`ModelFile.card`, `ModelFile.background`):
 *
 * - permutation importance of each raw input column on the test split (scikit-learn's
 *   `permutation_importance`: accuracy for a classifier, −MSE for a regressor; on a seeded sample
 *   of at most `IMPORTANCE_MAX_ROWS` rows, `IMPORTANCE_REPEATS` shuffles each);
 * - group metrics across the Dataset's sensitive columns (`contract/fairness/group-metrics.ts`),
 *   the sensitive values read from the version's raw test split (`test.raw.jsonl`, line i is
 *   row i of `test.csv`), and the gate's verdict on the TrainingJob's rules — champion rules are
 *   "not judged" here; a RetrainPolicy judges them against the champion on the same split;
 * - the explanation background: a seeded sample of the train split, prepared.
 *
 * Pure: prepared data, raw test lines and the model's outputs in; JSON-ready objects out.
 */
import {
  explanationBackground,
  featureGroupsOf,
  sampleRowIndices,
} from '../../contract/explain/background.js';
import { permutationImportance } from '../../contract/explain/permutation-importance.js';
import { judgeFairness, parseFairnessRules } from '../../contract/fairness/gate.js';
import {
  type ClassificationRow,
  type FairnessReport,
  groupMetrics,
  type RegressionRow,
  regressionGroupMetrics,
} from '../../contract/fairness/group-metrics.js';
import type { Importance, ModelCard, ModelCardFairness } from '../../contract/model-card.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import type { ModelCardSpec, TrainingFairness } from '../../operator/src/api/fairness.js';
import type { PreparedDataset, Split } from './dataset.js';
import { argmaxOf } from './metrics.js';

export const IMPORTANCE_MAX_ROWS = 5000;
export const IMPORTANCE_REPEATS = 5;
const IMPORTANCE_SEED = 0;
/** A sensitive value missing from a test row is its own group. */
export const MISSING_GROUP = '(missing)';

/** The model on prepared rows: its output vector per row (probabilities, or one value). */
export type PredictRows = (rows: number[][]) => number[][];

/** The rows of `split` as arrays, at `indices`. */
function rowsOf(split: Split, featureCount: number, indices: readonly number[]): number[][] {
  return indices.map((i) =>
    Array.from(split.features.subarray(i * featureCount, (i + 1) * featureCount)),
  );
}

/** Permutation importance of each raw input column on (a sample of) the test split. */
export function importanceOnTest(dataset: PreparedDataset, predict: PredictRows): Importance {
  const { test, featureCount, schema } = dataset;
  const indices = sampleRowIndices(test.rows, IMPORTANCE_MAX_ROWS, IMPORTANCE_SEED);
  const rows = rowsOf(test, featureCount, indices);
  const labels = indices.map((i) => test.labels[i]!);
  const classification = schema.task === 'classification';
  const score = (outputs: number[][]): number => {
    let total = 0;
    for (const [k, output] of outputs.entries()) {
      if (classification) total += argmaxOf(output, 0, output.length) === labels[k] ? 1 : 0;
      else total -= (output[0]! - labels[k]!) ** 2;
    }
    return total / outputs.length;
  };
  const result = permutationImportance({
    rows,
    groups: featureGroupsOf(schema),
    predict,
    score,
    repeats: IMPORTANCE_REPEATS,
    seed: IMPORTANCE_SEED,
  });
  return {
    method: 'permutation',
    score: classification ? 'accuracy' : 'negativeMeanSquaredError',
    baseline: result.baseline,
    repeats: IMPORTANCE_REPEATS,
    rows: rows.length,
    seed: IMPORTANCE_SEED,
    columns: result.importances.map(({ column, mean, std }) => ({ column, mean, std })),
  };
}

/** The background of the model's explanations: a sample of the train split, prepared. */
export function backgroundOf(dataset: PreparedDataset) {
  const { train, featureCount, schema } = dataset;
  return explanationBackground(schema.features, train.rows, (i) =>
    train.features.subarray(i * featureCount, (i + 1) * featureCount),
  );
}

/**
 * The favourable class whose rates are compared: the spec's, else for two classes the second
 * in sorted order (`1`, `true`, `yes`). Throws when it cannot be chosen.
 */
export function positiveClassOf(schema: PreparedSchema, given: string | undefined): string {
  const classes = schema.label.classes ?? [];
  if (given !== undefined) {
    if (!classes.includes(given))
      throw new Error(
        `spec.fairness.positiveClass ${JSON.stringify(given)} is not a class of the label ${schema.label.name} (${classes.join(', ')})`,
      );
    return given;
  }
  if (classes.length === 2) return [...classes].sort()[1]!;
  throw new Error(
    `the label ${schema.label.name} has ${classes.length} classes: set spec.fairness.positiveClass to the favourable one`,
  );
}

/**
 * The sensitive values of each test row, from the raw test split's lines (in test.csv's order).
 * Throws when the lines and the split disagree in number.
 */
export function sensitiveValuesOf(
  sensitiveColumns: readonly string[],
  rawLines: readonly string[],
  testRows: number,
): Record<string, string>[] {
  if (rawLines.length !== testRows)
    throw new Error(`test.raw.jsonl has ${rawLines.length} rows; test.csv has ${testRows}`);
  return rawLines.map((line) =>
    sensitiveValuesOfRecord(sensitiveColumns, JSON.parse(line) as Record<string, unknown>),
  );
}

/** A raw record's sensitive values, as group names take them (`MISSING_GROUP` when missing). */
export function sensitiveValuesOfRecord(
  sensitiveColumns: readonly string[],
  record: Readonly<Record<string, unknown>>,
): Record<string, string> {
  return Object.fromEntries(
    sensitiveColumns.map((column) => {
      const value = record[column];
      return [column, value === null || value === undefined ? MISSING_GROUP : String(value)];
    }),
  );
}

/**
 * Group metrics of the model's test outputs across the sensitive columns, and the verdict of
 * `fairness.rules` (champion rules unjudged: there is no champion here). Never throws: a
 * problem (no sensitive columns, a positive class that cannot be chosen) is `error`.
 */
export function fairnessOnTest(
  dataset: PreparedDataset,
  outputs: ArrayLike<number>,
  sensitive: Record<string, string>[] | undefined,
  fairness: TrainingFairness | undefined,
): ModelCardFairness | undefined {
  const columns = dataset.schema.sensitiveColumns ?? [];
  if (columns.length === 0) {
    return fairness
      ? {
          error:
            'the dataset version names no sensitive columns: set spec.fairness.sensitiveColumns on the Dataset (and ingest again)',
        }
      : undefined;
  }
  if (!sensitive) {
    return {
      error:
        'the dataset version has no test.raw.jsonl, which holds the sensitive values: ingest it again',
    };
  }
  try {
    const report = reportOf(dataset, outputs, sensitive, columns, fairness);
    const rules = parseFairnessRules(fairness?.rules ?? [], 'spec.fairness.rules');
    return rules.length > 0 ? { report, verdict: judgeFairness(report, rules) } : { report };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** The fairness report of `outputs` (the model's, on the test split) with `sensitive` values. */
export function reportOf(
  dataset: Pick<PreparedDataset, 'schema' | 'test' | 'classCount'>,
  outputs: ArrayLike<number>,
  sensitive: Record<string, string>[],
  sensitiveColumns: readonly string[],
  fairness: TrainingFairness | undefined,
): FairnessReport {
  const { schema, test } = dataset;
  if (schema.task === 'regression') {
    return groupReport(
      schema,
      sensitive.map((groups, i) => ({ groups, label: test.labels[i]!, prediction: outputs[i]! })),
      sensitiveColumns,
      fairness,
    );
  }
  const classes = schema.label.classes ?? [];
  const width = dataset.classCount;
  return groupReport(
    schema,
    sensitive.map((groups, i) => ({
      groups,
      label: classes[test.labels[i]!]!,
      prediction: classes[argmaxOf(outputs, i * width, width)]!,
    })),
    sensitiveColumns,
    fairness,
  );
}

/**
 * Group metrics of `rows` (a classifier's when the schema's task is classification, else a
 * regressor's) with the TrainingJob's options: what the train and evaluate modes both report.
 */
export function groupReport(
  schema: PreparedSchema,
  rows: ClassificationRow[] | RegressionRow[],
  sensitiveColumns: readonly string[],
  fairness: TrainingFairness | undefined,
): FairnessReport {
  const grouping = {
    sensitiveColumns,
    minGroupSize: fairness?.minGroupSize ?? 30,
    intersections: fairness?.intersections ?? true,
  };
  return schema.task === 'regression'
    ? regressionGroupMetrics(rows as RegressionRow[], grouping)
    : groupMetrics(rows as ClassificationRow[], {
        ...grouping,
        positiveClass: positiveClassOf(schema, fairness?.positiveClass),
      });
}

/** The model card's fields the trainer knows once the model is evaluated. */
export function modelCardOf(parts: {
  dataset: PreparedDataset;
  datasetVersion: string;
  framework: string;
  backend: string;
  metrics: Record<string, number>;
  importance: Importance | undefined;
  fairness: ModelCardFairness | undefined;
  statistics:
    | { columns?: ModelCard['data']['columns']; labels?: Record<string, number> }
    | undefined;
  intendedUse: ModelCardSpec | undefined;
}): ModelCard {
  const { dataset } = parts;
  const { schema } = dataset;
  return {
    formatVersion: 1,
    model: {
      task: schema.task,
      framework: parts.framework,
      backend: parts.backend,
      ...(schema.label.classes ? { classes: schema.label.classes } : {}),
      inputs: schema.inputs.map((input) => input.name),
      features: dataset.featureCount,
    },
    data: {
      datasetVersion: parts.datasetVersion,
      trainRows: dataset.train.rows,
      testRows: dataset.test.rows,
      ...(parts.statistics?.columns ? { columns: parts.statistics.columns } : {}),
      ...(parts.statistics?.labels ? { labels: parts.statistics.labels } : {}),
    },
    metrics: parts.metrics,
    ...(parts.importance ? { importance: parts.importance } : {}),
    ...(parts.fairness ? { fairness: parts.fairness } : {}),
    ...(parts.intendedUse ? { intendedUse: parts.intendedUse } : {}),
  };
}
