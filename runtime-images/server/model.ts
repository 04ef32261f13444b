/**
 * The served model: a verified Lathe artifact loaded into TensorFlow.js by the shared loader
 * (`runtime-images/tensorflow/layers-artifact.ts`: verification against the recorded digest,
 * every downloaded file checked against the verified manifest, the model built from memory and
 * its shapes checked against `schema.json`), then run once per batch size it will see before
 * the server reports ready. The explanation background (`background.json`), when the manifest
 * lists it, is parsed from the bytes the loader verified (read once, used as checked); an
 * artifact without one serves predictions, and `:explain` says why it cannot answer.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { ExplanationBackground } from '../../contract/explain/background.js';
import { type PiiHashing, PiiKeyMissingError, piiHashing } from '../../contract/pii-hash.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import { tensorValues } from '../tensorflow/backend.js';
import {
  ArtifactError,
  buildLayersModel,
  explanationBackgroundOf,
  type LayersArtifact,
  type LayersArtifactStore,
  outputWidthOf,
  readLayersArtifact,
} from '../tensorflow/layers-artifact.js';
import { type PiiRedaction, piiRedactionOf } from './pii.js';
import type { TensorflowJs } from './tensorflow.js';

export { ArtifactError, explanationBackgroundOf };

/** A model ready to run on prepared rows. */
export interface ServedModel {
  readonly name: string;
  readonly version: string;
  readonly digest: string;
  readonly schema: PreparedSchema;
  /** Prepared features per row (`schema.features.length`). */
  readonly featureCount: number;
  /** Values per row the model returns: the class count, or 1 for regression. */
  readonly outputWidth: number;
  /** How raw values of the model's hashed PII columns are hashed (with the namespace key). */
  readonly piiHashing: PiiHashing;
  /** What a kept or logged record loses (`pii.ts`); undefined when the model has no PII column. */
  readonly piiRedaction: PiiRedaction | undefined;
  /**
   * Prepared training rows explanations are measured against (`background.json`); undefined
   * for an artifact written before Lathe stored one.
   */
  readonly background?: ExplanationBackground | undefined;
  /**
   * Runs one forward pass over `rows` prepared rows (row-major, `rows × featureCount`) and
   * returns the outputs row-major (`rows × outputWidth`). Synchronous: the event loop is busy
   * for the duration, which is what lets concurrent requests gather into the next batch.
   */
  predict(features: Float32Array, rows: number): Float32Array;
}

export interface LoadModelOptions {
  name: string;
  version: string;
  uri: string;
  digest: string;
  /** Batch sizes to run once before serving (1 is always run). */
  warmUpBatchSizes?: number[];
  /** The namespace's PII key (`LATHE_PII_KEY`); required when the model hashes a PII column. */
  piiKey?: Buffer | undefined;
  /** The artifact's explanation background (`explanationBackgroundOf`), if it has one. */
  background?: ExplanationBackground | undefined;
}

/**
 * Verifies, downloads and loads the artifact. Throws `ArtifactError` when the artifact itself is
 * wrong (the server must never become ready on it), and the store's own errors
 * (`StorageUnavailableError`) when it could not be read (worth retrying).
 */
export async function loadServedModel(
  tf: TensorflowJs,
  store: LayersArtifactStore,
  options: LoadModelOptions,
): Promise<ServedModel> {
  const artifact = await readLayersArtifact(store, options);
  const model = await servedModelOf(tf, artifact, options);
  return { ...model, background: explanationBackgroundOf(artifact) };
}

/**
 * Builds and warms up the model of an artifact already read (`readLayersArtifact`). Throws
 * `PiiKeyMissingError` for a model with a keyed PII column and no `piiKey`: it could not
 * prepare a raw value of that column, nor keep one out of the request log.
 */
export async function servedModelOf(
  tf: TensorflowJs,
  artifact: LayersArtifact,
  options: Omit<LoadModelOptions, 'uri' | 'digest'>,
): Promise<ServedModel> {
  const schema = artifact.schema;
  const keyed = schema.inputs.find((i) => i.kind === 'categorical' && i.hash !== undefined);
  if (keyed && options.piiKey === undefined) throw new PiiKeyMissingError(keyed.name);
  const hashing = piiHashing(options.piiKey);
  const model = await buildLayersModel(tf, artifact);
  const featureCount = schema.features.length;
  const outputWidth = outputWidthOf(schema);

  const predict = (features: Float32Array, rows: number): Float32Array =>
    // `apply` is the layers' forward pass in inference mode, without `predict`'s batching and
    // input standardisation around it (the shape was checked when the request was read).
    tensorValues(tf, () => model.apply(tf.tensor2d(features, [rows, featureCount])) as Tensor);

  for (const size of new Set([1, ...(options.warmUpBatchSizes ?? [])])) {
    const out = predict(new Float32Array(size * featureCount), size);
    if (out.length !== size * outputWidth) {
      throw new ArtifactError(
        'ModelInvalid',
        `warm-up returned ${out.length} values for ${size} rows`,
      );
    }
  }

  return {
    name: options.name,
    version: options.version,
    digest: artifact.digest,
    schema,
    featureCount,
    outputWidth,
    piiHashing: hashing,
    piiRedaction: piiRedactionOf(schema, hashing),
    background: options.background,
    predict,
  };
}
