/**
 * The server in process serving an ONNX artifact on ONNX Runtime: the fixture's trained MLP
 * written as ONNX (`onnxFixtureArtifact`, the same weights), read through the real verification
 * path from an in-memory store. Its answers on V1 and V2, batched or not, and its explanations
 * must be TensorFlow.js's for the same model, up to float tolerance. (`onnx.itest.ts` runs the
 * real program on a scikit-learn model against MinIO.)
 */
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectNotFoundError } from '../../contract/object-store.js';
import { MANIFEST_FILE } from '../../contract/object-store-layout.js';
import { readOnnxArtifact } from '../onnx/onnx-artifact.js';
import type { RowExplanation } from './explain.js';
import {
  expectedOutputs,
  type FixtureArtifact,
  fixtureRows,
  makeFixtureArtifact,
  onnxFixtureArtifact,
} from './fixture.js';
import { createServerMetrics } from './metrics.js';
import {
  explanationBackgroundOf,
  loadServedModel,
  onnxServedModelOf,
  type ServedModel,
} from './model.js';
import { InferenceServer } from './server.js';
import { loadTensorflow, type TensorflowJs } from './tensorflow.js';

class MemoryStore {
  readonly objects = new Map<string, Buffer>();
  async read(bucket: string, key: string): Promise<Buffer> {
    const bytes = this.objects.get(`${bucket}/${key}`);
    if (!bytes) throw new ObjectNotFoundError(`s3://${bucket}/${key} does not exist`);
    return bytes;
  }
  async digestOf(bucket: string, key: string) {
    const bytes = await this.read(bucket, key);
    return {
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      sizeBytes: bytes.length,
    };
  }
  put(prefix: string, artifact: Pick<FixtureArtifact, 'files' | 'manifest'>): void {
    for (const [path, bytes] of Object.entries(artifact.files))
      this.objects.set(`lathe/${prefix}${path}`, bytes);
    this.objects.set(`lathe/${prefix}${MANIFEST_FILE}`, artifact.manifest);
  }
}

const TOLERANCE = 1e-5;

let tf: TensorflowJs;
let artifact: FixtureArtifact;
let onnx: ServedModel;
let tfjs: ServedModel;
const store = new MemoryStore();
const servers: InferenceServer[] = [];

async function serve(model: ServedModel, batchMaxSize = 1): Promise<string> {
  const server = new InferenceServer({
    modelName: 'iris',
    modelVersion: '1',
    port: 0,
    bindAddress: '127.0.0.1',
    batchMaxSize,
    batchMaxLatencyMs: 20,
    maxRequestBytes: 256 * 1024,
    requestLogSampleRate: 0,
    shutdownDelayMs: 0,
    metrics: createServerMetrics(),
    log: pino({ level: 'silent' }),
  });
  servers.push(server);
  const port = await server.listen();
  server.setModel(model);
  return `http://127.0.0.1:${port}`;
}

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => {
    expect(Math.abs(value - expected[i]!)).toBeLessThan(TOLERANCE);
  });
}

beforeAll(async () => {
  ({ tf } = await loadTensorflow('cpu'));
  artifact = await makeFixtureArtifact(tf, { epochs: 20 });
  const onnxArtifact = onnxFixtureArtifact(artifact);
  store.put('models/ns/iris/1/', artifact);
  store.put('models/ns/iris/2/', onnxArtifact);
  const read = await readOnnxArtifact(store, {
    uri: 's3://lathe/models/ns/iris/2/',
    digest: onnxArtifact.digest,
  });
  onnx = await onnxServedModelOf(read, {
    name: 'iris',
    version: '1',
    warmUpBatchSizes: [8],
    background: explanationBackgroundOf(read),
    intraOpThreads: 1,
  });
  tfjs = await loadServedModel(tf, store, {
    name: 'iris',
    version: '1',
    uri: 's3://lathe/models/ns/iris/1/',
    digest: artifact.digest,
  });
}, 60_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.shutdown()));
});

describe('serving an ONNX artifact', () => {
  const rows = fixtureRows('classification', 6, 77).map(({ species: _label, ...raw }) => raw);

  it('loads with the schema, the background and the format', () => {
    expect(onnx).toMatchObject({ format: 'onnx', featureCount: 6, outputWidth: 3 });
    expect(onnx.digest).toBe(onnxFixtureArtifact(artifact).digest);
    expect(onnx.background?.rows.length).toBeGreaterThan(0);
  });

  it('answers V1 predict on raw records with TensorFlow.js’s outputs for the same weights', async () => {
    const base = await serve(onnx);
    const { status, body } = await post(`${base}/v1/models/iris:predict`, { instances: rows });
    expect(status).toBe(200);
    const predictions = body.predictions as { label: string; probabilities: number[] }[];
    const expected = expectedOutputs(tf, artifact, rows);
    const classes = artifact.schema.label.classes!;
    predictions.forEach((p, r) => {
      expectClose(p.probabilities, expected[r]!);
      expect(p.label).toBe(classes[expected[r]!.indexOf(Math.max(...expected[r]!))]);
    });
  });

  it('answers V2 infer per column, with batching on (concurrent requests)', async () => {
    const base = await serve(onnx, 8);
    const request = (r: Record<string, unknown>) => ({
      inputs: [
        { name: 'length', datatype: 'FP64', shape: [1], data: [r.length] },
        { name: 'width', datatype: 'FP64', shape: [1], data: [r.width] },
        { name: 'colour', datatype: 'BYTES', shape: [1], data: [r.colour] },
        { name: 'fresh', datatype: 'BOOL', shape: [1], data: [r.fresh] },
      ],
    });
    const answers = await Promise.all(
      rows.map((r) => post(`${base}/v2/models/iris/versions/1/infer`, request(r))),
    );
    const expected = expectedOutputs(tf, artifact, rows);
    answers.forEach(({ status, body }, r) => {
      expect(status).toBe(200);
      const outputs = body.outputs as { name: string; shape: number[]; data: number[] }[];
      const probabilities = outputs.find((o) => o.name === 'probabilities')!;
      expect(probabilities.shape).toEqual([1, 3]);
      expectClose(probabilities.data, expected[r]!);
    });
  });

  it('explains a row as the TensorFlow.js model of the same weights is explained', async () => {
    const [onnxBase, tfjsBase] = await Promise.all([serve(onnx), serve(tfjs)]);
    const request = { instances: rows.slice(0, 2) };
    const [fromOnnx, fromTfjs] = await Promise.all([
      post(`${onnxBase}/v1/models/iris:explain`, request),
      post(`${tfjsBase}/v1/models/iris:explain`, request),
    ]);
    expect(fromOnnx.status).toBe(200);
    const got = fromOnnx.body.explanations as RowExplanation[];
    const want = fromTfjs.body.explanations as RowExplanation[];
    expect(got).toHaveLength(2);
    got.forEach((explanation, r) => {
      expect(explanation.method).toBe(want[r]!.method);
      expectClose(explanation.baseValue, want[r]!.baseValue);
      expectClose(explanation.prediction, want[r]!.prediction);
      for (const [column, values] of Object.entries(want[r]!.values)) {
        expectClose(explanation.values[column]!, values);
      }
    });
  });
});
