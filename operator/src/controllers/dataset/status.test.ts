import { describe, expect, it } from 'vitest';
import type { DatasetStats } from '../../../../contract/dataset-stats.js';
import { type Dataset, DatasetSchema } from '../../api/dataset.js';
import type { JobRun } from '../shared/job-run.js';
import type { SucceededIngestion } from './observe.js';
import {
  type CurrentVersion,
  currentVersionOf,
  type DatasetFacts,
  datasetReadiness,
  datasetReady,
  datasetStatus,
  type LatestRun,
  lastIngestionOf,
} from './status.js';

const now = new Date('2026-06-01T12:00:00Z');
const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';

function dataset(generation: number, status?: Dataset['status']): Dataset {
  return DatasetSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name: 'iris', namespace: 'ns', generation },
    spec: { source: { http: { url: 'http://x/iris.csv' } }, schema: { label: 'species' } },
    ...(status ? { status } : {}),
  });
}

const stats = (rows = 150): DatasetStats => ({
  formatVersion: 1,
  rows,
  trainRows: rows - 30,
  testRows: 30,
  sourceRows: rows,
  columns: [{ name: 'petal_length', type: 'number', missing: 0, mean: 3.7 }],
  labels: { setosa: 50, versicolor: 50, virginica: 50 },
  distributions: [],
});

const succeeded = (version: string, generation = 1): SucceededIngestion => ({
  jobUid: `uid-${version}`,
  jobName: 'iris-ingest-1',
  generation,
  completionTime: '2026-06-01T11:00:00Z',
  result: {
    kind: 'ingest',
    outcome: 'succeeded',
    version,
    rows: 150,
    trainRows: 120,
    testRows: 30,
    reused: false,
  },
  previousVersion: undefined,
});

const current = (version: string, ...generation: [number | undefined] | []): CurrentVersion => ({
  version,
  rows: 150,
  trainRows: 120,
  testRows: 30,
  lastRefreshTime: '2026-06-01T11:00:00Z',
  ingestedGeneration: generation.length > 0 ? generation[0] : 1,
  stats: stats(),
});

const latest = (run: JobRun, extra: Partial<LatestRun> = {}): LatestRun => ({
  jobName: 'iris-ingest-1',
  trigger: 'SpecChanged',
  attempt: 1,
  generation: 1,
  run,
  ...extra,
});
const running: JobRun = { phase: 'Running', startTime: undefined, message: 'Pod is running' };
const pending: JobRun = { phase: 'Pending', reason: 'Unschedulable', message: '0/1 nodes' };
const done: JobRun = {
  phase: 'Succeeded',
  startTime: '2026-06-01T10:59:00Z',
  completionTime: '2026-06-01T11:00:00Z',
  terminationMessage: '',
};
const failed: JobRun = {
  phase: 'Failed',
  reason: 'BackoffLimitExceeded',
  message: 'failed',
  startTime: undefined,
  completionTime: '2026-06-01T11:50:00Z',
  exitCode: 1,
  terminationMessage: undefined,
};
const retryable = {
  reason: 'StorageUnavailable',
  message: 'connect ECONNREFUSED',
  retryable: true,
};
const invalid = {
  reason: 'ValidationFailed',
  message: 'rule min, column petal_length, observed -1: below 0',
  retryable: false,
};

describe('datasetReadiness', () => {
  it.each<{
    name: string;
    generation: number;
    latest: LatestRun | undefined;
    current: CurrentVersion | undefined;
    want: ReturnType<typeof datasetReadiness>;
  }>([
    {
      name: 'a version of this spec: ready',
      generation: 1,
      latest: latest(done),
      current: current(A),
      want: undefined,
    },
    {
      name: 'a version of this spec and a failed refresh: still ready',
      generation: 1,
      latest: latest(failed, { failure: retryable, trigger: 'Refresh' }),
      current: current(A),
      want: undefined,
    },
    {
      name: 'a version of this spec and a refresh that fails validation: still ready',
      generation: 1,
      latest: latest(failed, { failure: invalid }),
      current: current(A),
      want: undefined,
    },
    {
      name: 'no run yet',
      generation: 1,
      latest: undefined,
      current: undefined,
      want: { state: 'progressing', reason: 'Ingesting', message: 'Starting the ingestion' },
    },
    {
      name: 'a version of an older spec, the new run not started',
      generation: 2,
      latest: latest(done),
      current: current(A, 1),
      want: { state: 'progressing', reason: 'Ingesting', message: 'Starting the ingestion' },
    },
    {
      name: 'a pending run says why',
      generation: 1,
      latest: latest(pending),
      current: undefined,
      want: { state: 'progressing', reason: 'Unschedulable', message: 'Unschedulable: 0/1 nodes' },
    },
    {
      name: 'a running run',
      generation: 1,
      latest: latest(running),
      current: undefined,
      want: {
        state: 'progressing',
        reason: 'Ingesting',
        message: 'Ingesting (SpecChanged, job iris-ingest-1)',
      },
    },
    {
      name: 'a retryable failure says when it is retried',
      generation: 1,
      latest: latest(failed, {
        failure: retryable,
        nextAttemptTime: new Date('2026-06-01T12:00:10Z'),
      }),
      current: undefined,
      want: {
        state: 'progressing',
        reason: 'StorageUnavailable',
        message: 'connect ECONNREFUSED; retrying at 2026-06-01T12:00:10Z (attempt 2)',
      },
    },
    {
      name: 'failed validation without a version stalls',
      generation: 1,
      latest: latest(failed, { failure: invalid }),
      current: undefined,
      want: { state: 'stalled', reason: 'ValidationFailed', message: invalid.message },
    },
    {
      name: 'a version whose generation is unknown (its Job is gone) is not of this spec',
      generation: 1,
      latest: undefined,
      current: current(A, undefined),
      want: { state: 'progressing', reason: 'Ingesting', message: 'Starting the ingestion' },
    },
  ])('$name', ({ generation, latest: l, current: c, want }) => {
    expect(datasetReadiness(dataset(generation), l, c)).toEqual(want);
  });
});

describe('datasetReady', () => {
  it.each<{ name: string; facts: Partial<DatasetFacts>; want: string }>([
    {
      name: 'the version',
      facts: { current: current(A) },
      want: `Version ${A}: 150 rows (train 120, test 30)`,
    },
    {
      name: 'and a failed refresh',
      facts: { current: current(A), latest: latest(failed, { failure: retryable }) },
      want: `Version ${A}: 150 rows (train 120, test 30); the latest run failed (StorageUnavailable): connect ECONNREFUSED`,
    },
    {
      name: 'and a refresh under way',
      facts: { current: current(A), latest: latest(running, { trigger: 'Refresh' }) },
      want: `Version ${A}: 150 rows (train 120, test 30); reading the source again (Refresh, job iris-ingest-1)`,
    },
  ])('$name', ({ facts, want }) => {
    expect(datasetReady(facts)).toEqual({ reason: 'VersionAvailable', message: want });
  });
});

describe('currentVersionOf', () => {
  const stored = { version: B, createdAt: '2026-05-01T00:00:00Z' };
  it.each<{
    name: string;
    args: Parameters<typeof currentVersionOf>;
    want: Partial<CurrentVersion> | undefined;
  }>([
    {
      name: 'the newest run that succeeded names it, with its generation and time',
      args: [succeeded(A, 3), stored, stats()],
      want: {
        version: A,
        rows: 150,
        ingestedGeneration: 3,
        lastRefreshTime: '2026-06-01T11:00:00Z',
      },
    },
    {
      name: 'without a run, the newest stored version, counted by its statistics',
      args: [undefined, stored, stats(99)],
      want: {
        version: B,
        rows: 99,
        trainRows: 69,
        ingestedGeneration: undefined,
        lastRefreshTime: stored.createdAt,
      },
    },
    { name: 'nothing stored', args: [undefined, undefined, undefined], want: undefined },
    {
      name: 'a stored version without statistics',
      args: [undefined, stored, undefined],
      want: undefined,
    },
    {
      name: 'a run whose Job lost its generation annotation',
      args: [{ ...succeeded(A), generation: Number.NaN }, undefined, undefined],
      want: { version: A, ingestedGeneration: undefined },
    },
  ])('$name', ({ args, want }) => {
    const got = currentVersionOf(...args);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatchObject(want);
  });
});

describe('lastIngestionOf', () => {
  it.each<{ name: string; latest: LatestRun; want: object }>([
    {
      name: 'a pending run gives its reason',
      latest: latest(pending),
      want: {
        jobName: 'iris-ingest-1',
        phase: 'Pending',
        reason: 'Unschedulable',
        message: '0/1 nodes',
      },
    },
    {
      name: 'a finished run its times',
      latest: latest(done),
      want: {
        phase: 'Succeeded',
        startTime: '2026-06-01T10:59:00Z',
        completionTime: '2026-06-01T11:00:00Z',
      },
    },
    {
      name: 'a failed run its failure and next attempt',
      latest: latest(failed, {
        trigger: 'Retry',
        attempt: 2,
        failure: retryable,
        nextAttemptTime: new Date('2026-06-01T12:00:10.500Z'),
      }),
      want: {
        phase: 'Failed',
        trigger: 'Retry',
        attempt: 2,
        reason: 'StorageUnavailable',
        message: 'connect ECONNREFUSED',
        nextAttemptTime: '2026-06-01T12:00:10Z',
      },
    },
  ])('$name', ({ latest: l, want }) => {
    expect(lastIngestionOf(l)).toMatchObject(want);
  });
});

describe('datasetStatus', () => {
  const facts: Partial<DatasetFacts> = {
    latest: latest(done),
    validation: { passed: true, reason: 'ValidationPassed', message: '150 rows passed' },
    current: current(A),
    history: [
      { version: A, createdAt: '2026-06-01T11:00:00Z', rows: 150, trainRows: 120, testRows: 30 },
      { version: B, createdAt: '2026-05-01T11:00:00Z', rows: 149, trainRows: 119, testRows: 30 },
    ],
  };

  it('a version: Ready, Validated, statistics and the history from the store', () => {
    const s = datasetStatus(dataset(1), facts, now);
    expect(s).toMatchObject({
      observedGeneration: 1,
      currentVersion: A,
      rows: 150,
      trainRows: 120,
      testRows: 30,
      ingestedGeneration: 1,
      labels: { setosa: 50 },
      columns: [{ name: 'petal_length', mean: 3.7 }],
      versions: [{ version: A }, { version: B }],
      lastRefreshTime: '2026-06-01T11:00:00Z',
      lastIngestion: { phase: 'Succeeded', trigger: 'SpecChanged' },
    });
    const cond = (type: string) => s.conditions?.find((c) => c.type === type);
    expect(cond('Ready')).toMatchObject({ status: 'True', reason: 'VersionAvailable' });
    expect(cond('Validated')?.status).toBe('True');
    expect(cond('Reconciling')).toBeUndefined();
  });

  it('is the same whatever the previous status held (a wiped status is rebuilt the same)', () => {
    const fresh = datasetStatus(dataset(1), facts, now);
    const stale = datasetStatus(
      dataset(1, {
        currentVersion: 'cccccccccccccccc',
        rows: 1,
        versions: [{ version: 'cccccccccccccccc', createdAt: '2020-01-01T00:00:00Z', rows: 1 }],
        lastRefreshTime: '2020-01-01T00:00:00Z',
        ingestedGeneration: 1,
        conditions: fresh.conditions,
      }),
      facts,
      now,
    );
    expect(stale).toEqual(fresh);
  });

  it('no version yet: Ready=False with what is being done, no data fields', () => {
    const s = datasetStatus(dataset(1), { latest: latest(running), history: [] }, now);
    expect(s.currentVersion).toBeUndefined();
    expect(s.versions).toBeUndefined();
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Ingesting',
    });
    expect(s.conditions?.find((c) => c.type === 'Validated')?.status).toBe('Unknown');
  });
});
