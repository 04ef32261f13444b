/**
 * Local explanations of prepared rows: Shapley values of each row's prediction over the model's
 * raw input columns, against the training rows stored with the artifact (`background.json`), as
 * SHAP's KernelExplainer computes them. One implementation for the inference server's `:explain`
 * (`runtime-images/server/explain.ts`) and BatchPrediction's explanations
 * (`runtime-images/batch/explain.ts`), so an explained row reads the same in both.
 *
 * The game is played in prepared space. A row is prepared once, as predict does; preparation is
 * per column (`background.ts`), so the row that takes column c from a background row is,
 * prepared, the row that takes c's feature group from that background row's prepared features.
 * The players are the raw columns (`featureGroupsOf`); `shapley.ts` (exact up to
 * `MAX_EXACT_COLUMNS` columns, KernelSHAP above) plays them over rows whose cell for column c is
 * an index: 0 for the explained row's feature group, j + 1 for background row j's (0 too where
 * that group equals the explained row's, so KernelSHAP sees a column no background row changes).
 * The batched `predict` it is given assembles those indices into Float32 feature rows and runs
 * the model on them (SHAP's `model(X)`): synchronously for TensorFlow.js; for a model that
 * answers with a promise (ONNX Runtime), the row's calls are all started, awaited, and replayed.
 *
 * Bounded cost: each coalition is `background.length` model rows, KernelSHAP `kernelSamples`
 * coalitions per row; a deadline is checked before every model call and between rows, and the
 * caller may let the event loop go between rows (the server does, so other requests are
 * answered between two explained rows).
 */
import type { PreparedSchema } from '../prepared-data.js';
import type { ExplanationBackground } from './background.js';
import { featureGroupsOf } from './background.js';
import { type BatchPredict, explainRow, type RawRow } from './shapley.js';

/** Rows per model call: large enough to batch well, small enough to check the deadline often. */
const EXPLAIN_BATCH_ROWS = 2048;

/**
 * One row's explanation (the server's `explanations`; a BatchPrediction row writes the predicted
 * output's share of it). Every per-output array is indexed like `outputs`: the class names
 * (classification, the probabilities explained) or the label's name (regression).
 */
export interface RowExplanation {
  method: 'exact' | 'kernel';
  /** KernelSHAP only: the coalitions evaluated besides the empty and the full one. */
  samples?: number;
  /** Background rows averaged over. */
  backgroundRows: number;
  outputs: string[];
  /** v(∅): the mean output over the background rows. */
  baseValue: number[];
  /** The model's output for the row (what `values` explain). */
  prediction: number[];
  /** Per raw input column, in the schema's order: its Shapley value per output. */
  values: Record<string, number[]>;
  /** baseValue + Σ values − prediction, per output: zero up to rounding. */
  residual: number[];
}

/** The explanation took longer than its limit. */
export class ExplainTimeoutError extends Error {
  override name = 'ExplainTimeoutError';
}

/**
 * `count` of the background's rows, spread evenly over it (the stored rows are a uniform sample
 * in training order, so a spread keeps it uniform); all of them when `count` is not below their
 * number.
 */
export function backgroundSubset(background: ExplanationBackground, count: number): number[][] {
  const stored = background.rows;
  if (count >= stored.length) return stored;
  return Array.from({ length: count }, (_, j) => stored[Math.floor((j * stored.length) / count)]!);
}

/** What `explainRows` needs of the model (the server's `ServedModel` is one). */
export interface ExplainedModel {
  readonly schema: PreparedSchema;
  /** Prepared features per row (`schema.features.length`). */
  readonly featureCount: number;
  /** Values per row the model returns: the class count, or 1 for regression. */
  readonly outputWidth: number;
  /**
   * One forward pass: `rows` prepared rows (row-major) in, `rows × outputWidth` outputs out;
   * a promise of them for a model that runs off the JavaScript thread (ONNX Runtime).
   */
  predict(features: Float32Array, rows: number): Float32Array | Promise<Float32Array>;
}

/** Prepared rows to explain (the server's `PreparedRows` is one). */
export interface ExplainedRows {
  rows: number;
  /** `rows × featureCount`, row-major. */
  features: Float32Array;
}

/**
 * Explains each of `rows` (prepared, as predict prepares them) against `background` (prepared
 * training rows). Throws `ExplainTimeoutError` once `deadline` (a `now()` value) has passed.
 * Calls `betweenRows` between rows.
 */
export async function explainRows(
  model: ExplainedModel,
  rows: ExplainedRows,
  background: readonly (readonly number[])[],
  options: {
    kernelSamples: number;
    deadline: number;
    now: () => number;
    /** Called after each row; the server yields to the event loop there. */
    betweenRows?: () => Promise<void>;
  },
): Promise<RowExplanation[]> {
  const { schema, featureCount, outputWidth } = model;
  const groups = featureGroupsOf(schema);
  const columns = groups.map((g) => g.column);
  const outputs =
    schema.task === 'classification'
      ? (schema.label.classes ?? []).map(String)
      : [schema.label.name];
  const checkDeadline = () => {
    if (options.now() > options.deadline) {
      throw new ExplainTimeoutError('the explanation did not finish in time');
    }
  };
  const explanations: RowExplanation[] = [];
  for (let r = 0; r < rows.rows; r++) {
    checkDeadline();
    const x = rows.features.subarray(r * featureCount, (r + 1) * featureCount);
    const sources = [x, ...background];
    const explained: RawRow = Object.fromEntries(columns.map((c) => [c, 0]));
    const backgroundCells: RawRow[] = background.map((b, j) =>
      Object.fromEntries(
        groups.map((g) => [g.column, g.features.every((f) => b[f] === x[f]) ? 0 : j + 1]),
      ),
    );
    const rowsOf = (out: Float32Array, count: number): number[][] =>
      Array.from({ length: count }, (_, i) =>
        Array.from(out.subarray(i * outputWidth, (i + 1) * outputWidth)),
      );
    // A synchronous model answers each call; an asynchronous one is played twice: the first
    // pass starts every call (the coalitions do not depend on the answers) and fills in zeros,
    // the second replays the same calls with the answers, in order.
    const pending: Promise<Float32Array>[] = [];
    const predict: BatchPredict = (cells) => {
      checkDeadline();
      const features = new Float32Array(cells.length * featureCount);
      cells.forEach((cell, i) => {
        const offset = i * featureCount;
        for (const group of groups) {
          const source = sources[cell[group.column] as number]!;
          for (const f of group.features) features[offset + f] = source[f]!;
        }
      });
      const out = model.predict(features, cells.length);
      if (out instanceof Float32Array) return rowsOf(out, cells.length);
      pending.push(out);
      return rowsOf(new Float32Array(cells.length * outputWidth), cells.length);
    };
    const input = {
      predict,
      row: explained,
      columns,
      background: backgroundCells,
      maxBatchRows: EXPLAIN_BATCH_ROWS,
      samples: Math.max(options.kernelSamples, columns.length),
    };
    let perOutput = explainRow(input);
    if (pending.length > 0) {
      const answers = await Promise.all(pending);
      checkDeadline();
      let call = 0;
      perOutput = explainRow({
        ...input,
        predict: (cells) => rowsOf(answers[call++]!, cells.length),
      });
    }
    const first = perOutput[0]!;
    explanations.push({
      method: first.method,
      ...(first.samples !== undefined ? { samples: first.samples } : {}),
      backgroundRows: background.length,
      outputs,
      baseValue: perOutput.map((e) => e.baseValue),
      prediction: perOutput.map((e) => e.prediction),
      values: Object.fromEntries(columns.map((c) => [c, perOutput.map((e) => e.values[c]!)])),
      residual: perOutput.map((e) => e.residual),
    });
    if (options.betweenRows && r + 1 < rows.rows) await options.betweenRows();
  }
  return explanations;
}
