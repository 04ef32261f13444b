/**
 * A verified Lathe model artifact (`ModelFile` layout) as a TensorFlow.js layers model: what the
 * inference server serves and what the trainer's `evaluate` mode scores, loaded one way.
 *
 * Loading is all-or-nothing and trusts no byte it has not checked: the artifact is verified
 * against the digest the operator recorded (`verifyArtifact`: the manifest's digest, then every
 * file's size and sha256, `metrics.json` included). The files the model is built from
 * (`model.json`, `schema.json`, the weight shards) and the small explanation background
 * (`background.json`, parsed by `explanationBackgroundOf` for the server and batch scoring)
 * are read whole during that verification and used as verified, so each is downloaded once and
 * none can change between check and use; a file `model.json` names that verification did not
 * keep is read and checked against the verified manifest (`checkAgainstManifest`). The model is built from memory (no filesystem),
 * and its input and output shapes are checked against the fitted preparation (`schema.json`).
 *
 * Reading (`readLayersArtifact`) needs no TensorFlow.js, so a program can size TensorFlow's
 * threads from the weights' shapes before it loads a backend, then build the model
 * (`buildLayersModel`) on it.
 */
import type * as tfjs from '@tensorflow/tfjs';
import {
  type ExplanationBackground,
  ExplanationBackgroundSchema,
} from '../../contract/explain/background.js';
import {
  type ArtifactManifest,
  type ArtifactReader,
  checkAgainstManifest,
  parsedArtifactJson,
  verifyArtifact,
} from '../../contract/manifest.js';
import { keyInArtifact, ModelFile, parseS3Uri } from '../../contract/object-store-layout.js';
import { ONNX_MODEL_FILE } from '../../contract/onnx-artifact.js';
import { type PreparedSchema, PreparedSchemaSchema } from '../../contract/prepared-data.js';
import type { Tf } from './backend.js';

/** The model file of the scikit-learn trainer's artifacts (format `joblib`). */
const JOBLIB_MODEL_FILE = 'model.joblib';

/** The artifact cannot be used as it is; retrying will not help. */
export class ArtifactError extends Error {
  override name = 'ArtifactError';
  constructor(
    /**
     * `DigestMismatch`, `FileMismatch`, `ArtifactNotFound`, `ManifestInvalid` (from
     * `verifyArtifact`), `ModelInvalid`, or `UnsupportedFormat` (an artifact of another
     * framework, such as scikit-learn's `model.joblib`).
     */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** What `readLayersArtifact` needs of an object store (the `ObjectStore` fits). */
export type LayersArtifactStore = ArtifactReader & {
  read(bucket: string, key: string, maxBytes?: number): Promise<Buffer>;
};

/** The verified files of a layers-model artifact, in memory. */
export interface LayersArtifact {
  /** The verified digest (`sha256:` of `manifest.json`). */
  digest: string;
  manifest: ArtifactManifest;
  schema: PreparedSchema;
  modelTopology: object;
  /** The weight specs of every shard, in manifest order. */
  weightSpecs: tfjs.io.WeightsManifestEntry[];
  /** The shards, concatenated: what the layers loader expects. */
  weightData: ArrayBuffer;
  /**
   * The verified bytes of `background.json` (the explanation background the server's
   * `:explain` measures against), as verification read them; undefined when the manifest does
   * not list one.
   */
  background: Buffer | undefined;
}

interface LayersModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tfjs.io.WeightsManifestEntry[] }[];
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

/**
 * The files kept in memory while they are verified: those a layers model is built from, and the
 * explanation background (small: a sample of prepared rows) the server parses.
 */
function keptWhole(path: string): boolean {
  return (
    path === ModelFile.model ||
    path === ModelFile.schema ||
    path === ModelFile.background ||
    path.endsWith('.bin')
  );
}

/** The artifact's `schema.json`, parsed from its verified bytes. Throws `ArtifactError`. */
export function artifactSchemaOf(bytes: Buffer): PreparedSchema {
  const parsed = parsedArtifactJson(PreparedSchemaSchema, bytes);
  if ('why' in parsed) {
    throw new ArtifactError(
      'ModelInvalid',
      `${ModelFile.schema} is not a valid prepared schema (${parsed.why})`,
    );
  }
  return parsed.value;
}

/**
 * One file of the artifact: the bytes verification kept, else read and checked against the
 * verified manifest.
 */
export async function readChecked(
  store: LayersArtifactStore,
  bucket: string,
  prefix: string,
  verified: { manifest: ArtifactManifest; contents: ReadonlyMap<string, Buffer> },
  file: string,
): Promise<Buffer> {
  const kept = verified.contents.get(file);
  if (kept) return kept;
  const { manifest } = verified;
  const bytes = await store.read(bucket, keyInArtifact(prefix, file));
  const problem = checkAgainstManifest(manifest, file, bytes);
  if (problem) throw new ArtifactError('FileMismatch', problem);
  return bytes;
}

/**
 * Verifies the artifact at `uri` against `digest` and reads its layers model, schema and
 * explanation background (its verified bytes, unparsed). Throws `ArtifactError` when the
 * artifact itself is wrong (not worth retrying), and the store's own errors
 * (`StorageUnavailableError`) when it could not be read (worth retrying).
 */
export async function readLayersArtifact(
  store: LayersArtifactStore,
  artifact: { uri: string; digest: string },
): Promise<LayersArtifact> {
  const verification = await verifyArtifact(store, artifact, { readWhole: keptWhole });
  if (!verification.verified) throw new ArtifactError(verification.reason, verification.message);
  const { bucket, key: prefix } = parseS3Uri(artifact.uri);
  const manifest = verification.manifest;
  const listed = new Set(manifest.files.map((f) => f.path));
  if (!listed.has(ModelFile.model)) {
    if (listed.has(ONNX_MODEL_FILE)) {
      throw new ArtifactError(
        'UnsupportedFormat',
        `the artifact is an ONNX model (${ONNX_MODEL_FILE}, format onnx); this reads TensorFlow.js layers models (${ModelFile.model}); ONNX models are read by runtime-images/onnx`,
      );
    }
    if (listed.has(JOBLIB_MODEL_FILE)) {
      throw new ArtifactError(
        'UnsupportedFormat',
        `the artifact is a scikit-learn model (${JOBLIB_MODEL_FILE}, format joblib); this program runs TensorFlow.js layers models (${ModelFile.model}) only`,
      );
    }
    throw new ArtifactError(
      'ModelInvalid',
      `the artifact has no ${ModelFile.model} (files: ${[...listed].slice(0, 10).join(', ')})`,
    );
  }

  const modelJson = parseModelJson(
    await readChecked(store, bucket, prefix, verification, ModelFile.model),
  );
  const schema = artifactSchemaOf(
    await readChecked(store, bucket, prefix, verification, ModelFile.schema),
  );

  // Weight shards in manifest order, concatenated: what the layers loader expects.
  const shards: Buffer[] = [];
  const weightSpecs: tfjs.io.WeightsManifestEntry[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const path of group.paths) {
      shards.push(await readChecked(store, bucket, prefix, verification, path));
    }
    weightSpecs.push(...group.weights);
  }
  const weights = Buffer.concat(shards);
  const weightData = weights.buffer.slice(
    weights.byteOffset,
    weights.byteOffset + weights.byteLength,
  ) as ArrayBuffer;
  return {
    digest: verification.digest,
    manifest,
    schema,
    modelTopology: modelJson.modelTopology,
    weightSpecs,
    weightData,
    background: verification.contents.get(ModelFile.background),
  };
}

/** Values per row the model of `schema` returns: the class count, or 1 for regression. */
export function outputWidthOf(schema: PreparedSchema): number {
  return schema.task === 'classification' ? (schema.label.classes ?? []).length : 1;
}

/**
 * The largest matrix among the weights (fan-in x fan-out of the widest dense layer), from the
 * weight specs alone: with the batch size, it sizes TensorFlow's threads (`intraOpThreadsFor`).
 */
export function largestKernel(artifact: Pick<LayersArtifact, 'weightSpecs'>): number {
  let largest = 0;
  for (const spec of artifact.weightSpecs) {
    if (spec.shape.length === 2) largest = Math.max(largest, spec.shape[0]! * spec.shape[1]!);
  }
  return largest;
}

/**
 * Builds the layers model of `artifact` on `tf`'s backend and checks that it takes
 * `schema.features` and returns one value per class (1 for regression). Throws `ArtifactError`.
 */
export async function buildLayersModel(
  tf: Tf,
  artifact: LayersArtifact,
): Promise<tfjs.LayersModel> {
  let model: tfjs.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: artifact.modelTopology,
        weightSpecs: artifact.weightSpecs,
        weightData: artifact.weightData,
      }),
    );
  } catch (error) {
    throw new ArtifactError(
      'ModelInvalid',
      `${ModelFile.model} could not be loaded: ${(error as Error).message}`,
    );
  }
  const { schema } = artifact;
  const featureCount = schema.features.length;
  const outputWidth = outputWidthOf(schema);
  const inputShape = model.inputs[0]?.shape ?? [];
  const outputShape = model.outputs[0]?.shape ?? [];
  if (model.inputs.length !== 1 || inputShape.length !== 2 || inputShape[1] !== featureCount) {
    model.dispose();
    throw new ArtifactError(
      'ModelInvalid',
      `the model takes input ${JSON.stringify(inputShape)}; ${ModelFile.schema} prepares ${featureCount} features per row`,
    );
  }
  if (model.outputs.length !== 1 || outputShape.length !== 2 || outputShape[1] !== outputWidth) {
    model.dispose();
    throw new ArtifactError(
      'ModelInvalid',
      `the model returns ${JSON.stringify(outputShape)}; a ${schema.task} model of ${ModelFile.schema} must return [null, ${outputWidth}]`,
    );
  }
  return model;
}

/**
 * The artifact's `background.json`, parsed from the bytes the loader verified
 * (`readLayersArtifact`: nothing is read again) and checked against its schema's features;
 * undefined when the manifest does not list one. Throws `ArtifactError` for a file that is not
 * a valid background of this model.
 */
export function explanationBackgroundOf(
  artifact: Pick<LayersArtifact, 'background' | 'schema'>,
): ExplanationBackground | undefined {
  const file = ModelFile.background;
  const bytes = artifact.background;
  if (!bytes) return undefined;
  const parsed = parsedArtifactJson(ExplanationBackgroundSchema, bytes);
  if ('why' in parsed) {
    throw new ArtifactError(
      'ModelInvalid',
      `${file} is not a valid explanation background (${parsed.why})`,
    );
  }
  const background: ExplanationBackground = parsed.value;
  const features = artifact.schema.features;
  if (
    background.features.length !== features.length ||
    background.features.some((name, i) => name !== features[i])
  ) {
    throw new ArtifactError(
      'ModelInvalid',
      `${file} has features ${background.features.join(', ')}; ${ModelFile.schema} prepares ${features.join(', ')}`,
    );
  }
  return background;
}
