/**
 * What a Dataset's ingestion Jobs say, read from the Jobs, their pods and the program's result
 * (the pod's termination message): pure. Each Job is classified once (`observeIngestion`);
 * the scheduling decision (`runs.ts`), the latest run and the validation verdict in status,
 * and the newest run that succeeded (which names the current version) are all read from that
 * one classification, newest Job first.
 */
import { type IngestResult, parseResult } from '../../../../contract/results.js';
import type { JobObject, PodObject } from '../../runtime/builtin-kinds.js';
import { type JobRun, observeJobRun } from '../shared/job-run.js';
import { type FinishedRun, runAnnotations } from './runs.js';
import { failureMessage, type LatestRun, type ValidationVerdict } from './status.js';

/** One ingestion Job as found: the Job, its run and the program's result if it wrote one. */
export interface ObservedIngestion {
  job: JobObject;
  run: JobRun;
  result: IngestResult | undefined;
}

/** The newest Job whose program reported a version. */
export interface SucceededIngestion {
  /** The Job's UID: a new one means a new version may be in the store. */
  jobUid: string;
  jobName: string;
  /** The spec generation the Job read. */
  generation: number;
  completionTime: string;
  result: Extract<IngestResult, { outcome: 'succeeded' }>;
  /** The version the succeeded run before it produced, when a Job of it is still kept. */
  previousVersion: string | undefined;
}

/** Failure reasons the same data would fail with again: not retried, and reported as a verdict. */
export const NOT_RETRIED = new Set<string>(['ValidationFailed', 'InvalidData']);

/**
 * Failure reasons the same spec would fail with again that say nothing of the data (the HTTP
 * source's address is refused, an S3 source needs its own credentials): not retried, Stalled with
 * the reason, but no verdict.
 */
export const NOT_RETRIED_SOURCE = new Set<string>([
  'SourceAddressRefused',
  'SourceCredentialsRequired',
]);

/** Classifies an ingestion Job from itself and its pods (newest first, as `podsOfJob` gives). */
export function observeIngestion(job: JobObject, pods: readonly PodObject[]): ObservedIngestion {
  const run = observeJobRun(job, pods);
  const message =
    run.phase === 'Succeeded' || run.phase === 'Failed' ? run.terminationMessage : undefined;
  return { job, run, result: parseResult('ingest', message) };
}

const isActive = (o: ObservedIngestion) => o.run.phase === 'Pending' || o.run.phase === 'Running';

/** The run as `decideRun` needs it: active, or how it finished. */
export function schedulingView(
  o: ObservedIngestion,
): { job: JobObject; active: true } | ({ active: false } & FinishedRun) {
  if (isActive(o)) return { job: o.job, active: true };
  const failure = failureOf(o);
  return {
    active: false,
    job: o.job,
    succeeded: failure === undefined,
    ...(failure ? { reason: failure.reason } : {}),
    finishedAt: 'completionTime' in o.run ? o.run.completionTime : undefined,
  };
}

/** Why a finished run failed, or undefined when it is active or succeeded with a result. */
export function failureOf(o: ObservedIngestion): LatestRun['failure'] {
  if (isActive(o)) return undefined;
  if (o.result?.outcome === 'succeeded') return undefined;
  if (o.result?.outcome === 'failed') {
    return {
      reason: o.result.reason,
      message: failureMessage(o.result),
      retryable: !NOT_RETRIED.has(o.result.reason) && !NOT_RETRIED_SOURCE.has(o.result.reason),
    };
  }
  if (o.run.phase === 'Succeeded') {
    return {
      reason: 'InternalError',
      message: 'The ingestion program exited without reporting a result',
      retryable: true,
    };
  }
  if (o.run.phase !== 'Failed') return undefined;
  const output = o.run.terminationMessage?.trim();
  return {
    reason: o.run.reason,
    message: output ? `${o.run.message} Its last output: ${output.slice(-1500)}` : o.run.message,
    retryable: true,
  };
}

/** The latest run for status; `nextAttemptAt` is when a retryable failure is retried. */
export function latestRun(o: ObservedIngestion, nextAttemptAt: Date | undefined): LatestRun {
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

/** The newest verdict on the data: a run that passed validation, or one that failed it. */
export function newestVerdict(
  observed: readonly ObservedIngestion[],
): ValidationVerdict | undefined {
  for (const o of observed) {
    if (o.result?.outcome === 'succeeded') {
      return {
        passed: true,
        reason: 'ValidationPassed',
        message: `${o.result.rows} rows passed every rule (version ${o.result.version})`,
      };
    }
    if (o.result?.outcome === 'failed' && NOT_RETRIED.has(o.result.reason)) {
      return { passed: false, reason: o.result.reason, message: failureMessage(o.result) };
    }
  }
  return undefined;
}

const succeededResult = (o: ObservedIngestion) =>
  o.run.phase === 'Succeeded' && o.result?.outcome === 'succeeded' ? o.result : undefined;

/** The newest run that produced a version (`observed` newest first), or undefined. */
export function newestSucceeded(
  observed: readonly ObservedIngestion[],
): SucceededIngestion | undefined {
  const [newest, previous] = observed.filter((o) => succeededResult(o) !== undefined);
  const result = newest && succeededResult(newest);
  if (!newest || !result || newest.run.phase !== 'Succeeded') return undefined;
  return {
    jobUid: newest.job.metadata?.uid ?? '',
    jobName: newest.job.metadata?.name ?? '',
    generation: runAnnotations(newest.job).generation,
    completionTime: newest.run.completionTime ?? newest.job.metadata?.creationTimestamp ?? '',
    result,
    previousVersion: previous ? succeededResult(previous)?.version : undefined,
  };
}

/** The finished runs beyond the newest `keep`, except the newest that succeeded: delete these. */
export function expiredRuns(
  observed: readonly ObservedIngestion[],
  keep: number,
): ObservedIngestion[] {
  const finished = observed.filter((o) => !isActive(o));
  const newest = finished.find((o) => succeededResult(o) !== undefined);
  return finished.slice(keep).filter((o) => o !== newest);
}
