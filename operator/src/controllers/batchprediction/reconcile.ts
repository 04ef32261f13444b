/**
 * The BatchPrediction controller: one run per object (`contract/batch.ts`, `desired.ts`).
 *
 * 1. `pii-key` — the namespace's PII key Secret (shards hash raw values of the model's hashed
 *    PII columns, as the server does);
 * 2. `run` — before the run's Job exists: resolves the model (a Ready version: waits for one),
 *    the input (a Dataset version's raw splits, or objects under the namespace's prefixes:
 *    waits while they are missing, stalls on an input it may not read), issues the shards'
 *    credentials (read the model and the input, write the run's output) and creates the Indexed
 *    Job, which pins all of it. Once it exists: keeps the credentials fresh, reads the shards'
 *    markers for progress, writes the manifest when the Job completes, and finds the reason
 *    when it fails.
 *
 * Events: `Started`, then `Succeeded` or `Failed`.
 */
import {
  BATCH_MANIFEST_FILE,
  type BatchInput,
  type BatchShardMarker,
  BatchShardMarkerSchema,
  batchManifestOf,
} from '../../../../contract/batch.js';
import { ObjectNotFoundError, type ObjectStore } from '../../../../contract/object-store.js';
import {
  batchRunPrefix,
  DatasetFile,
  datasetVersionPrefix,
  isReadableByNamespace,
  parseS3Uri,
  s3Uri,
} from '../../../../contract/object-store-layout.js';
import { parseResult } from '../../../../contract/results.js';
import { controllerReference } from '../../runtime/apply.js';
import { type JobObject, kinds } from '../../runtime/builtin-kinds.js';
import type { Readiness } from '../../runtime/conditions.js';
import { owns, type ReconcileContext, watches, watchesPodsOf } from '../../runtime/controller.js';
import { defineStepController, type Step } from '../../runtime/steps.js';
import { type BatchPredictionObject, latheKinds } from '../lathe-kinds.js';
import { MODEL_VERSIONS_BY_MODEL, modelVersionsByModel } from '../shared/indexes.js';
import { cachedPodsOfJob, observeJobRun } from '../shared/job-run.js';
import {
  artifactGrantPrefix,
  CredentialRole,
  type Grant,
  grants,
  type ObjectStoreAccess,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import { piiKeySecretPermissions, piiKeyStep } from '../shared/pii-key.js';
import { resolveModelVersion } from '../shared/resolve-model-version.js';
import {
  BatchAnnotation,
  type BatchRun,
  batchJobName,
  desiredBatchJob,
  shardCount,
} from './desired.js';
import { type BatchFacts, batchReadiness, batchStatusFields, completeCondition } from './status.js';

export interface BatchPredictionControllerOptions {
  store: ObjectStore | undefined;
  access: ObjectStoreAccess | undefined;
  /** The trainer image, whose `batch` mode scores a shard. */
  image: string;
  piiMasterKey?: string | undefined;
}

type Ctx = ReconcileContext<BatchPredictionObject>;

/** How often a run's progress (its shards' markers) is read while it runs. */
const PROGRESS_POLL_MS = 5_000;
/** How often to look again for a model, a dataset version or an input that is not there yet. */
const WAIT_POLL_MS = 30_000;

const waiting = (reason: string, message: string): Readiness => ({
  state: 'progressing',
  reason,
  message,
});
const stalled = (reason: string, message: string): Readiness => ({
  state: 'stalled',
  reason,
  message,
});

/** The BatchPredictions (in the cache) that score `model`. */
function batchesOfModel(
  mv: { metadata?: { namespace?: string }; spec: { modelName: string } },
  caches: Pick<Ctx, 'reader'>,
) {
  const namespace = mv.metadata?.namespace ?? '';
  return caches
    .reader(latheKinds.batchPrediction)
    .list(namespace)
    .filter((bp) => bp.spec.model.name === mv.spec.modelName && !bp.status?.model)
    .map((bp) => ({ namespace, name: bp.metadata.name ?? '' }));
}

/** The BatchPredictions (in the cache) that score a version of `dataset` and have not started. */
function batchesOfDataset(
  ds: { metadata?: { namespace?: string; name?: string } },
  caches: Pick<Ctx, 'reader'>,
) {
  const namespace = ds.metadata?.namespace ?? '';
  return caches
    .reader(latheKinds.batchPrediction)
    .list(namespace)
    .filter((bp) => bp.spec.input.datasetRef?.name === ds.metadata?.name && !bp.status?.model)
    .map((bp) => ({ namespace, name: bp.metadata.name ?? '' }));
}

export function batchPredictionController({
  store,
  access,
  image,
  piiMasterKey,
}: BatchPredictionControllerOptions) {
  const run: Step<BatchPredictionObject, BatchFacts> = {
    name: 'run',
    async run(bp, ctx) {
      if (!store || !access) {
        return part({
          notStarted: stalled(
            'StorageNotConfigured',
            'The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials)',
          ),
        });
      }
      const bucket = access.store.bucket;
      const job = ctx.childrenOf(kinds.job, bp).find((j) => j.metadata?.name === batchJobName(bp));
      if (!job) {
        const planned = await planRun(bp, ctx, store, bucket);
        if ('notStarted' in planned) {
          return part(
            { notStarted: planned.notStarted },
            planned.notStarted.state === 'progressing' ? WAIT_POLL_MS : undefined,
          );
        }
        const grant = grantOf(bp, planned.run, bucket);
        await provideCredentials(bp, grant, access, ctx);
        const created = desiredBatchJob(bp, planned.run, {
          image,
          store: access.store,
          owner: controllerReference(bp, latheKinds.batchPrediction.resource),
          grant,
        });
        await ctx.apply(kinds.job, created);
        ctx.log.info(
          {
            job: created.metadata?.name,
            shards: planned.run.shards,
            model: planned.run.modelVersion,
          },
          'Started the batch run',
        );
        await ctx.events.record(
          bp,
          'Normal',
          'Started',
          'Score',
          `Scoring ${planned.run.input.objects.length} object(s) with ${planned.run.modelVersion} in ${planned.run.shards} shard(s), ${Math.min(bp.spec.parallelism, planned.run.shards)} at once`,
        );
        return part({ job: created }, PROGRESS_POLL_MS);
      }

      const outputUri = job.metadata?.annotations?.[BatchAnnotation.outputUri] ?? '';
      const { key: runPrefix } = parseS3Uri(outputUri);
      const digest = job.metadata?.annotations?.[BatchAnnotation.modelDigest] ?? '';
      const markers = await readMarkers(store, bucket, runPrefix, digest);
      const facts: BatchFacts = { job, markers };
      const done = job.status?.conditions?.some(
        (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
      );
      if (!done) {
        // The grant the Job was created with (the cache keeps no pod template environment).
        const pinned = job.metadata?.annotations?.[BatchAnnotation.grant];
        if (pinned) await provideCredentials(bp, JSON.parse(pinned) as Grant, access, ctx);
        return part(facts, PROGRESS_POLL_MS);
      }
      if (job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')) {
        const shards = job.spec?.completions ?? 0;
        if (markers.length < shards) {
          facts.failure = {
            reason: 'MarkersMissing',
            message: `The Job completed but ${shards - markers.length} of ${shards} shards left no marker under ${outputUri}_shards/: the output is incomplete`,
          };
          return part(facts);
        }
        facts.manifestUri = await writeManifest(store, bucket, runPrefix, markers, job);
        return part(facts);
      }
      facts.failure = failureOf(job, ctx);
      return part(facts);
    },
  };

  return defineStepController<BatchPredictionObject, BatchFacts>({
    name: 'batchprediction',
    for: latheKinds.batchPrediction,
    owns: [owns(kinds.job, { deletes: false })],
    watches: [
      watchesPodsOf('BatchPrediction'),
      // A model or a dataset version a run waits for appears.
      watches(latheKinds.modelVersion, batchesOfModel),
      watches(latheKinds.dataset, batchesOfDataset),
    ],
    indexes: [modelVersionsByModel],
    permissions: [...objectStoreSecretPermissions, ...piiKeySecretPermissions],
    steps: [piiKeyStep(piiMasterKey), run],
    status: (_bp, facts) => batchStatusFields(facts),
    ready: (_bp, facts) => {
      const readiness = batchReadiness(facts);
      return { reason: readiness.reason, message: readiness.message };
    },
    async afterStatus(bp, before, after, ctx) {
      const was = (before as { phase?: string } | undefined)?.phase;
      const now = (after as { phase?: string }).phase;
      if (now === was) return;
      if (now === 'Succeeded') {
        const rows = (after as { rows?: { written: number; failed: number } }).rows;
        const output = (after as { output?: { manifest?: string } }).output;
        await ctx.events.record(
          bp,
          'Normal',
          'Succeeded',
          'Score',
          `Scored ${rows?.written} rows (${rows?.failed} could not be scored); manifest ${output?.manifest}`,
        );
      } else if (now === 'Failed') {
        const failed = (
          after as { conditions?: { type: string; message?: string }[] }
        ).conditions?.find((c) => c.type === 'Complete');
        await ctx.events.record(
          bp,
          'Warning',
          'Failed',
          'Score',
          failed?.message ?? 'The run failed',
        );
      }
    },
  });
}

/** A step part of `facts`: the status builder's readiness and `Complete` condition with them. */
function part(facts: BatchFacts, requeueAfterMs?: number) {
  return {
    facts,
    readiness: batchReadiness(facts),
    conditions: [completeCondition(facts)],
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}

/** What the shards of `run` may read (the model, the input) and write (the run's output). */
function grantOf(bp: BatchPredictionObject, run: BatchRun, bucket: string): Grant {
  return grants.batch(
    artifactGrantPrefix(run.modelUri, bucket, bp.metadata.namespace ?? ''),
    run.input.objects.map((o) => parseS3Uri(o.uri).key),
    parseS3Uri(run.outputUri).key,
  );
}

async function provideCredentials(
  bp: BatchPredictionObject,
  grant: Grant,
  access: ObjectStoreAccess,
  ctx: Ctx,
): Promise<void> {
  await access.provide(
    ctx,
    bp,
    controllerReference(bp, latheKinds.batchPrediction.resource),
    CredentialRole.batch,
    grant,
  );
}

/** What the run scores with what, or why it cannot start yet. */
async function planRun(
  bp: BatchPredictionObject,
  ctx: Ctx,
  store: ObjectStore,
  bucket: string,
): Promise<{ run: BatchRun } | { notStarted: Readiness }> {
  const namespace = bp.metadata.namespace ?? '';
  const model = bp.spec.model;
  const resolved = resolveModelVersion(
    ctx.byField(latheKinds.modelVersion, MODEL_VERSIONS_BY_MODEL, namespace, model.name),
    model.name,
    {
      ...(model.version !== undefined ? { version: model.version } : {}),
      ...(model.stage !== undefined ? { stage: model.stage } : {}),
    },
  );
  if (!resolved.ok) return { notStarted: waiting('WaitingForModel', resolved.message) };
  const mv = resolved.modelVersion;
  if (mv.spec.artifact.format !== 'tfjs') {
    return {
      notStarted: stalled(
        'UnsupportedModelFormat',
        `ModelVersion ${mv.metadata.name} is a ${mv.spec.artifact.format} artifact; batch scoring runs TensorFlow.js models`,
      ),
    };
  }
  const input = await planInput(bp, ctx, store, bucket);
  if ('notStarted' in input) return input;
  return {
    run: {
      modelVersion: mv.metadata.name ?? '',
      modelUri: mv.spec.artifact.uri,
      modelDigest: mv.spec.artifact.digest,
      ...(input.dataset ? { dataset: input.dataset } : {}),
      input: input.input,
      outputUri: s3Uri(
        bucket,
        batchRunPrefix(namespace, bp.metadata.name ?? '', bp.metadata.uid ?? 'run'),
      ),
      shards: shardCount(bp),
    },
  };
}

async function planInput(
  bp: BatchPredictionObject,
  ctx: Ctx,
  store: ObjectStore,
  bucket: string,
): Promise<
  { input: BatchInput; dataset?: { name: string; version: string } } | { notStarted: Readiness }
> {
  const namespace = bp.metadata.namespace ?? '';
  const ref = bp.spec.input.datasetRef;
  if (ref) {
    const ds = ctx.reader(latheKinds.dataset).get(namespace, ref.name);
    if (!ds) {
      return { notStarted: waiting('WaitingForDataset', `Dataset ${ref.name} does not exist`) };
    }
    const version = ref.version ?? ds.status?.currentVersion;
    if (!version) {
      return {
        notStarted: waiting('WaitingForDataset', `Dataset ${ref.name} has no version yet`),
      };
    }
    const prefix = datasetVersionPrefix(namespace, ref.name, version);
    const listed = await store.listObjects(bucket, prefix);
    const files = [DatasetFile.trainRaw, DatasetFile.testRaw]
      .map((file) => listed.find((o) => o.key === `${prefix}${file}`))
      .filter((o) => o !== undefined);
    if (listed.length === 0) {
      return {
        notStarted: waiting(
          'WaitingForDataset',
          `Dataset ${ref.name} version ${version} is not in the object store (yet)`,
        ),
      };
    }
    if (files.length < 2) {
      return {
        notStarted: stalled(
          'InputHasNoRawRows',
          `Dataset ${ref.name} version ${version} does not keep its rows before preparation (${DatasetFile.trainRaw}, ${DatasetFile.testRaw}): it was ingested by an older Lathe; refresh the Dataset to make a new version`,
        ),
      };
    }
    return {
      input: {
        objects: files.map((o) => ({
          uri: s3Uri(bucket, o.key),
          sizeBytes: o.sizeBytes,
          format: 'jsonl' as const,
        })),
        csv: { delimiter: ',', header: true },
      },
      dataset: { name: ref.name, version },
    };
  }
  const s3 = bp.spec.input.s3!;
  const where = s3.key ?? s3.prefix ?? '';
  if (!isReadableByNamespace(where, namespace)) {
    return {
      notStarted: stalled(
        'InputOutsideNamespace',
        `spec.input.s3 ${s3.key ? 'key' : 'prefix'} ${where} is outside namespace ${namespace}'s prefixes in s3://${bucket}/ (sources/${namespace}/, batch/${namespace}/, …, shared/): put the data under s3://${bucket}/sources/${namespace}/`,
      ),
    };
  }
  const listed = await store.listObjects(bucket, where);
  const objects = (
    s3.key
      ? listed.filter((o) => o.key === s3.key)
      : listed.filter((o) => !o.key.endsWith('/') && o.sizeBytes > 0)
  ).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (objects.length === 0) {
    return {
      notStarted: waiting('WaitingForInput', `Nothing to score at s3://${bucket}/${where} (yet)`),
    };
  }
  return {
    input: {
      objects: objects.map((o) => ({
        uri: s3Uri(bucket, o.key),
        sizeBytes: o.sizeBytes,
        format: s3.format,
      })),
      csv: { delimiter: s3.csv.delimiter, header: s3.csv.header },
    },
  };
}

/** The markers of the run's finished shards (of this model). */
async function readMarkers(
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
async function writeManifest(
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
function failureOf(job: JobObject, ctx: Ctx): { reason: string; message: string } {
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
