/**
 * The Lathe ONNX artifact: how a model trained by another framework (scikit-learn through
 * `skl2onnx`, PyTorch through `torch.onnx`) is written so that Lathe's inference server and
 * batch scoring run it with ONNX Runtime, behind the same protocols as a TensorFlow.js model.
 * KServe serves ONNX the same way (its ONNX runtime through Triton); what Lathe adds is that the
 * model takes the prepared features, so raw records are prepared once, by the same code, for
 * every framework.
 *
 * The contract, which every trainer writing `spec.artifact.format: onnx` meets:
 *
 * - Files, under the artifact's prefix: `model.onnx` (`ONNX_MODEL_FILE`), `schema.json` (the
 *   dataset version's fitted preparation, `contract/prepared-data.ts`), `metrics.json`, and
 *   optionally `background.json` (explanations) and `model-card.json`; every one listed in
 *   `manifest.json` (`contract/manifest.ts`) with its size and sha256, the manifest uploaded
 *   last. The ModelVersion records `spec.artifact.format: onnx` and the manifest's digest.
 * - One input, float32, named `features` (`ONNX_INPUT`), shape `[N, schema.features.length]`:
 *   the prepared features, exactly as TensorFlow.js models take them. The batch axis is dynamic
 *   (a symbolic dimension), since the server batches requests.
 * - Classification: a float32 output `probabilities`, shape `[N, classes]`, its columns in the
 *   order of `schema.label.classes` (skl2onnx: `options={'zipmap': False}`, whose
 *   `probabilities` output already has this name and order). Regression: a float32 output
 *   `predictions`, shape `[N, 1]` or `[N]`, in label units.
 * - Any other output (skl2onnx's `label`) is ignored, and not computed.
 *
 * `onnxModelBinding` checks a loaded model's declared inputs and outputs (ONNX Runtime's
 * `inputMetadata` / `outputMetadata`, the structural type `OnnxValueInfo`) against the schema,
 * so a model that breaks the contract is refused at load with a message saying which part.
 */
import type { PreparedSchema } from './prepared-data.js';

/** The model file of an ONNX artifact. */
export const ONNX_MODEL_FILE = 'model.onnx';
/** The one input: the prepared features, float32 `[N, schema.features.length]`. */
export const ONNX_INPUT = 'features';
/** The output read, per task. */
export const OnnxOutput = {
  /** Classification: float32 `[N, classes]`, in `schema.label.classes` order. */
  classification: 'probabilities',
  /** Regression: float32 `[N, 1]` or `[N]`, in label units. */
  regression: 'predictions',
} as const;

/**
 * A model input or output as the runtime declares it (ONNX Runtime's `ValueMetadata` fits):
 * a tensor has an element type and a shape whose dimensions are numbers or symbolic names (an
 * empty shape when the model does not declare one).
 */
export type OnnxValueInfo =
  | { readonly name: string; readonly isTensor: false }
  | {
      readonly name: string;
      readonly isTensor: true;
      readonly type: string;
      readonly shape: ReadonlyArray<number | string>;
    };

/** How to run a model that meets the contract. */
export interface OnnxBinding {
  /** The input fed (`ONNX_INPUT`). */
  input: string;
  /** The output read (`OnnxOutput[task]`). */
  output: string;
  /** Values per row of that output: the class count, or 1 for regression. */
  outputWidth: number;
}

function shapeText(shape: ReadonlyArray<number | string>): string {
  return `[${shape.map((d) => (typeof d === 'number' ? String(d) : JSON.stringify(d))).join(', ')}]`;
}

/** Why the batch axis `dim` cannot take any number of rows, or undefined when it can. */
function fixedBatchProblem(what: string, dim: number | string | undefined): string | undefined {
  if (typeof dim !== 'number' || dim < 0) return undefined;
  return `${what} has a fixed batch dimension of ${dim}; export it with a dynamic first axis (torch.onnx.export dynamic_axes / dynamic_shapes, skl2onnx's None) so that requests can be batched`;
}

/**
 * Checks the declared inputs and outputs of an ONNX model against the contract and `schema`.
 * Returns the binding, or why the model cannot be served (a sentence naming the input or output
 * at fault and what was expected). Dimensions the model leaves symbolic are not checked here;
 * the server's warm-up runs the model and checks what it returns.
 */
export function onnxModelBinding(
  schema: PreparedSchema,
  inputs: readonly OnnxValueInfo[],
  outputs: readonly OnnxValueInfo[],
): { binding: OnnxBinding } | { why: string } {
  const featureCount = schema.features.length;
  const names = (values: readonly OnnxValueInfo[]) =>
    values.map((v) => JSON.stringify(v.name)).join(', ') || 'none';
  const input = inputs.find((i) => i.name === ONNX_INPUT);
  if (!input) {
    return {
      why: `the model has no input named "${ONNX_INPUT}" (its inputs: ${names(inputs)}); a Lathe ONNX model takes one float32 input "${ONNX_INPUT}" of shape [N, ${featureCount}]`,
    };
  }
  if (inputs.length !== 1) {
    return {
      why: `the model has ${inputs.length} inputs (${names(inputs)}); a Lathe ONNX model takes one, "${ONNX_INPUT}"`,
    };
  }
  if (!input.isTensor || input.type !== 'float32') {
    const type = input.isTensor ? input.type : 'not a tensor';
    return { why: `the model's input "${ONNX_INPUT}" is ${type}; it must be float32` };
  }
  if (input.shape.length > 0) {
    const [batch, width] = input.shape;
    if (input.shape.length !== 2 || (typeof width === 'number' && width !== featureCount)) {
      return {
        why: `the model's input "${ONNX_INPUT}" has shape ${shapeText(input.shape)}; schema.json prepares ${featureCount} features per row, so it must be [N, ${featureCount}]`,
      };
    }
    const fixed = fixedBatchProblem(`the model's input "${ONNX_INPUT}"`, batch);
    if (fixed) return { why: fixed };
  }

  const task = schema.task;
  const outputName = OnnxOutput[task];
  const outputWidth = task === 'classification' ? (schema.label.classes ?? []).length : 1;
  const expected =
    task === 'classification'
      ? `float32 [N, ${outputWidth}] (one probability per class of schema.json, in its order)`
      : 'float32 [N, 1] or [N] (the prediction in label units)';
  const output = outputs.find((o) => o.name === outputName);
  if (!output) {
    return {
      why: `a ${task} model must have an output named "${outputName}", ${expected}; its outputs: ${names(outputs)}`,
    };
  }
  if (!output.isTensor) {
    return {
      why: `the model's output "${outputName}" is not a tensor (skl2onnx's ZipMap? export with options={'zipmap': False}); it must be ${expected}`,
    };
  }
  if (output.type !== 'float32') {
    return { why: `the model's output "${outputName}" is ${output.type}; it must be ${expected}` };
  }
  if (output.shape.length > 0) {
    const [batch, width] = output.shape;
    const widthOk =
      task === 'classification'
        ? output.shape.length === 2 && (typeof width !== 'number' || width === outputWidth)
        : output.shape.length === 1 ||
          (output.shape.length === 2 && (typeof width !== 'number' || width === 1));
    if (!widthOk) {
      return {
        why: `the model's output "${outputName}" has shape ${shapeText(output.shape)}; a ${task} model of schema.json must return ${expected}`,
      };
    }
    const fixed = fixedBatchProblem(`the model's output "${outputName}"`, batch);
    if (fixed) return { why: fixed };
  }
  return { binding: { input: ONNX_INPUT, output: outputName, outputWidth } };
}
