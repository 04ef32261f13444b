/**
 * The Dataset controller: runs an ingestion Job when one is due (`runs.ts`), follows it through
 * its pods, reads the program's result from the pod's termination message and the version's
 * statistics from the object store, and reports it all in status (`status.ts`).
 *
 * It keeps the newest ingestion Jobs (and the newest that succeeded) as history and deletes
 * older ones; versions that fall out of `spec.versionHistoryLimit` are deleted from the object
 * store unless a ModelVersion's lineage or a TrainingJob still refers to them.
 */

import { type DatasetStats, DatasetStatsSchema } from '../../../../contract/dataset-stats.js';
import { ObjectNotFoundError, type ObjectStore } from '../../../../contract/object-store.js';
import { DatasetFile, datasetVersionPrefix } from '../../../../contract/object-store-layout.js';
import { type IngestResult, parseResult } from '../../../../contract/results.js';
import type { DatasetStatus } from '../../api/dataset.js';
import type { OperatorConfig } from '../../config.js';
import { controllerReference } from '../../runtime/apply.js';
import { type JobObject, kinds } from '../../runtime/builtin-kinds.js';
import { setKstatus } from '../../runtime/conditions.js';
import {
  defineController,
  done,
  owns,
  type ReconcileContext,
  requeueAfter,
  TerminalError,
  watches,
  watchesPodsOf,
} from '../../runtime/controller.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import { type DatasetObject, latheKinds } from '../lathe-kinds.js';
import { type JobRun, observeJobRun, podsOfJob } from '../shared/job-run.js';
import {
  desiredObjectStoreSecret,
  type ObjectStoreConfig,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import { desiredIngestJob } from './desired.js';
import {
  decideRun,
  type FinishedRun,
  newestFirst,
  REFRESH_ANNOTATION,
  runAnnotations,
} from './runs.js';
import {
  type DatasetObservation,
  datasetStatus,
  failureMessage,
  type LatestRun,
  type SucceededRun,
  type ValidationVerdict,
} from './status.js';

/** Finished ingestion Jobs kept as history (the newest that succeeded is always kept too). */
const JOB_HISTORY = 3;
/** The most versions' statistics kept in memory. */
const STATS_CACHE_SIZE = 500;

export interface DatasetControllerOptions {
  store: ObjectStore | undefined;
  storeConfig: OperatorConfig['objectStore'];
  image: string;
}

interface ObservedJob {
  job: JobObject;
  run: JobRun;
  result: IngestResult | undefined;
}

const notRetried = new Set(['ValidationFailed', 'InvalidData']);

export function datasetController({ store, storeConfig, image }: DatasetControllerOptions) {
  const statsCache = new ExpiringMap<string, DatasetStats>({ maxEntries: STATS_CACHE_SIZE });
  const dataset = latheKinds.dataset;

  async function statsOf(ds: DatasetObject, version: string, bucket: string) {
    const key = `${datasetVersionPrefix(ds.metadata.namespace ?? '', ds.metadata.name ?? '', version)}${DatasetFile.stats}`;
    const cached = statsCache.get(key);
    if (cached) return cached;
    try {
      const stats = DatasetStatsSchema.parse(
        JSON.parse((await store!.read(bucket, key)).toString('utf8')),
      );
      statsCache.set(key, stats);
      return stats;
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return undefined;
      throw error;
    }
  }

  return defineController<DatasetObject>({
    name: 'dataset',
    for: dataset,
    owns: [owns(kinds.job, { deletes: true })],
    watches: [
      watchesPodsOf('Dataset'),
      // Read to keep the versions they refer to; their changes need no reconcile.
      watches(latheKinds.trainingJob, () => []),
      watches(latheKinds.modelVersion, () => []),
    ],
    permissions: objectStoreSecretPermissions,
    async reconcile(ds, ctx) {
      if (!store || !storeConfig) {
        await ctx.patchStatus(ds, {
          ...(ds.status ?? {}),
          observedGeneration: ds.metadata.generation,
          conditions: setKstatus(
            ds.status?.conditions,
            {
              state: 'stalled',
              reason: 'StorageNotConfigured',
              message:
                'The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials)',
            },
            ds.metadata.generation,
            ctx.now(),
          ),
        });
        throw new TerminalError('The operator has no object store configured', {
          reason: 'StorageNotConfigured',
        });
      }
      const namespace = ds.metadata.namespace ?? '';
      const pods = ctx.reader(kinds.pod).list(namespace);
      const observed: ObservedJob[] = newestFirst(ctx.childrenOf(kinds.job, ds)).map((job) => {
        const run = observeJobRun(job, podsOfJob(job, pods));
        const message =
          run.phase === 'Succeeded' || run.phase === 'Failed' ? run.terminationMessage : undefined;
        return { job, run, result: parseResult('ingest', message) };
      });

      const now = ctx.now();
      const latest = observed[0];
      const decision = decideRun({
        name: ds.metadata.name ?? '',
        generation: ds.metadata.generation ?? 0,
        refreshInterval: ds.spec.refreshInterval,
        request: ds.metadata.annotations?.[REFRESH_ANNOTATION] ?? '',
        latest: latest ? finishedOrActive(latest) : undefined,
        now,
      });

      if (decision.action === 'supersede') {
        ctx.log.info({ job: decision.job.metadata?.name }, 'Stopped an ingestion of an older spec');
        await ctx.delete(kinds.job, decision.job);
        return done();
      }
      if (decision.action === 'start') {
        await startRun(ds, decision.run, { image, storeConfig }, ctx);
        await ctx.events.record(
          ds,
          'Normal',
          'IngestionStarted',
          'Ingest',
          `Started ${decision.run.jobName} (${decision.run.trigger}, attempt ${decision.run.attempt})`,
        );
        // The new Job's events bring the next reconcile.
        return done();
      }

      const observation: DatasetObservation = {
        latest: latest
          ? latestRun(latest, decision.action === 'wait' ? decision.at : undefined)
          : undefined,
        succeeded: await newestSucceeded(observed, ds, storeConfig.bucket),
        validation: newestVerdict(observed),
      };
      const status = datasetStatus(ds, observation, now);
      const before = ds.status?.lastIngestion;
      await ctx.patchStatus(ds, status);
      await recordTransition(ds, before, status, ctx);

      await pruneJobs(observed, ctx);
      await deleteTrimmedVersions(ds, status, storeConfig.bucket, ctx);

      return decision.action === 'wait'
        ? requeueAfter(Math.max(1_000, decision.at.getTime() - now.getTime()))
        : done();
    },
  });

  /**
   * Deletes from the object store the versions that left the history, unless the Dataset still
   * uses one or a ModelVersion (lineage) or TrainingJob (pin or status) in the namespace refers
   * to it. A failed deletion leaves data behind, never a broken reference, so it only logs.
   */
  async function deleteTrimmedVersions(
    ds: DatasetObject,
    status: DatasetStatus,
    bucket: string,
    ctx: ReconcileContext<DatasetObject>,
  ): Promise<void> {
    const kept = new Set((status.versions ?? []).map((v) => v.version));
    if (status.currentVersion) kept.add(status.currentVersion);
    const trimmed = (ds.status?.versions ?? []).filter((v) => !kept.has(v.version));
    if (trimmed.length === 0) return;
    const used = referencedVersions(ds, ctx);
    for (const { version } of trimmed) {
      if (used.has(version)) continue;
      const prefix = datasetVersionPrefix(
        ds.metadata.namespace ?? '',
        ds.metadata.name ?? '',
        version,
      );
      try {
        const removed = await store!.removePrefix(bucket, prefix);
        ctx.log.info({ version, removed }, 'Deleted a dataset version that left the history');
      } catch (error) {
        ctx.log.warn(
          { err: error, version },
          'Failed to delete a dataset version; left in the store',
        );
      }
    }
  }

  async function newestSucceeded(
    observed: ObservedJob[],
    ds: DatasetObject,
    bucket: string,
  ): Promise<SucceededRun | undefined> {
    const found = observed.find(
      (o) => o.run.phase === 'Succeeded' && o.result?.outcome === 'succeeded',
    );
    if (found?.result?.outcome !== 'succeeded' || found.run.phase !== 'Succeeded') return undefined;
    return {
      generation: runAnnotations(found.job).generation,
      completionTime: found.run.completionTime ?? found.job.metadata?.creationTimestamp ?? '',
      result: found.result,
      stats: await statsOf(ds, found.result.version, bucket),
    };
  }
}

function finishedOrActive(
  o: ObservedJob,
): { job: JobObject; active: true } | ({ active: false } & FinishedRun) {
  if (o.run.phase === 'Pending' || o.run.phase === 'Running') return { job: o.job, active: true };
  const failure = failureOf(o);
  return {
    active: false,
    job: o.job,
    succeeded: failure === undefined,
    ...(failure ? { reason: failure.reason } : {}),
    finishedAt: o.run.completionTime,
  };
}

/** Why a finished run failed, or undefined when it succeeded with a result. */
function failureOf(o: ObservedJob): LatestRun['failure'] {
  if (o.run.phase === 'Pending' || o.run.phase === 'Running') return undefined;
  if (o.result?.outcome === 'succeeded') return undefined;
  if (o.result?.outcome === 'failed') {
    return {
      reason: o.result.reason,
      message: failureMessage(o.result),
      retryable: !notRetried.has(o.result.reason),
    };
  }
  if (o.run.phase === 'Succeeded') {
    return {
      reason: 'InternalError',
      message: 'The ingestion program exited without reporting a result',
      retryable: true,
    };
  }
  const output = o.run.terminationMessage?.trim();
  return {
    reason: o.run.reason,
    message: output ? `${o.run.message} Its last output: ${output.slice(-1500)}` : o.run.message,
    retryable: true,
  };
}

function latestRun(o: ObservedJob, nextAttemptAt: Date | undefined): LatestRun {
  const a = runAnnotations(o.job);
  const failure = failureOf(o);
  return {
    jobName: o.job.metadata?.name ?? '',
    trigger: a.trigger,
    attempt: a.attempt,
    generation: a.generation,
    run: o.run,
    ...(failure ? { failure } : {}),
    ...(failure?.retryable && nextAttemptAt ? { nextAttemptTime: nextAttemptAt } : {}),
  };
}

function newestVerdict(observed: ObservedJob[]): ValidationVerdict | undefined {
  for (const o of observed) {
    if (o.result?.outcome === 'succeeded') {
      return {
        passed: true,
        reason: 'ValidationPassed',
        message: `${o.result.rows} rows passed every rule (version ${o.result.version})`,
      };
    }
    if (o.result?.outcome === 'failed' && notRetried.has(o.result.reason)) {
      return { passed: false, reason: o.result.reason, message: failureMessage(o.result) };
    }
  }
  return undefined;
}

async function startRun(
  ds: DatasetObject,
  run: Parameters<typeof desiredIngestJob>[1],
  { image, storeConfig }: { image: string; storeConfig: ObjectStoreConfig },
  ctx: ReconcileContext<DatasetObject>,
): Promise<void> {
  const namespace = ds.metadata.namespace ?? '';
  await ctx.apply(kinds.secret, desiredObjectStoreSecret(namespace, storeConfig));
  const job = desiredIngestJob(ds, run, {
    image,
    store: storeConfig,
    owner: controllerReference(ds, latheKinds.dataset.resource),
  });
  await ctx.apply(kinds.job, job);
  ctx.log.info(
    { job: run.jobName, trigger: run.trigger, attempt: run.attempt },
    'Started an ingestion Job',
  );
}

/** Events when the latest run reaches an end it had not reached before. */
async function recordTransition(
  ds: DatasetObject,
  before: DatasetStatus['lastIngestion'],
  after: DatasetStatus,
  ctx: ReconcileContext<DatasetObject>,
): Promise<void> {
  const now = after.lastIngestion;
  if (!now || (before?.jobName === now.jobName && before.phase === now.phase)) return;
  if (now.phase === 'Succeeded') {
    const isNew = ds.status?.currentVersion !== after.currentVersion;
    await ctx.events.record(
      ds,
      'Normal',
      isNew ? 'VersionCreated' : 'VersionUnchanged',
      'Ingest',
      `${isNew ? 'New version' : 'Unchanged version'} ${after.currentVersion}: ${after.rows} rows (train ${after.trainRows}, test ${after.testRows})`,
    );
  } else if (now.phase === 'Failed') {
    await ctx.events.record(
      ds,
      'Warning',
      now.reason ?? 'IngestionFailed',
      'Ingest',
      now.message ?? 'The ingestion failed',
    );
  }
}

/** Deletes finished ingestion Jobs beyond the history, keeping the newest that succeeded. */
async function pruneJobs(
  observed: ObservedJob[],
  ctx: ReconcileContext<DatasetObject>,
): Promise<void> {
  const finished = observed.filter((o) => o.run.phase === 'Succeeded' || o.run.phase === 'Failed');
  const newestSucceeded = finished.find((o) => o.result?.outcome === 'succeeded');
  const keep = new Set([
    ...finished.slice(0, JOB_HISTORY).map((o) => o.job.metadata?.name),
    newestSucceeded?.job.metadata?.name,
  ]);
  for (const o of finished) {
    if (!keep.has(o.job.metadata?.name)) await ctx.delete(kinds.job, o.job);
  }
}

/** The dataset versions of `ds` that a ModelVersion or TrainingJob in its namespace refers to. */
function referencedVersions(ds: DatasetObject, ctx: ReconcileContext<DatasetObject>): Set<string> {
  const namespace = ds.metadata.namespace;
  const name = ds.metadata.name;
  const used = new Set<string>();
  for (const mv of ctx.reader(latheKinds.modelVersion).list(namespace)) {
    const lineage = mv.spec.lineage?.dataset;
    if (lineage && lineage.name === name) used.add(lineage.version);
  }
  for (const tj of ctx.reader(latheKinds.trainingJob).list(namespace)) {
    if (tj.spec.datasetRef.name !== name) continue;
    if (tj.spec.datasetRef.version) used.add(tj.spec.datasetRef.version);
    if (tj.status?.datasetVersion) used.add(tj.status.datasetVersion);
  }
  return used;
}
