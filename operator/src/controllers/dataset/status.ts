/**
 * The status of a Dataset: pure, from what the controller found — its latest ingestion run,
 * the newest run that succeeded (with the version's statistics) and the newest validation
 * verdict — and the clock. The version history, the current version and its statistics
 * accumulate in status (the Jobs that produced older versions are pruned); everything else is
 * rebuilt from the runs each time.
 *
 * Ready means a version made from the current spec is available to train on. A refresh that
 * fails does not take it away: Ready stays True while Reconciling says what is being retried.
 * A spec whose data fails validation is Stalled until the spec, the data (a refresh or the
 * `lathe.dev/refresh` annotation) changes.
 */

import type { DatasetStats } from '../../../../contract/dataset-stats.js';
import type { IngestResult } from '../../../../contract/results.js';
import { type Dataset, type DatasetStatus, MAX_VERSION_HISTORY } from '../../api/dataset.js';
import {
  type Condition,
  type ConditionInput,
  removeCondition,
  setConditions,
  timestamp,
} from '../../runtime/conditions.js';
import type { JobRun } from '../shared/job-run.js';
import type { RunTrigger } from './runs.js';

type Succeeded = Extract<IngestResult, { outcome: 'succeeded' }>;

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

export interface SucceededRun {
  generation: number;
  completionTime: string;
  result: Succeeded;
  stats: DatasetStats | undefined;
}

export interface ValidationVerdict {
  passed: boolean;
  reason: string;
  message: string;
}

export interface DatasetObservation {
  latest: LatestRun | undefined;
  succeeded: SucceededRun | undefined;
  validation: ValidationVerdict | undefined;
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

function versionsWith(
  previous: DatasetStatus['versions'],
  succeeded: SucceededRun,
  limit: number,
): NonNullable<DatasetStatus['versions']> {
  const list = [...(previous ?? [])];
  const { version, rows, trainRows, testRows } = succeeded.result;
  if (list[0]?.version === version) return list.slice(0, limit);
  const earlier = list.find((v) => v.version === version);
  const record = earlier ?? {
    version,
    createdAt: succeeded.completionTime,
    rows,
    trainRows,
    testRows,
  };
  return [record, ...list.filter((v) => v.version !== version)].slice(
    0,
    Math.min(limit, MAX_VERSION_HISTORY),
  );
}

/** The status `ds` should have, given what was observed. */
export function datasetStatus(ds: Dataset, observed: DatasetObservation, now: Date): DatasetStatus {
  const generation = ds.metadata.generation ?? 0;
  const previous = ds.status ?? {};
  const { latest, succeeded, validation } = observed;

  const data: Partial<DatasetStatus> = {
    currentVersion: previous.currentVersion,
    rows: previous.rows,
    trainRows: previous.trainRows,
    testRows: previous.testRows,
    columns: previous.columns,
    labels: previous.labels,
    versions: previous.versions,
    lastRefreshTime: previous.lastRefreshTime,
    ingestedGeneration: previous.ingestedGeneration,
  };
  if (succeeded) {
    const known = Date.parse(previous.lastRefreshTime ?? '') || 0;
    const isNewer = Date.parse(succeeded.completionTime) >= known;
    if (isNewer || previous.currentVersion === undefined) {
      data.currentVersion = succeeded.result.version;
      data.rows = succeeded.result.rows;
      data.trainRows = succeeded.result.trainRows;
      data.testRows = succeeded.result.testRows;
      data.lastRefreshTime = succeeded.completionTime;
      data.ingestedGeneration = succeeded.generation;
      data.versions = versionsWith(previous.versions, succeeded, ds.spec.versionHistoryLimit);
      if (succeeded.stats) {
        data.columns = succeeded.stats.columns.map((c) => ({ ...c }));
        data.labels = succeeded.stats.labels;
      }
    }
  }
  const hasData = data.currentVersion !== undefined && data.ingestedGeneration === generation;

  const cond = (
    type: string,
    status: Condition['status'],
    reason: string,
    message: string,
  ): ConditionInput => ({ type, status, reason, message, observedGeneration: generation });
  const available = `Version ${data.currentVersion}: ${data.rows} rows (train ${data.trainRows}, test ${data.testRows})`;

  const inputs: ConditionInput[] = [];
  let reconciling: ConditionInput | undefined;
  let stalled: ConditionInput | undefined;
  const phase = latest?.run.phase;
  if (!latest) {
    reconciling = cond('Reconciling', 'True', 'Ingesting', 'Starting the ingestion');
  } else if (phase === 'Pending' || phase === 'Running') {
    const why =
      latest.run.phase === 'Pending'
        ? `${latest.run.reason}: ${latest.run.message}`
        : `Ingesting (${latest.trigger}, job ${latest.jobName})`;
    reconciling = cond(
      'Reconciling',
      'True',
      latest.run.phase === 'Pending' ? latest.run.reason : 'Ingesting',
      why,
    );
  } else if (phase === 'Failed' && latest.failure) {
    const { reason, message, retryable } = latest.failure;
    if (retryable) {
      const next = latest.nextAttemptTime
        ? `; retrying at ${timestamp(latest.nextAttemptTime)} (attempt ${latest.attempt + 1})`
        : '';
      reconciling = cond('Reconciling', 'True', reason, `${message}${next}`);
    } else if (!hasData) {
      stalled = cond('Stalled', 'True', reason, message);
    }
  }

  if (hasData) {
    const suffix =
      phase === 'Failed' && latest?.failure
        ? `; the latest run failed (${latest.failure.reason}): ${latest.failure.message}`
        : '';
    inputs.push(cond('Ready', 'True', 'VersionAvailable', `${available}${suffix}`));
  } else {
    const blocker = stalled ?? reconciling;
    inputs.push(
      cond(
        'Ready',
        'False',
        blocker?.reason ?? 'Ingesting',
        blocker?.message ?? 'No version of the current spec yet',
      ),
    );
  }
  inputs.push(
    validation
      ? cond(
          'Validated',
          validation.passed ? 'True' : 'False',
          validation.reason,
          validation.message,
        )
      : cond('Validated', 'Unknown', 'NotValidatedYet', 'No ingestion has reached validation yet'),
  );
  if (reconciling) inputs.push(reconciling);
  if (stalled) inputs.push(stalled);

  let conditions = setConditions(previous.conditions as Condition[] | undefined, inputs, now);
  if (!reconciling) conditions = removeCondition(conditions, 'Reconciling');
  if (!stalled) conditions = removeCondition(conditions, 'Stalled');

  const lastIngestion: DatasetStatus['lastIngestion'] = latest
    ? {
        jobName: latest.jobName,
        trigger: latest.trigger,
        attempt: latest.attempt,
        phase: latest.run.phase,
        ...(latest.run.phase !== 'Pending' && latest.run.startTime
          ? { startTime: latest.run.startTime }
          : {}),
        ...((latest.run.phase === 'Succeeded' || latest.run.phase === 'Failed') &&
        latest.run.completionTime
          ? { completionTime: latest.run.completionTime }
          : {}),
        ...(latest.failure
          ? { reason: latest.failure.reason, message: latest.failure.message.slice(0, 4000) }
          : latest.run.phase === 'Pending'
            ? { reason: latest.run.reason, message: latest.run.message.slice(0, 4000) }
            : {}),
        ...(latest.nextAttemptTime ? { nextAttemptTime: timestamp(latest.nextAttemptTime) } : {}),
      }
    : undefined;

  return dropUndefined({
    observedGeneration: generation,
    conditions,
    ...data,
    ...(lastIngestion ? { lastIngestion } : {}),
  }) as DatasetStatus;
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}
