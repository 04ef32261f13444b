/**
 * A dataset version's raw test rows (`test.raw.jsonl`) prepared with a model's OWN fitted
 * preparation, and the model's metrics on them: how the `evaluate` mode scores a champion on the
 * challenger's test split, so both are judged on the same rows whatever each was prepared with.
 *
 * Every row of the split counts, so a model cannot look better by skipping rows it cannot
 * handle:
 * - a row whose cells the model's preparation rejects (`prepareRecord` throws a `CellError`: a
 *   value that is not a number, a missing value where the model's data had none) gets no
 *   prediction: for classification it is wrong (no class predicted, the true class's probability
 *   taken as 0, ranked as surely wrong by ROC AUC); for regression it is predicted as the split's
 *   mean label, the constant baseline (its error counts in full, and it explains none of the
 *   variance in R²);
 * - a row whose class the model never saw (`encodeLabel` does not know it) is scored with the
 *   model's prediction, which is wrong whatever it is, and the class joins the macro averages
 *   (its recall is 0), as it would in scikit-learn's averages over the classes present.
 *
 * The metric keys are the trainer's (`metrics.ts`, computed by the same code): when the split
 * holds only classes the model knows, they are exactly what the trainer would report.
 *
 * Pure: rows in, numbers out. The program (`evaluate.ts`) streams the file through `addLine`.
 */
import type { ClassificationRow, RegressionRow } from '../../contract/fairness/group-metrics.js';
import { type HashedColumn, type PiiHashing, piiHashing } from '../../contract/pii-hash.js';
import {
  CellError,
  encodeLabel,
  isMissing,
  type PreparedSchema,
  parseCategoryCell,
  prepareRecord,
} from '../../contract/prepared-data.js';
import { DatasetError } from './dataset.js';
import { argmaxOf, classificationMetricsOf, regressionMetrics } from './metrics.js';
import { sensitiveValuesOfRecord } from './model-card.js';

/** Whether `schema.json` says a column is hashed (keyed, or an old version's salt). */
function isHashed(input: HashedColumn): boolean {
  return input.hash !== undefined || input.hashSalt !== undefined;
}

/**
 * How the cells of the model's hashed PII columns are prepared, given the dataset version's own
 * schema and the namespace's PII key (undefined when the pod has none). `test.raw.jsonl` is
 * written after PII handling, so a column the version hashes holds hashes, taken as they are:
 * with the keyed scheme on both sides they are the namespace's hashes, the same as the model's
 * categories whatever version each came from. A column hashed by another scheme than the
 * model's (an old version's per-version salt on either side, or two different salts) cannot
 * match the model's categories: it is named in `otherScheme` for the log. A column the version
 * does not hash holds raw values, hashed as the inference server would (the keyed scheme needs
 * the key: without it they are refused with `PiiKeyMissingError`).
 */
export function piiHashFor(
  model: PreparedSchema,
  dataset: Pick<PreparedSchema, 'inputs'> | undefined,
  piiKey: Buffer | undefined,
): { hash: PiiHashing; otherScheme: string[] } {
  const datasetColumns = new Map<string, HashedColumn>();
  for (const input of dataset?.inputs ?? []) {
    if (input.kind === 'categorical' && isHashed(input)) datasetColumns.set(input.name, input);
  }
  const alreadyHashed = new Set<string>();
  const otherScheme: string[] = [];
  for (const input of model.inputs) {
    if (input.kind !== 'categorical' || !isHashed(input)) continue;
    const version = datasetColumns.get(input.name);
    if (version === undefined) continue;
    alreadyHashed.add(input.name);
    const same =
      input.hash !== undefined ? version.hash === input.hash : version.hashSalt === input.hashSalt;
    if (!same) otherScheme.push(input.name);
  }
  const hashing = piiHashing(piiKey);
  return {
    hash: (column, value) => (alreadyHashed.has(column.name) ? value : hashing(column, value)),
    otherScheme,
  };
}

/** The file this reads, for messages. */
const FILE = 'test.raw.jsonl';
/** Rejected rows kept as examples for the log. */
const REJECTED_EXAMPLES = 5;

/** A row the model's preparation refused. */
export interface RejectedRow {
  /** 1-based line of `test.raw.jsonl`. */
  line: number;
  column: string;
  message: string;
}

/** A Float32Array that grows as rows are appended. */
class GrowingFloat32 {
  private data = new Float32Array(1024);
  length = 0;

  push(values: readonly number[]): void {
    if (this.length + values.length > this.data.length) {
      const bigger = new Float32Array(Math.max(this.data.length * 2, this.length + values.length));
      bigger.set(this.data.subarray(0, this.length));
      this.data = bigger;
    }
    this.data.set(values, this.length);
    this.length += values.length;
  }

  view(): Float32Array {
    return this.data.subarray(0, this.length);
  }
}

/** The raw test rows of one split, prepared for one model (`schema`: the model's schema.json). */
export class RawTestSplit {
  /** Prepared features of the accepted rows, row-major. */
  private readonly features = new GrowingFloat32();
  /** Per row: the true class index (classes the model knows first, then unseen ones) or value. */
  private readonly labels: number[] = [];
  /** Per row: whether the model's preparation accepted it. */
  private readonly accepted: boolean[] = [];
  /** Per row: its sensitive columns' values (`MISSING_GROUP` when missing), when asked for. */
  private readonly sensitive: Record<string, string>[] = [];
  private readonly unseen = new Map<string, { index: number; rows: number }>();
  private readonly rejectedColumns = new Map<string, number>();
  private readonly scratch: number[] = [];
  /** The first rejected rows, for the log. */
  readonly rejectedExamples: RejectedRow[] = [];
  rejectedRows = 0;

  /**
   * @param schema the model's `schema.json`: its fitted preparation and classes.
   * @param hash what a hashed PII column's cells go through (`piiHashFor`).
   */
  constructor(
    readonly schema: PreparedSchema,
    private readonly hash: PiiHashing = piiHashing(undefined),
    /** The split's sensitive columns, whose values each row keeps for group metrics. */
    readonly sensitiveColumns: readonly string[] = [],
  ) {}

  /** Rows added so far. */
  get rows(): number {
    return this.labels.length;
  }

  /** Rows the model's preparation accepted: the rows of `preparedFeatures()`. */
  get acceptedRows(): number {
    return this.features.length / this.schema.features.length;
  }

  /** Classes of the split the model never saw, in order of first appearance, with their rows. */
  get unseenClasses(): { name: string; rows: number }[] {
    return [...this.unseen].map(([name, { rows }]) => ({ name, rows }));
  }

  /** How many rows each column's cells got rejected, by column. */
  get rejectedByColumn(): Record<string, number> {
    return Object.fromEntries(this.rejectedColumns);
  }

  /**
   * Adds one line of `test.raw.jsonl` (`line`: its 1-based number). Blank lines are skipped; a
   * line that is not a JSON object with a label throws `DatasetError` naming the line.
   */
  addLine(text: string, line: number): void {
    if (text.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (error) {
      throw new DatasetError(`${FILE} line ${line} is not JSON: ${(error as Error).message}`);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new DatasetError(`${FILE} line ${line} is not a JSON object keyed by column`);
    }
    this.add(record as Record<string, unknown>, line);
  }

  /** Adds one raw row (an object keyed by input column, with the label). */
  add(record: Readonly<Record<string, unknown>>, line: number): void {
    const label = this.labelOf(record, line);
    const width = this.schema.features.length;
    this.scratch.length = 0;
    let prepared = true;
    try {
      prepareRecord(this.schema, record, this.scratch, this.hash);
    } catch (error) {
      if (!(error instanceof CellError)) throw error;
      prepared = false;
      this.rejectedRows++;
      this.rejectedColumns.set(error.column, (this.rejectedColumns.get(error.column) ?? 0) + 1);
      if (this.rejectedExamples.length < REJECTED_EXAMPLES) {
        this.rejectedExamples.push({ line, column: error.column, message: error.message });
      }
    }
    if (prepared && this.scratch.length !== width) {
      throw new Error(`prepared ${this.scratch.length} features, schema.json names ${width}`);
    }
    if (prepared) this.features.push(this.scratch);
    this.accepted.push(prepared);
    this.labels.push(label);
    if (this.sensitiveColumns.length > 0) {
      this.sensitive.push(sensitiveValuesOfRecord(this.sensitiveColumns, record));
    }
  }

  /** The label of a row: a class index (unseen classes numbered after the model's) or a value. */
  private labelOf(record: Readonly<Record<string, unknown>>, line: number): number {
    const { name } = this.schema.label;
    const raw = record[name];
    if (isMissing(raw)) {
      throw new DatasetError(`${FILE} line ${line} has no value for the label ${name}`);
    }
    try {
      return encodeLabel(this.schema, raw);
    } catch (error) {
      if (!(error instanceof CellError)) throw error;
      if (this.schema.task === 'regression') {
        throw new DatasetError(`${FILE} line ${line}: ${error.message}`);
      }
    }
    // A class the model never saw: wrong whatever the model predicts.
    const className = parseCategoryCell(this.schema.label.type, raw)!;
    let entry = this.unseen.get(className);
    if (!entry) {
      entry = { index: this.knownClasses + this.unseen.size, rows: 0 };
      this.unseen.set(className, entry);
    }
    entry.rows++;
    return entry.index;
  }

  private get knownClasses(): number {
    return this.schema.label.classes?.length ?? 0;
  }

  /** The accepted rows' prepared features, row-major: what the model is run on. */
  preparedFeatures(): Float32Array {
    return this.features.view();
  }

  /**
   * The metrics of the model's `outputs` on `preparedFeatures()` (row-major: class
   * probabilities, or one prediction per row), over every row of the split. Throws
   * `DatasetError` when the split has no rows.
   */
  metrics(outputs: Float32Array): Record<string, number> {
    const rows = this.rows;
    if (rows === 0) throw new DatasetError(`${FILE} has no rows: nothing to evaluate on`);
    const width = this.schema.task === 'classification' ? this.knownClasses : 1;
    if (outputs.length !== this.acceptedRows * width) {
      throw new Error(
        `expected ${this.acceptedRows * width} outputs (${this.acceptedRows} rows x ${width}), got ${outputs.length}`,
      );
    }
    return this.schema.task === 'classification'
      ? this.classificationMetrics(outputs, width)
      : this.regressionMetrics(outputs);
  }

  private classificationMetrics(outputs: Float32Array, known: number): Record<string, number> {
    const rows = this.rows;
    const classes = known + this.unseen.size;
    const labels = Int32Array.from(this.labels);
    const predicted = new Int32Array(rows);
    const truthProbability = new Float64Array(rows);
    const positiveScores = classes === 2 ? new Float64Array(rows) : undefined;
    let next = 0;
    for (let r = 0; r < rows; r++) {
      const truth = labels[r]!;
      if (!this.accepted[r]) {
        predicted[r] = -1;
        truthProbability[r] = 0;
        if (positiveScores) positiveScores[r] = truth === 1 ? -Infinity : Infinity;
        continue;
      }
      const offset = next * known;
      next++;
      predicted[r] = argmaxOf(outputs, offset, known);
      truthProbability[r] = truth < known ? outputs[offset + truth]! : 0;
      if (positiveScores) positiveScores[r] = outputs[offset + 1]!;
    }
    return classificationMetricsOf(
      { labels, predicted, truthProbability, ...(positiveScores ? { positiveScores } : {}) },
      classes,
    ).metrics;
  }

  /**
   * The rows for group metrics (`contract/fairness/group-metrics.ts`) of the model's `outputs`,
   * scored as `metrics` scores them: a rejected row predicts no class (wrong, and never the
   * positive one) or, for regression, the split's mean label; an unseen class is its own label.
   */
  groupRows(outputs: Float32Array): ClassificationRow[] | RegressionRow[] {
    if (this.sensitive.length !== this.rows)
      throw new Error('the split was not given its sensitive columns');
    if (this.schema.task === 'regression') {
      const mean = this.labels.reduce((a, b) => a + b, 0) / Math.max(1, this.rows);
      let next = 0;
      return this.labels.map((label, r) => ({
        groups: this.sensitive[r]!,
        label: Math.fround(label),
        prediction: this.accepted[r] ? outputs[next++]! : mean,
      }));
    }
    const known = this.knownClasses;
    const names = [...(this.schema.label.classes ?? []), ...this.unseen.keys()];
    let next = 0;
    return this.labels.map((label, r) => {
      let prediction = '';
      if (this.accepted[r]) prediction = names[argmaxOf(outputs, next++ * known, known)]!;
      return { groups: this.sensitive[r]!, label: names[label]!, prediction };
    });
  }

  private regressionMetrics(outputs: Float32Array): Record<string, number> {
    const rows = this.rows;
    // float32, as a trainer reads the label from the prepared split (`formatNumber`), so a
    // model scored on its own version's rows gets exactly the trainer's figures.
    const targets = Float32Array.from(this.labels);
    let mean = 0;
    for (const t of targets) mean += t;
    mean /= rows;
    const predictions = new Float64Array(rows);
    let next = 0;
    for (let r = 0; r < rows; r++) {
      predictions[r] = this.accepted[r] ? outputs[next++]! : mean;
    }
    return regressionMetrics(predictions, targets);
  }
}
