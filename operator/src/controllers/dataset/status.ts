/**
 * The status of a Dataset: pure, from what the steps found (`DatasetFacts`) — its ingestion
 * runs, the newest run that succeeded, the versions in the object store — and nothing else.
 * No field is carried over from the previous status: the version history and its row counts
 * come from the store's listing and each version's `stats.json`, the current version from the
 * newest run that succeeded (else the newest version in the store), so a wiped status is
 * rebuilt the same.
 *
 * Ready means a version made from the current spec is available to train on. A refresh that
 * fails or is still running does not take it away: Ready stays True and its message (and
 * `lastIngestion`) says what happened. Without such a version the Dataset is Reconciling while
 * a run is due or running, and Stalled when its data failed validation, until the spec or the
 * data (a refresh, the `lathe.dev/refresh` annotation) changes. An error of the controller
 * itself (a child it cannot apply, the store unreachable) is the step runner's: Ready=False
 * with the error's reason, even while an older version is available — it needs a person.
 */
import type { DatasetStats } from '../../../../contract/dataset-stats.js';
import type { IngestResult } from '../../../../contract/results.js';
import type { Dataset, DatasetStatus } from '../../api/dataset.js';
import { type ConditionInput, type Readiness, timestamp } from '../../runtime/conditions.js';
import type { KubeObject } from '../../runtime/resource.js';
import { composeStatus } from '../../runtime/steps.js';
import type { JobRun } from '../shared/job-run.js';
import type { StoredVersion } from './history.js';
import type { ObservedIngestion, SucceededIngestion } from './observe.js';
import type { RunTrigger } from './runs.js';

export interface LatestRun {
  jobName: string;
  trigger: RunTrigger;
  attempt: number;
  generation: number;
  run: JobRun;
  /** Why it failed, from the program's result or else the Job: reason and message. */
  failure?: { reason: string; message: string; retryable: boolean };
  /** When a failed run is retried. */
  nextAttemptTime?: Date;
}

export interface ValidationVerdict {
  passed: boolean;
  reason: string;
  message: string;
}

/** The current version and what is known of it. */
export interface CurrentVersion {
  version: string;
  rows: number;
  trainRows: number | undefined;
  testRows: number | undefined;
  /** When the source was last read successfully. */
  lastRefreshTime: string | undefined;
  /** The spec generation that produced it; unknown when no run of it is kept. */
  ingestedGeneration: number | undefined;
  stats: DatasetStats | undefined;
}

/** One entry of `status.versions`. */
export type VersionRecord = NonNullable<DatasetStatus['versions']>[number];

/** What the Dataset controller's steps find, in step order. */
export interface DatasetFacts {
  /** runs: the ingestion Jobs, newest first. */
  runs: ObservedIngestion[];
  latest: LatestRun | undefined;
  validation: ValidationVerdict | undefined;
  succeeded: SucceededIngestion | undefined;
  /** versions: the complete versions in the store, newest first. */
  stored: StoredVersion[];
  /** The history status shows, current version first. */
  history: VersionRecord[];
  current: CurrentVersion | undefined;
}

/** The message of a failed result: the rule, column and observed value first when present. */
export function failureMessage(result: Extract<IngestResult, { outcome: 'failed' }>): string {
  const where = [
    result.rule ? `rule ${result.rule}` : '',
    result.column ? `column ${result.column}` : '',
    result.observed !== undefined ? `observed ${result.observed}` : '',
  ].filter(Boolean);
  return where.length > 0 ? `${where.join(', ')}: ${result.message}` : result.message;
}

/**
 * The current version: the newest run that succeeded names it (its result has the row
 * counts); without one, the newest version in the store (its `stats.json` has them).
 */
export function currentVersionOf(
  succeeded: SucceededIngestion | undefined,
  newestStored: StoredVersion | undefined,
  stats: DatasetStats | undefined,
): CurrentVersion | undefined {
  if (succeeded) {
    const { version, rows, trainRows, testRows } = succeeded.result;
    return {
      version,
      rows,
      trainRows,
      testRows,
      lastRefreshTime: succeeded.completionTime || undefined,
      ingestedGeneration: Number.isInteger(succeeded.generation) ? succeeded.generation : undefined,
      stats,
    };
  }
  if (!newestStored || !stats) return undefined;
  return {
    version: newestStored.version,
    rows: stats.rows,
    trainRows: stats.trainRows,
    testRows: stats.testRows,
    lastRefreshTime: newestStored.createdAt,
    ingestedGeneration: undefined,
    stats,
  };
}

/** The `Validated` condition of the newest verdict. */
export function validatedCondition(
  verdict: ValidationVerdict | undefined,
): Omit<ConditionInput, 'observedGeneration'> {
  return verdict
    ? {
        type: 'Validated',
        status: verdict.passed ? 'True' : 'False',
        reason: verdict.reason,
        message: verdict.message,
      }
    : {
        type: 'Validated',
        status: 'Unknown',
        reason: 'NotValidatedYet',
        message: 'No ingestion has reached validation yet',
      };
}

/** Whether the current version was made from the Dataset's current spec. */
export function hasCurrentData(ds: Dataset, current: CurrentVersion | undefined): boolean {
  return current !== undefined && current.ingestedGeneration === (ds.metadata.generation ?? 0);
}

/**
 * Where the Dataset stands for the kstatus triple; undefined when a version of the current spec
 * is available (Ready, with `datasetReady`'s message).
 */
export function datasetReadiness(
  ds: Dataset,
  latest: LatestRun | undefined,
  current: CurrentVersion | undefined,
): Readiness | undefined {
  if (hasCurrentData(ds, current)) return undefined;
  const phase = latest?.run.phase;
  if (!latest || latest.generation !== (ds.metadata.generation ?? 0)) {
    return { state: 'progressing', reason: 'Ingesting', message: 'Starting the ingestion' };
  }
  if (latest.run.phase === 'Pending') {
    const { reason, message } = latest.run;
    return { state: 'progressing', reason, message: `${reason}: ${message}` };
  }
  if (phase === 'Running') {
    return {
      state: 'progressing',
      reason: 'Ingesting',
      message: `Ingesting (${latest.trigger}, job ${latest.jobName})`,
    };
  }
  if (latest.failure) {
    const { reason, message, retryable } = latest.failure;
    if (!retryable) return { state: 'stalled', reason, message };
    const next = latest.nextAttemptTime
      ? `; retrying at ${timestamp(latest.nextAttemptTime)} (attempt ${latest.attempt + 1})`
      : '';
    return { state: 'progressing', reason, message: `${message}${next}` };
  }
  return {
    state: 'progressing',
    reason: 'Ingesting',
    message: 'No version of the current spec yet',
  };
}

/** `Ready=True`'s reason and message: the version, and how the latest run went if not well. */
export function datasetReady(facts: Readonly<Partial<DatasetFacts>>): {
  reason: string;
  message: string;
} {
  const { current, latest } = facts;
  const available = current
    ? `Version ${current.version}: ${current.rows} rows (train ${current.trainRows}, test ${current.testRows})`
    : 'A version is available';
  const phase = latest?.run.phase;
  const suffix =
    phase === 'Failed' && latest?.failure
      ? `; the latest run failed (${latest.failure.reason}): ${latest.failure.message}`
      : phase === 'Pending' || phase === 'Running'
        ? `; reading the source again (${latest?.trigger}, job ${latest?.jobName})`
        : '';
  return { reason: 'VersionAvailable', message: `${available}${suffix}` };
}

/** `status.lastIngestion` of the latest run. */
export function lastIngestionOf(latest: LatestRun): NonNullable<DatasetStatus['lastIngestion']> {
  const { run } = latest;
  return {
    jobName: latest.jobName,
    trigger: latest.trigger,
    attempt: latest.attempt,
    phase: run.phase,
    ...(run.phase !== 'Pending' && run.startTime ? { startTime: run.startTime } : {}),
    ...((run.phase === 'Succeeded' || run.phase === 'Failed') && run.completionTime
      ? { completionTime: run.completionTime }
      : {}),
    ...(latest.failure
      ? { reason: latest.failure.reason, message: latest.failure.message.slice(0, 4000) }
      : run.phase === 'Pending'
        ? { reason: run.reason, message: run.message.slice(0, 4000) }
        : {}),
    ...(latest.nextAttemptTime ? { nextAttemptTime: timestamp(latest.nextAttemptTime) } : {}),
  };
}

/**
 * The status fields (all but conditions and observedGeneration) from the facts. A field whose
 * facts no step found is undefined: removed after a pass that succeeded, kept as it was after
 * one that failed (the step runner's rule).
 */
export function datasetStatusFields(
  facts: Readonly<Partial<DatasetFacts>>,
): Omit<DatasetStatus, 'conditions' | 'observedGeneration'> {
  const { current, history, latest } = facts;
  return {
    currentVersion: current?.version,
    rows: current?.rows,
    trainRows: current?.trainRows,
    testRows: current?.testRows,
    columns: current?.stats?.columns.map((c) => ({ ...c })),
    labels: current?.stats?.labels,
    versions: history && history.length > 0 ? history : undefined,
    lastRefreshTime: current?.lastRefreshTime,
    ingestedGeneration: current?.ingestedGeneration,
    lastIngestion: latest ? lastIngestionOf(latest) : undefined,
  };
}

/**
 * The whole status as the step runner writes it after a pass in which every step ran (for
 * tests and readers: the runner composes it the same way).
 */
export function datasetStatus(
  ds: Dataset,
  facts: Readonly<Partial<DatasetFacts>>,
  now: Date,
): DatasetStatus {
  const conditions = [validatedCondition(facts.validation)];
  const readiness = datasetReadiness(ds, facts.latest, facts.current);
  return composeStatus(
    ds as unknown as KubeObject,
    { facts, conditions, readiness, requeueAfterMs: undefined },
    datasetStatusFields(facts),
    datasetReady(facts),
    now,
  ) as DatasetStatus;
}
