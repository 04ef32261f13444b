/**
 * Readings of the version an InferenceService serves, for the drift and accuracy triggers:
 *
 * - drift: the inputs the service sampled (object store, `feedback/…/requests/`) over the last
 *   check interval, against the training statistics of the served ModelVersion's dataset
 *   version, recorded in the policy's `status.lastDrift` (the InferenceService controller copies
 *   the newest into the service's own `status.drift`: one writer per status); a batch run's
 *   counts are the other source (`batch-readings.ts`);
 * - live accuracy: the feedback counters of the service's ready pods of the served version,
 *   found through the pod index by InferenceService (never a scan of the namespace).
 *
 * A reading is an observation, not a decision: the triggers act on a reading at most once per
 * check interval after the one the last run was started for (`triggers.ts`), so taking one
 * early changes nothing.
 */
import { type DatasetStats, DatasetStatsSchema } from '../../../../contract/dataset-stats.js';
import { ObjectNotFoundError } from '../../../../contract/object-store.js';
import { DatasetFile, datasetVersionPrefix } from '../../../../contract/object-store-layout.js';
import { durationMs } from '../../api/duration.js';
import type { RetrainPolicyStatus } from '../../api/retrainpolicy.js';
import { kinds } from '../../runtime/builtin-kinds.js';
import { timestamp } from '../../runtime/conditions.js';
import { podOwnerIndex, type ReconcileContext } from '../../runtime/controller.js';
import type { ExpiringMap } from '../../runtime/expiring-map.js';
import { latheKinds, type RetrainPolicyObject } from '../lathe-kinds.js';
import { scrapeMetrics, serverMetricsUrl } from '../shared/server-metrics.js';
import { liveAccuracy, parseFeedbackCounts } from './accuracy.js';
import { measureDrift } from './drift.js';
import type { RetrainFacts } from './facts.js';
import { sampledRecords } from './samples.js';

/** The label InferenceService pods carry with the version they serve. */
const SERVED_VERSION_LABEL = 'lathe.dev/model-version';

export type DriftReading = NonNullable<RetrainPolicyStatus['lastDrift']>;
export type AccuracyReading = NonNullable<RetrainPolicyStatus['lastAccuracy']>;
export type Blocked = { reason: string; message: string };

/** Whether a new reading is due: none yet, or the last is a check interval old. Pure. */
export function readingDue(
  last: { time: string } | undefined,
  checkMs: number,
  now: Date,
): boolean {
  return !last || now.getTime() - (Date.parse(last.time) || 0) >= checkMs;
}

/**
 * How long until the next reading is due (at least a second). With none yet (the last attempt
 * was blocked), a check interval from now. Pure.
 */
export function untilNextReadingMs(
  last: { time: string } | undefined,
  checkMs: number,
  now: Date,
): number {
  const from = last ? Date.parse(last.time) || 0 : now.getTime();
  return Math.max(1_000, from + checkMs - now.getTime());
}

/** The training statistics of a dataset version (cached: a version's files never change). */
export async function trainingStatsOf(
  lineage: { name: string; version: string },
  namespace: string,
  storage: NonNullable<RetrainFacts['storage']>,
  statsCache: ExpiringMap<string, DatasetStats>,
): Promise<{ stats: DatasetStats } | { blocked: Blocked }> {
  const { store, config } = storage;
  const statsKey = `${datasetVersionPrefix(namespace, lineage.name, lineage.version)}${DatasetFile.stats}`;
  const cached = statsCache.get(statsKey);
  if (cached) return { stats: cached };
  try {
    const stats = DatasetStatsSchema.parse(
      JSON.parse((await store.read(config.bucket, statsKey)).toString('utf8')),
    );
    statsCache.set(statsKey, stats);
    return { stats };
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
    return {
      blocked: {
        reason: 'NoReference',
        message: `The training statistics s3://${config.bucket}/${statsKey} do not exist`,
      },
    };
  }
}

/** Measures drift of the served inputs against the served model's training data. */
export async function measureServedDrift(
  policy: RetrainPolicyObject,
  ctx: ReconcileContext<RetrainPolicyObject>,
  storage: NonNullable<RetrainFacts['storage']>,
  statsCache: ExpiringMap<string, DatasetStats>,
): Promise<{ drift: DriftReading } | { blocked: Blocked }> {
  const drift = policy.spec.triggers.drift!;
  const { store, config } = storage;
  const namespace = policy.metadata.namespace ?? '';
  const service = drift.inferenceServiceRef?.name ?? '';
  const isvc = ctx.reader(latheKinds.inferenceService).get(namespace, service);
  if (!isvc) {
    return {
      blocked: {
        reason: 'InferenceServiceNotFound',
        message: `InferenceService ${service} does not exist`,
      },
    };
  }
  const primary = isvc.status?.servedVersions?.find((v) => v.role === 'primary');
  const mv = primary
    ? ctx.reader(latheKinds.modelVersion).get(namespace, primary.modelVersion)
    : undefined;
  const lineage = mv?.spec.lineage?.dataset;
  if (!mv || !lineage) {
    return {
      blocked: {
        reason: 'NoReference',
        message: `InferenceService ${service} serves no ModelVersion with dataset lineage to compare against`,
      },
    };
  }
  const training = await trainingStatsOf(lineage, namespace, storage, statsCache);
  if ('blocked' in training) return training;
  const { stats } = training;
  const now = ctx.now();
  const windowMs = durationMs(drift.checkInterval);
  const records = await sampledRecords(
    store,
    config.bucket,
    namespace,
    service,
    new Date(now.getTime() - windowMs),
    now,
  );
  const report = measureDrift(stats.distributions, records, drift.metric);
  const reading: DriftReading = {
    time: timestamp(now),
    value: Math.round(report.value * 1e4) / 1e4,
    ...(report.feature ? { feature: report.feature } : {}),
    samples: report.samples,
    modelVersion: mv.metadata.name ?? '',
  };
  ctx.log.info({ drift: reading }, 'Measured drift of the served inputs');
  return { drift: reading };
}

/**
 * Reads the live accuracy of the served version from its ready pods' feedback counters;
 * `accuracy` is undefined while no row has been labelled.
 */
export async function readLiveAccuracy(
  policy: RetrainPolicyObject,
  ctx: ReconcileContext<RetrainPolicyObject>,
): Promise<{ accuracy: AccuracyReading | undefined } | { blocked: Blocked }> {
  const trigger = policy.spec.triggers.accuracy!;
  const namespace = policy.metadata.namespace ?? '';
  const service = trigger.inferenceServiceRef.name;
  const isvc = ctx.reader(latheKinds.inferenceService).get(namespace, service);
  const primary = isvc?.status?.servedVersions?.find((v) => v.role === 'primary');
  if (!isvc || !primary) {
    return {
      blocked: {
        reason: 'InferenceServiceNotReady',
        message: `InferenceService ${service} serves no version yet`,
      },
    };
  }
  const pods = ctx
    .byField(kinds.pod, podOwnerIndex('InferenceService'), namespace, service)
    .filter(
      (p) =>
        p.metadata?.labels?.[SERVED_VERSION_LABEL] === String(primary.version) &&
        p.status?.podIP &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
  const counts = await Promise.all(
    pods.map(async (p) => {
      try {
        return parseFeedbackCounts(await scrapeMetrics(serverMetricsUrl(p.status?.podIP ?? '')));
      } catch (error) {
        ctx.log.debug(
          { err: error, pod: p.metadata?.name },
          'Could not read the feedback of a pod',
        );
        return { correct: 0, incorrect: 0 };
      }
    }),
  );
  const live = liveAccuracy(counts);
  return {
    accuracy: live
      ? {
          time: timestamp(ctx.now()),
          value: Math.round(live.value * 1e4) / 1e4,
          samples: live.samples,
          modelVersion: primary.modelVersion,
        }
      : undefined,
  };
}
