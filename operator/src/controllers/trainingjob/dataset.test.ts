import { describe, expect, it } from 'vitest';
import { TrainingJobSchema } from '../../api/trainingjob.js';
import type { JobObject } from '../../runtime/builtin-kinds.js';
import type { DatasetObject, TrainingJobObject } from '../lathe-kinds.js';
import { datasetPinOfJob, datasetVersionToTrain } from './dataset.js';

function trainingJob(version?: string): TrainingJobObject {
  return TrainingJobSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: 't', namespace: 'ns' },
    spec: {
      datasetRef: { name: 'iris', ...(version ? { version } : {}) },
      model: { builtin: { architecture: 'linear' } },
      modelName: 'iris',
    },
  }) as TrainingJobObject;
}

function dataset(ready: boolean, currentVersion?: string): DatasetObject {
  return {
    metadata: { name: 'iris', namespace: 'ns' },
    status: {
      ...(currentVersion ? { currentVersion } : {}),
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          reason: ready ? 'Ingested' : 'Ingesting',
          message: ready ? '' : 'the ingestion Job runs',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    },
  } as unknown as DatasetObject;
}

describe('datasetVersionToTrain', () => {
  it.each<[string, TrainingJobObject, DatasetObject | undefined, string]>([
    [
      'a Ready Dataset: its current version',
      trainingJob(),
      dataset(true, 'bbbbbbbbbbbb2222'),
      'bbbbbbbbbbbb2222',
    ],
    [
      'a pinned version, even while the Dataset ingests',
      trainingJob('aaaaaaaaaaaa1111'),
      dataset(false),
      'aaaaaaaaaaaa1111',
    ],
    ['no Dataset', trainingJob(), undefined, 'DatasetNotReady: Dataset iris does not exist in ns'],
    [
      'a Dataset not Ready',
      trainingJob(),
      dataset(false, 'v-old'),
      'DatasetNotReady: Dataset iris is not Ready (Ingesting: the ingestion Job runs)',
    ],
    [
      'a Ready Dataset without a version',
      trainingJob(),
      dataset(true),
      'DatasetNotReady: Dataset iris is not Ready (Ingested: )',
    ],
  ])('%s → %s', (_, tj, ds, want) => {
    const found = datasetVersionToTrain(tj, ds);
    expect('version' in found ? found.version : `${found.reason}: ${found.message}`).toBe(want);
  });
});

describe('datasetPinOfJob', () => {
  const job = (annotations: Record<string, string>) =>
    ({ metadata: { name: 'j', annotations }, spec: { template: {} } }) as JobObject;
  it.each<[string, Record<string, string>, ReturnType<typeof datasetPinOfJob>]>([
    [
      'both annotations',
      { 'lathe.dev/dataset-version': 'v1', 'lathe.dev/task': 'regression' },
      { version: 'v1', task: 'regression' },
    ],
    [
      'an unknown task',
      { 'lathe.dev/dataset-version': 'v1', 'lathe.dev/task': 'x' },
      { version: 'v1', task: undefined },
    ],
    ['none', {}, { version: '', task: undefined }],
  ])('%s', (_, annotations, want) => {
    expect(datasetPinOfJob(job(annotations))).toEqual(want);
  });
});
