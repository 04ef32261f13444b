/**
 * A BatchPrediction run's output as the operator sees it: the shards' markers (progress, and the
 * proof a part is complete), the manifest it writes once every shard has one — with the shards'
 * distributions merged and their drift from the training statistics — and the reason a failed
 * run gives: a shard's own result when one wrote it, else the Job's.
 */
import {
  BATCH_MANIFEST_FILE,
  type BatchDrift,
  type BatchManifest,
  BatchManifestSchema,
  type BatchShardMarker,
  BatchShardMarkerSchema,
  batchDistributionOf,
  batchManifestOf,
} from '../../../../contract/batch.js';
import {
  type ColumnDistribution,
  type DatasetStats,
  DatasetStatsSchema,
} from '../../../../contract/dataset-stats.js';
import {
  type DistributionCounts,
  driftOfCounts,
} from '../../../../contract/distribution-counts.js';
import { ObjectNotFoundError, type ObjectStore } from '../../../../contract/object-store.js';
import { parseS3Uri, s3Uri } from '../../../../contract/object-store-layout.js';
import { parseResult } from '../../../../contract/results.js';
import type { JobObject } from '../../runtime/builtin-kinds.js';
import type { CacheReaders } from '../../runtime/controller.js';
import { cachedPodsOfJob, observeJobRun } from '../shared/job-run.js';
import { BatchAnnotation } from './desired.js';

/** The markers of the run's finished shards (of this model). */
export async function readMarkers(
  store: ObjectStore,
  bucket: string,
  runPrefix: string,
  modelDigest: string,
): Promise<BatchShardMarker[]> {
  const markers: BatchShardMarker[] = [];
  for (const { key } of await store.listObjects(bucket, `${runPrefix}_shards/`)) {
    try {
      const parsed = BatchShardMarkerSchema.safeParse(
        JSON.parse((await store.read(bucket, key)).toString('utf8')),
      );
      if (parsed.success && parsed.data.modelDigest === modelDigest) markers.push(parsed.data);
    } catch (error) {
      if (!(error instanceof ObjectNotFoundError) && !(error instanceof SyntaxError)) throw error;
    }
  }
  return markers;
}

/**
 * The run's drift from the training data, from the shards' merged counts: PSI per counted
 * column, the worst first (`driftOfCounts`, as RetrainPolicy's drift check computes it).
 * Undefined without counts of any input column (no training statistics).
 */
export function batchDriftOf(
  distributions: readonly ColumnDistribution[],
  counts: DistributionCounts | undefined,
): BatchDrift | undefined {
  if (!counts || counts.columns.length === 0) return undefined;
  const report = driftOfCounts(distributions, counts, 'psi');
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  return {
    metric: 'psi',
    value: round(report.value),
    ...(report.feature ? { feature: report.feature } : {}),
    rows: report.samples,
    features: report.features.map((f) => ({ ...f, value: round(f.value) })),
  };
}

function parseManifest(bytes: Buffer): BatchManifest | undefined {
  try {
    const parsed = BatchManifestSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The training statistics at `uri`, or undefined when they are gone. */
async function readStats(store: ObjectStore, uri: string): Promise<DatasetStats | undefined> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    return DatasetStatsSchema.parse(JSON.parse((await store.read(bucket, key)).toString('utf8')));
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
}

/**
 * Writes the run's manifest once (it never changes: a later pass reads it back); its URI and
 * content (undefined if one there cannot be read as a manifest).
 */
export async function writeManifest(
  store: ObjectStore,
  bucket: string,
  runPrefix: string,
  markers: BatchShardMarker[],
  job: JobObject,
): Promise<{ uri: string; manifest: BatchManifest | undefined }> {
  const key = `${runPrefix}${BATCH_MANIFEST_FILE}`;
  const uri = s3Uri(bucket, key);
  let bytes: Buffer | undefined;
  try {
    bytes = await store.read(bucket, key);
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
  }
  if (bytes) return { uri, manifest: parseManifest(bytes) };
  const annotations = job.metadata?.annotations ?? {};
  const dataset = annotations[BatchAnnotation.dataset];
  const statsUri = annotations[BatchAnnotation.statsUri];
  const stats = statsUri ? await readStats(store, statsUri) : undefined;
  const drift = stats ? batchDriftOf(stats.distributions, batchDistributionOf(markers)) : undefined;
  const manifest = batchManifestOf(markers, {
    model: {
      modelVersion: annotations[BatchAnnotation.modelVersion] ?? '',
      digest: annotations[BatchAnnotation.modelDigest] ?? '',
    },
    ...(dataset
      ? { dataset: { name: dataset, version: annotations[BatchAnnotation.datasetVersion] ?? '' } }
      : {}),
    format: markers[0]?.part.endsWith('.csv') ? 'csv' : 'jsonl',
    ...(drift ? { drift } : {}),
  });
  await store.write(bucket, key, `${JSON.stringify(manifest, null, 2)}\n`, 'application/json');
  return { uri, manifest };
}

/** Why the Job failed: a shard's own result when one gave it, else the Job's reason. */
export function failureOf(job: JobObject, ctx: CacheReaders): { reason: string; message: string } {
  const pods = cachedPodsOfJob(ctx, job);
  for (const pod of pods) {
    const status = pod.status?.containerStatuses?.[0];
    const message = (status?.state?.terminated ?? status?.lastState?.terminated)?.message;
    const result = parseResult('batch', message);
    if (result?.outcome === 'failed') {
      const shard = pod.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'];
      return { reason: result.reason, message: `Shard ${shard ?? '?'}: ${result.message}` };
    }
  }
  const observed = observeJobRun(job, pods);
  return observed.phase === 'Failed'
    ? { reason: observed.reason, message: observed.message }
    : { reason: 'JobFailed', message: `Job ${job.metadata?.name} failed` };
}
