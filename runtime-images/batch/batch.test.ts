import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BatchInput,
  type BatchShardMarker,
  batchMarkerFile,
  batchPartFile,
} from '../../contract/batch.js';
import { manifestFor, sha256Digest } from '../../contract/manifest.js';
import type { TrainResult } from '../../contract/results.js';
import { decodeCsv } from '../ingest/csv.js';
import { type HttpTransport, nodeTransport } from '../ingest/guarded-http.js';
import { denseLayersOf, denseNetworkOnnx } from '../onnx/dense-network-onnx.js';
import { loadTensorflow, type Tf } from '../tensorflow/backend.js';
import type { TrainSettings } from '../trainer/env.js';
import { memoryStore } from '../trainer/memory-store.js';
import { preparedVersionOf, syntheticClassification } from '../trainer/prepared-fixture.js';
import { runTraining } from '../trainer/trainer.js';
import { runBatchShard } from './batch.js';
import { COUNT_STRIDE } from './distribution.js';
import type { BatchSettings } from './settings.js';

const log = pino({ level: 'silent' });
const loadBackend = () => loadTensorflow({ choice: 'cpu', gpus: 0 });
const objectStore = {
  endpoint: 'http://unused',
  bucket: 'lathe',
  region: 'r',
  accessKey: 'a',
  secretKey: 's',
};

const table = syntheticClassification(300, 4, 3, 5);
const version = preparedVersionOf(table, 0.2, 7);
const store = memoryStore();
store.put('datasets/ns/d/a/', version.files);
let tf: Tf;
let trained: Extract<TrainResult, { outcome: 'succeeded' }>;

/** The input rows: every table row with an id, half of them in a CSV object, half in JSON Lines. */
const rows = table.rows.map((x, i) => ({ id: `row-${i}`, x }));
const half = 140;
const csvBytes = Buffer.from(
  `id,x1,x2,x3,x4\r\n${rows
    .slice(0, half)
    .map((r) => `${r.id},${r.x.join(',')}\r\n`)
    .join('')}`,
);
const jsonlBytes = Buffer.from(
  rows
    .slice(half)
    .map((r) => `${JSON.stringify({ id: r.id, x1: r.x[0], x2: r.x[1], x3: r.x[2], x4: r.x[3] })}\n`)
    .join(''),
);
store.put('sources/ns/', { 'a.csv': csvBytes, 'b.jsonl': jsonlBytes });
const input: BatchInput = {
  objects: [
    { uri: 's3://lathe/sources/ns/a.csv', sizeBytes: csvBytes.length, format: 'csv' },
    { uri: 's3://lathe/sources/ns/b.jsonl', sizeBytes: jsonlBytes.length, format: 'jsonl' },
  ],
  csv: { delimiter: ',', header: true },
};

const settings = (overrides: Partial<BatchSettings> = {}): BatchSettings => ({
  modelUri: trained.artifact.uri,
  modelDigest: trained.artifact.digest,
  modelFormat: 'tfjs',
  input,
  output: { format: 'jsonl', include: ['label', 'probabilities'], passthroughColumns: ['id'] },
  outputUri: 's3://lathe/batch/ns/bp/run-1/',
  shards: 3,
  shardIndex: 0,
  maxFailedRecordsPercent: 0,
  backend: 'cpu',
  gpus: 0,
  objectStore,
  resultPath: '/dev/null',
  httpHeadersDir: undefined,
  httpPolicy: { apiServer: [], deny: [], allow: [] },
  ...overrides,
});
const runShard = (overrides: Partial<BatchSettings> = {}) =>
  runBatchShard(settings(overrides), log, {
    store,
    loadBackend,
    piiKey: undefined,
    countStride: 1,
  });

/** The model's own probabilities on `x` (raw rows), scaled by hand with the version's fitted scaling. */
async function modelProbabilities(x: number[][]): Promise<number[][]> {
  const scale = version.schema.inputs.map((i) =>
    i.kind === 'numeric' && i.scale.method === 'standard' ? i.scale : undefined,
  );
  const scaled = x.map((row) => row.map((v, c) => (v - scale[c]!.mean) / scale[c]!.std));
  const modelJson = JSON.parse(store.objects.get('lathe/models/ns/m/1/model.json')!.toString());
  const weights = store.objects.get('lathe/models/ns/m/1/weights.bin')!;
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
    }),
  );
  const out = tf.tidy(() =>
    (model.predict(tf.tensor2d(scaled)) as ReturnType<typeof tf.tensor>).arraySync(),
  );
  model.dispose();
  return out as number[][];
}

/** The CSV input over HTTP: `/ranged.csv` honours `Range`, `/whole.csv` ignores it. */
const csvServer = http.createServer((req, res) => {
  const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (req.url !== '/ranged.csv' || !match) {
    res.writeHead(200, { 'content-length': csvBytes.length }).end(csvBytes);
    return;
  }
  const first = Number(match[1]);
  res
    .writeHead(206, {
      'content-range': `bytes ${first}-${csvBytes.length - 1}/${csvBytes.length}`,
    })
    .end(csvBytes.subarray(first));
});
/** The guarded GET refuses loopback: a documentation address is judged, the local server reached. */
const httpTransport: HttpTransport = {
  resolve: async () => [{ address: '192.0.2.10', family: 4 }],
  get: (url, _address, headers) =>
    nodeTransport.get(url, { address: '127.0.0.1', family: 4 }, headers),
};
afterAll(() => new Promise<void>((resolve) => csvServer.close(() => resolve())));

const object = (uri: string) => store.objects.get(uri.replace(/^s3:\/\//, ''));
const marker = (run: string, shard: number): BatchShardMarker | undefined => {
  const bytes = object(`s3://lathe/batch/ns/bp/${run}/${batchMarkerFile(shard)}`);
  return bytes ? JSON.parse(bytes.toString()) : undefined;
};

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
      epochs: 3,
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
  const result = await runTraining(train, log, { store: store as never, loadBackend });
  if (result.outcome !== 'succeeded') throw new Error(result.message);
  trained = result;
}, 60_000);

describe('runBatchShard', () => {
  it('scores 3 shards over a CSV and a JSON Lines object: every record once, in order, as the model does', async () => {
    const lines: Record<string, unknown>[] = [];
    for (let shard = 0; shard < 3; shard++) {
      const result = await runShard({ shardIndex: shard });
      expect(result).toMatchObject({
        kind: 'batch',
        outcome: 'succeeded',
        shard,
        skipped: false,
        failedRecords: 0,
      });
      const part = object(`s3://lathe/batch/ns/bp/run-1/${batchPartFile(shard, 'jsonl')}`)!;
      const partLines = part
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      expect(result.outcome === 'succeeded' && result.rows).toBe(partLines.length);
      // The marker describes the part.
      expect(marker('run-1', shard)).toEqual({
        formatVersion: 1,
        shard,
        part: batchPartFile(shard, 'jsonl'),
        rows: partLines.length,
        failedRecords: 0,
        sizeBytes: part.length,
        sha256: sha256Digest(part).slice('sha256:'.length),
        modelDigest: trained.artifact.digest,
        // Without training statistics, only the predictions are counted: rows per label.
        distribution: {
          rows: partLines.length,
          stride: 1,
          columns: [],
          predictions: {
            classes: Object.fromEntries(
              version.schema.label.classes!.map((c) => [
                c,
                partLines.filter((l) => l.label === c).length,
              ]),
            ),
          },
        },
      });
      lines.push(...partLines);
    }
    expect(lines.map((l) => l.id)).toEqual(rows.map((r) => r.id));
    const expected = await modelProbabilities(table.rows);
    const classes = version.schema.label.classes!;
    for (const [i, line] of lines.entries()) {
      expect(Object.keys(line)).toEqual(['id', 'label', 'probabilities']);
      const probabilities = line.probabilities as Record<string, number>;
      expect(Object.keys(probabilities)).toEqual(classes);
      for (const [c, name] of classes.entries())
        expect(probabilities[name]).toBeCloseTo(expected[i]![c]!, 5);
      const best = expected[i]!.indexOf(Math.max(...expected[i]!));
      expect(line.label).toBe(classes[best]);
    }
  });

  it('counts the inputs over the training statistics, the hashed PII columns left out', async () => {
    // x1 split at 0 by hand; x2 as categories (numbers read as text): none matches, all other.
    const stats = {
      formatVersion: 1,
      rows: 300,
      trainRows: 240,
      testRows: 60,
      sourceRows: 300,
      columns: [],
      distributions: [
        { name: 'x1', numeric: { edges: [0], fractions: [0.5, 0.5] } },
        { name: 'x2', categorical: { fractions: { a: 1 } } },
      ],
    };
    store.put('datasets/ns/d/a/', { 'stats.json': Buffer.from(JSON.stringify(stats)) });
    const totals = { below: 0, above: 0, rows: 0 };
    for (let shard = 0; shard < 3; shard++) {
      const run = { shardIndex: shard, outputUri: 's3://lathe/batch/ns/bp/run-stats/' };
      await runShard({ ...run, statsUri: 's3://lathe/datasets/ns/d/a/stats.json' });
      const counted = marker('run-stats', shard)!.distribution!;
      const [x1, x2] = counted.columns;
      expect(x1).toMatchObject({ name: 'x1', numeric: { edges: [0] } });
      expect(x2).toEqual({
        name: 'x2',
        categorical: { counts: { a: 0, __other__: counted.rows } },
      });
      const [below, above] = 'numeric' in x1! ? x1.numeric.counts : [];
      totals.below += below!;
      totals.above += above!;
      totals.rows += counted.rows;
    }
    expect(totals).toEqual({
      below: table.rows.filter((x) => x[0]! < 0).length,
      above: table.rows.filter((x) => x[0]! >= 0).length,
      rows: table.rows.length,
    });
    // A model without statistics (older artifacts) counts its predictions only.
    await runShard({
      outputUri: 's3://lathe/batch/ns/bp/run-nostats/',
      statsUri: 's3://lathe/datasets/ns/d/none/stats.json',
    });
    expect(marker('run-nostats', 0)!.distribution!.columns).toEqual([]);
    // By default a shard counts every COUNT_STRIDE-th scored row, and says so.
    await runBatchShard(
      settings({ outputUri: 's3://lathe/batch/ns/bp/run-stride/', shards: 1 }),
      log,
      { store, loadBackend, piiKey: undefined },
    );
    expect(marker('run-stride', 0)!.distribution).toMatchObject({
      stride: COUNT_STRIDE,
      rows: Math.ceil(table.rows.length / COUNT_STRIDE),
    });
  });

  it.each([
    ['a server that honours Range', 'ranged'],
    ['a server that ignores Range', 'whole'],
  ])('scores an HTTP(S) input in 3 shards from %s as the same S3 object', async (_, file) => {
    await new Promise<void>((resolve) =>
      csvServer.listening ? resolve() : csvServer.listen(0, '127.0.0.1', resolve),
    );
    const port = (csvServer.address() as AddressInfo).port;
    const partsOf = async (run: string, objects: BatchInput['objects']) => {
      const parts: string[] = [];
      for (let shard = 0; shard < 3; shard++) {
        const result = await runBatchShard(
          settings({
            shardIndex: shard,
            input: { ...input, objects },
            outputUri: `s3://lathe/batch/ns/bp/${run}/`,
          }),
          log,
          { store, loadBackend, piiKey: undefined, httpTransport },
        );
        expect(result).toMatchObject({ outcome: 'succeeded', shard });
        parts.push(
          object(`s3://lathe/batch/ns/bp/${run}/${batchPartFile(shard, 'jsonl')}`)!.toString(),
        );
      }
      return parts;
    };
    const overHttp = await partsOf(`http-${file}`, [
      { uri: `http://source.test:${port}/${file}.csv?sig=s3cret`, format: 'csv' },
    ]);
    const fromS3 = await partsOf(`s3-${file}`, [input.objects[0]!]);
    expect(overHttp).toEqual(fromS3);
    expect(overHttp.every((part) => part.length > 0)).toBe(true);
    expect(overHttp.join('').split('\n').filter(Boolean)).toHaveLength(half);
  });

  it('skips a shard whose marker is there for the same model, rewriting nothing', async () => {
    await runShard({ shardIndex: 1, outputUri: 's3://lathe/batch/ns/bp/run-2/' });
    const before = new Map(store.objects);
    const calls = { ...store.calls };
    const result = await runShard({ shardIndex: 1, outputUri: 's3://lathe/batch/ns/bp/run-2/' });
    const written = marker('run-2', 1)!;
    expect(result).toEqual({
      kind: 'batch',
      outcome: 'succeeded',
      shard: 1,
      rows: written.rows,
      failedRecords: 0,
      skipped: true,
    });
    expect(store.calls).toEqual(calls);
    expect(store.objects).toEqual(before);
    // Another model's marker is not this run's: the shard is scored again.
    const key = `lathe/batch/ns/bp/run-2/${batchMarkerFile(1)}`;
    store.objects.set(
      key,
      Buffer.from(JSON.stringify({ ...written, modelDigest: `sha256:${'1'.repeat(64)}` })),
    );
    const again = await runShard({ shardIndex: 1, outputUri: 's3://lathe/batch/ns/bp/run-2/' });
    expect(again).toMatchObject({ outcome: 'succeeded', skipped: false, rows: written.rows });
    expect(marker('run-2', 1)).toEqual(written);
  });

  it('writes CSV parts with a header, passthrough columns (missing ones empty) and probability columns', async () => {
    const output = {
      format: 'csv' as const,
      include: ['label' as const, 'probabilities' as const],
      passthroughColumns: ['id', 'absent'],
    };
    const result = await runShard({
      shards: 1,
      output,
      outputUri: 's3://lathe/batch/ns/bp/run-3/',
    });
    expect(result).toMatchObject({ outcome: 'succeeded', rows: rows.length });
    const parsed = decodeCsv(
      object(`s3://lathe/batch/ns/bp/run-3/${batchPartFile(0, 'csv')}`)!.toString(),
    );
    const classes = version.schema.label.classes!;
    expect(parsed[0]).toEqual([
      'id',
      'absent',
      'label',
      ...classes.map((c) => `probability_${c}`),
      'error',
    ]);
    expect(parsed.length).toBe(rows.length + 1);
    const expected = await modelProbabilities(table.rows);
    for (const [i, fields] of parsed.slice(1).entries()) {
      expect(fields[0]).toBe(rows[i]!.id);
      expect(fields[1]).toBe('');
      expect(fields.at(-1)).toBe('');
      for (const c of classes.keys())
        expect(Number(fields[3 + c])).toBeCloseTo(expected[i]![c]!, 5);
    }
  });
});

describe('runBatchShard with explanations', () => {
  it("writes each row's Shapley values of its predicted class, adding up to its probability", async () => {
    const result = await runShard({
      shards: 3,
      shardIndex: 2,
      output: {
        format: 'jsonl',
        include: ['label', 'probabilities', 'explanations'],
        passthroughColumns: ['id'],
        explanations: { backgroundRows: 20, kernelSamples: 64 },
      },
      outputUri: 's3://lathe/batch/ns/bp/run-8/',
    });
    expect(result).toMatchObject({ outcome: 'succeeded', failedRecords: 0 });
    const lines = object(`s3://lathe/batch/ns/bp/run-8/${batchPartFile(2, 'jsonl')}`)!
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(50);
    const columns = version.schema.inputs.map((i) => i.name);
    for (const line of lines) {
      const { output, baseValue, prediction, values } = line.explanation;
      expect(output).toBe(line.label);
      expect(Object.keys(values)).toEqual(columns);
      expect(prediction).toBeCloseTo(line.probabilities[output], 5);
      const sum =
        baseValue + Object.values(values as Record<string, number>).reduce((a, b) => a + b);
      expect(sum).toBeCloseTo(prediction, 5);
    }
  });

  it('fails a model without an explanation background with ArtifactInvalid, naming it', async () => {
    // The trained artifact without background.json: another manifest, another digest.
    const prefix = 'lathe/models/ns/m/1/';
    const manifest = JSON.parse(store.objects.get(`${prefix}manifest.json`)!.toString()) as {
      files: { path: string }[];
    };
    const files = Object.fromEntries(
      manifest.files
        .filter((f) => f.path !== 'background.json')
        .map((f) => [f.path, store.objects.get(`${prefix}${f.path}`)!]),
    );
    const old = manifestFor(files);
    store.put('models/ns/m/old/', { ...files, 'manifest.json': old.manifest });
    const result = await runShard({
      modelUri: 's3://lathe/models/ns/m/old/',
      modelDigest: old.digest,
      output: {
        format: 'csv',
        include: ['label', 'explanations'],
        passthroughColumns: [],
        explanations: { backgroundRows: 20, kernelSamples: 64 },
      },
      outputUri: 's3://lathe/batch/ns/bp/run-9/',
    });
    expect(result).toMatchObject({ outcome: 'failed', reason: 'ArtifactInvalid' });
    expect(result.outcome === 'failed' && result.message).toMatch(
      /no explanation background \(background\.json\).*leave explanations out of spec\.output\.include/,
    );
  });
});

describe('runBatchShard with bad records', () => {
  const bad = Buffer.from(
    [
      JSON.stringify({ id: 'a', x1: 1, x2: 2, x3: 3, x4: 4 }),
      '{"id": "broken',
      JSON.stringify({ id: 'b', x1: 'abc', x2: 2, x3: 3, x4: 4 }),
      JSON.stringify({ id: 'c', x1: 1, x2: 2, x3: 3, x4: 5 }),
      '',
    ].join('\n'),
  );
  store.put('sources/ns/', { 'bad.jsonl': bad });
  const badInput: BatchInput = {
    objects: [{ uri: 's3://lathe/sources/ns/bad.jsonl', sizeBytes: bad.length, format: 'jsonl' }],
    csv: { delimiter: ',', header: true },
  };

  it('writes error rows in place while they are under the threshold', async () => {
    const result = await runShard({
      input: badInput,
      shards: 1,
      maxFailedRecordsPercent: 50,
      outputUri: 's3://lathe/batch/ns/bp/run-4/',
    });
    expect(result).toMatchObject({ outcome: 'succeeded', rows: 4, failedRecords: 2 });
    const lines = object(`s3://lathe/batch/ns/bp/run-4/${batchPartFile(0, 'jsonl')}`)!
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.id, l.error])).toEqual([
      ['a', undefined],
      [null, expect.stringMatching(/^not JSON: /)],
      ['b', 'column x1: "abc" is not a number'],
      ['c', undefined],
    ]);
    expect(Object.keys(lines[1])).toEqual(['id', 'error']);
    expect(marker('run-4', 0)).toMatchObject({ rows: 4, failedRecords: 2 });
  });

  it('fails over the threshold with TooManyFailedRecords, writing neither part nor marker', async () => {
    const result = await runShard({
      input: badInput,
      shards: 1,
      maxFailedRecordsPercent: 25,
      outputUri: 's3://lathe/batch/ns/bp/run-5/',
    });
    expect(result).toMatchObject({
      kind: 'batch',
      outcome: 'failed',
      reason: 'TooManyFailedRecords',
    });
    expect(result.outcome === 'failed' && result.message).toMatch(
      /^2 of 4 records of shard 0 could not be scored, more than maxFailedRecordsPercent \(25%\) allows; the first: row 1: not JSON/,
    );
    expect([...store.objects.keys()].filter((k) => k.includes('run-5'))).toEqual([]);
  });

  it('refuses an artifact that is not the recorded digest', async () => {
    const result = await runShard({
      modelDigest: `sha256:${'0'.repeat(64)}`,
      outputUri: 's3://lathe/batch/ns/bp/run-6/',
    });
    expect(result).toMatchObject({ outcome: 'failed', reason: 'ArtifactInvalid' });
    expect(result.outcome === 'failed' && result.message).toMatch(
      /^The artifact cannot be used \(DigestMismatch\)/,
    );
  });

  it('names a missing input object', async () => {
    const result = await runShard({
      input: {
        ...badInput,
        objects: [{ ...badInput.objects[0]!, uri: 's3://lathe/sources/ns/gone.jsonl' }],
      },
      shards: 1,
      outputUri: 's3://lathe/batch/ns/bp/run-7/',
    });
    expect(result).toMatchObject({
      outcome: 'failed',
      reason: 'SourceNotFound',
      message: 's3://lathe/sources/ns/gone.jsonl does not exist',
    });
  });
});

describe('runBatchShard on an ONNX artifact', () => {
  /** The trained model's weights written as ONNX (`model.onnx`), with its schema and background. */
  async function onnxArtifact(): Promise<{ uri: string; digest: string }> {
    const prefix = 'lathe/models/ns/m/1/';
    const modelJson = JSON.parse(store.objects.get(`${prefix}model.json`)!.toString());
    const weights = store.objects.get(`${prefix}weights.bin`)!;
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
      }),
    );
    const files = {
      'model.onnx': Buffer.from(denseNetworkOnnx(denseLayersOf(model), 'classification')),
      'schema.json': store.objects.get(`${prefix}schema.json`)!,
      'background.json': store.objects.get(`${prefix}background.json`)!,
    };
    model.dispose();
    const { manifest, digest } = manifestFor(files);
    store.put('models/ns/m/onnx/', { ...files, 'manifest.json': manifest });
    return { uri: 's3://lathe/models/ns/m/onnx/', digest };
  }

  it('scores every record as the TensorFlow.js model of the same weights, and explains them', async () => {
    const { uri, digest } = await onnxArtifact();
    const result = await runShard({
      modelUri: uri,
      modelDigest: digest,
      modelFormat: 'onnx',
      shards: 1,
      shardIndex: 0,
      output: {
        format: 'jsonl',
        include: ['label', 'probabilities', 'explanations'],
        passthroughColumns: ['id'],
        explanations: { backgroundRows: 10, kernelSamples: 32 },
      },
      outputUri: 's3://lathe/batch/ns/bp/run-onnx/',
    });
    expect(result).toMatchObject({ outcome: 'succeeded', failedRecords: 0, rows: rows.length });
    const lines = object(`s3://lathe/batch/ns/bp/run-onnx/${batchPartFile(0, 'jsonl')}`)!
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(rows.map((r) => r.id));
    const expected = await modelProbabilities(table.rows);
    const classes = version.schema.label.classes!;
    for (const [i, line] of lines.entries()) {
      for (const [c, name] of classes.entries())
        expect(Math.abs(line.probabilities[name] - expected[i]![c]!)).toBeLessThan(1e-5);
      const { baseValue, prediction, values } = line.explanation;
      expect(prediction).toBeCloseTo(line.probabilities[line.label], 5);
      const sum =
        baseValue + Object.values(values as Record<string, number>).reduce((a, b) => a + b);
      expect(sum).toBeCloseTo(prediction, 5);
    }
  });

  it('fails a TensorFlow.js artifact recorded as onnx, naming what it lacks', async () => {
    const result = await runShard({
      modelFormat: 'onnx',
      outputUri: 's3://lathe/batch/ns/bp/run-x/',
    });
    expect(result).toMatchObject({
      outcome: 'failed',
      message: expect.stringContaining('the artifact has no model.onnx'),
    });
  });
});
