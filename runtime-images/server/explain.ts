/**
 * Local explanations at serving (`:explain`): Shapley values of each row's prediction over the
 * model's raw input columns, against the training rows stored with the artifact
 * (`background.json`), as SHAP's KernelExplainer computes them. The computation
 * (`explainRows`) lives in `contract/explain/row-explanations.ts`, shared with BatchPrediction's
 * explanations, so an explained row reads the same online and in bulk; this module holds what
 * one request may cost.
 *
 * Bounded cost: at most `maxRows` rows per request, each coalition `backgroundRows` model rows,
 * KernelSHAP `kernelSamples` coalitions per row; the computation is synchronous (a forward pass
 * is), so a deadline is checked before every model call and between rows, where the event loop
 * is also let go, so other requests are answered between two explained rows.
 */

import { DEFAULT_EXPLAIN } from '../../operator/src/api/inferenceservice.js';

export {
  backgroundSubset,
  type ExplainedModel,
  ExplainTimeoutError,
  explainRows,
  type RowExplanation,
} from '../../contract/explain/row-explanations.js';

/** What one explain request may cost (`spec.explain`). */
export interface ExplainLimits {
  /** Most rows one request may carry. */
  maxRows: number;
  /** Longest one request may compute, in ms. */
  timeoutMs: number;
  /** Background rows each explanation averages over (at most the rows stored). */
  backgroundRows: number;
  /** KernelSHAP's coalitions per row (raised to the column count when below it). */
  kernelSamples: number;
}

export const DEFAULT_EXPLAIN_LIMITS: ExplainLimits = {
  maxRows: DEFAULT_EXPLAIN.maxRows,
  timeoutMs: DEFAULT_EXPLAIN.timeoutSeconds * 1000,
  backgroundRows: DEFAULT_EXPLAIN.backgroundRows,
  kernelSamples: DEFAULT_EXPLAIN.kernelSamples,
};
