/**
 * The champion/challenger decision about a run's model, as it is recorded: pure.
 *
 * A decision is written once, first on the run (the TrainingJob, annotation
 * `lathe.dev/promotion`), then on the challenger ModelVersion together with the promotion
 * itself (one merge patch). The run's copy makes it final: a pass that finds it only finishes
 * the ModelVersion's patch if that did not happen, and never decides again. The ModelVersion's
 * copy outlives the run (the history limits delete runs) and is where the policy's
 * `status.lastPromotion` is rebuilt from.
 */

import { PROMOTION_ANNOTATION } from '../../../../contract/retrain-run.js';
import type { RetrainPolicy } from '../../api/retrainpolicy.js';
import { timestamp } from '../../runtime/conditions.js';
import type { ModelVersionObject, TrainingJobObject } from '../lathe-kinds.js';
import type { GateVerdict } from './fairness-gate.js';
import { type Candidate, decidePromotion } from './promotion.js';

export { PROMOTION_ANNOTATION };

export interface PromotionRecord {
  time: string;
  decision: 'Promoted' | 'Rejected';
  metric: string;
  challenger: Candidate;
  champion?: Candidate;
  reason: string;
  datasetVersion?: string;
  policy: string;
}

/** The decision recorded on an object (a run or a ModelVersion), if it holds a readable one. */
export function recordedDecision(obj: {
  metadata?: { annotations?: Record<string, string> };
}): PromotionRecord | undefined {
  const raw = obj.metadata?.annotations?.[PROMOTION_ANNOTATION];
  if (!raw) return undefined;
  try {
    const record = JSON.parse(raw) as Partial<PromotionRecord>;
    if (
      typeof record.time !== 'string' ||
      (record.decision !== 'Promoted' && record.decision !== 'Rejected') ||
      typeof record.policy !== 'string' ||
      typeof record.metric !== 'string' ||
      typeof record.reason !== 'string' ||
      typeof record.challenger?.modelVersion !== 'string'
    )
      return undefined;
    return record as PromotionRecord;
  } catch {
    // Not ours to judge: an annotation someone edited by hand.
    return undefined;
  }
}

/** The newest of `records` made by `policy`. */
export function newestDecision(
  records: readonly (PromotionRecord | undefined)[],
  policy: string,
): PromotionRecord | undefined {
  let newest: PromotionRecord | undefined;
  for (const record of records) {
    if (!record || record.policy !== policy) continue;
    if (
      !newest ||
      record.time > newest.time ||
      (record.time === newest.time &&
        record.challenger.modelVersion > newest.challenger.modelVersion)
    )
      newest = record;
  }
  return newest;
}

/** Whether the model `run` produced still waits for a decision (its run and model hold none). */
export function awaitsDecision(
  run: TrainingJobObject,
  challenger: ModelVersionObject | undefined,
): boolean {
  return challenger !== undefined && !recordedDecision(run) && !recordedDecision(challenger);
}

/**
 * How the champion's value is found: it was scored on the challenger's own test split (same
 * dataset and version) and holds the metric, or it must be evaluated on that split first.
 */
export function championEvidence(
  metric: string,
  challenger: ModelVersionObject,
  champion: ModelVersionObject,
): { source: 'metrics'; value: number } | { source: 'evaluate' } {
  const a = challenger.spec.lineage?.dataset;
  const b = champion.spec.lineage?.dataset;
  const value = champion.spec.metrics?.[metric];
  const sameSplit = a !== undefined && b?.name === a.name && b.version === a.version;
  return sameSplit && value !== undefined ? { source: 'metrics', value } : { source: 'evaluate' };
}

/**
 * The decision about `challenger`: compared on one metric with the champion's value on the same
 * split, or Rejected as "not compared" when a value is missing (`problem`).
 */
export function promotionRecord(input: {
  policy: RetrainPolicy;
  challenger: ModelVersionObject;
  champion: ModelVersionObject | undefined;
  championValue: number | undefined;
  problem: string | undefined;
  /** The fairness gate's verdict (`fairness-gate.ts`); undefined when the run has no rules. */
  fairness?: GateVerdict | undefined;
  now: Date;
}): PromotionRecord {
  const rule = input.policy.spec.promotion!;
  const { challenger, champion, championValue } = input;
  const challengerValue = challenger.spec.metrics?.[rule.metric];
  const problem =
    input.problem ??
    (challengerValue === undefined
      ? `${challenger.metadata.name} has no metric ${rule.metric}`
      : undefined);
  const decision =
    problem !== undefined || challengerValue === undefined
      ? { decision: 'Rejected' as const, reason: `not compared: ${problem}` }
      : decidePromotion(
          rule,
          { modelVersion: challenger.metadata.name ?? '', value: challengerValue },
          champion && championValue !== undefined
            ? { modelVersion: champion.metadata.name ?? '', value: championValue }
            : undefined,
          rule.targetStage,
        );
  const datasetVersion = challenger.spec.lineage?.dataset.version;
  // Better is not enough: a challenger that fails the fairness gate is not promoted.
  if (input.fairness && !input.fairness.passed) {
    decision.reason =
      decision.decision === 'Promoted'
        ? `fairness gate failed: ${input.fairness.message} (otherwise: ${decision.reason})`
        : `${decision.reason}; fairness gate failed too: ${input.fairness.message}`;
    decision.decision = 'Rejected';
  } else if (input.fairness && decision.decision === 'Promoted') {
    decision.reason = `${decision.reason}; fairness gate passed: ${input.fairness.message}`;
  }
  return {
    time: timestamp(input.now),
    decision: decision.decision,
    metric: rule.metric,
    challenger: {
      modelVersion: challenger.metadata.name ?? '',
      value: Number.isFinite(challengerValue) ? (challengerValue as number) : 0,
    },
    ...(champion && championValue !== undefined
      ? { champion: { modelVersion: champion.metadata.name ?? '', value: championValue } }
      : {}),
    // status.lastPromotion.reason holds at most 1024 characters.
    reason: decision.reason.slice(0, 1024),
    ...(datasetVersion ? { datasetVersion } : {}),
    policy: input.policy.metadata.name ?? '',
  };
}
