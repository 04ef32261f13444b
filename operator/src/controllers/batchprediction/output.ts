/**
 * A BatchPrediction run's output as the operator sees it: the shards' markers (progress, and the
 * proof a part is complete), the manifest it writes once every shard has one, and the reason a
 * failed run gives — a shard's own result when one wrote it, else the Job's.
 */
import {
  BATCH_MANIFEST_FILE,
  type BatchShardMarker,
  BatchShardMarkerSchema,
  batchManifestOf,
} from '../../../../contract/batch.js';
import { ObjectNotFoundError, type ObjectStore } from '../../../../contract/object-store.js';
import { s3Uri } from '../../../../contract/object-store-layout.js';
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

/** Writes the run's manifest once (it never changes); its URI. */
export async function writeManifest(
  store: ObjectStore,
  bucket: string,
  runPrefix: string,
  markers: BatchShardMarker[],
  job: JobObject,
): Promise<string> {
  const key = `${runPrefix}${BATCH_MANIFEST_FILE}`;
  if (!(await store.exists(bucket, key))) {
    const annotations = job.metadata?.annotations ?? {};
    const dataset = annotations[BatchAnnotation.dataset];
    const manifest = batchManifestOf(markers, {
      model: {
        modelVersion: annotations[BatchAnnotation.modelVersion] ?? '',
        digest: annotations[BatchAnnotation.modelDigest] ?? '',
      },
      ...(dataset
        ? { dataset: { name: dataset, version: annotations[BatchAnnotation.datasetVersion] ?? '' } }
        : {}),
      format: markers[0]?.part.endsWith('.csv') ? 'csv' : 'jsonl',
    });
    await store.write(bucket, key, `${JSON.stringify(manifest, null, 2)}\n`, 'application/json');
  }
  return s3Uri(bucket, key);
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
