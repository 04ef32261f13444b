/**
 * The served model: a verified Lathe artifact (`ModelFile` layout) loaded into TensorFlow.js.
 *
 * Loading is all-or-nothing and trusts no byte it has not checked: the artifact is verified
 * against the digest the operator recorded (`verifyArtifact`: the manifest's digest, then every
 * file's size and sha256), and each file the server then downloads to use is checked again
 * against the verified manifest (`checkAgainstManifest`), so a file swapped between the two
 * reads is refused too. The model is built from memory (no filesystem), its input and output
 * shapes are checked against the fitted preparation (`schema.json`), and it is run once per
 * batch size it will see before the server reports ready.
 */
import type { Tensor } from '@tensorflow/tfjs';
import {
  type ArtifactManifest,
  type ArtifactReader,
  checkAgainstManifest,
  verifyArtifact,
} from '../../operator/src/contract/manifest.js';
import {
  keyInArtifact,
  ModelFile,
  parseS3Uri,
} from '../../operator/src/contract/object-store-layout.js';
import {
  type PreparedSchema,
  PreparedSchemaSchema,
} from '../../operator/src/contract/prepared-data.js';
import type { TensorflowJs } from './tensorflow.js';

/** The artifact cannot be served as it is; retrying will not help. */
export class ArtifactError extends Error {
  override name = 'ArtifactError';
  constructor(
    /** `DigestMismatch`, `FileMismatch`, `ArtifactNotFound`, `ManifestInvalid`, `ModelInvalid`, … */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

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
  /**
   * Runs one forward pass over `rows` prepared rows (row-major, `rows × featureCount`) and
   * returns the outputs row-major (`rows × outputWidth`). Synchronous: the event loop is busy
   * for the duration, which is what lets concurrent requests gather into the next batch.
   */
  predict(features: Float32Array, rows: number): Float32Array;
}

interface LayersModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: unknown[] }[];
}

function parseModelJson(bytes: Buffer): LayersModelJson {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ArtifactError(
      'ModelInvalid',
      `${ModelFile.model} is not JSON: ${(error as Error).message}`,
    );
  }
  const j = json as Partial<LayersModelJson>;
  if (typeof j?.modelTopology !== 'object' || j.modelTopology === null) {
    throw new ArtifactError(
      'ModelInvalid',
      `${ModelFile.model} has no modelTopology (not a TensorFlow.js layers model)`,
    );
  }
  if (
    !Array.isArray(j.weightsManifest) ||
    !j.weightsManifest.every((g) => Array.isArray(g?.paths) && Array.isArray(g?.weights))
  ) {
    throw new ArtifactError('ModelInvalid', `${ModelFile.model} has no valid weightsManifest`);
  }
  return j as LayersModelJson;
}

/** Reads one file of the artifact and checks it against the verified manifest. */
async function readChecked(
  store: ArtifactReader,
  bucket: string,
  prefix: string,
  manifest: ArtifactManifest,
  file: string,
): Promise<Buffer> {
  const bytes = await store.read(bucket, keyInArtifact(prefix, file));
  const problem = checkAgainstManifest(manifest, file, bytes);
  if (problem) throw new ArtifactError('FileMismatch', problem);
  return bytes;
}

export interface LoadModelOptions {
  name: string;
  version: string;
  uri: string;
  digest: string;
  /** Batch sizes to run once before serving (1 is always run). */
  warmUpBatchSizes?: number[];
}

/**
 * Verifies, downloads and loads the artifact. Throws `ArtifactError` when the artifact itself is
 * wrong (the server must never become ready on it), and the store's own errors
 * (`StorageUnavailableError`) when it could not be read (worth retrying).
 */
export async function loadServedModel(
  tf: TensorflowJs,
  store: ArtifactReader & { read(bucket: string, key: string, maxBytes?: number): Promise<Buffer> },
  options: LoadModelOptions,
): Promise<ServedModel> {
  const verification = await verifyArtifact(store, { uri: options.uri, digest: options.digest });
  if (!verification.verified) throw new ArtifactError(verification.reason, verification.message);
  const { bucket, key: prefix } = parseS3Uri(options.uri);
  const manifest = verification.manifest;

  const modelJson = parseModelJson(
    await readChecked(store, bucket, prefix, manifest, ModelFile.model),
  );
  const schemaBytes = await readChecked(store, bucket, prefix, manifest, ModelFile.schema);
  let schema: PreparedSchema;
  try {
    schema = PreparedSchemaSchema.parse(JSON.parse(schemaBytes.toString('utf8')));
  } catch (error) {
    const issue = (error as { issues?: { path: unknown[]; message: string }[] }).issues?.[0];
    const why = issue ? `${issue.path.join('.')}: ${issue.message}` : (error as Error).message;
    throw new ArtifactError(
      'ModelInvalid',
      `${ModelFile.schema} is not a valid prepared schema (${why})`,
    );
  }

  // Weight shards in manifest order, concatenated: what the layers loader expects.
  const shards: Buffer[] = [];
  const weightSpecs: unknown[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const path of group.paths) {
      shards.push(await readChecked(store, bucket, prefix, manifest, path));
    }
    weightSpecs.push(...group.weights);
  }
  const weights = Buffer.concat(shards);
  const weightData = weights.buffer.slice(
    weights.byteOffset,
    weights.byteOffset + weights.byteLength,
  );

  let model: Awaited<ReturnType<TensorflowJs['loadLayersModel']>>;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: weightSpecs as never,
        weightData,
      }),
    );
  } catch (error) {
    throw new ArtifactError(
      'ModelInvalid',
      `${ModelFile.model} could not be loaded: ${(error as Error).message}`,
    );
  }

  const featureCount = schema.features.length;
  const outputWidth = schema.task === 'classification' ? (schema.label.classes ?? []).length : 1;
  const inputShape = model.inputs[0]?.shape ?? [];
  const outputShape = model.outputs[0]?.shape ?? [];
  if (model.inputs.length !== 1 || inputShape.length !== 2 || inputShape[1] !== featureCount) {
    throw new ArtifactError(
      'ModelInvalid',
      `the model takes input ${JSON.stringify(inputShape)}; ${ModelFile.schema} prepares ${featureCount} features per row`,
    );
  }
  if (model.outputs.length !== 1 || outputShape.length !== 2 || outputShape[1] !== outputWidth) {
    throw new ArtifactError(
      'ModelInvalid',
      `the model returns ${JSON.stringify(outputShape)}; a ${schema.task} model of ${ModelFile.schema} must return [null, ${outputWidth}]`,
    );
  }

  const predict = (features: Float32Array, rows: number): Float32Array =>
    tf.tidy(() => {
      // `apply` is the layers' forward pass in inference mode, without `predict`'s batching
      // and input standardisation around it (the shape was checked when the request was read).
      const output = model.apply(tf.tensor2d(features, [rows, featureCount])) as Tensor;
      return output.dataSync() as Float32Array;
    });

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
    digest: verification.digest,
    schema,
    featureCount,
    outputWidth,
    predict,
  };
}
