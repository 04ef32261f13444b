/**
 * A verified Lathe ONNX artifact (`contract/onnx-artifact.ts`) in memory: what the inference
 * server and batch scoring run with ONNX Runtime. Read the way `../tensorflow/layers-artifact.ts`
 * reads a TensorFlow.js artifact, and trusting no byte it has not checked: the artifact is
 * verified against the digest the operator recorded (`verifyArtifact`: the manifest's digest,
 * then every file's size and sha256), and the files used (`model.onnx`, `schema.json`,
 * `background.json`) are the very bytes verification read, so none can change between check and
 * use. Reading needs no ONNX Runtime (`onnx-runtime.ts` builds the session).
 */
import { verifyArtifact } from '../../contract/manifest.js';
import { ModelFile } from '../../contract/object-store-layout.js';
import { ONNX_MODEL_FILE } from '../../contract/onnx-artifact.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import {
  ArtifactError,
  artifactSchemaOf,
  type LayersArtifactStore,
} from '../tensorflow/layers-artifact.js';

/** The verified files of an ONNX artifact, in memory. */
export interface OnnxArtifact {
  /** The verified digest (`sha256:` of `manifest.json`). */
  digest: string;
  schema: PreparedSchema;
  /** The verified bytes of `model.onnx`. */
  model: Buffer;
  /** The verified bytes of `background.json`; undefined when the manifest does not list one. */
  background: Buffer | undefined;
}

const keptWhole = (path: string): boolean =>
  path === ONNX_MODEL_FILE || path === ModelFile.schema || path === ModelFile.background;

/**
 * Verifies the artifact at `uri` against `digest` and reads its ONNX model, schema and
 * explanation background. Throws `ArtifactError` when the artifact itself is wrong (a
 * TensorFlow.js artifact is `UnsupportedFormat`: the ModelVersion's format says otherwise), and
 * the store's own errors (`StorageUnavailableError`) when it could not be read.
 */
export async function readOnnxArtifact(
  store: LayersArtifactStore,
  artifact: { uri: string; digest: string },
): Promise<OnnxArtifact> {
  const verification = await verifyArtifact(store, artifact, { readWhole: keptWhole });
  if (!verification.verified) throw new ArtifactError(verification.reason, verification.message);
  const { contents } = verification;
  const model = contents.get(ONNX_MODEL_FILE);
  if (!model) {
    const listed = verification.manifest.files.map((f) => f.path);
    throw new ArtifactError(
      listed.includes(ModelFile.model) ? 'UnsupportedFormat' : 'ModelInvalid',
      `the artifact has no ${ONNX_MODEL_FILE}, which a format onnx ModelVersion serves (files: ${listed.slice(0, 10).join(', ')})`,
    );
  }
  const schemaBytes = contents.get(ModelFile.schema);
  if (!schemaBytes) {
    throw new ArtifactError(
      'ModelInvalid',
      `the artifact has no ${ModelFile.schema}: an ONNX model takes the prepared features, so the server needs the preparation that made them`,
    );
  }
  return {
    digest: verification.digest,
    schema: artifactSchemaOf(schemaBytes),
    model,
    background: contents.get(ModelFile.background),
  };
}
