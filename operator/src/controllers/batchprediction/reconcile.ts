/**
 * The BatchPrediction controller: one run per object (`contract/batch.ts`, `desired.ts`).
 *
 * 1. `pii-key` — the namespace's PII key Secret (shards hash raw values of the model's hashed
 *    PII columns, as the server does);
 * 2. `run` — before the run's Job exists: resolves the model (a Ready version: waits for one),
 *    the input (a Dataset version's raw splits, objects under the namespace's prefixes, or a
 *    URL that only the shards fetch: waits while they are missing, stalls on an input it may
 *    not read), where it writes (stalls on an output prefix outside the namespace), issues the shards'
 *    credentials (read the model and the input, write the run's output) and creates the Indexed
 *    Job, which pins all of it (`plan.ts`). Once it exists: keeps the credentials fresh, reads the shards'
 *    markers for progress, writes the manifest when the Job completes (the shards' counts
 *    merged, their drift from the model's training statistics: `status.drift`,
 *    `status.predictions`), and finds the reason when it fails (`output.ts`).
 *
 * Events: `Started`, then `Succeeded` or `Failed`.
 */
import type { ObjectStore } from '../../../../contract/object-store.js';
import { parseS3Uri } from '../../../../contract/object-store-layout.js';
import type { HttpSourcePolicy } from '../../config.js';
import { controllerReference } from '../../runtime/apply.js';
import { kinds } from '../../runtime/builtin-kinds.js';
import { owns, type ReconcileContext, watches, watchesPodsOf } from '../../runtime/controller.js';
import { defineStepController, type Step } from '../../runtime/steps.js';
import { type BatchPredictionObject, latheKinds } from '../lathe-kinds.js';
import { modelVersionsByModel } from '../shared/indexes.js';
import {
  artifactGrantPrefix,
  CredentialRole,
  type Grant,
  grants,
  type ObjectStoreAccess,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import { piiKeySecretPermissions, piiKeyStep } from '../shared/pii-key.js';
import { BatchAnnotation, type BatchRun, batchJobName, desiredBatchJob } from './desired.js';
import { failureOf, readMarkers, writeManifest } from './output.js';
import { planRun, stalled } from './plan.js';
import { type BatchFacts, batchReadiness, batchStatusFields, completeCondition } from './status.js';

export interface BatchPredictionControllerOptions {
  store: ObjectStore | undefined;
  access: ObjectStoreAccess | undefined;
  /** The trainer image, whose `batch` mode scores a shard. */
  image: string;
  piiMasterKey?: string | undefined;
  /** Where an HTTP input may connect (the install's policy, as for a Dataset's HTTP source). */
  httpSource?: HttpSourcePolicy;
}

type Ctx = ReconcileContext<BatchPredictionObject>;

/** How often a run's progress (its shards' markers) is read while it runs. */
const PROGRESS_POLL_MS = 5_000;
/** How often to look again for a model, a dataset version or an input that is not there yet. */
const WAIT_POLL_MS = 30_000;

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
  httpSource,
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
          ...(httpSource ? { httpSource } : {}),
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
        const written = await writeManifest(store, bucket, runPrefix, markers, job);
        facts.manifestUri = written.uri;
        if (written.manifest) facts.manifest = written.manifest;
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

/**
 * What the shards of `run` may read (the model, the input objects in the store: a URL needs no
 * grant, the training statistics) and write (the run's output).
 */
function grantOf(bp: BatchPredictionObject, run: BatchRun, bucket: string): Grant {
  return grants.batch(
    artifactGrantPrefix(run.modelUri, bucket, bp.metadata.namespace ?? ''),
    [
      ...run.input.objects
        .filter((o) => o.uri.startsWith('s3://'))
        .map((o) => parseS3Uri(o.uri).key),
      ...(run.statsUri ? [parseS3Uri(run.statsUri).key] : []),
    ],
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
