/**
 * BatchPrediction's explanations (`include: explanations`): each scored row gets the Shapley
 * values of its prediction over the model's raw input columns, with the base value, computed by
 * the inference server's code (`contract/explain/row-explanations.ts`, the `:explain` endpoint's
 * `explainRows`) against the artifact's background, so a row explained in bulk reads as the
 * server explains it online. SageMaker Clarify's batch explainability job and SHAP's own
 * `explainer.shap_values(X)` over a table are the anchors: one explanation per row, written
 * beside the prediction.
 *
 * One output is explained per row, the one the row's prediction is: the predicted class's
 * probability (classification: the class `label` names, the first of the largest on a tie), or
 * the prediction (regression). JSON Lines rows get `explanation: {output, baseValue,
 * prediction, values: {column: value}}` (the server's per-output arrays at that output's index);
 * CSV rows get `shap_base`, then `shap_<column>` per raw column in the schema's order. With
 * `topK`, only the K columns of largest |value| are written (the others left out of `values`,
 * their CSV cells empty), so wide tables do not make a part many times its predictions' size.
 *
 * Scoring calls `explainBatch` once per scoring batch, after its forward pass: memory holds one
 * batch's explanations. A row the explainer cannot explain (the model returns a non-finite value
 * for one of its coalitions) keeps its prediction and gets `explanation: null` (CSV: empty
 * cells); the others of its batch are explained one by one, and the count is reported. The work is KernelSHAP's (exact up to 12 columns): thousands of model
 * rows per explained row, so explaining costs far more CPU than scoring (docs/batch.md).
 */
import type { BatchExplanationOptions, BatchFormat } from '../../contract/batch.js';
import type { ExplanationBackground } from '../../contract/explain/background.js';
import {
  backgroundSubset,
  type ExplainedModel,
  explainRows,
  type RowExplanation,
} from '../../contract/explain/row-explanations.js';
import { MAX_EXACT_COLUMNS } from '../../contract/explain/shapley.js';
import { formatNumber, type PreparedSchema } from '../../contract/prepared-data.js';

/** The prefix of the CSV columns of explanations. */
const SHAP_PREFIX = 'shap_';

/**
 * The CSV columns of a row's explanation: `shap_base`, then `shap_<column>` per raw input column.
 * Throws for an input column named `base` (its column would be `shap_base` twice).
 */
export function explanationCsvColumns(schema: Pick<PreparedSchema, 'inputs'>): string[] {
  if (schema.inputs.some((input) => input.name === 'base')) {
    throw new Error(
      `the model has an input column named "base", so CSV explanations would have two ${SHAP_PREFIX}base columns; write JSON Lines (spec.output.format: jsonl)`,
    );
  }
  return [`${SHAP_PREFIX}base`, ...schema.inputs.map((input) => `${SHAP_PREFIX}${input.name}`)];
}

/**
 * One row's explanation as the part writes it: for JSON Lines one element, the `explanation`
 * object's text; for CSV one cell per `explanationCsvColumns` column.
 */
export type ExplanationText = readonly string[];

/** The index of the first largest of `width` outputs from `offset` (the predicted class). */
function predictedIndex(outputs: Float32Array, offset: number, width: number): number {
  let best = 0;
  for (let k = 1; k < width; k++) if (outputs[offset + k]! > outputs[offset + best]!) best = k;
  return best;
}

/** The indices of the `k` largest |values| (the earlier column first on a tie), ascending. */
export function topColumns(values: readonly number[], k: number): number[] {
  if (k >= values.length) return values.map((_, i) => i);
  return values
    .map((value, i) => ({ i, size: Number.isNaN(value) ? -1 : Math.abs(value) }))
    .sort((a, b) => b.size - a.size || a.i - b.i)
    .slice(0, k)
    .map(({ i }) => i)
    .sort((a, b) => a - b);
}

function numberText(value: number, json: boolean): string {
  if (Number.isFinite(value)) return formatNumber(value);
  return json ? 'null' : String(value);
}

/** What one `explainBatch` did, for the shard's log. */
export interface ExplainedBatch {
  rows: number;
  /** Rows left unexplained (`explanation: null`), and the first one's reason. */
  unexplained: number;
  firstError?: string;
  milliseconds: number;
}

/** Explains a shard's scored rows, a scoring batch at a time. */
export class BatchExplainer {
  private readonly columns: readonly string[];
  private readonly background: readonly (readonly number[])[];
  private readonly json: boolean;
  private readonly keyTexts: readonly string[];

  /**
   * `model` runs synchronously (a forward pass); `background` is the artifact's
   * (`explanationBackgroundOf`), of which `options.backgroundRows` rows are used.
   */
  constructor(
    private readonly model: ExplainedModel,
    background: ExplanationBackground,
    private readonly options: BatchExplanationOptions,
    format: BatchFormat,
    /** Called after each batch (the shard logs its progress: explaining is slow). */
    private readonly afterBatch?: (batch: ExplainedBatch) => void,
  ) {
    this.columns = model.schema.inputs.map((input) => input.name);
    this.background = backgroundSubset(background, options.backgroundRows);
    this.json = format === 'jsonl';
    if (!this.json) explanationCsvColumns(model.schema);
    this.keyTexts = this.columns.map((column) => `${JSON.stringify(column)}:`);
  }

  /** Background rows each explanation averages over. */
  get backgroundRows(): number {
    return this.background.length;
  }

  /** How the values are computed: exact up to `MAX_EXACT_COLUMNS` columns, KernelSHAP above. */
  get method(): 'exact' | 'kernel' {
    return this.columns.length <= MAX_EXACT_COLUMNS ? 'exact' : 'kernel';
  }

  /** Each row's explanation; a row that cannot be explained, undefined (see the header). */
  private async explained(
    features: Float32Array,
    rows: number,
    batch: ExplainedBatch,
  ): Promise<(RowExplanation | undefined)[]> {
    const explain = (from: number, count: number) =>
      explainRows(
        this.model,
        {
          rows: count,
          features: features.subarray(
            from * this.model.featureCount,
            (from + count) * this.model.featureCount,
          ),
        },
        this.background,
        {
          kernelSamples: this.options.kernelSamples,
          deadline: Number.POSITIVE_INFINITY,
          now: () => 0,
        },
      );
    try {
      return await explain(0, rows);
    } catch {
      const explained: (RowExplanation | undefined)[] = [];
      for (let r = 0; r < rows; r++) {
        try {
          explained.push((await explain(r, 1))[0]);
        } catch (error) {
          explained.push(undefined);
          batch.unexplained++;
          batch.firstError ??= (error as Error).message;
        }
      }
      return explained;
    }
  }

  /**
   * The explanations of `rows` prepared rows (`features`, row-major) whose outputs the model
   * gave as `outputs` (`rows × outputWidth`), in order.
   */
  async explainBatch(
    features: Float32Array,
    rows: number,
    outputs: Float32Array,
  ): Promise<ExplanationText[]> {
    const started = performance.now();
    const batch: ExplainedBatch = { rows, unexplained: 0, milliseconds: 0 };
    const explained = await this.explained(features, rows, batch);
    batch.milliseconds = performance.now() - started;
    this.afterBatch?.(batch);
    const width = this.model.outputWidth;
    const topK = this.options.topK ?? this.columns.length;
    return explained.map((explanation, r) => {
      if (!explanation) return this.json ? ['null'] : this.columns.map(() => '').concat('');
      const k = predictedIndex(outputs, r * width, width);
      const values = this.columns.map((column) => explanation.values[column]![k]!);
      const kept = topColumns(values, topK);
      const baseValue = explanation.baseValue[k]!;
      if (!this.json) {
        const cells = [numberText(baseValue, false), ...values.map(() => '')];
        for (const i of kept) cells[i + 1] = numberText(values[i]!, false);
        return cells;
      }
      let text = `{"output":${JSON.stringify(explanation.outputs[k])},"baseValue":${numberText(baseValue, true)},"prediction":${numberText(explanation.prediction[k]!, true)},"values":{`;
      kept.forEach((i, j) => {
        text += `${j === 0 ? '' : ','}${this.keyTexts[i]}${numberText(values[i]!, true)}`;
      });
      return [`${text}}}`];
    });
  }
}
