import { describe, expect, it } from 'vitest';
import { manifestFor, sha256Digest } from '../../contract/manifest.js';
import { ObjectNotFoundError } from '../../contract/object-store.js';
import { largestKernel, readLayersArtifact } from './layers-artifact.js';

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

const schema = Buffer.from(
  JSON.stringify({
    formatVersion: 1,
    task: 'regression',
    label: { name: 'y', type: 'number' },
    inputs: [{ name: 'x', type: 'number', kind: 'numeric', impute: 0, scale: { method: 'none' } }],
    features: ['x'],
  }),
);

describe('readLayersArtifact', () => {
  it('names a scikit-learn artifact as an unsupported format, not a broken one', async () => {
    const { store, digest } = storeOf({
      'model.joblib': Buffer.from('not a pickle'),
      'schema.json': schema,
    });
    await expect(readLayersArtifact(store, { uri: 's3://lathe/m/', digest })).rejects.toMatchObject(
      {
        name: 'ArtifactError',
        reason: 'UnsupportedFormat',
        message: expect.stringContaining('scikit-learn model (model.joblib, format joblib)'),
      },
    );
  });

  it('names an ONNX artifact as an unsupported format for this reader', async () => {
    const { store, digest } = storeOf({ 'model.onnx': Buffer.from('x'), 'schema.json': schema });
    await expect(readLayersArtifact(store, { uri: 's3://lathe/m/', digest })).rejects.toMatchObject(
      {
        reason: 'UnsupportedFormat',
        message: expect.stringContaining('an ONNX model (model.onnx, format onnx)'),
      },
    );
  });

  it('refuses an artifact without model.json, listing what it has', async () => {
    const { store, digest } = storeOf({ 'model.pt': Buffer.from('x'), 'schema.json': schema });
    await expect(readLayersArtifact(store, { uri: 's3://lathe/m/', digest })).rejects.toMatchObject(
      {
        reason: 'ModelInvalid',
        message: 'the artifact has no model.json (files: model.pt, schema.json)',
      },
    );
  });

  it('reads the weights of every shard in manifest order, and the schema', async () => {
    const spec = (name: string, shape: number[]) => ({ name, shape, dtype: 'float32' });
    const modelJson = {
      modelTopology: {},
      weightsManifest: [
        { paths: ['a.bin'], weights: [spec('k1', [1, 3]), spec('b1', [3])] },
        { paths: ['b.bin'], weights: [spec('k2', [3, 1])] },
      ],
    };
    const { store, digest } = storeOf({
      'model.json': Buffer.from(JSON.stringify(modelJson)),
      'a.bin': Buffer.from([1, 2]),
      'b.bin': Buffer.from([3]),
      'schema.json': schema,
    });
    const artifact = await readLayersArtifact(store, { uri: 's3://lathe/m/', digest });
    expect([...new Uint8Array(artifact.weightData)]).toEqual([1, 2, 3]);
    expect(artifact.weightSpecs.map((s) => s.name)).toEqual(['k1', 'b1', 'k2']);
    expect(artifact.schema.features).toEqual(['x']);
    expect(artifact.digest).toBe(digest);
    expect(largestKernel(artifact)).toBe(3);
  });

  it.each([
    { name: 'keeps the verified bytes of background.json', listed: true },
    { name: 'has no background when the manifest lists none', listed: false },
  ])('$name, reading each file once', async ({ listed }) => {
    const modelJson = { modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights: [] }] };
    const background = Buffer.from('{"features":["x"],"rows":[[1]]}');
    const { store, digest } = storeOf({
      'model.json': Buffer.from(JSON.stringify(modelJson)),
      'w.bin': Buffer.from([0]),
      'schema.json': schema,
      ...(listed ? { 'background.json': background } : {}),
    });
    const reads: string[] = [];
    const counting = {
      read: (bucket: string, key: string) => {
        reads.push(key);
        return store.read(bucket, key);
      },
      digestOf: (bucket: string, key: string) => {
        reads.push(key);
        return store.digestOf(bucket, key);
      },
    };
    const artifact = await readLayersArtifact(counting, { uri: 's3://lathe/m/', digest });
    expect(artifact.background).toEqual(listed ? background : undefined);
    const files = ['manifest.json', 'model.json', 'w.bin', 'schema.json'];
    if (listed) files.push('background.json');
    expect(reads.sort()).toEqual(files.map((f) => `m/${f}`).sort());
  });
});
