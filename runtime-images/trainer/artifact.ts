/**
 * The model artifact: the files of `ModelFile` in the contract, serialised in memory, then
 * uploaded with `manifest.json` last, so a reader that finds the manifest finds every file.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { manifestFor } from '../../contract/manifest.js';
import type { ObjectStore } from '../../contract/object-store.js';
import {
  keyInArtifact,
  MANIFEST_FILE,
  ModelFile,
  parseS3Uri,
} from '../../contract/object-store-layout.js';
import type { ModelMetrics } from '../../contract/results.js';
import type { Tf } from '../tensorflow/backend.js';

/** `model.json` and `weights.bin` of a LayersModel, in TensorFlow.js' layers-model format. */
export async function serializeLayersModel(
  tf: Tf,
  model: tfjs.LayersModel,
): Promise<{ modelJson: Buffer; weights: Buffer }> {
  let artifacts: tfjs.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightData || !artifacts.weightSpecs) {
    throw new Error('TensorFlow.js returned no weights for the model');
  }
  const data = artifacts.weightData;
  const weights = Array.isArray(data)
    ? Buffer.concat(data.map((b) => Buffer.from(b)))
    : Buffer.from(data as ArrayBuffer);
  const modelJson = {
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [ModelFile.weights], weights: artifacts.weightSpecs }],
  };
  return { modelJson: Buffer.from(`${JSON.stringify(modelJson)}\n`), weights };
}

/** Uploads `files` under `outputUri`, then their manifest; returns the artifact's digest. */
export async function uploadArtifact(
  store: Pick<ObjectStore, 'write'>,
  outputUri: string,
  files: Record<string, Buffer>,
): Promise<string> {
  const { bucket, key: prefix } = parseS3Uri(outputUri);
  const { manifest, digest } = manifestFor(files);
  for (const [file, bytes] of Object.entries(files)) {
    const type = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    await store.write(bucket, keyInArtifact(prefix, file), bytes, type);
  }
  await store.write(bucket, keyInArtifact(prefix, MANIFEST_FILE), manifest, 'application/json');
  return digest;
}

/** `metrics.json` bytes. */
export function metricsFile(metrics: ModelMetrics): Buffer {
  return Buffer.from(`${JSON.stringify(metrics, null, 2)}\n`);
}
