/**
 * The status of a RetrainPolicy: pure, from what the steps found — its runs, the triggers'
 * record (on its CronJob), the newest decision (on the ModelVersions), the readings — and the
 * clock. Nothing is carried over from the previous status, so a wiped status comes back the
 * same. The kstatus conditions are the step runner's; `readyOf` gives its Ready=True wording.
 */
import type { RetrainPolicy, RetrainPolicyStatus } from '../../api/retrainpolicy.js';
import { timestamp } from '../../runtime/conditions.js';
import type { RetrainFacts } from './facts.js';
import { byCreation, isFinished } from './runs.js';
import { nextScheduleTime } from './schedule.js';

/** When the schedule trigger next fires; unset without one, or while suspended. */
export function nextRunTime(policy: RetrainPolicy, now: Date): string | undefined {
  const schedule = policy.spec.triggers.schedule;
  if (!schedule || policy.spec.suspend) return undefined;
  const next = nextScheduleTime(schedule.cron, schedule.timeZone, now);
  return next ? timestamp(next) : undefined;
}

/** How long until `nextRunTime` has passed (then it is refreshed): at most an hour. */
export function untilNextRunMs(nextRun: string | undefined, now: Date): number | undefined {
  if (!nextRun) return undefined;
  return Math.min(60 * 60_000, Math.max(1_000, Date.parse(nextRun) - now.getTime() + 1_000));
}

type Fields = Omit<RetrainPolicyStatus, 'conditions' | 'observedGeneration'>;

/**
 * The status fields (all but conditions and observedGeneration). A fact a step did not get to
 * leaves its fields undefined, so a failed pass keeps their last value.
 */
export function retrainPolicyStatus(
  policy: RetrainPolicy,
  facts: Readonly<Partial<RetrainFacts>>,
  now: Date,
): Fields {
  const fields: Fields = { nextRunTime: nextRunTime(policy, now) };
  if (facts.runs) {
    const newest = byCreation(facts.runs).at(-1);
    const recorded = facts.record?.lastRun;
    const last =
      newest?.metadata.creationTimestamp &&
      (!recorded || newest.metadata.creationTimestamp >= recorded.time)
        ? {
            name: newest.metadata.name ?? '',
            time: newest.metadata.creationTimestamp,
            trigger: newest.metadata.labels?.['lathe.dev/trigger'],
          }
        : recorded;
    if (last) {
      fields.lastRunTime = last.time;
      fields.lastTrainingJob = { name: last.name };
      const trigger = last.trigger;
      if (
        trigger === 'schedule' ||
        trigger === 'datasetChange' ||
        trigger === 'drift' ||
        trigger === 'accuracy' ||
        trigger === 'manual'
      )
        fields.lastTrigger = trigger;
    }
    const active = byCreation(facts.runs)
      .filter((tj) => !isFinished(tj))
      .map((tj) => ({ name: tj.metadata.name ?? '' }));
    if (active.length > 0) fields.active = active.slice(0, 100);
  }
  const promotion = facts.lastPromotion;
  if (promotion) {
    fields.lastPromotion = {
      time: promotion.time,
      decision: promotion.decision,
      metric: promotion.metric,
      challenger: promotion.challenger,
      ...(promotion.champion ? { champion: promotion.champion } : {}),
      reason: promotion.reason.slice(0, 1024),
    };
  }
  if (facts.lastDrift) fields.lastDrift = facts.lastDrift;
  if (facts.lastAccuracy) fields.lastAccuracy = facts.lastAccuracy;
  if (facts.record?.datasetVersion) fields.lastDatasetVersion = facts.record.datasetVersion;
  if (facts.record?.manualRequest) fields.lastManualRun = facts.record.manualRequest;
  return fields;
}

/** What a drift trigger reads, in words. */
function driftSourceOf(drift: NonNullable<RetrainPolicy['spec']['triggers']['drift']>): string {
  const service = drift.inferenceServiceRef?.name;
  if (drift.source === 'batch')
    return `the BatchPredictions scoring ${service ? `${service}'s version` : 'the promoted version'}`;
  if (drift.source === 'any') return `${service} and the BatchPredictions scoring its version`;
  return service ?? '';
}

/** What the triggers watch, for the Ready=True message. */
export function watchedTriggers(policy: RetrainPolicy): string[] {
  const triggers = policy.spec.triggers;
  return [
    triggers.schedule ? `schedule "${triggers.schedule.cron}" (${triggers.schedule.timeZone})` : '',
    triggers.datasetChange
      ? `new versions of Dataset ${policy.spec.template.spec.datasetRef.name}`
      : '',
    triggers.drift
      ? `${triggers.drift.metric} drift of ${driftSourceOf(triggers.drift)} above ${triggers.drift.threshold}`
      : '',
    triggers.accuracy
      ? `live accuracy of ${triggers.accuracy.inferenceServiceRef.name} below ${triggers.accuracy.minimum}`
      : '',
  ].filter(Boolean);
}

/** The Ready=True reason and message: Suspended, or Watching (and a run that waits). */
export function readyOf(
  policy: RetrainPolicy,
  facts: Readonly<Partial<RetrainFacts>>,
): { reason: string; message: string } {
  if (policy.spec.suspend)
    return { reason: 'Suspended', message: 'spec.suspend is true: no trigger starts a run' };
  const note = facts.deferred ? `; ${facts.deferred}` : '';
  return {
    reason: 'Watching',
    message: `Watching ${watchedTriggers(policy).join(', ')}${note}`,
  };
}
