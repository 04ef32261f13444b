/**
 * A ModelVersion's model card (`model-card.json`, `contract/model-card.ts`) summarised for its
 * status: the most important inputs, the metrics by group across the sensitive columns, the
 * fairness gate's verdict as the `FairnessChecked` condition, and where the whole card is.
 *
 * The card is read with the artifact's verification, from the very bytes the manifest's digest
 * pins, so the summary is of the verified model. `FairnessChecked` is True when the TrainingJob's
 * rules passed (or there were none to fail), False when one failed or the group metrics could
 * not be computed although fairness was asked for; it does not change Ready — the version stays
 * usable, and a RetrainPolicy does not promote a version that failed. Pure.
 */

import { ModelCardSchema, type ParsedModelCard } from '../../../../contract/model-card.js';
import { ModelFile } from '../../../../contract/object-store-layout.js';
import type { ModelVersionStatus } from '../../api/modelversion.js';
import { MAX_STATUS_GROUPS, MAX_STATUS_IMPORTANCE } from '../../api/modelversion.js';
import type { ConditionInput } from '../../runtime/conditions.js';

type Summary = Pick<ModelVersionStatus, 'importance' | 'fairness' | 'modelCard'>;

/** Four decimals, as `kubectl get` shows metrics; null and non-finite values are left out. */
function rounded(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value)
    ? Math.round(value * 1e4) / 1e4
    : undefined;
}

/** The card parsed from its bytes; undefined (with the problem) when it is not a model card. */
export function parseModelCard(
  bytes: Buffer,
): { card: ParsedModelCard; problem?: undefined } | { card?: undefined; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return { problem: `${ModelFile.card} is not JSON: ${(error as Error).message}` };
  }
  const parsed = ModelCardSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { problem: `${ModelFile.card}: ${issue.path.join('.')}: ${issue.message}` };
  }
  return { card: parsed.data };
}

const DISPARITY_KEYS = [
  'demographicParityDifference',
  'demographicParityRatio',
  'truePositiveRateDifference',
  'falsePositiveRateDifference',
  'equalizedOddsDifference',
  'meanAbsoluteErrorDifference',
] as const;
const GROUP_KEYS = [
  'selectionRate',
  'truePositiveRate',
  'falsePositiveRate',
  'accuracy',
  'meanAbsoluteError',
] as const;

/** The finite numbers of `source` at `keys`, rounded to four decimals or `exact`. */
function picked(source: Record<string, unknown>, keys: readonly string[], exact = false) {
  const out: Record<string, number> = {};
  for (const key of keys) {
    const value = source[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    out[key] = exact ? value : rounded(value)!;
  }
  return out;
}

/** The fairness verdict of a card, for status and the condition. */
function fairnessVerdict(card: ParsedModelCard): { verdict: string; message: string } | undefined {
  const fairness = card.fairness;
  if (!fairness) return undefined;
  if (fairness.error) return { verdict: 'NotEvaluated', message: fairness.error };
  if (!fairness.verdict) {
    return {
      verdict: 'NoRules',
      message:
        'Metrics by group were computed; the TrainingJob gives no rules (spec.fairness.rules)',
    };
  }
  return {
    verdict: fairness.verdict.passed ? 'Passed' : 'Failed',
    message: fairness.verdict.message,
  };
}

/** The status fields summarising `card`, of the artifact at `artifactUri`. */
export function modelCardSummary(card: ParsedModelCard, artifactUri: string): Summary {
  const summary: Summary = {
    modelCard: {
      uri: `${artifactUri.replace(/\/*$/, '/')}${ModelFile.card}`,
      datasetVersion: card.data.datasetVersion,
      trainRows: card.data.trainRows,
      testRows: card.data.testRows,
      ...(typeof card.intendedUse?.intendedUse === 'string'
        ? { intendedUse: card.intendedUse.intendedUse.slice(0, 512) }
        : {}),
    },
  };
  if (card.importance) {
    summary.importance = {
      method: card.importance.method,
      score: card.importance.score,
      columns: card.importance.columns.slice(0, MAX_STATUS_IMPORTANCE).map((c) => ({
        column: c.column,
        mean: rounded(c.mean) ?? 0,
        std: rounded(c.std) ?? 0,
      })),
    };
  }
  const verdict = fairnessVerdict(card);
  if (verdict) {
    const report = card.fairness?.report;
    summary.fairness = {
      verdict: verdict.verdict as 'Passed',
      message: verdict.message.slice(0, 4096),
      ...(report
        ? {
            task: report.task,
            sensitiveColumns: report.sensitiveColumns,
            ...(report.positiveClass !== undefined ? { positiveClass: report.positiveClass } : {}),
            minGroupSize: report.minGroupSize,
            disparities: report.disparities.slice(0, 16).map((d) => ({
              scope: d.scope,
              judgedGroups: d.judgedGroups,
              // Exact: a RetrainPolicy's champion rules compare these values.
              ...picked(d, DISPARITY_KEYS, true),
            })),
            groups: report.groups.slice(0, MAX_STATUS_GROUPS).map((g) => ({
              scope: g.scope,
              group: g.group,
              count: g.count,
              judged: g.judged,
              ...picked(g, GROUP_KEYS),
            })),
          }
        : {}),
    };
  }
  return summary;
}

/** The `FairnessChecked` condition of a card; undefined when it has no fairness section. */
export function fairnessCheckedCondition(
  card: ParsedModelCard,
): Omit<ConditionInput, 'observedGeneration'> | undefined {
  const verdict = fairnessVerdict(card);
  if (!verdict) return undefined;
  const passed = verdict.verdict === 'Passed' || verdict.verdict === 'NoRules';
  return {
    type: 'FairnessChecked',
    status: passed ? 'True' : 'False',
    reason:
      verdict.verdict === 'Passed'
        ? 'RulesPassed'
        : verdict.verdict === 'Failed'
          ? 'RulesFailed'
          : verdict.verdict,
    message: verdict.message.slice(0, 1024),
  };
}
