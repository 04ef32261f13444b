/**
 * A BatchPrediction's status from its Job (what Kubernetes says of the shards) and the shards'
 * markers in the object store (what they wrote): pure. The Job's annotations say what the run
 * scores with, so the status is rebuilt from the children, never from the previous status.
 *
 * - no Job yet: Pending, waiting for the model, the data or the input (Reconciling), or stalled
 *   on an input that cannot be scored;
 * - Job running: Running, with the shards finished and the rows their markers count;
 * - Job complete: Succeeded once the manifest is written (Ready=True, Complete=True), with the
 *   run's drift from the training data and its predictions' distribution from the manifest;
 * - Job failed: Failed (Stalled, Complete=False) with the reason a shard gave (its result) or
 *   the Job's (a deadline, the retries spent).
 */
import type { BatchManifest, BatchShardMarker } from '../../../../contract/batch.js';
import type { PredictionCounts } from '../../../../contract/distribution-counts.js';
import { type BatchPredictionStatus, STATUS_CLASSES } from '../../api/batchprediction.js';
import type { JobObject } from '../../runtime/builtin-kinds.js';
import type { ConditionInput, Readiness } from '../../runtime/conditions.js';
import { BatchAnnotation } from './desired.js';

/** What the run step found. */
export interface BatchFacts {
  /** No Job yet, and why (waiting or stalled). */
  notStarted?: Readiness;
  job?: JobObject;
  markers?: BatchShardMarker[];
  /** The manifest, once written. */
  manifestUri?: string;
  /** Its content (the merged counts and drift), once written. */
  manifest?: BatchManifest;
  /** Why the Job failed, from a shard's result when one gave it. */
  failure?: { reason: string; message: string };
}

/** The indexes a Job lists as `"0-2,5"`: how many. */
export function indexCount(list: string | undefined): number {
  if (!list) return 0;
  return list.split(',').reduce((sum, part) => {
    const [from, to] = part.split('-').map(Number);
    return sum + (to === undefined ? 1 : to - from! + 1);
  }, 0);
}

function jobCondition(job: JobObject, type: string) {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

export type BatchPhase = NonNullable<BatchPredictionStatus['phase']>;

/** The phase of the run. */
export function batchPhase(facts: BatchFacts): BatchPhase {
  const { job } = facts;
  if (!job) return 'Pending';
  if (jobCondition(job, 'Failed')) return 'Failed';
  if (jobCondition(job, 'Complete') && facts.manifestUri) return 'Succeeded';
  return 'Running';
}

/** The status fields besides the conditions. */
export function batchStatusFields(facts: BatchFacts): Partial<BatchPredictionStatus> {
  const { job, markers = [] } = facts;
  const phase = batchPhase(facts);
  if (!job) return { phase };
  const annotations = job.metadata?.annotations ?? {};
  const dataset = annotations[BatchAnnotation.dataset];
  const datasetVersion = annotations[BatchAnnotation.datasetVersion];
  const outputUri = annotations[BatchAnnotation.outputUri] ?? '';
  return {
    phase,
    ...(job.status?.startTime ? { startTime: job.status.startTime as unknown as string } : {}),
    ...(job.status?.completionTime
      ? { completionTime: job.status.completionTime as unknown as string }
      : {}),
    model: {
      modelVersion: annotations[BatchAnnotation.modelVersion] ?? '',
      digest: annotations[BatchAnnotation.modelDigest] ?? '',
    },
    input: {
      ...(dataset ? { dataset } : {}),
      ...(datasetVersion ? { datasetVersion } : {}),
      objects: Number(annotations[BatchAnnotation.objects] ?? 0),
      ...(annotations[BatchAnnotation.sizeBytes] !== undefined
        ? { sizeBytes: Number(annotations[BatchAnnotation.sizeBytes]) }
        : {}),
    },
    shards: {
      total: job.spec?.completions ?? 0,
      succeeded: job.status?.succeeded ?? 0,
      failed: indexCount(job.status?.failedIndexes),
      active: job.status?.active ?? 0,
    },
    rows: {
      written: markers.reduce((sum, m) => sum + m.rows, 0),
      failed: markers.reduce((sum, m) => sum + m.failedRecords, 0),
    },
    output: { uri: outputUri, ...(facts.manifestUri ? { manifest: facts.manifestUri } : {}) },
    ...distributionStatus(facts.manifest),
  };
}

/** `status.predictions` of merged prediction counts over `rows` counted rows. */
export function predictionsStatus(
  counts: PredictionCounts,
  rows: number,
  stride: number,
): NonNullable<BatchPredictionStatus['predictions']> {
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  if ('regression' in counts) {
    const r = counts.regression;
    return {
      rows,
      stride,
      regression: {
        count: r.count,
        mean: r.count > 0 ? round(r.sum / r.count) : 0,
        min: r.min,
        max: r.max,
      },
    };
  }
  const total = Object.values(counts.classes).reduce((s, n) => s + n, 0);
  const top = Object.entries(counts.classes)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, STATUS_CLASSES);
  return {
    rows,
    stride,
    classes: Object.fromEntries(top.map(([c, n]) => [c, total > 0 ? round(n / total) : 0])),
  };
}

/** `status.drift` and `status.predictions`, from the manifest's counts. */
function distributionStatus(manifest: BatchManifest | undefined): Partial<BatchPredictionStatus> {
  const counts = manifest?.distribution;
  const drift = manifest?.drift;
  return {
    ...(drift
      ? {
          drift: {
            metric: drift.metric,
            value: drift.value,
            ...(drift.feature ? { feature: drift.feature } : {}),
            rows: drift.rows,
          },
        }
      : {}),
    ...(counts?.predictions
      ? { predictions: predictionsStatus(counts.predictions, counts.rows, counts.stride) }
      : {}),
  };
}

/** Where the run stands, for the kstatus triple. */
export function batchReadiness(facts: BatchFacts): Readiness {
  if (facts.notStarted) return facts.notStarted;
  const phase = batchPhase(facts);
  const fields = batchStatusFields(facts);
  if (phase === 'Succeeded') {
    return {
      state: 'ready',
      reason: 'Succeeded',
      message: `Scored ${fields.rows?.written} rows (${fields.rows?.failed} could not be scored) in ${fields.shards?.total} shards; output ${facts.manifestUri}`,
    };
  }
  if (phase === 'Failed') {
    return {
      state: 'stalled',
      reason: facts.failure?.reason ?? 'JobFailed',
      message: facts.failure?.message ?? 'The batch Job failed',
    };
  }
  return {
    state: 'progressing',
    reason: 'Running',
    message: `${fields.shards?.succeeded ?? 0} of ${fields.shards?.total ?? 0} shards finished, ${fields.shards?.active ?? 0} running; ${fields.rows?.written ?? 0} rows written`,
  };
}

/** The `Complete` condition: True when the output is complete, False when the run failed. */
export function completeCondition(facts: BatchFacts): Omit<ConditionInput, 'observedGeneration'> {
  const readiness = batchReadiness(facts);
  const phase = batchPhase(facts);
  return {
    type: 'Complete',
    status: phase === 'Succeeded' ? 'True' : phase === 'Failed' ? 'False' : 'Unknown',
    reason: readiness.reason,
    message: readiness.message,
  };
}
