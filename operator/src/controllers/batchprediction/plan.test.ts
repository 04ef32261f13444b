import { describe, expect, it } from 'vitest';
import { manifestFor, sha256Digest } from '../../../../contract/manifest.js';
import type { ObjectStore } from '../../../../contract/object-store.js';
import { ObjectNotFoundError, StorageUnavailableError } from '../../../../contract/object-store.js';
import { BatchPredictionSchema } from '../../api/batchprediction.js';
import type { BatchPredictionObject, ModelVersionObject } from '../lathe-kinds.js';
import { artifactLacksBackground, planRun } from './plan.js';

const withBackground = manifestFor({
  'model.json': Buffer.from('{}'),
  'background.json': Buffer.from('{}'),
});
const without = manifestFor({ 'model.json': Buffer.from('{}') });
const uri = 's3://lathe/models/ns/m/1/';

/** A store holding `manifest` as the artifact's manifest.json, or failing with `error`. */
const storeOf = (manifest: Buffer | Error) => ({
  read: async (bucket: string, key: string) => {
    expect([bucket, key]).toEqual(['lathe', 'models/ns/m/1/manifest.json']);
    if (manifest instanceof Error) throw manifest;
    return manifest;
  },
});

describe('artifactLacksBackground', () => {
  it.each([
    ['a manifest without background.json', without.manifest, without.digest, true],
    ['a manifest with background.json', withBackground.manifest, withBackground.digest, false],
    [
      'a manifest of another digest (the shard reports it)',
      without.manifest,
      withBackground.digest,
      false,
    ],
    ['no manifest (the shard reports it)', new ObjectNotFoundError('gone'), without.digest, false],
    ['a manifest that is not JSON', Buffer.from('{'), sha256Digest('{'), false],
  ])('%s: %s', async (_, manifest, digest, expected) => {
    expect(await artifactLacksBackground(storeOf(manifest), { uri, digest })).toBe(expected);
  });

  it('throws when the store is unavailable (the reconcile is retried)', async () => {
    await expect(
      artifactLacksBackground(storeOf(new StorageUnavailableError('down')), {
        uri,
        digest: without.digest,
      }),
    ).rejects.toThrow(StorageUnavailableError);
  });
});

const digest = `sha256:${'b'.repeat(64)}`;
const modelVersion = {
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'ModelVersion',
  metadata: { name: 'iris-v3', namespace: 'ml' },
  spec: {
    modelName: 'iris',
    version: 3,
    artifact: { uri: 's3://lathe/models/ml/iris/3/', digest, format: 'tfjs' },
  },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
} as unknown as ModelVersionObject;

/** The caches hold the model; the store lists `objects` and records what was listed. */
function world(objects: { key: string; sizeBytes: number }[] = [], format = 'tfjs') {
  const listed: string[] = [];
  const store = {
    listObjects: async (_bucket: string, prefix: string) => {
      listed.push(prefix);
      return objects.filter((o) => o.key.startsWith(prefix));
    },
  } as unknown as ObjectStore;
  const ctx = {
    byField: () => [
      {
        ...modelVersion,
        spec: { ...modelVersion.spec, artifact: { ...modelVersion.spec.artifact, format } },
      },
    ],
    reader: () => ({ get: () => undefined, list: () => [] }),
  } as never;
  return { store, ctx, listed };
}

function batch(spec: Record<string, unknown>): BatchPredictionObject {
  return BatchPredictionSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'BatchPrediction',
    metadata: { name: 'score', namespace: 'ml', uid: 'u1' },
    spec: { model: { name: 'iris', version: 3 }, ...spec },
  }) as BatchPredictionObject;
}

describe('planRun', () => {
  it('plans an HTTP input without a size and without touching the URL or the store', async () => {
    const { store, ctx, listed } = world();
    const planned = await planRun(
      batch({
        input: {
          http: {
            url: 'https://data.example/t.csv?sig=x',
            csv: { delimiter: ';', header: false },
          },
        },
      }),
      ctx,
      store,
      'lathe',
    );
    expect(planned).toMatchObject({
      run: {
        input: {
          objects: [{ uri: 'https://data.example/t.csv?sig=x', format: 'csv' }],
          csv: { delimiter: ';', header: false },
        },
        outputUri: 's3://lathe/batch/ml/score/u1/',
      },
    });
    expect('run' in planned && planned.run.input.objects[0]).not.toHaveProperty('sizeBytes');
    expect(listed).toEqual([]);
  });

  it.each(['tfjs', 'onnx'])(
    'plans a %s model, passing its format to the shards',
    async (format) => {
      const { store, ctx } = world([], format);
      const planned = await planRun(
        batch({ input: { http: { url: 'https://data.example/t.csv' } } }),
        ctx,
        store,
        'lathe',
      );
      expect(planned).toMatchObject({ run: { modelFormat: format } });
    },
  );

  it('stalls on a model of a format batch scoring does not run, naming it', async () => {
    const { store, ctx } = world([], 'joblib');
    const planned = await planRun(
      batch({ input: { http: { url: 'https://data.example/t.csv' } } }),
      ctx,
      store,
      'lathe',
    );
    expect(planned).toEqual({
      notStarted: {
        state: 'stalled',
        reason: 'UnsupportedModelFormat',
        message:
          'ModelVersion iris-v3 is a joblib artifact; batch scoring runs TensorFlow.js (tfjs) and ONNX (onnx) models',
      },
    });
  });

  it('writes under the chosen output prefix, below the run’s UID', async () => {
    const { store, ctx } = world([{ key: 'sources/ml/t.csv', sizeBytes: 10 }]);
    const planned = await planRun(
      batch({ input: { s3: { key: 'sources/ml/t.csv' } }, output: { prefix: 'batch/ml/daily/' } }),
      ctx,
      store,
      'lathe',
    );
    expect(planned).toMatchObject({ run: { outputUri: 's3://lathe/batch/ml/daily/u1/' } });
  });

  it('stalls on an output prefix of another namespace, naming the field', async () => {
    const { store, ctx, listed } = world();
    const planned = await planRun(
      batch({ input: { http: { url: 'https://x/t.csv' } }, output: { prefix: 'batch/other/' } }),
      ctx,
      store,
      'lathe',
    );
    expect(planned).toEqual({
      notStarted: {
        state: 'stalled',
        reason: 'OutputOutsideNamespace',
        message:
          "spec.output.prefix batch/other/ is not under batch/ml/ (a prefix ending with /): a run writes only under its own namespace's batch/ prefix",
      },
    });
    expect(listed).toEqual([]);
  });
});
