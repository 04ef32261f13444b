import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ExplanationBackgroundSchema } from '../../contract/explain/background.js';
import { manifestFor, sha256Digest, verifyArtifact } from '../../contract/manifest.js';
import { ModelCardSchema } from '../../contract/model-card.js';
import { ModelMetricsSchema, TrainingProgressSchema } from '../../contract/results.js';
import { loadTensorflow } from '../tensorflow/backend.js';
import type { TrainSettings } from './env.js';
import { memoryStore } from './memory-store.js';
import { preparedVersionOf, syntheticClassification } from './prepared-fixture.js';
import { runTraining } from './trainer.js';

const settings: TrainSettings = {
  namespace: 'ns',
  name: 'job',
  datasetUri: 's3://lathe/datasets/ns/d/v1/',
  datasetVersion: 'v1',
  outputUri: 's3://lathe/runs/ns/job/artifact/',
  runUri: 's3://lathe/runs/ns/job/',
  task: 'classification',
  model: { architecture: 'mlp', layers: [8], activation: 'relu', dropout: 0 },
  hyperparameters: {
    epochs: 5,
    batchSize: 16,
    learningRate: 0.01,
    optimizer: 'adam',
    validationSplit: 0.1,
    seed: 1,
  },
  backend: 'cpu',
  gpus: 0,
  objectStore: {
    endpoint: 'http://unused',
    bucket: 'lathe',
    region: 'r',
    accessKey: 'a',
    secretKey: 's',
  },
  resultPath: '/dev/null',
};
const log = pino({ level: 'silent' });
const loadBackend = () => loadTensorflow({ choice: 'cpu', gpus: 0 });

function withDataset(files: Record<string, Buffer>) {
  const store = memoryStore();
  for (const [file, bytes] of Object.entries(files)) {
    store.objects.set(`lathe/datasets/ns/d/v1/${file}`, bytes);
  }
  return store;
}

const { files } = preparedVersionOf(syntheticClassification(300, 4, 2));

describe('runTraining', () => {
  it('trains, uploads a verifiable artifact with manifest.json last, and reports success', async () => {
    const store = withDataset(files);
    const order: string[] = [];
    const write = store.write;
    store.write = async (bucket, key, body) => {
      order.push(key);
      await write(bucket, key, body);
    };
    const result = await runTraining(settings, log, { store, loadBackend });
    expect(result).toMatchObject({ outcome: 'succeeded', backend: 'cpu', epochs: 5 });
    if (result.outcome !== 'succeeded') throw new Error('unreachable');
    expect(await verifyArtifact(store, result.artifact)).toMatchObject({
      verified: true,
      files: 6,
    });
    const artifactWrites = order.filter((k) => k.includes('/artifact/'));
    expect(artifactWrites.at(-1)).toBe('runs/ns/job/artifact/manifest.json');
    const metrics = ModelMetricsSchema.parse(
      JSON.parse(store.objects.get('lathe/runs/ns/job/artifact/metrics.json')!.toString()),
    );
    expect(metrics).toMatchObject({
      task: 'classification',
      backend: 'cpu',
      classes: ['class-0', 'class-1'],
    });
    expect(metrics.metrics).toEqual(result.metrics);
    expect(Object.keys(result.metrics).sort()).toEqual([
      'accuracy',
      'f1',
      'loss',
      'precision',
      'recall',
      'rocAuc',
    ]);
    const progress = TrainingProgressSchema.parse(
      JSON.parse(store.objects.get('lathe/runs/ns/job/progress.json')!.toString()),
    );
    expect(progress).toMatchObject({ epoch: 5, totalEpochs: 5, backend: 'cpu' });
  });

  it('writes a model card (importance, group metrics, verdict, intended use) and a background', async () => {
    // The class follows x1 alone; "group" is a sensitive column kept for evaluation only,
    // with the groups of x1's sign, so the groups' selection rates differ.
    const table = syntheticClassification(400, 3, 2, 5);
    for (const row of table.rows) {
      row[1] = row[1]! * 0.01;
      row[2] = row[2]! * 0.01;
    }
    table.labels = table.rows.map((row) => (row[0]! > 1 ? 'yes' : 'no'));
    table.sensitive = { group: table.rows.map((row) => (row[0]! > 1 ? 'a' : 'b')) };
    const version = preparedVersionOf(table);
    const store = withDataset(version.files);
    const result = await runTraining(
      {
        ...settings,
        hyperparameters: { ...settings.hyperparameters, epochs: 30 },
        fairness: {
          minGroupSize: 5,
          intersections: true,
          rules: [{ metric: 'demographicParityRatio', op: '>=', value: 0.8 }],
        },
        modelCard: { intendedUse: 'Tests', owners: ['lathe'] },
      },
      log,
      { store, loadBackend },
    );
    if (result.outcome !== 'succeeded') throw new Error(JSON.stringify(result));
    expect(await verifyArtifact(store, result.artifact)).toMatchObject({ files: 6 });
    const artifact = (file: string) =>
      JSON.parse(store.objects.get(`lathe/runs/ns/job/artifact/${file}`)!.toString());
    const card = ModelCardSchema.parse(artifact('model-card.json'));
    expect(card.intendedUse).toEqual({ intendedUse: 'Tests', owners: ['lathe'] });
    expect(card.data).toMatchObject({ datasetVersion: 'v1', testRows: 80, trainRows: 320 });
    // x1 decides the class: it matters most, and the near-constant columns barely at all.
    expect(card.importance?.columns.map((c) => c.column)[0]).toBe('x1');
    expect(card.importance!.columns[0]!.mean).toBeGreaterThan(0.2);
    for (const c of card.importance!.columns.slice(1)) expect(Math.abs(c.mean)).toBeLessThan(0.05);
    // Groups: "a" rows are mostly "yes", so selection rates differ and the ratio rule fails.
    const report = card.fairness!.report!;
    expect(report.positiveClass).toBe('yes');
    const groups = report.groups.filter((g) => g.scope === 'group');
    expect(groups.map((g) => g.group).sort()).toEqual(['group=a', 'group=b']);
    expect(groups.reduce((n, g) => n + g.count, 0)).toBe(80);
    expect(card.fairness!.verdict).toMatchObject({ passed: false });
    expect(card.fairness!.verdict!.message).toMatch(/demographicParityRatio/);
    const background = ExplanationBackgroundSchema.parse(artifact('background.json'));
    expect(background.features).toEqual(['x1', 'x2', 'x3']);
    expect(background.rows).toHaveLength(100);
    expect(background.sampledFrom).toBe(320);
  });

  it.each([
    [
      'a missing dataset version',
      {},
      'classification',
      'has no manifest.json (it is not complete)',
    ],
    ['a version prepared for another task', files, 'regression', 'prepared for classification'],
  ] as const)('reports %s as DatasetInvalid', async (_, dataset, task, message) => {
    const result = await runTraining({ ...settings, task }, log, {
      store: withDataset(dataset),
      loadBackend,
    });
    expect(result).toMatchObject({ outcome: 'failed', reason: 'DatasetInvalid' });
    expect(result.outcome === 'failed' && result.message).toContain(message);
  });

  describe('on a version changed in the store after ingestion', () => {
    /** The version named as ingestion names it: the manifest's sha256, 16 hex digits. */
    const version = sha256Digest(files['manifest.json']!).slice(7, 23);
    const hashed = {
      ...settings,
      datasetUri: `s3://lathe/datasets/ns/d/${version}/`,
      datasetVersion: version,
    };
    const storeOf = (dataset: Record<string, Buffer | undefined>) => {
      const store = memoryStore();
      for (const [file, bytes] of Object.entries(dataset)) {
        if (bytes) store.objects.set(`lathe/datasets/ns/d/${version}/${file}`, bytes);
      }
      return store;
    };
    const grown = (bytes: Buffer) => Buffer.concat([bytes, Buffer.from('0,0,0,0,1\n')]);
    const changedTrain = { ...files, 'train.csv': grown(files['train.csv']!) };

    it('trains on the intact version', async () => {
      const result = await runTraining(hashed, log, { store: storeOf(files), loadBackend });
      expect(result).toMatchObject({ outcome: 'succeeded' });
    });

    it.each([
      ['train.csv with a row appended', changedTrain, 'train.csv', 'train.csv is'],
      [
        'the preparation (schema.json) changed',
        { ...files, 'schema.json': Buffer.from(`${files['schema.json']!.toString()} `) },
        'schema.json',
        'schema.json is',
      ],
      [
        'test.csv deleted',
        { ...files, 'test.csv': undefined },
        'test.csv',
        'test.csv is listed in manifest.json but missing',
      ],
      [
        'train.csv and a manifest rewritten to match it',
        (() => {
          const data = Object.fromEntries(
            Object.entries(changedTrain).filter(([f]) => f !== 'manifest.json'),
          );
          return { ...data, 'manifest.json': manifestFor(data).manifest };
        })(),
        'manifest.json',
        "does not start with the version's name",
      ],
    ] as const)(
      'fails with DatasetTampered on %s, naming the file, before training',
      async (_, dataset, file, problem) => {
        const store = storeOf(dataset);
        const result = await runTraining(hashed, log, { store, loadBackend });
        expect(result).toMatchObject({
          kind: 'train',
          outcome: 'failed',
          reason: 'DatasetTampered',
        });
        const message = result.outcome === 'failed' ? result.message : '';
        expect(message.startsWith(`${file} `)).toBe(true);
        expect(message).toContain(hashed.datasetUri);
        expect(message).toContain(problem);
        expect([...store.objects.keys()].filter((k) => k.startsWith('lathe/runs/'))).toEqual([]);
      },
    );
  });

  it('reports an impossible early-stopping setting as TrainingFailed', async () => {
    const result = await runTraining(
      {
        ...settings,
        hyperparameters: {
          ...settings.hyperparameters,
          validationSplit: 0,
          earlyStopping: { monitor: 'val_loss', patience: 2, minDelta: 0 },
        },
      },
      log,
      { store: withDataset(files), loadBackend },
    );
    expect(result).toMatchObject({ outcome: 'failed', reason: 'TrainingFailed' });
  });

  it('reports an unreachable object store as StorageUnavailable (retried by the operator)', async () => {
    const { StorageUnavailableError } = await import('../../contract/object-store.js');
    const store = {
      read: async () => {
        throw new StorageUnavailableError('connect ECONNREFUSED');
      },
      write: async () => {},
    };
    const result = await runTraining(settings, log, { store, loadBackend });
    expect(result).toMatchObject({ outcome: 'failed', reason: 'StorageUnavailable' });
  });
});
