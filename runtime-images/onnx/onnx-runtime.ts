/**
 * An ONNX model run by ONNX Runtime for Node.js (`onnxruntime-node`, its bundled CPU build): the
 * session built from a verified artifact's bytes (`onnx-artifact.ts`), its declared input and
 * output checked against the schema by the contract (`onnxModelBinding`), and a forward pass
 * over prepared rows that returns what a TensorFlow.js model returns (row-major, one value per
 * class, or one for regression). Other outputs of the graph (skl2onnx's `label`) are not fetched,
 * so ONNX Runtime does not compute them.
 *
 * Threads: ONNX Runtime sizes its intra-op pool by the host's cores, not the pod's CPU limit, as
 * TensorFlow does (`../tensorflow/backend.ts`); a pod limited to 2 CPUs on a 64-core node would
 * run 64 threads into throttling. The pool gets the pod's CPU budget (`cpuBudget`) unless told,
 * one inter-op thread (the graph runs sequentially), and its threads do not spin waiting for
 * work: the same CPUs run the server's JavaScript between two batches.
 *
 * ONNX Runtime is imported when a model is loaded, so a program serving TensorFlow.js never
 * loads its 48 MB library. Its Linux build (1.31) sends usage telemetry over HTTPS unless
 * `ORT_DISABLE_TELEMETRY` is set: a serving pod phones no one, so it is set before the import
 * (unless the operator of the pod set it), as the images also do.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { onnxModelBinding } from '../../contract/onnx-artifact.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import { cpuBudget } from '../tensorflow/backend.js';
import { ArtifactError } from '../tensorflow/layers-artifact.js';

/** What the session is built with. */
export interface OnnxSessionOptions {
  /** ONNX Runtime's intra-op threads; default: the pod's CPU budget (`cpuBudget`). */
  intraOpThreads?: number;
}

/** An ONNX model ready to run on prepared rows. */
export interface OnnxModel {
  /** Prepared features per row (`schema.features.length`). */
  readonly featureCount: number;
  /** Values per row it returns: the class count, or 1 for regression. */
  readonly outputWidth: number;
  /** ONNX Runtime's intra-op threads. */
  readonly intraOpThreads: number;
  /**
   * One forward pass over `rows` prepared rows (row-major, `rows × featureCount`); resolves with
   * the outputs row-major (`rows × outputWidth`). Rejects with `ArtifactError` (`ModelInvalid`)
   * when the model returns another number of values.
   */
  predict(features: Float32Array, rows: number): Promise<Float32Array>;
  /** Frees the native session. */
  release(): Promise<void>;
}

/**
 * Builds an ONNX Runtime session from `model` (the bytes of `model.onnx`) and checks its input
 * and output against `schema` (`contract/onnx-artifact.ts`). Throws `ArtifactError`
 * (`ModelInvalid`) for bytes ONNX Runtime cannot load and for a model that breaks the contract.
 */
export async function loadOnnxModel(
  model: Uint8Array,
  schema: PreparedSchema,
  options: OnnxSessionOptions = {},
): Promise<OnnxModel> {
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  const ort = await import('onnxruntime-node');
  const intraOpThreads = options.intraOpThreads ?? cpuBudget();
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Warnings only: ONNX Runtime's info lines are not JSON and say nothing a user acts on.
      logSeverityLevel: 2,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  } catch (error) {
    throw new ArtifactError(
      'ModelInvalid',
      `model.onnx could not be loaded by ONNX Runtime: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const bound = onnxModelBinding(schema, session.inputMetadata, session.outputMetadata);
  if ('why' in bound) {
    await session.release();
    throw new ArtifactError('ModelInvalid', bound.why);
  }
  const { input, output, outputWidth } = bound.binding;
  const featureCount = schema.features.length;
  const fetches = [output];
  return {
    featureCount,
    outputWidth,
    intraOpThreads,
    async predict(features, rows) {
      const fed = new ort.Tensor('float32', features, [rows, featureCount]);
      const result = await session.run({ [input]: fed }, fetches);
      const values = result[output]?.data;
      if (!(values instanceof Float32Array) || values.length !== rows * outputWidth) {
        const got =
          values instanceof Float32Array ? `${values.length} values` : 'no float32 tensor';
        throw new ArtifactError(
          'ModelInvalid',
          `the model's output "${output}" returned ${got} for ${rows} rows; it must return ${outputWidth} per row`,
        );
      }
      return values;
    },
    release: () => session.release(),
  };
}
