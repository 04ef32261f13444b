/**
 * A small, really trained Lathe model artifact for the server's tests and benchmark: a fitted
 * preparation of four raw columns (two numeric, one categorical, one boolean: six prepared
 * features), an MLP trained with TensorFlow.js on synthetic rows, written in the `ModelFile`
 * layout with its manifest — the same files Lathe's trainer writes, the explanation background
 * (`background.json`, a seeded sample of the prepared training rows) included. The benchmark widens it with
 * `noiseInputs` (numeric columns the label does not depend on): 24 of them make the 30-feature
 * MLP `bench:serve` measures. `onnxFixtureArtifact` writes the same trained weights as an ONNX
 * artifact, for ONNX Runtime's tests and column of the benchmark.
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { explanationBackground } from '../../contract/explain/background.js';
import { manifestFor } from '../../contract/manifest.js';
import { MANIFEST_FILE, ModelFile } from '../../contract/object-store-layout.js';
import { ONNX_MODEL_FILE } from '../../contract/onnx-artifact.js';
import { type PreparedSchema, prepareRecord } from '../../contract/prepared-data.js';
import { denseLayersOf, denseNetworkOnnx } from '../onnx/dense-network-onnx.js';
import type { TensorflowJs } from './tensorflow.js';

export type FixtureTask = 'classification' | 'regression';

export interface FixtureArtifact {
  schema: PreparedSchema;
  /** Every file of the artifact but the manifest. */
  files: Record<string, Buffer>;
  manifest: Buffer;
  digest: string;
  /** The trained model, for computing expected outputs. */
  model: LayersModel;
  /** Raw rows like those it was trained on, with their label under `schema.label.name`. */
  rows: Record<string, unknown>[];
}

export function fixtureSchema(task: FixtureTask, noiseInputs = 0): PreparedSchema {
  const noise = noiseInputNames(noiseInputs);
  return {
    formatVersion: 1,
    task,
    label:
      task === 'classification'
        ? { name: 'species', type: 'categorical', classes: ['setosa', 'versicolor', 'virginica'] }
        : { name: 'price', type: 'number' },
    inputs: [
      {
        name: 'length',
        type: 'number',
        kind: 'numeric',
        impute: 5,
        scale: { method: 'standard', mean: 5, std: 2 },
      },
      {
        name: 'width',
        type: 'number',
        kind: 'numeric',
        impute: null,
        scale: { method: 'minMax', min: 0, max: 4 },
      },
      {
        name: 'colour',
        type: 'categorical',
        kind: 'categorical',
        impute: 'red',
        encoding: 'oneHot',
        categories: ['red', 'green'],
        other: true,
      },
      {
        name: 'fresh',
        type: 'boolean',
        kind: 'categorical',
        impute: 'true',
        encoding: 'ordinal',
        categories: ['false', 'true'],
        other: false,
      },
      ...noise.map((name) => ({
        name,
        type: 'number' as const,
        kind: 'numeric' as const,
        impute: 0,
        scale: { method: 'standard' as const, mean: 0, std: 1 },
      })),
    ],
    features: [
      'length',
      'width',
      'colour=red',
      'colour=green',
      'colour=__other__',
      'fresh',
      ...noise,
    ],
  };
}

/** The names of `count` noise inputs: `noise1` … `noise<count>`. */
function noiseInputNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `noise${i + 1}`);
}

/**
 * `count` raw rows from a seeded generator, labelled by a simple rule the model can learn;
 * `noiseInputs` adds that many numeric columns (from a second generator, so the other columns
 * and the labels are the same with or without them).
 */
export function fixtureRows(
  task: FixtureTask,
  count: number,
  seed = 1,
  noiseInputs = 0,
): Record<string, unknown>[] {
  let state = seed >>> 0 || 1;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  let noiseState = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const noiseRandom = () => {
    noiseState = (Math.imul(noiseState, 1664525) + 1013904223) >>> 0;
    return noiseState / 2 ** 32;
  };
  const noise = noiseInputNames(noiseInputs);
  const colours = ['red', 'green', 'blue'];
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const length = Math.round((1 + random() * 8) * 10) / 10;
    const width = Math.round(random() * 40) / 10;
    const colour = colours[Math.floor(random() * 3)]!;
    const fresh = random() < 0.5;
    const score = length / 3 + width / 2 + (colour === 'green' ? 1 : 0);
    const label =
      task === 'classification'
        ? score < 2.2
          ? 'setosa'
          : score < 3.4
            ? 'versicolor'
            : 'virginica'
        : Math.round((score * 10 + (fresh ? 3 : 0)) * 100) / 100;
    rows.push({
      length,
      width,
      colour,
      fresh,
      ...Object.fromEntries(
        noise.map((name) => [name, Math.round((noiseRandom() * 4 - 2) * 100) / 100]),
      ),
      [task === 'classification' ? 'species' : 'price']: label,
    });
  }
  return rows;
}

/** Trains the fixture model and writes its artifact files (in memory). */
export async function makeFixtureArtifact(
  tf: TensorflowJs,
  options: {
    task?: FixtureTask;
    hidden?: number[];
    epochs?: number;
    rows?: number;
    /** Numeric inputs the label does not depend on (`fixtureSchema`); default none. */
    noiseInputs?: number;
  } = {},
): Promise<FixtureArtifact> {
  const task = options.task ?? 'classification';
  const schema = fixtureSchema(task, options.noiseInputs);
  const rows = fixtureRows(task, options.rows ?? 300, 1, options.noiseInputs);
  const featureCount = schema.features.length;
  const x = rows.flatMap((row) => prepareRecord(schema, row));
  const classes = schema.label.classes ?? [];

  const model = tf.sequential();
  const hidden = options.hidden ?? [8];
  for (const [i, units] of hidden.entries()) {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        ...(i === 0 ? { inputShape: [featureCount] } : {}),
      }),
    );
  }
  if (task === 'classification') {
    model.add(tf.layers.dense({ units: classes.length, activation: 'softmax' }));
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
  } else {
    model.add(tf.layers.dense({ units: 1 }));
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
  }
  const xs = tf.tensor2d(x, [rows.length, featureCount]);
  const ys =
    task === 'classification'
      ? tf.oneHot(
          tf.tensor1d(
            rows.map((r) => classes.indexOf(r.species as string)),
            'int32',
          ),
          classes.length,
        )
      : tf.tensor2d(
          rows.map((r) => r.price as number),
          [rows.length, 1],
        );
  await model.fit(xs, ys as Tensor, { epochs: options.epochs ?? 30, batchSize: 32, verbose: 0 });
  xs.dispose();
  ys.dispose();

  let modelJson: Buffer | undefined;
  let weights: Buffer | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const parts = data === undefined ? [] : Array.isArray(data) ? data : [data];
      weights = Buffer.concat(parts.map((part) => Buffer.from(part)));
      modelJson = Buffer.from(
        JSON.stringify({
          format: 'layers-model',
          generatedBy: artifacts.generatedBy,
          convertedBy: null,
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: [ModelFile.weights], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const files: Record<string, Buffer> = {
    [ModelFile.model]: modelJson!,
    [ModelFile.weights]: weights!,
    [ModelFile.schema]: Buffer.from(`${JSON.stringify(schema, null, 2)}\n`),
    [ModelFile.background]: Buffer.from(
      `${JSON.stringify(
        explanationBackground(schema.features, rows.length, (i) =>
          x.slice(i * featureCount, (i + 1) * featureCount),
        ),
      )}\n`,
    ),
  };
  const { manifest, digest } = manifestFor(files);
  return { schema, files, manifest, digest, model, rows };
}

/**
 * The fixture's trained model as an ONNX artifact (`contract/onnx-artifact.ts`): the same
 * weights in `model.onnx` (`denseNetworkOnnx`), with the same schema and background, so ONNX
 * Runtime's answers can be compared with TensorFlow.js's.
 */
export function onnxFixtureArtifact(
  artifact: Pick<FixtureArtifact, 'files' | 'model' | 'schema'>,
): Pick<FixtureArtifact, 'files' | 'manifest' | 'digest'> {
  const files: Record<string, Buffer> = {
    [ONNX_MODEL_FILE]: Buffer.from(
      denseNetworkOnnx(denseLayersOf(artifact.model), artifact.schema.task),
    ),
    [ModelFile.schema]: artifact.files[ModelFile.schema]!,
    [ModelFile.background]: artifact.files[ModelFile.background]!,
  };
  const { manifest, digest } = manifestFor(files);
  return { files, manifest, digest };
}

/** Uploads the artifact under `prefix`, manifest last (as a trainer does). */
export async function uploadFixtureArtifact(
  store: { write(bucket: string, key: string, body: Buffer): Promise<void> },
  bucket: string,
  prefix: string,
  artifact: Pick<FixtureArtifact, 'files' | 'manifest'>,
): Promise<void> {
  for (const [path, bytes] of Object.entries(artifact.files)) {
    await store.write(bucket, `${prefix}${path}`, bytes);
  }
  await store.write(bucket, `${prefix}${MANIFEST_FILE}`, artifact.manifest);
}

/** The model's own output on raw rows (prepared with the same `prepareRecord`), row by row. */
export function expectedOutputs(
  tf: TensorflowJs,
  artifact: Pick<FixtureArtifact, 'model' | 'schema'>,
  rows: Record<string, unknown>[],
): number[][] {
  const x = rows.flatMap((row) => prepareRecord(artifact.schema, row));
  return tf.tidy(() => {
    const out = artifact.model.predict(
      tf.tensor2d(x, [rows.length, artifact.schema.features.length]),
    ) as Tensor;
    return out.arraySync() as number[][];
  });
}
