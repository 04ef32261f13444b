/**
 * Which runs a RetrainPolicy's triggers call for, and whether the guards let one start now.
 * Pure: the policy, the triggers' record, the runs that exist, the readings and the clock in.
 *
 * - datasetChange: the Dataset's Ready version differs from the version the record last acted
 *   on, and no run exists for it.
 * - manual: the `lathe.dev/run-now` annotation holds a value not acted on yet.
 * - drift / accuracy: the newest reading passes the threshold on enough rows, and it was taken
 *   at least a check interval after the reading that started the last such run — so a reading
 *   taken early (a restart forgot when the last one was) can never start a second run sooner.
 *
 * Every due run is named after what called for it (`runName`), so creating it twice finds the
 * first. The guards, in order: suspend (nothing starts), cooldown since the newest run, the
 * concurrency policy (Forbid waits for the active runs, Replace deletes them, Allow runs both).
 * At most one run starts per pass.
 */
import { durationMs } from '../../api/duration.js';
import type { RetrainPolicy } from '../../api/retrainpolicy.js';
import { timestamp } from '../../runtime/conditions.js';
import type { TrainingJobObject } from '../lathe-kinds.js';
import { runName, type Trigger } from './desired.js';
import { byCreation, isFinished } from './runs.js';
import type { TriggerRecord } from './trigger-record.js';

/** Fewer sampled rows than this and drift is not judged. */
export const MIN_DRIFT_SAMPLES = 30;

/** A reading of a served version (drift, or live accuracy). */
export interface Reading {
  time: string;
  value: number;
  samples?: number;
}

/**
 * Of several drift readings (source any: the served requests' and a batch run's), the one the
 * trigger judges: of those newer than the reading last acted on (a batch run that already
 * started a run must not hide a new served reading), the highest value among those on enough
 * rows, else the highest. Pure.
 */
export function strongestDriftReading<R extends Reading>(
  readings: readonly R[],
  actedOn?: string,
): R | undefined {
  const fresh = readings.filter((r) => !actedOn || Date.parse(r.time) > Date.parse(actedOn));
  const candidates = fresh.length > 0 ? fresh : readings;
  const enough = candidates.filter((r) => (r.samples ?? 0) >= MIN_DRIFT_SAMPLES);
  const pool = enough.length > 0 ? enough : candidates;
  return pool.reduce<R | undefined>(
    (best, r) => (!best || r.value > best.value ? r : best),
    undefined,
  );
}

/** A run a trigger calls for. */
export interface DueRun {
  name: string;
  trigger: Exclude<Trigger, 'schedule'>;
  datasetVersion?: string;
  manualRequest?: string;
  readingTime?: string;
}

export interface TriggerInputs {
  record: TriggerRecord;
  runs: readonly TrainingJobObject[];
  /** The Dataset's current Ready version, if it has one. */
  datasetVersion: string | undefined;
  drift: Reading | undefined;
  accuracy: Reading | undefined;
}

/** The runs the triggers call for now, in order: datasetChange, manual, drift, accuracy. */
export function dueRuns(policy: RetrainPolicy, inputs: TriggerInputs): DueRun[] {
  const name = policy.metadata.name ?? '';
  const { record, runs } = inputs;
  const exists = (run: string) => runs.some((tj) => tj.metadata.name === run);
  const due: DueRun[] = [];
  const triggers = policy.spec.triggers;
  const version = inputs.datasetVersion;
  if (triggers.datasetChange && version && record.datasetVersion !== undefined) {
    const run = runName(name, 'datasetChange', version);
    if (version !== record.datasetVersion && !exists(run))
      due.push({ name: run, trigger: 'datasetChange', datasetVersion: version });
  }
  const request = policy.metadata.annotations?.['lathe.dev/run-now'];
  if (request && request !== record.manualRequest) {
    const run = runName(name, 'manual', request);
    if (!exists(run)) due.push({ name: run, trigger: 'manual', manualRequest: request });
  }
  const drift = triggers.drift;
  const driftReading = inputs.drift;
  if (
    drift &&
    driftReading &&
    driftReading.value > drift.threshold &&
    (driftReading.samples ?? 0) >= MIN_DRIFT_SAMPLES &&
    intervalPassed(record.driftReading, driftReading.time, durationMs(drift.checkInterval))
  ) {
    const run = runName(name, 'drift', driftReading.time);
    if (!exists(run)) due.push({ name: run, trigger: 'drift', readingTime: driftReading.time });
  }
  const accuracy = triggers.accuracy;
  const accuracyReading = inputs.accuracy;
  if (
    accuracy &&
    accuracyReading &&
    (accuracyReading.samples ?? 0) >= accuracy.minSamples &&
    accuracyReading.value < accuracy.minimum &&
    intervalPassed(record.accuracyReading, accuracyReading.time, durationMs(accuracy.checkInterval))
  ) {
    const run = runName(name, 'accuracy', accuracyReading.time);
    if (!exists(run))
      due.push({ name: run, trigger: 'accuracy', readingTime: accuracyReading.time });
  }
  return due;
}

/** Whether `reading` was taken at least `intervalMs` after the reading last acted on. */
function intervalPassed(actedOn: string | undefined, reading: string, intervalMs: number): boolean {
  if (!actedOn) return true;
  return Date.parse(reading) - Date.parse(actedOn) >= intervalMs;
}

export type Admission =
  | { verdict: 'start'; run: DueRun; replace: TrainingJobObject[] }
  | { verdict: 'defer'; message: string; retryAfterMs?: number }
  | { verdict: 'none' };

/**
 * Whether the first due run may start now, under suspend, cooldown and the concurrency policy.
 * `lastRunTime` is the newest run's creation (the record keeps it when the run was deleted).
 */
export function admitRun(
  policy: RetrainPolicy,
  due: readonly DueRun[],
  runs: readonly TrainingJobObject[],
  lastRunTime: string | undefined,
  now: Date,
): Admission {
  const next = due[0];
  if (!next || policy.spec.suspend) return { verdict: 'none' };
  const lastRun = Math.max(
    Date.parse(lastRunTime ?? '') || 0,
    ...runs.map((tj) => Date.parse(tj.metadata.creationTimestamp ?? '') || 0),
  );
  const cooldownEnds = policy.spec.cooldown ? lastRun + durationMs(policy.spec.cooldown) : 0;
  if (cooldownEnds > now.getTime()) {
    return {
      verdict: 'defer',
      message: `a ${next.trigger} run waits for the cooldown until ${timestamp(new Date(cooldownEnds))}`,
      retryAfterMs: cooldownEnds - now.getTime(),
    };
  }
  const active = byCreation(runs.filter((tj) => !isFinished(tj)));
  if (policy.spec.concurrencyPolicy === 'Forbid' && active.length > 0) {
    return {
      verdict: 'defer',
      message: `a ${next.trigger} run waits for ${active.map((tj) => tj.metadata.name).join(', ')} to finish`,
    };
  }
  return {
    verdict: 'start',
    run: next,
    replace: policy.spec.concurrencyPolicy === 'Replace' ? active : [],
  };
}
