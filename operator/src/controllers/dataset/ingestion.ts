/**
 * The `runs` step: the Dataset's ingestion Jobs. It finds them (through the owner index, their
 * pods through the Job-name index), decides with `runs.ts` whether a run is due, and applies
 * what that needs — the namespace's object-store Secret and the new Job — or stops a run of
 * an older spec. It reports the runs it found, the latest for `status.lastIngestion`, the
 * newest that succeeded (which names the current version) and the `Validated` condition.
 *
 * When a run reaches an end the status did not show yet, it records the event a user watches
 * for: `VersionCreated` / `VersionUnchanged`, or the failure's reason (a Warning).
 */
import type { DatasetStatus } from '../../api/dataset.js';
import type { HttpSourcePolicy } from '../../config.js';
import { controllerReference } from '../../runtime/apply.js';
import { kinds } from '../../runtime/builtin-kinds.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { Step } from '../../runtime/steps.js';
import { type DatasetObject, latheKinds } from '../lathe-kinds.js';
import { cachedPodsOfJob } from '../shared/job-run.js';
import { CredentialRole, grants, type ObjectStoreAccess } from '../shared/object-store-access.js';
import { desiredIngestJob } from './desired.js';
import {
  latestRun,
  newestSucceeded,
  newestVerdict,
  observeIngestion,
  type SucceededIngestion,
  schedulingView,
} from './observe.js';
import { decideRun, newestFirst, type PlannedRun, REFRESH_ANNOTATION } from './runs.js';
import { type DatasetFacts, type LatestRun, validatedCondition } from './status.js';

export interface IngestionOptions {
  image: string;
  /** Issues the ingestion pods' credentials; its `store` is the operator's object store. */
  access: ObjectStoreAccess;
  /** Where an HTTP source may connect, passed to the ingestion pod. */
  httpSource?: HttpSourcePolicy;
}

/** The `runs` step (see the module header). */
export function ingestionStep({
  image,
  access,
  httpSource,
}: IngestionOptions): Step<DatasetObject, DatasetFacts> {
  return {
    name: 'runs',
    async run(ds, ctx) {
      const runs = newestFirst(ctx.childrenOf(kinds.job, ds)).map((job) =>
        observeIngestion(job, cachedPodsOfJob(ctx, job)),
      );
      const now = ctx.now();
      const newest = runs[0];
      const decision = decideRun({
        name: ds.metadata.name ?? '',
        generation: ds.metadata.generation ?? 0,
        refreshInterval: ds.spec.refreshInterval,
        request: ds.metadata.annotations?.[REFRESH_ANNOTATION] ?? '',
        latest: newest ? schedulingView(newest) : undefined,
        now,
      });
      if (decision.action === 'supersede') {
        await ctx.delete(kinds.job, decision.job);
        ctx.log.info({ job: decision.job.metadata?.name }, 'Stopped an ingestion of an older spec');
      } else if (decision.action === 'start') {
        await startRun(ds, decision.run, { image, access, httpSource }, ctx);
      }
      // A run still going keeps its credentials fresh (rotated before they expire).
      const rotation =
        decision.action !== 'start' && newest && isRunning(newest)
          ? await provideCredentials(ds, access, ctx)
          : undefined;
      const latest = newest
        ? latestRun(newest, decision.action === 'wait' ? decision.at : undefined)
        : undefined;
      const succeeded = newestSucceeded(runs);
      await recordRunEnd(ds, ds.status?.lastIngestion, latest, succeeded, ctx);
      const validation = newestVerdict(runs);
      return {
        facts: { runs, latest, succeeded, validation },
        conditions: [validatedCondition(validation)],
        ...soonest(
          decision.action === 'wait'
            ? Math.max(1_000, decision.at.getTime() - now.getTime())
            : undefined,
          rotation,
        ),
      };
    },
  };
}

/** Whether an ingestion run has not ended yet. */
function isRunning({ run }: { run: { phase: string } }): boolean {
  return run.phase === 'Pending' || run.phase === 'Running';
}

/** The smallest of the requeue delays that are set, as a step's `requeueAfterMs`. */
function soonest(...delays: (number | undefined)[]): { requeueAfterMs?: number } {
  const set = delays.filter((d): d is number => d !== undefined);
  return set.length > 0 ? { requeueAfterMs: Math.min(...set) } : {};
}

/** Issues (or keeps) the ingestion pods' credentials; returns when to rotate them. */
async function provideCredentials(
  ds: DatasetObject,
  access: ObjectStoreAccess,
  ctx: ReconcileContext<DatasetObject>,
): Promise<number | undefined> {
  const provided = await access.provide(
    ctx,
    ds,
    controllerReference(ds, latheKinds.dataset.resource),
    CredentialRole.ingestion,
    grants.ingestion(ds.metadata.namespace ?? '', ds.metadata.name ?? ''),
  );
  return provided.requeueAfterMs;
}

/** Issues the run's credentials and applies its Job; the Job's events bring the next pass. */
async function startRun(
  ds: DatasetObject,
  run: PlannedRun,
  { image, access, httpSource }: IngestionOptions,
  ctx: ReconcileContext<DatasetObject>,
): Promise<void> {
  await provideCredentials(ds, access, ctx);
  const job = desiredIngestJob(ds, run, {
    image,
    store: access.store,
    owner: controllerReference(ds, latheKinds.dataset.resource),
    ...(httpSource ? { httpSource } : {}),
  });
  await ctx.apply(kinds.job, job);
  ctx.log.info(
    { job: run.jobName, trigger: run.trigger, attempt: run.attempt },
    'Started an ingestion Job',
  );
  await ctx.events.record(
    ds,
    'Normal',
    'IngestionStarted',
    'Ingest',
    `Started ${run.jobName} (${run.trigger}, attempt ${run.attempt})`,
  );
}

/**
 * Events when the latest run reaches an end the status did not show: the version it produced
 * is new unless the succeeded run before it (still kept) produced the same one, or, with none
 * kept, the program found it already in the store.
 */
async function recordRunEnd(
  ds: DatasetObject,
  shown: DatasetStatus['lastIngestion'],
  latest: LatestRun | undefined,
  succeeded: SucceededIngestion | undefined,
  ctx: ReconcileContext<DatasetObject>,
): Promise<void> {
  const phase = latest?.run.phase;
  if (!latest || (shown?.jobName === latest.jobName && shown.phase === phase)) return;
  if (phase === 'Succeeded' && succeeded?.jobName === latest.jobName) {
    const { version, rows, trainRows, testRows, reused } = succeeded.result;
    const isNew =
      succeeded.previousVersion !== undefined ? succeeded.previousVersion !== version : !reused;
    await ctx.events.record(
      ds,
      'Normal',
      isNew ? 'VersionCreated' : 'VersionUnchanged',
      'Ingest',
      `${isNew ? 'New version' : 'Unchanged version'} ${version}: ${rows} rows (train ${trainRows}, test ${testRows})`,
    );
  } else if (phase === 'Failed' || (phase === 'Succeeded' && latest.failure)) {
    await ctx.events.record(
      ds,
      'Warning',
      latest.failure?.reason ?? 'IngestionFailed',
      'Ingest',
      latest.failure?.message ?? 'The ingestion failed',
    );
  }
}
