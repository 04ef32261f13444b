/**
 * The fairness gate of a promotion: a challenger is promoted only if its group metrics meet the
 * run's rules (`spec.fairness.rules` of the TrainingJob the policy's template made), as well as
 * beating the champion on the promotion metric.
 *
 * - Threshold rules (`demographicParityRatio >= 0.8`) were judged by the trainer on the
 *   challenger's own test split: its ModelVersion says so (`status.fairness.verdict`,
 *   `FairnessChecked`). Failed, or not evaluated although rules were given: rejected.
 * - Champion rules (`noWorseThanChampionBy`) are judged here, on the challenger's split: the
 *   challenger's disparities from its status, the champion's from its own status when it was
 *   evaluated on that very split, else from the evaluation run that scores it there. Without a
 *   champion, or without its disparities, a rule is "not judged", which says why and does not
 *   block (`contract/fairness/gate.ts`).
 *
 * Pure: objects in, a verdict out.
 */
import { judgeFairness, parseFairnessRules } from '../../../../contract/fairness/gate.js';
import { type FairnessSummary, reportOfSummary } from '../../../../contract/fairness/summary.js';
import type { TrainingFairness } from '../../api/fairness.js';
import type { ModelVersionObject } from '../lathe-kinds.js';

export interface GateVerdict {
  passed: boolean;
  message: string;
}

/** Whether `fairness` has a rule comparing with the champion. */
export function hasChampionRules(fairness: TrainingFairness | undefined): boolean {
  return (fairness?.rules ?? []).some((rule) => rule.noWorseThanChampionBy !== undefined);
}

/** A ModelVersion's disparities from its status, when it has them. */
export function fairnessSummaryOfStatus(mv: ModelVersionObject): FairnessSummary | undefined {
  const fairness = mv.status?.fairness;
  if (!fairness?.task || !fairness.sensitiveColumns || !fairness.disparities) return undefined;
  return {
    task: fairness.task,
    sensitiveColumns: fairness.sensitiveColumns,
    disparities: fairness.disparities,
  };
}

/**
 * The gate's verdict on `challenger` under the run's `fairness` rules; undefined when there are
 * no rules. `champion` is the version in the target stage (absent: none), with its disparities
 * on the challenger's split when they are known, or why they are not.
 */
export function fairnessGate(input: {
  fairness: TrainingFairness | undefined;
  challenger: ModelVersionObject;
  champion?: { name: string; summary?: FairnessSummary | undefined; problem?: string | undefined };
}): GateVerdict | undefined {
  const rules = input.fairness?.rules ?? [];
  if (rules.length === 0) return undefined;
  const name = input.challenger.metadata.name;
  const status = input.challenger.status?.fairness;
  if (!status) {
    return {
      passed: false,
      message: `${name} has no fairness evaluation (no model card with group metrics in its artifact), and the run has fairness rules`,
    };
  }
  if (status.verdict === 'Failed' || status.verdict === 'NotEvaluated') {
    return { passed: false, message: `${name}: ${status.message}` };
  }
  const championRules = rules.filter((rule) => rule.noWorseThanChampionBy !== undefined);
  if (championRules.length === 0) return { passed: true, message: `${name}: ${status.message}` };
  const own = fairnessSummaryOfStatus(input.challenger);
  if (!own) {
    return { passed: false, message: `${name} has no disparities to compare with the champion` };
  }
  const champion = input.champion;
  const verdict = judgeFairness(
    reportOfSummary(own),
    parseFairnessRules(championRules, 'spec.fairness.rules'),
    champion?.summary ? reportOfSummary(champion.summary) : undefined,
  );
  const missing =
    champion && !champion.summary
      ? ` (${champion.name}'s disparities on this split are unknown: ${champion.problem ?? 'its evaluation did not report them'})`
      : '';
  return { passed: verdict.passed, message: `${name}: ${verdict.message}${missing}` };
}
