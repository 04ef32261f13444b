import { describe, expect, it } from 'vitest';
import type { DatasetStats } from '../../../../contract/dataset-stats.js';
import { type Dataset, DatasetSchema } from '../../api/dataset.js';
import { datasetStatus, type LatestRun, type SucceededRun } from './status.js';

const now = new Date('2026-06-01T12:00:00Z');

function dataset(generation: number, status?: Dataset['status']): Dataset {
  return DatasetSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name: 'iris', namespace: 'ns', generation },
    spec: { source: { http: { url: 'http://x/iris.csv' } }, schema: { label: 'species' } },
    ...(status ? { status } : {}),
  });
}

const stats: DatasetStats = {
  formatVersion: 1,
  rows: 150,
  trainRows: 120,
  testRows: 30,
  sourceRows: 150,
  columns: [{ name: 'petal_length', type: 'number', missing: 0, mean: 3.7 }],
  labels: { setosa: 50, versicolor: 50, virginica: 50 },
  distributions: [],
};

const succeeded = (version: string, generation = 1, at = '2026-06-01T11:00:00Z'): SucceededRun => ({
  generation,
  completionTime: at,
  result: {
    kind: 'ingest',
    outcome: 'succeeded',
    version,
    rows: 150,
    trainRows: 120,
    testRows: 30,
    reused: false,
  },
  stats,
});

const latest = (run: LatestRun['run'], extra: Partial<LatestRun> = {}): LatestRun => ({
  jobName: 'iris-ingest-1',
  trigger: 'SpecChanged',
  attempt: 1,
  generation: 1,
  run,
  ...extra,
});

const cond = (s: ReturnType<typeof datasetStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe('datasetStatus', () => {
  it('a first version: Ready, Validated, statistics and history', () => {
    const s = datasetStatus(
      dataset(1),
      {
        latest: latest({
          phase: 'Succeeded',
          startTime: undefined,
          completionTime: '2026-06-01T11:00:00Z',
          terminationMessage: '',
        }),
        succeeded: succeeded('aaaaaaaaaaaaaaaa'),
        validation: { passed: true, reason: 'ValidationPassed', message: '150 rows passed' },
      },
      now,
    );
    expect(s).toMatchObject({
      observedGeneration: 1,
      currentVersion: 'aaaaaaaaaaaaaaaa',
      rows: 150,
      trainRows: 120,
      ingestedGeneration: 1,
      labels: { setosa: 50 },
      versions: [{ version: 'aaaaaaaaaaaaaaaa', createdAt: '2026-06-01T11:00:00Z' }],
      lastIngestion: { phase: 'Succeeded', trigger: 'SpecChanged' },
    });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: 'VersionAvailable' });
    expect(cond(s, 'Validated')?.status).toBe('True');
    expect(cond(s, 'Reconciling')).toBeUndefined();
  });

  it('a failed refresh keeps the version Ready and says what is retried', () => {
    const before = datasetStatus(
      dataset(1),
      { latest: undefined, succeeded: succeeded('aaaaaaaaaaaaaaaa'), validation: undefined },
      now,
    );
    const s = datasetStatus(
      dataset(1, before),
      {
        latest: latest(
          {
            phase: 'Failed',
            reason: 'BackoffLimitExceeded',
            message: 'failed',
            startTime: undefined,
            completionTime: undefined,
            exitCode: 1,
            terminationMessage: undefined,
          },
          {
            trigger: 'Refresh',
            failure: {
              reason: 'StorageUnavailable',
              message: 'connect ECONNREFUSED',
              retryable: true,
            },
            nextAttemptTime: new Date('2026-06-01T12:00:10Z'),
          },
        ),
        succeeded: undefined,
        validation: undefined,
      },
      now,
    );
    expect(s.currentVersion).toBe('aaaaaaaaaaaaaaaa');
    expect(cond(s, 'Ready')?.status).toBe('True');
    expect(cond(s, 'Reconciling')).toMatchObject({ reason: 'StorageUnavailable' });
    expect(cond(s, 'Reconciling')?.message).toContain(
      'retrying at 2026-06-01T12:00:10Z (attempt 2)',
    );
    expect(s.lastIngestion).toMatchObject({
      reason: 'StorageUnavailable',
      nextAttemptTime: '2026-06-01T12:00:10Z',
    });
  });

  it('a new spec that fails validation is Stalled, naming the rule and column', () => {
    const s = datasetStatus(
      dataset(2),
      {
        latest: latest(
          {
            phase: 'Failed',
            reason: 'BackoffLimitExceeded',
            message: '',
            startTime: undefined,
            completionTime: undefined,
            exitCode: 1,
            terminationMessage: undefined,
          },
          {
            generation: 2,
            failure: {
              reason: 'ValidationFailed',
              message: 'rule min, column petal_length, observed -1: below 0',
              retryable: false,
            },
          },
        ),
        succeeded: undefined,
        validation: {
          passed: false,
          reason: 'ValidationFailed',
          message: 'rule min, column petal_length, observed -1: below 0',
        },
      },
      now,
    );
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ValidationFailed' });
    expect(cond(s, 'Stalled')?.message).toContain('column petal_length');
    expect(cond(s, 'Validated')?.status).toBe('False');
  });

  it('an unchanged version is not added to the history twice; a new one goes first', () => {
    const one = datasetStatus(
      dataset(1),
      { latest: undefined, succeeded: succeeded('aaaaaaaaaaaaaaaa'), validation: undefined },
      now,
    );
    const same = datasetStatus(
      dataset(1, one),
      {
        latest: undefined,
        succeeded: succeeded('aaaaaaaaaaaaaaaa', 1, '2026-06-01T11:30:00Z'),
        validation: undefined,
      },
      now,
    );
    expect(same.versions?.map((v) => v.version)).toEqual(['aaaaaaaaaaaaaaaa']);
    expect(same.lastRefreshTime).toBe('2026-06-01T11:30:00Z');
    const next = datasetStatus(
      dataset(1, same),
      {
        latest: undefined,
        succeeded: succeeded('bbbbbbbbbbbbbbbb', 1, '2026-06-01T11:45:00Z'),
        validation: undefined,
      },
      now,
    );
    expect(next.versions?.map((v) => v.version)).toEqual(['bbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaa']);
  });
});
