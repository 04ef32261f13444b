/**
 * The steps that own the training Job: `run` finds it and reads where it stands, `credentials`
 * and `job` create it and keep it paused or running as `spec.suspend` says.
 *
 * Which Job is the run: once a ModelVersion is registered for the TrainingJob, the run is
 * final — the Job that completed — and a later spec change starts nothing (create a new
 * TrainingJob instead). Before that, it is the Job named after the current training spec
 * (`trainingJobName`); Jobs of older specs are deleted. `spec.suspend` is not part of that
 * name: suspending sets `spec.suspend` on the same Job, whose controller then deletes its pods,
 * and resuming clears it, as for any `batch/v1` Job.
 */

import {
  datasetVersionPrefix,
  RunFile,
  s3Uri,
  trainingRunPrefix,
} from '../../../../contract/object-store-layout.js';
import { parseResult } from '../../../../contract/results.js';
import { controllerReference } from '../../runtime/apply.js';
import { type JobObject, kinds } from '../../runtime/builtin-kinds.js';
import type { Step } from '../../runtime/steps.js';
import { latheKinds, type TrainingJobObject } from '../lathe-kinds.js';
import { cachedPodsOfJob, type JobRun, observeJobRun } from '../shared/job-run.js';
import {
  CredentialRole,
  grants,
  type ObjectStoreAccess,
  type ObjectStoreConfig,
  rotationRequeue,
} from '../shared/object-store-access.js';
import {
  desiredTrainingJob,
  TrainingAnnotation,
  type TrainingRun,
  trainingJobName,
} from './desired.js';
import { cachedModelVersionOf } from './registration.js';
import {
  type DatasetPin,
  failureOf,
  failureReadiness,
  jobReadiness,
  runConditions,
  runFinished,
  suspendedCondition,
  type TrainingFacts,
} from './status.js';

type TrainingStep = Step<TrainingJobObject, TrainingFacts>;

export interface TrainingJobImages {
  image: string;
  gpuImage: string;
}

function isComplete(job: JobObject): boolean {
  return job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ?? false;
}

/**
 * The Job of the run among the TrainingJob's Jobs: the completed one once registered (the
 * newest, should there be several), else the one of the current training spec. Pure.
 */
export function runJobOf(
  tj: TrainingJobObject,
  jobs: readonly JobObject[],
  registered: boolean,
): JobObject | undefined {
  if (registered) {
    return jobs
      .filter(isComplete)
      .sort((a, b) =>
        (b.metadata?.creationTimestamp ?? '').localeCompare(a.metadata?.creationTimestamp ?? ''),
      )[0];
  }
  const name = trainingJobName(tj);
  return jobs.find((j) => j.metadata?.name === name);
}

/** Where a run reads and writes in the object store, and its task. Pure. */
export function trainingRunOf(
  tj: TrainingJobObject,
  config: ObjectStoreConfig,
  dataset: DatasetPin,
): TrainingRun {
  const namespace = tj.metadata.namespace ?? '';
  const runPrefix = trainingRunPrefix(namespace, tj.metadata.name ?? '');
  return {
    datasetVersion: dataset.version,
    datasetUri: s3Uri(
      config.bucket,
      datasetVersionPrefix(namespace, tj.spec.datasetRef.name, dataset.version),
    ),
    runUri: s3Uri(config.bucket, runPrefix),
    outputUri: s3Uri(config.bucket, `${runPrefix}${RunFile.artifactDir}`),
    task: dataset.task ?? 'classification',
  };
}

/** Pods the Job started so far. */
function attemptsOf(job: JobObject): number {
  return (job.status?.active ?? 0) + (job.status?.failed ?? 0) + (job.status?.succeeded ?? 0);
}

/** `run`: the registered ModelVersion, the run's Job and its pods, the trainer's result. */
export const runStep: TrainingStep = {
  name: 'run',
  async run(tj, ctx) {
    const registered = cachedModelVersionOf(tj, ctx);
    const job = runJobOf(tj, ctx.childrenOf(kinds.job, tj), registered !== undefined);
    const run: JobRun | undefined = job ? observeJobRun(job, cachedPodsOfJob(ctx, job)) : undefined;
    const message =
      run?.phase === 'Succeeded' || run?.phase === 'Failed' ? run.terminationMessage : undefined;
    const result = parseResult('train', message);
    const failure = run && !registered ? failureOf(run, result) : undefined;
    const facts = {
      registered,
      job,
      workload: job,
      run,
      result,
      failure,
      attempts: job && attemptsOf(job),
    };
    return {
      facts,
      conditions: runConditions(facts),
      ...(failure ? { readiness: failureReadiness(failure) } : {}),
    };
  },
};

/**
 * Whether the workload's `spec.suspend` must be patched to the TrainingJob's. Under Kueue
 * (`spec.queueName`) the queue resumes the workload when it admits it, so the operator only
 * ever suspends it (for `spec.suspend: true`), never resumes it. Pure.
 */
export function suspensionToPatch(tj: TrainingJobObject, workloadSuspended: boolean): boolean {
  if (workloadSuspended === tj.spec.suspend) return false;
  return tj.spec.queueName === undefined || tj.spec.suspend;
}

/** Whether this pass must create the run's Job. */
const needsJob = (facts: Readonly<Partial<TrainingFacts>>) =>
  !facts.registered && (!facts.workload || facts.distributed?.restartNext !== undefined);

/**
 * `credentials`: the trainer pod's own object-store credentials — read this run's dataset
 * version, write this run — issued before its Job and rotated while it runs.
 */
export function credentialsStep(access: ObjectStoreAccess): TrainingStep {
  return {
    name: 'credentials',
    async run(tj, ctx, facts) {
      if (facts.registered || !facts.storage) return undefined;
      const running = facts.run?.phase === 'Pending' || facts.run?.phase === 'Running';
      if (!needsJob(facts) && !running) return undefined;
      const version =
        facts.workload?.metadata?.annotations?.[TrainingAnnotation.datasetVersion] ??
        facts.dataset?.version;
      if (!version) return undefined;
      const namespace = tj.metadata.namespace ?? '';
      const provided = await access.provide(
        ctx,
        tj,
        controllerReference(tj, latheKinds.trainingJob.resource),
        CredentialRole.training,
        grants.training(
          datasetVersionPrefix(namespace, tj.spec.datasetRef.name, version),
          trainingRunPrefix(namespace, tj.metadata.name ?? ''),
        ),
      );
      return rotationRequeue(provided);
    },
  };
}

/** `job`: the Job of the current spec, created once, suspended or resumed as the spec says. */
export function jobStep(images: TrainingJobImages): TrainingStep {
  return {
    name: 'job',
    async run(tj, ctx, facts) {
      const namespace = tj.metadata.namespace ?? '';
      const finished = runFinished(facts);
      const conditions = [suspendedCondition(tj, finished)];
      if (facts.registered) return { conditions };
      const jobName = trainingJobName(tj);
      const stale = await ctx.prune(kinds.job, tj, [jobName]);
      // A distributed run of an earlier spec leaves its workers' headless Service.
      await ctx.prune(kinds.service, tj, []);
      if (stale.length > 0)
        ctx.log.info({ deleted: stale }, 'Stopped the training of an older TrainingJob spec');

      let job = facts.job;
      let run = facts.run;
      if (!job && facts.storage && facts.dataset) {
        const { config } = facts.storage;
        const { version } = facts.dataset;
        job = await ctx.apply(
          kinds.job,
          desiredTrainingJob(tj, trainingRunOf(tj, config, facts.dataset), {
            ...images,
            store: config,
            owner: controllerReference(tj, latheKinds.trainingJob.resource),
          }),
        );
        run = undefined;
        await ctx.events.record(
          tj,
          'Normal',
          'TrainingStarted',
          'Train',
          `Created Job ${jobName} on dataset version ${version}${tj.spec.suspend ? ' (suspended)' : ''}`,
        );
      } else if (job && !finished && suspensionToPatch(tj, job.spec?.suspend ?? false)) {
        // Only `spec.suspend`: a merge patch, so the rest of the Job (its template is
        // immutable) is left as it was created.
        await ctx.client.patch(
          kinds.job.resource,
          namespace,
          job.metadata?.name ?? jobName,
          'merge',
          { spec: { suspend: tj.spec.suspend } },
          { fieldManager: ctx.fieldManager },
        );
        ctx.log.info(
          { job: jobName },
          tj.spec.suspend ? 'Suspended the training Job' : 'Resumed the training Job',
        );
      }
      const readiness = jobReadiness(tj, run, finished);
      return { facts: { job }, conditions, ...(readiness ? { readiness } : {}) };
    },
  };
}
