import { describe, expect, it } from 'vitest';
import { manifestFor, sha256Digest } from '../../contract/manifest.js';
import { ObjectNotFoundError } from '../../contract/object-store.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import { type DenseLayer, denseNetworkOnnx } from './dense-network-onnx.js';
import { readOnnxArtifact } from './onnx-artifact.js';
import { loadOnnxModel } from './onnx-runtime.js';

const numeric = (name: string) =>
  ({ name, kind: 'numeric', type: 'number', impute: 0, scale: { method: 'none' } }) as const;
const classifier: PreparedSchema = {
  formatVersion: 1,
  task: 'classification',
  label: { name: 'y', type: 'string', classes: ['a', 'b', 'c'] },
  inputs: [numeric('x1'), numeric('x2')],
  features: ['x1', 'x2'],
};
const regressor: PreparedSchema = {
  ...classifier,
  task: 'regression',
  label: { name: 'y', type: 'number' },
};

/** A 2 → 4 (relu) → `units` network with weights from a fixed sequence. */
function layersOf(units: number, last: DenseLayer['activation']): DenseLayer[] {
  const values = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 1.7) * 0.8);
  return [
    { inputs: 2, units: 4, kernel: values(8, 1), bias: values(4, 2), activation: 'relu' },
    { inputs: 4, units, kernel: values(4 * units, 3), bias: values(units, 4), activation: last },
  ];
}

/** The network's outputs computed here, in float64: what ONNX Runtime must return. */
function reference(layers: DenseLayer[], row: number[]): number[] {
  let x = row;
  for (const layer of layers) {
    const y = Array.from({ length: layer.units }, (_, j) => {
      let sum = layer.bias[j]!;
      for (let i = 0; i < layer.inputs; i++) sum += x[i]! * layer.kernel[i * layer.units + j]!;
      return layer.activation === 'relu' ? Math.max(0, sum) : sum;
    });
    if (layer.activation === 'softmax') {
      const max = Math.max(...y);
      const exp = y.map((v) => Math.exp(v - max));
      const total = exp.reduce((a, b) => a + b, 0);
      x = exp.map((v) => v / total);
    } else x = y;
  }
  return x;
}

const rows = [
  [0.5, -1.2],
  [2, 0.3],
  [-0.7, -0.1],
];

describe('loadOnnxModel', () => {
  it.each([
    ['a classifier', classifier, layersOf(3, 'softmax')],
    ['a regressor', regressor, layersOf(1, 'linear')],
  ] as const)('runs %s as the network computes it, row-major', async (_, schema, layers) => {
    const model = await loadOnnxModel(
      denseNetworkOnnx(layers, schema.task),
      schema as PreparedSchema,
      {
        intraOpThreads: 1,
      },
    );
    try {
      const out = await model.predict(Float32Array.from(rows.flat()), rows.length);
      const width = layers[1]!.units;
      expect(model.outputWidth).toBe(width);
      expect(out).toHaveLength(rows.length * width);
      rows.forEach((row, r) => {
        reference(layers, row).forEach((value, k) => {
          expect(out[r * width + k]).toBeCloseTo(value, 5);
        });
      });
    } finally {
      await model.release();
    }
  });

  it('reads features given as a view into a larger buffer at the view’s offset', async () => {
    const layer: DenseLayer = {
      inputs: 2,
      units: 1,
      kernel: Float32Array.from([1, 10]),
      bias: Float32Array.from([0]),
      activation: 'linear',
    };
    const model = await loadOnnxModel(denseNetworkOnnx([layer], 'regression'), regressor, {
      intraOpThreads: 1,
    });
    const buffer = Float32Array.from([100, 200, 1, 2, 3, 4]);
    expect(Array.from(await model.predict(buffer.subarray(2), 2))).toEqual([21, 43]);
    await model.release();
  });

  it('refuses a model that breaks the contract, saying which part', async () => {
    const wrongClasses = denseNetworkOnnx(layersOf(2, 'softmax'), 'classification');
    await expect(loadOnnxModel(wrongClasses, classifier)).rejects.toMatchObject({
      name: 'ArtifactError',
      reason: 'ModelInvalid',
      message: expect.stringContaining(
        'the model\'s output "probabilities" has shape ["N", 2]; a classification model of schema.json must return float32 [N, 3]',
      ),
    });
    const regression = denseNetworkOnnx(layersOf(1, 'linear'), 'regression');
    await expect(loadOnnxModel(regression, classifier)).rejects.toMatchObject({
      reason: 'ModelInvalid',
      message: expect.stringContaining(
        'a classification model must have an output named "probabilities"',
      ),
    });
  });

  it('refuses bytes that are not an ONNX model', async () => {
    await expect(loadOnnxModel(Buffer.from('not onnx'), classifier)).rejects.toMatchObject({
      reason: 'ModelInvalid',
      message: expect.stringContaining('model.onnx could not be loaded by ONNX Runtime'),
    });
  });
});

/** An artifact's files in memory, under `s3://lathe/m/`. */
function storeOf(files: Record<string, Buffer>) {
  const { manifest, digest } = manifestFor(files);
  const objects = new Map(Object.entries({ ...files, 'manifest.json': manifest }));
  const get = (key: string) => {
    const bytes = objects.get(key.replace(/^m\//, ''));
    if (!bytes) throw new ObjectNotFoundError(`${key} does not exist`);
    return bytes;
  };
  return {
    digest,
    store: {
      read: async (_bucket: string, key: string) => get(key),
      digestOf: async (_bucket: string, key: string) => {
        const bytes = get(key);
        return { digest: sha256Digest(bytes), sizeBytes: bytes.length };
      },
    },
  };
}

describe('readOnnxArtifact', () => {
  const onnx = Buffer.from(denseNetworkOnnx(layersOf(3, 'softmax'), 'classification'));
  const schema = Buffer.from(JSON.stringify(classifier));

  it('reads the verified model and schema', async () => {
    const { store, digest } = storeOf({ 'model.onnx': onnx, 'schema.json': schema });
    const artifact = await readOnnxArtifact(store, { uri: 's3://lathe/m/', digest });
    expect(artifact.digest).toBe(digest);
    expect(artifact.model.equals(onnx)).toBe(true);
    expect(artifact.schema.features).toEqual(['x1', 'x2']);
    expect(artifact.background).toBeUndefined();
  });

  it('refuses another digest', async () => {
    const { store } = storeOf({ 'model.onnx': onnx, 'schema.json': schema });
    const digest = `sha256:${'0'.repeat(64)}`;
    await expect(readOnnxArtifact(store, { uri: 's3://lathe/m/', digest })).rejects.toMatchObject({
      reason: 'DigestMismatch',
    });
  });

  it.each([
    [
      'a TensorFlow.js artifact',
      { 'model.json': Buffer.from('{}'), 'schema.json': schema },
      'UnsupportedFormat',
      'the artifact has no model.onnx, which a format onnx ModelVersion serves (files: model.json, schema.json)',
    ],
    [
      'an artifact without its schema',
      { 'model.onnx': onnx },
      'ModelInvalid',
      'the artifact has no schema.json',
    ],
  ])('refuses %s', async (_, files, reason, message) => {
    const { store, digest } = storeOf(files);
    await expect(readOnnxArtifact(store, { uri: 's3://lathe/m/', digest })).rejects.toMatchObject({
      reason,
      message: expect.stringContaining(message),
    });
  });
});
