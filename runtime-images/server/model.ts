/**
 * The served model: a verified Lathe artifact loaded into TensorFlow.js by the shared loader
 * (`runtime-images/tensorflow/layers-artifact.ts`: verification against the recorded digest,
 * every downloaded file checked against the verified manifest, the model built from memory and
 * its shapes checked against `schema.json`), or an ONNX artifact into ONNX Runtime
 * (`runtime-images/onnx/`: verified the same way, its input and output checked against the
 * contract of `contract/onnx-artifact.ts`), then run once per batch size it will see before
 * the server reports ready. Both take the same prepared features and return the same outputs,
 * so everything past `predict` (protocols, batching, explanations, the request log) is shared. The explanation background (`background.json`), when the manifest
 * lists it, is parsed from the bytes the loader verified (read once, used as checked); an
 * artifact without one serves predictions, and `:explain` says why it cannot answer.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { ExplanationBackground } from '../../contract/explain/background.js';
import { type PiiHashing, PiiKeyMissingError, piiHashing } from '../../contract/pii-hash.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import type { OnnxArtifact } from '../onnx/onnx-artifact.js';
import { loadOnnxModel, type OnnxSessionOptions } from '../onnx/onnx-runtime.js';
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
  /** The artifact's format: how the model is run. */
  readonly format: ServedFormat;
  /**
   * Runs one forward pass over `rows` prepared rows (row-major, `rows × featureCount`) and
   * returns the outputs row-major (`rows × outputWidth`). TensorFlow.js answers synchronously:
   * the event loop is busy for the duration, which is what lets concurrent requests gather into
   * the next batch. ONNX Runtime answers with a promise: it runs on its own threads while the
   * event loop reads the requests that will make the next batch (the batcher runs one at a time).
   */
  predict(features: Float32Array, rows: number): Float32Array | Promise<Float32Array>;
}

/** The artifact formats the server runs (`ModelVersion.spec.artifact.format`). */
export const SERVED_FORMATS = ['tfjs', 'onnx'] as const;
export type ServedFormat = (typeof SERVED_FORMATS)[number];

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
 * Builds and warms up the TensorFlow.js model of an artifact already read
 * (`readLayersArtifact`). Throws `PiiKeyMissingError` for a model with a keyed PII column and no
 * `piiKey`: it could not prepare a raw value of that column, nor keep one out of the request log.
 */
export async function servedModelOf(
  tf: TensorflowJs,
  artifact: LayersArtifact,
  options: Omit<LoadModelOptions, 'uri' | 'digest'>,
): Promise<ServedModel> {
  const hashing = piiHashingFor(artifact.schema, options);
  const model = await buildLayersModel(tf, artifact);
  const featureCount = artifact.schema.features.length;
  const predict = (features: Float32Array, rows: number): Float32Array =>
    // `apply` is the layers' forward pass in inference mode, without `predict`'s batching and
    // input standardisation around it (the shape was checked when the request was read).
    tensorValues(tf, () => model.apply(tf.tensor2d(features, [rows, featureCount])) as Tensor);
  return warmedUp(
    { format: 'tfjs', digest: artifact.digest, schema: artifact.schema, predict },
    hashing,
    options,
  );
}

/**
 * Builds the ONNX Runtime session of an ONNX artifact already read (`readOnnxArtifact`), checks
 * it against the contract (`contract/onnx-artifact.ts`) and warms it up. Throws as
 * `servedModelOf` does, and `ArtifactError` (`ModelInvalid`) for a model that breaks the
 * contract.
 */
export async function onnxServedModelOf(
  artifact: OnnxArtifact,
  options: Omit<LoadModelOptions, 'uri' | 'digest'> & OnnxSessionOptions,
): Promise<ServedModel> {
  const hashing = piiHashingFor(artifact.schema, options);
  const model = await loadOnnxModel(artifact.model, artifact.schema, options);
  return warmedUp(
    {
      format: 'onnx',
      digest: artifact.digest,
      schema: artifact.schema,
      predict: (features, rows) => model.predict(features, rows),
    },
    hashing,
    options,
  );
}

/**
 * How raw PII values are hashed for `schema`. Throws `PiiKeyMissingError` for a model with a
 * keyed PII column and no `piiKey`: it could not prepare a raw value of that column, nor keep
 * one out of the request log.
 */
function piiHashingFor(
  schema: PreparedSchema,
  options: Pick<LoadModelOptions, 'piiKey'>,
): PiiHashing {
  const keyed = schema.inputs.find((i) => i.kind === 'categorical' && i.hash !== undefined);
  if (keyed && options.piiKey === undefined) throw new PiiKeyMissingError(keyed.name);
  return piiHashing(options.piiKey);
}

/**
 * The served model, once it has run on every batch size it will see (1, and the largest
 * batch) and returned one output row per input row: the first request pays no compilation or
 * allocation, and a model that returns the wrong width never becomes ready.
 */
async function warmedUp(
  run: Pick<ServedModel, 'format' | 'digest' | 'schema' | 'predict'>,
  hashing: PiiHashing,
  options: Omit<LoadModelOptions, 'uri' | 'digest'>,
): Promise<ServedModel> {
  const { schema } = run;
  const featureCount = schema.features.length;
  const outputWidth = outputWidthOf(schema);
  for (const size of new Set([1, ...(options.warmUpBatchSizes ?? [])])) {
    const out = await run.predict(new Float32Array(size * featureCount), size);
    if (out.length !== size * outputWidth) {
      throw new ArtifactError(
        'ModelInvalid',
        `warm-up returned ${out.length} values for ${size} rows`,
      );
    }
  }
  return {
    ...run,
    name: options.name,
    version: options.version,
    featureCount,
    outputWidth,
    piiHashing: hashing,
    piiRedaction: piiRedactionOf(schema, hashing),
    background: options.background,
  };
}
