/**
 * Step `triggers`: takes the readings that are due (drift — of the served requests, of a batch
 * run, or the stronger of both, by the trigger's `source` — and live accuracy: each once per
 * check interval), then decides which runs the triggers call for and whether the guards let the first
 * one start now (`triggers.ts`). It starts nothing itself; `start` does.
 *
 * The newest readings are kept in memory (bounded, an hour at most) to pace the next ones and
 * to show them in status. Losing them (a restart) changes no decision: the next pass just reads
 * again, and a reading counts only a check interval after the one the last run was started for,
 * which the triggers' record keeps.
 */
import type { DatasetStats } from '../../../../contract/dataset-stats.js';
import { durationMs } from '../../api/duration.js';
import { timestamp } from '../../runtime/conditions.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { ExpiringMap } from '../../runtime/expiring-map.js';
import type { Readiness, Step } from '../../runtime/steps.js';
import type { RetrainPolicyObject } from '../lathe-kinds.js';
import { measureBatchDrift } from './batch-readings.js';
import type { RetrainFacts } from './facts.js';
import {
  type AccuracyReading,
  type Blocked,
  type DriftReading,
  measureServedDrift,
  readingDue,
  readLiveAccuracy,
  untilNextReadingMs,
} from './readings.js';
import { admitRun, dueRuns, strongestDriftReading } from './triggers.js';

/** While a live-accuracy reading finds no labelled rows, look again this soon. */
const UNLABELLED_RETRY_MS = 5_000;

export interface LatestReadings {
  drift?: DriftReading;
  /**
   * When drift was last measured: a batch reading's own time is its run's completion, which
   * may be long ago, so the next check is paced by this instead.
   */
  driftChecked?: { time: string };
  accuracy?: AccuracyReading;
}

/** The drift reading of the trigger's source: the service's, a batch run's, or the stronger. */
async function measureDrift(
  policy: RetrainPolicyObject,
  ctx: ReconcileContext<RetrainPolicyObject>,
  storage: NonNullable<RetrainFacts['storage']>,
  stats: ExpiringMap<string, DatasetStats>,
  actedOn: string | undefined,
): Promise<{ drift: DriftReading } | { blocked: Blocked }> {
  const source = policy.spec.triggers.drift?.source ?? 'service';
  if (source === 'service') return measureServedDrift(policy, ctx, storage, stats);
  if (source === 'batch') return measureBatchDrift(policy, ctx, storage, stats);
  const served = await measureServedDrift(policy, ctx, storage, stats);
  const batch = await measureBatchDrift(policy, ctx, storage, stats);
  const readings = [served, batch].flatMap((m) => ('drift' in m ? [m.drift] : []));
  const strongest = strongestDriftReading(readings, actedOn);
  return strongest ? { drift: strongest } : served;
}

export function triggersStep(caches: {
  readings: ExpiringMap<string, LatestReadings>;
  stats: ExpiringMap<string, DatasetStats>;
}): Step<RetrainPolicyObject, RetrainFacts> {
  return {
    name: 'triggers',
    async run(policy, ctx, facts) {
      const spec = policy.spec;
      const now = ctx.now();
      const key = policy.metadata.uid ?? `${policy.metadata.namespace}/${policy.metadata.name}`;
      const latest: LatestReadings = { ...(caches.readings.get(key) ?? {}) };
      const requeues: number[] = [];
      let blocked: Blocked | undefined;

      const drift = spec.triggers.drift;
      if (drift && facts.storage && !spec.suspend) {
        const checkMs = durationMs(drift.checkInterval);
        const checked = latest.driftChecked ?? latest.drift;
        if (readingDue(checked, checkMs, now)) {
          const measured = await measureDrift(
            policy,
            ctx,
            facts.storage,
            caches.stats,
            facts.record?.driftReading,
          );
          if ('blocked' in measured) blocked = measured.blocked;
          else {
            latest.drift = measured.drift;
            latest.driftChecked = { time: timestamp(now) };
          }
        }
        requeues.push(untilNextReadingMs(latest.driftChecked ?? latest.drift, checkMs, now));
      }
      const accuracy = spec.triggers.accuracy;
      if (accuracy && !spec.suspend) {
        const checkMs = durationMs(accuracy.checkInterval);
        let labelled = true;
        if (readingDue(latest.accuracy, checkMs, now)) {
          const read = await readLiveAccuracy(policy, ctx);
          if ('blocked' in read) blocked = read.blocked;
          else if (read.accuracy) latest.accuracy = read.accuracy;
          else labelled = false;
        }
        requeues.push(
          labelled ? untilNextReadingMs(latest.accuracy, checkMs, now) : UNLABELLED_RETRY_MS,
        );
      }
      if (latest.drift || latest.accuracy) caches.readings.set(key, latest);

      const runs = facts.runs ?? [];
      const record = facts.record ?? {};
      const due = dueRuns(policy, {
        record,
        runs,
        datasetVersion: facts.datasetVersion,
        drift: latest.drift,
        accuracy: latest.accuracy,
      });
      const admission = admitRun(policy, due, runs, record.lastRun?.time, now);
      if (admission.verdict === 'defer' && admission.retryAfterMs !== undefined)
        requeues.push(admission.retryAfterMs);
      const readiness: Readiness | undefined = blocked
        ? { state: 'progressing', ...blocked }
        : undefined;
      return {
        facts: {
          lastDrift: latest.drift,
          lastAccuracy: latest.accuracy,
          admission,
          moreDue: due.length > 1,
          deferred: admission.verdict === 'defer' ? admission.message : undefined,
        },
        ...(readiness ? { readiness } : {}),
        ...(requeues.length > 0 ? { requeueAfterMs: Math.min(...requeues) } : {}),
      };
    },
  };
}
