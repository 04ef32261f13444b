import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupMetrics } from '../../contract/fairness/group-metrics.js';
import { fairnessSummaryOf } from '../../contract/fairness/summary.js';
import { manifestFor, sha256Digest } from '../../contract/manifest.js';
import type { EvaluateResult, TrainResult } from '../../contract/results.js';
import { loadTensorflow, type Tf } from '../tensorflow/backend.js';
import type { EvaluateSettings, TrainSettings } from './env.js';
import { runEvaluation } from './evaluate.js';
import { memoryStore } from './memory-store.js';
import { classificationMetrics } from './metrics.js';
import { preparedVersionOf, syntheticClassification } from './prepared-fixture.js';
import { runTraining } from './trainer.js';

const log = pino({ level: 'silent' });
const loadBackend = () => loadTensorflow({ choice: 'cpu', gpus: 0 });
const objectStore = {
  endpoint: 'http://unused',
  bucket: 'lathe',
  region: 'r',
  accessKey: 'a',
  secretKey: 's',
};

const table = syntheticClassification(400, 4, 3, 5);
/** The champion's version: standard scaling fitted on one split. */
const versionA = preparedVersionOf(table, 0.2, 7);
/** The challenger's: another split, scaled to [0, 1]. */
const versionB = preparedVersionOf(table, 0.25, 8, { scale: 'minMax' });

const store = memoryStore();
store.put('datasets/ns/d/a/', versionA.files);
store.put('datasets/ns/d/b/', versionB.files);
let tf: Tf;
let trained: Extract<TrainResult, { outcome: 'succeeded' }>;

const settings = (overrides: Partial<EvaluateSettings> = {}): EvaluateSettings => ({
  modelUri: trained.artifact.uri,
  modelDigest: trained.artifact.digest,
  datasetUri: 's3://lathe/datasets/ns/d/b/',
  task: 'classification',
  backend: 'cpu',
  gpus: 0,
  objectStore,
  resultPath: '/dev/null',
  ...overrides,
});
const evaluate = (overrides: Partial<EvaluateSettings> = {}) =>
  runEvaluation(settings(overrides), log, { store, loadBackend });

beforeAll(async () => {
  ({ tf } = await loadBackend());
  const train: TrainSettings = {
    namespace: 'ns',
    name: 'job',
    datasetUri: 's3://lathe/datasets/ns/d/a/',
    datasetVersion: 'a',
    outputUri: 's3://lathe/models/ns/m/1/',
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
    objectStore,
    resultPath: '/dev/null',
  };
  const result = await runTraining(train, log, { store, loadBackend });
  if (result.outcome !== 'succeeded') throw new Error(result.message);
  trained = result;
}, 60_000);

describe('runEvaluation', () => {
  it('scores the model on its own version exactly as the trainer did', async () => {
    const result = await evaluate({ datasetUri: 's3://lathe/datasets/ns/d/a/' });
    expect(result).toEqual({
      kind: 'evaluate',
      outcome: 'succeeded',
      metrics: trained.metrics,
      rows: 80,
    });
  });

  it('scores another version’s raw rows through the model’s own scaling', async () => {
    const result = await evaluate();
    expect(result).toMatchObject({ outcome: 'succeeded', rows: 100 });
    // Independently: version A's standard scaling applied by hand to B's raw test rows.
    const scaling = versionA.schema.inputs.map((i) =>
      i.kind === 'numeric' && i.scale.method === 'standard' ? i.scale : undefined,
    );
    const raw = versionB.files['test.raw.jsonl']!.toString()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number | string>);
    const x = raw.map((row) =>
      table.featureNames.map(
        (name, c) => ((row[name] as number) - scaling[c]!.mean) / scaling[c]!.std,
      ),
    );
    const modelJson = JSON.parse(store.objects.get('lathe/models/ns/m/1/model.json')!.toString());
    const weights = store.objects.get('lathe/models/ns/m/1/weights.bin')!;
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
      }),
    );
    const probabilities = tf.tidy(
      () =>
        (model.predict(tf.tensor2d(x)) as ReturnType<typeof tf.tensor>).dataSync() as Float32Array,
    );
    const classes = versionA.schema.label.classes!;
    const expected = classificationMetrics(
      probabilities,
      Int32Array.from(raw.map((row) => classes.indexOf(row.class as string))),
      classes.length,
    ).metrics;
    const metrics = (result as Extract<EvaluateResult, { outcome: 'succeeded' }>).metrics;
    expect(Object.keys(metrics).sort()).toEqual(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected)) expect(metrics[key]).toBeCloseTo(value, 5);
    // B's own preparation is another one: scored through it, the rows would be other numbers.
    expect(versionB.schema.inputs[0]).toMatchObject({ scale: { method: 'minMax' } });
    model.dispose();
  });
});

describe('runEvaluation across sensitive columns', () => {
  // Version A's rows and split, with a sensitive column kept for evaluation only.
  const withGroups = {
    ...table,
    sensitive: { band: table.rows.map((row) => (row[0]! > 1 ? 'high' : 'low')) },
  };
  const versionC = preparedVersionOf(withGroups, 0.2, 7);
  store.put('datasets/ns/d/c/', versionC.files);
  const fairness = { positiveClass: 'class-1', minGroupSize: 5, intersections: true };

  it('reports the disparities of the model on the split, as group metrics of its predictions', async () => {
    const result = await evaluate({ datasetUri: 's3://lathe/datasets/ns/d/c/', fairness });
    if (result.outcome !== 'succeeded') throw new Error(result.message);
    // The same rows as version A: the same metrics, now with the groups.
    expect(result.metrics).toEqual(trained.metrics);
    const raw = versionC.files['test.raw.jsonl']!.toString()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number | string>);
    expect(raw[0]).toHaveProperty('band');
    const scale = versionA.schema.inputs.map((i) =>
      i.kind === 'numeric' && i.scale.method === 'standard' ? i.scale : undefined,
    );
    const x = raw.map((row) =>
      table.featureNames.map((name, c) => ((row[name] as number) - scale[c]!.mean) / scale[c]!.std),
    );
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: JSON.parse(store.objects.get('lathe/models/ns/m/1/model.json')!.toString())
          .modelTopology,
        weightSpecs: JSON.parse(store.objects.get('lathe/models/ns/m/1/model.json')!.toString())
          .weightsManifest[0].weights,
        weightData: (() => {
          const w = store.objects.get('lathe/models/ns/m/1/weights.bin')!;
          return w.buffer.slice(w.byteOffset, w.byteOffset + w.length);
        })(),
      }),
    );
    const predicted = tf.tidy(() =>
      (model.predict(tf.tensor2d(x)) as ReturnType<typeof tf.tensor>).argMax(1).dataSync(),
    );
    model.dispose();
    const classes = versionA.schema.label.classes!;
    const expected = groupMetrics(
      raw.map((row, i) => ({
        groups: { band: String(row.band) },
        label: String(row.class),
        prediction: classes[predicted[i]!]!,
      })),
      { ...fairness, sensitiveColumns: ['band'] },
    );
    expect(result.fairness).toEqual(fairnessSummaryOf(expected));
    expect(result.fairness?.disparities.map((d) => d.scope)).toEqual(['band']);
  });

  it('says why when the split has no sensitive columns, and still scores it', async () => {
    const result = await evaluate({ datasetUri: 's3://lathe/datasets/ns/d/a/', fairness });
    expect(result).toMatchObject({
      outcome: 'succeeded',
      metrics: trained.metrics,
      fairnessError: 'the dataset version names no sensitive columns',
    });
  });

  it('needs a positive class among three', async () => {
    const { positiveClass: _, ...noPositive } = fairness;
    const result = await evaluate({
      datasetUri: 's3://lathe/datasets/ns/d/c/',
      fairness: noPositive,
    });
    expect(result).toMatchObject({ outcome: 'succeeded' });
    expect(result.outcome === 'succeeded' && result.fairnessError).toMatch(
      /has 3 classes: set spec.fairness.positiveClass/,
    );
  });
});

describe('runEvaluation failing', () => {
  const failure = async (
    overrides: Partial<EvaluateSettings>,
    reason: string,
    message: string | RegExp,
  ) => {
    const result = await evaluate(overrides);
    expect(result).toMatchObject({ kind: 'evaluate', outcome: 'failed', reason });
    expect(result.outcome === 'failed' && result.message).toMatch(message);
  };

  it('refuses an artifact that is not the recorded digest', async () => {
    await failure(
      { modelDigest: `sha256:${'0'.repeat(64)}` },
      'ArtifactInvalid',
      /^The artifact cannot be evaluated \(DigestMismatch\): manifest.json has digest/,
    );
  });

  it('names the format of a scikit-learn artifact it cannot run', async () => {
    const files = {
      'model.joblib': Buffer.from('pickle'),
      'schema.json': versionA.files['schema.json']!,
    };
    const { manifest, digest } = manifestFor(files);
    store.put('models/ns/m/2/', { ...files, 'manifest.json': manifest });
    await failure(
      { modelUri: 's3://lathe/models/ns/m/2/', modelDigest: digest },
      'InternalError',
      'the artifact is a scikit-learn model (model.joblib, format joblib)',
    );
  });

  it('refuses a model of another task', async () => {
    await failure(
      { task: 'regression' },
      'ArtifactInvalid',
      'the model was trained for classification, the evaluation is of a regression task',
    );
  });

  it('reports a dataset version without test.raw.jsonl as DatasetInvalid', async () => {
    const { 'test.raw.jsonl': _, 'manifest.json': __, ...rest } = versionB.files;
    store.put('datasets/ns/d/old/', { ...rest, 'manifest.json': manifestFor(rest).manifest });
    await failure(
      { datasetUri: 's3://lathe/datasets/ns/d/old/' },
      'DatasetInvalid',
      'has no test.raw.jsonl (written by ingestion since the evaluate mode exists; re-ingest to get it)',
    );
    await failure(
      { datasetUri: 's3://lathe/datasets/ns/d/none/' },
      'DatasetInvalid',
      'the dataset version s3://lathe/datasets/ns/d/none/ has no manifest.json (it is not complete)',
    );
  });

  it('refuses test rows that changed after the manifest was written, naming the file', async () => {
    const changed = Buffer.from(versionB.files['test.raw.jsonl']!.toString().replace('{', '{ '));
    store.put('datasets/ns/d/changed/', { ...versionB.files, 'test.raw.jsonl': changed });
    await failure(
      { datasetUri: 's3://lathe/datasets/ns/d/changed/' },
      'DatasetTampered',
      /^test.raw.jsonl does not match the dataset version's manifest.json \(s3:\/\/lathe\/datasets\/ns\/d\/changed\/\): test.raw.jsonl is \d+ bytes with sha256:[0-9a-f]{64}; manifest.json says/,
    );
  });

  it('refuses a version whose schema.json or manifest changed after ingestion', async () => {
    // Named as ingestion names it, so the manifest is pinned by the name.
    const version = sha256Digest(versionB.files['manifest.json']!).slice(7, 23);
    const schema = `${versionB.files['schema.json']!.toString()} `;
    const changed = { ...versionB.files, 'schema.json': Buffer.from(schema) };
    store.put(`datasets/ns/d/${version}/`, changed);
    await failure(
      { datasetUri: `s3://lathe/datasets/ns/d/${version}/` },
      'DatasetTampered',
      /^schema.json does not match the dataset version's manifest.json .*: schema.json is \d+ bytes/,
    );
    const data = Object.fromEntries(Object.entries(changed).filter(([f]) => f !== 'manifest.json'));
    store.put(`datasets/ns/d/${version}/`, { 'manifest.json': manifestFor(data).manifest });
    await failure(
      { datasetUri: `s3://lathe/datasets/ns/d/${version}/` },
      'DatasetTampered',
      `manifest.json of the dataset version s3://lathe/datasets/ns/d/${version}/: manifest.json has digest`,
    );
  });
});
