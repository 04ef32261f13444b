/**
 * The status of a RetrainPolicy: pure, from its runs (the TrainingJobs it owns), the newest
 * promotion decision (recorded on the challenger ModelVersion), the drift measurement and the
 * triggers' bookkeeping, and the clock.
 */
import type { RetrainPolicy, RetrainPolicyStatus } from '../../api/retrainpolicy.js';
import {
  type Condition,
  type ConditionInput,
  removeCondition,
  setConditions,
  timestamp,
} from '../../runtime/conditions.js';
import type { TrainingJobObject } from '../lathe-kinds.js';
import { TRIGGER_LABEL } from './desired.js';
import { nextScheduleTime } from './schedule.js';

export interface PromotionRecord {
  time: string;
  decision: 'Promoted' | 'Rejected';
  metric: string;
  challenger: { modelVersion: string; value: number };
  champion?: { modelVersion: string; value: number };
  reason: string;
  datasetVersion?: string;
  policy: string;
}

export interface PolicyObservation {
  runs: readonly TrainingJobObject[];
  lastPromotion: PromotionRecord | undefined;
  lastDrift: RetrainPolicyStatus['lastDrift'];
  lastAccuracy: RetrainPolicyStatus['lastAccuracy'];
  lastDatasetVersion: string | undefined;
  lastManualRun: string | undefined;
  /** Why a trigger cannot work now (its Dataset or InferenceService is missing), if so. */
  blocked: { reason: string; message: string } | undefined;
  /** A run that was due but waits (Forbid with a run active, cooldown), if so. */
  deferred: string | undefined;
}

/** When the schedule trigger next fires; unset without one, or while suspended. */
export function nextRunTime(policy: RetrainPolicy, now: Date): string | undefined {
  const schedule = policy.spec.triggers.schedule;
  if (!schedule || policy.spec.suspend) return undefined;
  const next = nextScheduleTime(schedule.cron, schedule.timeZone, now);
  return next ? timestamp(next) : undefined;
}

export const isFinished = (tj: TrainingJobObject) =>
  tj.status?.phase === 'Succeeded' || tj.status?.phase === 'Failed';

export function retrainPolicyStatus(
  policy: RetrainPolicy,
  observed: PolicyObservation,
  now: Date,
): RetrainPolicyStatus {
  const generation = policy.metadata.generation ?? 0;
  const cond = (type: string, status: Condition['status'], reason: string, message: string) =>
    ({ type, status, reason, message, observedGeneration: generation }) satisfies ConditionInput;
  const triggers = policy.spec.triggers;
  const watching = [
    triggers.schedule ? `schedule "${triggers.schedule.cron}" (${triggers.schedule.timeZone})` : '',
    triggers.datasetChange
      ? `new versions of Dataset ${policy.spec.template.spec.datasetRef.name}`
      : '',
    triggers.drift
      ? `${triggers.drift.metric} drift of ${triggers.drift.inferenceServiceRef.name} above ${triggers.drift.threshold}`
      : '',
    triggers.accuracy
      ? `live accuracy of ${triggers.accuracy.inferenceServiceRef.name} below ${triggers.accuracy.minimum}`
      : '',
  ].filter(Boolean);

  const inputs: ConditionInput[] = [];
  let reconciling: ConditionInput | undefined;
  if (policy.spec.suspend) {
    inputs.push(
      cond('Ready', 'True', 'Suspended', 'spec.suspend is true: no trigger starts a run'),
    );
  } else if (observed.blocked) {
    inputs.push(cond('Ready', 'False', observed.blocked.reason, observed.blocked.message));
    reconciling = cond('Reconciling', 'True', observed.blocked.reason, observed.blocked.message);
  } else {
    const note = observed.deferred ? `; ${observed.deferred}` : '';
    inputs.push(cond('Ready', 'True', 'Watching', `Watching ${watching.join(', ')}${note}`));
  }
  if (reconciling) inputs.push(reconciling);
  let conditions = setConditions(policy.status?.conditions as Condition[] | undefined, inputs, now);
  if (!reconciling) conditions = removeCondition(conditions, 'Reconciling');
  conditions = removeCondition(conditions, 'Stalled');

  const byCreation = [...observed.runs].sort((a, b) =>
    (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
  );
  const newest = byCreation.at(-1);
  const trigger = newest?.metadata.labels?.[TRIGGER_LABEL];
  const active = byCreation
    .filter((tj) => !isFinished(tj))
    .map((tj) => ({ name: tj.metadata.name ?? '' }));
  const promotion = observed.lastPromotion;

  return Object.fromEntries(
    Object.entries({
      observedGeneration: generation,
      conditions,
      lastRunTime: newest?.metadata.creationTimestamp ?? policy.status?.lastRunTime,
      nextRunTime: nextRunTime(policy, now),
      lastTrainingJob: newest
        ? { name: newest.metadata.name ?? '' }
        : policy.status?.lastTrainingJob,
      lastTrigger:
        trigger === 'schedule' ||
        trigger === 'datasetChange' ||
        trigger === 'drift' ||
        trigger === 'accuracy' ||
        trigger === 'manual'
          ? trigger
          : policy.status?.lastTrigger,
      active: active.length > 0 ? active.slice(0, 100) : undefined,
      lastPromotion: promotion
        ? {
            time: promotion.time,
            decision: promotion.decision,
            metric: promotion.metric,
            challenger: promotion.challenger,
            ...(promotion.champion ? { champion: promotion.champion } : {}),
            reason: promotion.reason.slice(0, 1024),
          }
        : policy.status?.lastPromotion,
      lastDrift: observed.lastDrift,
      lastAccuracy: observed.lastAccuracy,
      lastDatasetVersion: observed.lastDatasetVersion,
      lastManualRun: observed.lastManualRun,
    }).filter(([, v]) => v !== undefined),
  ) as RetrainPolicyStatus;
}
