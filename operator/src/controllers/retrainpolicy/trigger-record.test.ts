import { describe, expect, it } from 'vitest';
import type { TrainingJobObject } from '../lathe-kinds.js';
import {
  currentRecord,
  holdsRecord,
  parseRecord,
  RecordAnnotation,
  type RecordInputs,
  recordAnnotations,
  recordFromStatus,
  recordStarted,
  type TriggerRecord,
} from './trigger-record.js';

function run(
  name: string,
  trigger: string,
  created: string,
  annotations: Record<string, string> = {},
): TrainingJobObject {
  return {
    metadata: {
      name,
      creationTimestamp: created,
      labels: { 'lathe.dev/trigger': trigger },
      annotations,
    },
  } as unknown as TrainingJobObject;
}

const inputs = (over: Partial<RecordInputs>): RecordInputs => ({
  recorded: {},
  runs: [],
  datasetChange: true,
  currentDatasetVersion: undefined,
  manualRequest: undefined,
  ...over,
});

describe('currentRecord', () => {
  it.each<{ name: string; inputs: RecordInputs; want: TriggerRecord }>([
    {
      name: 'nothing recorded, no version: empty',
      inputs: inputs({}),
      want: {},
    },
    {
      name: 'the version found first is the baseline',
      inputs: inputs({ currentDatasetVersion: 'v1' }),
      want: { datasetVersion: 'v1' },
    },
    {
      name: 'a new version is not recorded before a run exists for it',
      inputs: inputs({ recorded: { datasetVersion: 'v1' }, currentDatasetVersion: 'v2' }),
      want: { datasetVersion: 'v1' },
    },
    {
      name: 'a run for the new version records it (a crash before the record was written)',
      inputs: inputs({
        recorded: { datasetVersion: 'v1' },
        currentDatasetVersion: 'v2',
        runs: [
          run('p-data-1', 'datasetChange', '2026-01-01T00:00:00Z', {
            'lathe.dev/dataset-version': 'v2',
          }),
        ],
      }),
      want: {
        datasetVersion: 'v2',
        lastRun: { name: 'p-data-1', trigger: 'datasetChange', time: '2026-01-01T00:00:00Z' },
      },
    },
    {
      name: 'without the datasetChange trigger no baseline is taken, the record is kept',
      inputs: inputs({
        datasetChange: false,
        recorded: { datasetVersion: 'v0' },
        currentDatasetVersion: 'v1',
      }),
      want: { datasetVersion: 'v0' },
    },
    {
      name: 'a run that answered the pending request records it',
      inputs: inputs({
        manualRequest: 'again',
        recorded: { manualRequest: 'first' },
        runs: [
          run('p-manual-1', 'manual', '2026-01-01T00:00:00Z', { 'lathe.dev/run-now': 'again' }),
        ],
      }),
      want: {
        manualRequest: 'again',
        lastRun: { name: 'p-manual-1', trigger: 'manual', time: '2026-01-01T00:00:00Z' },
      },
    },
    {
      name: 'a request with no run is not acted on',
      inputs: inputs({ manualRequest: 'again', recorded: { manualRequest: 'first' } }),
      want: { manualRequest: 'first' },
    },
    {
      name: 'the newest reading a run carries wins over an older record',
      inputs: inputs({
        recorded: { driftReading: '2026-01-01T00:00:00Z' },
        runs: [
          run('p-drift-1', 'drift', '2026-01-01T01:00:05Z', {
            'lathe.dev/reading-time': '2026-01-01T01:00:00Z',
          }),
        ],
      }),
      want: {
        driftReading: '2026-01-01T01:00:00Z',
        lastRun: { name: 'p-drift-1', trigger: 'drift', time: '2026-01-01T01:00:05Z' },
      },
    },
    {
      name: 'a recorded run newer than any that exists (deleted by the history limits) stays',
      inputs: inputs({
        recorded: {
          accuracyReading: '2026-01-02T00:00:00Z',
          lastRun: { name: 'p-accuracy-2', trigger: 'accuracy', time: '2026-01-02T00:00:01Z' },
        },
        runs: [
          run('p-accuracy-1', 'accuracy', '2026-01-01T00:00:01Z', {
            'lathe.dev/reading-time': '2026-01-01T00:00:00Z',
          }),
        ],
      }),
      want: {
        accuracyReading: '2026-01-02T00:00:00Z',
        lastRun: { name: 'p-accuracy-2', trigger: 'accuracy', time: '2026-01-02T00:00:01Z' },
      },
    },
  ])('$name', ({ inputs, want }) => {
    expect(currentRecord(inputs)).toEqual(want);
  });
});

describe('recordStarted', () => {
  const time = '2026-01-03T00:00:00Z';
  it.each<{ name: string; started: Parameters<typeof recordStarted>[1]; want: TriggerRecord }>([
    {
      name: 'a datasetChange run advances the version',
      started: { name: 'r', trigger: 'datasetChange', datasetVersion: 'v2' },
      want: {
        datasetVersion: 'v2',
        manualRequest: 'a',
        lastRun: { name: 'r', trigger: 'datasetChange', time },
      },
    },
    {
      name: 'a manual run records the request',
      started: { name: 'r', trigger: 'manual', manualRequest: 'b' },
      want: {
        datasetVersion: 'v1',
        manualRequest: 'b',
        lastRun: { name: 'r', trigger: 'manual', time },
      },
    },
    {
      name: 'a drift run records its reading',
      started: { name: 'r', trigger: 'drift', readingTime: '2026-01-02T23:59:00Z' },
      want: {
        datasetVersion: 'v1',
        manualRequest: 'a',
        driftReading: '2026-01-02T23:59:00Z',
        lastRun: { name: 'r', trigger: 'drift', time },
      },
    },
  ])('$name', ({ started, want }) => {
    expect(recordStarted({ datasetVersion: 'v1', manualRequest: 'a' }, started, time)).toEqual(
      want,
    );
  });
});

describe('the record in annotations', () => {
  it('round-trips', () => {
    const record: TriggerRecord = {
      datasetVersion: 'v1',
      manualRequest: 'go',
      driftReading: '2026-01-01T00:00:00Z',
      accuracyReading: '2026-01-01T00:01:00Z',
      lastRun: { name: 'p-manual-1', trigger: 'manual', time: '2026-01-01T00:02:00Z' },
    };
    expect(parseRecord(recordAnnotations(record))).toEqual(record);
  });

  it.each([
    ['no annotations', undefined, {}],
    ['an unreadable last run is left out', { [RecordAnnotation.lastRun]: '{"name":1' }, {}],
    [
      'a last run with an unknown trigger is left out',
      { [RecordAnnotation.lastRun]: '{"name":"r","trigger":"cosmic","time":"t"}' },
      {},
    ],
    ['other annotations are ignored', { 'example.com/x': 'y' }, {}],
  ])('%s', (_name, annotations, want) => {
    expect(parseRecord(annotations)).toEqual(want);
  });
});

describe('a policy whose CronJob holds no record', () => {
  it.each<[string, Record<string, string> | undefined, boolean]>([
    ['no CronJob', undefined, false],
    ['a CronJob without the record', { 'example.com/x': 'y' }, false],
    ['a CronJob with a record', { [RecordAnnotation.manualRequest]: 'go' }, true],
  ])('%s: holds a record %s', (_name, annotations, want) => {
    expect(holdsRecord(annotations)).toBe(want);
  });

  it.each<[string, Parameters<typeof recordFromStatus>[0], TriggerRecord]>([
    ['a new policy', undefined, {}],
    [
      'one an earlier operator kept in status',
      { lastDatasetVersion: 'v3', lastManualRun: 'go' },
      { datasetVersion: 'v3', manualRequest: 'go' },
    ],
  ])('%s: the record from its status', (_name, status, want) => {
    expect(recordFromStatus(status)).toEqual(want);
  });
});
