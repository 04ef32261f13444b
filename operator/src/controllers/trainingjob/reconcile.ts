/**
 * The TrainingJob controller: waits for the dataset version (`DatasetNotReady`), runs the
 * training Job (`desired.ts`), follows it through its pods and the trainer's progress file,
 * and on success registers exactly one ModelVersion `<model>-v<N>`, then copies the artifact
 * under `models/<ns>/<model>/<N>/` for the ModelVersion controller to verify.
 *
 * Exactly one ModelVersion, even if the operator restarts between steps: the ModelVersion
 * carries the TrainingJob's UID as a label and is looked up with a live list (never the cache,
 * which may not have seen it yet) before a version number is chosen; the number is claimed by
 * creating the ModelVersion (`AlreadyExists` means another run took it: try the next); the
 * artifact copy is idempotent. The ModelVersion is not owned: it outlives the TrainingJob.
 */

import { ArtifactManifestSchema } from '../../../../contract/manifest.js';
import { ObjectNotFoundError, type ObjectStore } from '../../../../contract/object-store.js';
import {
  DatasetFile,
  datasetVersionPrefix,
  keyInArtifact,
  MANIFEST_FILE,
  modelVersionPrefix,
  parseS3Uri,
  RunFile,
  s3Uri,
  trainingRunPrefix,
} from '../../../../contract/object-store-layout.js';
import { PreparedSchemaSchema } from '../../../../contract/prepared-data.js';
import {
  parseResult,
  type TrainingProgress,
  TrainingProgressSchema,
  type TrainResult,
} from '../../../../contract/results.js';
import type { OperatorConfig } from '../../config.js';
import { controllerReference } from '../../runtime/apply.js';
import { kinds } from '../../runtime/builtin-kinds.js';
import { isConditionTrue } from '../../runtime/conditions.js';
import {
  defineController,
  done,
  owns,
  type ReconcileContext,
  requeueAfter,
  watches,
  watchesPodsOf,
} from '../../runtime/controller.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import { isAlreadyExists } from '../../runtime/kube-client.js';
import {
  type DatasetObject,
  latheKinds,
  type ModelVersionObject,
  type TrainingJobObject,
} from '../lathe-kinds.js';
import { observeJobRun, podsOfJob } from '../shared/job-run.js';
import {
  desiredObjectStoreSecret,
  type ObjectStoreConfig,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import {
  desiredModelVersion,
  desiredTrainingJob,
  TRAINING_JOB_UID_LABEL,
  TrainingAnnotation,
  trainingJobName,
} from './desired.js';
import { type DatasetResolution, type TrainingObservation, trainingJobStatus } from './status.js';

/** How often a running training's progress file is read. */
const PROGRESS_POLL_MS = 1_500;
/** Version numbers tried when several runs of one model finish at once. */
const MAX_VERSION_CLAIMS = 20;

export interface TrainingJobControllerOptions {
  store: ObjectStore | undefined;
  storeConfig: OperatorConfig['objectStore'];
  image: string;
  gpuImage: string;
}

export function trainingJobController(options: TrainingJobControllerOptions) {
  const { store, storeConfig } = options;
  /** The task of each dataset version, by its schema's object-store key (immutable). */
  const tasks = new ExpiringMap<string, 'classification' | 'regression'>({ maxEntries: 1_000 });

  return defineController<TrainingJobObject>({
    name: 'trainingjob',
    for: latheKinds.trainingJob,
    owns: [owns(kinds.job, { deletes: true })],
    watches: [
      watchesPodsOf('TrainingJob'),
      watches(latheKinds.dataset, (ds, caches) =>
        caches
          .reader(latheKinds.trainingJob)
          .list(ds.metadata?.namespace)
          .filter((tj) => tj.spec.datasetRef.name === ds.metadata?.name)
          .map((tj) => ({ namespace: tj.metadata.namespace ?? '', name: tj.metadata.name ?? '' })),
      ),
    ],
    permissions: [
      ...objectStoreSecretPermissions,
      // Registering the result: a live list by label (the cache may lag) and a create.
      { apiGroups: ['lathe.dev'], resources: ['modelversions'], verbs: ['list', 'create'] },
      // spec.ttlSecondsAfterFinished deletes the TrainingJob itself.
      { apiGroups: ['lathe.dev'], resources: ['trainingjobs'], verbs: ['delete'] },
    ],
    async reconcile(tj, ctx) {
      const namespace = tj.metadata.namespace ?? '';
      const jobName = trainingJobName(tj);
      const pods = ctx.reader(kinds.pod).list(namespace);
      const jobs = ctx.childrenOf(kinds.job, tj);
      const finished = tj.status?.modelVersion !== undefined;
      // After success the run is final: a later spec change starts nothing (create a new
      // TrainingJob instead); before it, the Job of the current generation is the run.
      const job = finished
        ? jobs.find((j) => j.metadata?.name === tj.status?.jobName)
        : jobs.find((j) => j.metadata?.name === jobName);
      if (!finished) {
        const stale = await ctx.prune(kinds.job, tj, [jobName]);
        if (stale.length > 0)
          ctx.log.info({ deleted: stale }, 'Stopped the training of an older spec');
      }

      const dataset = job
        ? resolvedFromJob(job.metadata?.annotations ?? {})
        : store && storeConfig
          ? await resolveDataset(tj, ctx, store, storeConfig.bucket)
          : ({
              ready: false,
              reason: 'StorageNotConfigured',
              message:
                'The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials)',
              terminal: true,
            } as const);

      if (!job && dataset.ready && !finished && store && storeConfig) {
        await ctx.apply(kinds.secret, desiredObjectStoreSecret(namespace, storeConfig));
        const runPrefix = trainingRunPrefix(namespace, tj.metadata.name ?? '');
        await ctx.apply(
          kinds.job,
          desiredTrainingJob(
            tj,
            {
              datasetVersion: dataset.version,
              datasetUri: s3Uri(
                storeConfig.bucket,
                datasetVersionPrefix(namespace, tj.spec.datasetRef.name, dataset.version),
              ),
              runUri: s3Uri(storeConfig.bucket, runPrefix),
              outputUri: s3Uri(storeConfig.bucket, `${runPrefix}${RunFile.artifactDir}`),
              task: dataset.task,
            },
            {
              image: options.image,
              gpuImage: options.gpuImage,
              store: storeConfig,
              owner: controllerReference(tj, latheKinds.trainingJob.resource),
            },
          ),
        );
        await ctx.events.record(
          tj,
          'Normal',
          'TrainingStarted',
          'Train',
          `Created Job ${jobName} on dataset version ${dataset.version}`,
        );
      } else if (job && !finished && (job.spec?.suspend ?? false) !== tj.spec.suspend) {
        await ctx.client.patch(
          kinds.job.resource,
          namespace,
          jobName,
          'merge',
          { spec: { suspend: tj.spec.suspend } },
          { fieldManager: ctx.fieldManager },
        );
      }

      const run = job ? observeJobRun(job, podsOfJob(job, pods)) : undefined;
      const message =
        run && (run.phase === 'Succeeded' || run.phase === 'Failed')
          ? run.terminationMessage
          : undefined;
      const result = parseResult('train', message);
      let modelVersion = tj.status?.modelVersion;
      if (
        !modelVersion &&
        run?.phase === 'Succeeded' &&
        result?.outcome === 'succeeded' &&
        dataset.ready &&
        store &&
        storeConfig
      ) {
        modelVersion = await registerModelVersion(
          tj,
          result,
          dataset.version,
          ctx,
          store,
          storeConfig,
        );
      }
      // While it trains, and once more when it has just finished: the last epochs often land
      // between two polls.
      const justFinished =
        !tj.status?.completionTime && (run?.phase === 'Succeeded' || run?.phase === 'Failed');
      const progress =
        (run?.phase === 'Running' || justFinished) && store && storeConfig
          ? await readProgress(store, storeConfig.bucket, namespace, tj.metadata.name ?? '')
          : undefined;

      const observation: TrainingObservation = {
        dataset,
        job:
          job && run
            ? {
                name: job.metadata?.name ?? jobName,
                run,
                attempts:
                  (job.status?.active ?? 0) +
                  (job.status?.failed ?? 0) +
                  (job.status?.succeeded ?? 0),
              }
            : undefined,
        result,
        progress: progress ?? undefined,
        modelVersion,
      };
      const before = tj.status?.phase;
      const status = trainingJobStatus(tj, observation, ctx.now());
      await ctx.patchStatus(tj, status);
      if (before !== status.phase && status.phase === 'Failed' && status.failure) {
        await ctx.events.record(
          tj,
          'Warning',
          status.failure.reason,
          'Train',
          status.failure.message,
        );
      }

      if (
        (status.phase === 'Succeeded' || status.phase === 'Failed') &&
        tj.spec.ttlSecondsAfterFinished !== undefined
      ) {
        const expires =
          (Date.parse(status.completionTime ?? '') || ctx.now().getTime()) +
          tj.spec.ttlSecondsAfterFinished * 1000;
        if (ctx.now().getTime() >= expires) {
          ctx.log.info('Deleted the TrainingJob: ttlSecondsAfterFinished has passed');
          await ctx.delete(latheKinds.trainingJob, tj);
          return done();
        }
        return requeueAfter(expires - ctx.now().getTime());
      }
      if (status.phase === 'Running') return requeueAfter(PROGRESS_POLL_MS);
      return done();
    },
  });

  /** The dataset version and task a TrainingJob would train on now, or why it must wait. */
  async function resolveDataset(
    tj: TrainingJobObject,
    ctx: ReconcileContext<TrainingJobObject>,
    objectStore: ObjectStore,
    bucket: string,
  ): Promise<DatasetResolution> {
    const namespace = tj.metadata.namespace ?? '';
    const ref = tj.spec.datasetRef;
    const ds: DatasetObject | undefined = ctx.reader(latheKinds.dataset).get(namespace, ref.name);
    if (!ds) {
      return {
        ready: false,
        reason: 'DatasetNotReady',
        message: `Dataset ${ref.name} does not exist in ${namespace}`,
        terminal: false,
      };
    }
    let version = ref.version;
    if (!version) {
      const ready = ds.status?.conditions?.find((c) => c.type === 'Ready');
      if (!isConditionTrue(ds.status?.conditions, 'Ready') || !ds.status?.currentVersion) {
        return {
          ready: false,
          reason: 'DatasetNotReady',
          message: `Dataset ${ref.name} is not Ready${ready ? ` (${ready.reason}: ${ready.message})` : ''}`,
          terminal: false,
        };
      }
      version = ds.status.currentVersion;
    }
    const key = `${datasetVersionPrefix(namespace, ref.name, version)}${DatasetFile.schema}`;
    let task = tasks.get(key);
    if (!task) {
      try {
        const schema = PreparedSchemaSchema.parse(
          JSON.parse((await objectStore.read(bucket, key)).toString('utf8')),
        );
        task = schema.task;
        tasks.set(key, task);
      } catch (error) {
        if (error instanceof ObjectNotFoundError) {
          return {
            ready: false,
            reason: 'DatasetNotReady',
            message: `Version ${version} of Dataset ${ref.name} is not in the object store (s3://${bucket}/${key})`,
            terminal: false,
          };
        }
        throw error;
      }
    }
    if (tj.spec.task && tj.spec.task !== task) {
      return {
        ready: false,
        reason: 'InvalidSpec',
        message: `spec.task is ${tj.spec.task}, but version ${version} of Dataset ${ref.name} was prepared for ${task} (the type of its label column decides; set spec.schema.columns in the Dataset to change it)`,
        terminal: true,
      };
    }
    return { ready: true, version, task };
  }
}

function resolvedFromJob(annotations: Record<string, string>): DatasetResolution {
  const version = annotations[TrainingAnnotation.datasetVersion] ?? '';
  const task =
    annotations[TrainingAnnotation.task] === 'regression' ? 'regression' : 'classification';
  return { ready: true, version, task };
}

async function readProgress(
  store: ObjectStore,
  bucket: string,
  namespace: string,
  name: string,
): Promise<TrainingProgress | undefined> {
  try {
    const bytes = await store.read(
      bucket,
      `${trainingRunPrefix(namespace, name)}${RunFile.progress}`,
    );
    const parsed = TrainingProgressSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    // Not written yet, or half-written: the next poll reads it.
    if (error instanceof ObjectNotFoundError || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/**
 * Registers the ModelVersion of a successful run, exactly once, and copies its artifact into
 * place (idempotent). Returns its name and version.
 */
async function registerModelVersion(
  tj: TrainingJobObject,
  result: Extract<TrainResult, { outcome: 'succeeded' }>,
  datasetVersion: string,
  ctx: ReconcileContext<TrainingJobObject>,
  store: ObjectStore,
  storeConfig: ObjectStoreConfig,
): Promise<{ name: string; version: number }> {
  const namespace = tj.metadata.namespace ?? '';
  const model = tj.spec.modelName;
  const resource = latheKinds.modelVersion.resource;
  const mine = await ctx.client.list<ModelVersionObject>(resource, {
    namespace,
    labelSelector: `${TRAINING_JOB_UID_LABEL}=${tj.metadata.uid}`,
  });
  let registered = mine.items[0];
  if (!registered) {
    const siblings = await ctx.client.list<ModelVersionObject>(resource, {
      namespace,
      fieldSelector: `spec.modelName=${model}`,
    });
    let version = Math.max(0, ...siblings.items.map((mv) => mv.spec.version)) + 1;
    for (let tries = 0; !registered && tries < MAX_VERSION_CLAIMS; tries++, version++) {
      const desired = desiredModelVersion(tj, result, {
        version,
        datasetVersion,
        artifactUri: s3Uri(storeConfig.bucket, modelVersionPrefix(namespace, model, version)),
      });
      try {
        registered = await ctx.client.create<ModelVersionObject>(
          resource,
          desired as ModelVersionObject,
        );
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
      }
    }
    if (!registered)
      throw new Error(
        `No free version number for model ${model} after ${MAX_VERSION_CLAIMS} tries`,
      );
    await ctx.events.record(
      tj,
      'Normal',
      'ModelVersionRegistered',
      'Register',
      `Registered ModelVersion ${registered.metadata?.name} (${Object.entries(result.metrics)
        .map(([k, v]) => `${k}=${v.toPrecision(4)}`)
        .slice(0, 6)
        .join(', ')})`,
    );
  }
  await copyArtifact(store, result.artifact.uri, registered.spec.artifact.uri);
  return { name: registered.metadata?.name ?? '', version: registered.spec.version };
}

/** Copies every file of the manifest at `from`, then the manifest, to `to` (server-side). */
async function copyArtifact(store: ObjectStore, from: string, to: string): Promise<void> {
  const source = parseS3Uri(from);
  const target = parseS3Uri(to);
  const manifestBytes = await store.read(source.bucket, keyInArtifact(source.key, MANIFEST_FILE));
  try {
    const existing = await store.read(target.bucket, keyInArtifact(target.key, MANIFEST_FILE));
    if (existing.equals(manifestBytes)) return;
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
  }
  const manifest = ArtifactManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  // Every file first, the manifest last: a half-copied artifact reads as "not there yet".
  for (const path of [...manifest.files.map((f) => f.path), MANIFEST_FILE]) {
    await store.copy(
      { bucket: source.bucket, key: keyInArtifact(source.key, path) },
      { bucket: target.bucket, key: keyInArtifact(target.key, path) },
    );
  }
}
