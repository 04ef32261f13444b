/**
 * A dense network (the MLPs Lathe's TensorFlow.js trainer builds) written as an ONNX model that
 * meets Lathe's contract (`contract/onnx-artifact.ts`): `Gemm` per layer, `Relu` between them,
 * `Softmax` at the end of a classifier. The tests serve it without a Python environment, and
 * `bench:serve` runs the very weights of its TensorFlow.js MLP on ONNX Runtime.
 *
 * The model is encoded straight to ONNX's protobuf (`onnx.proto`, IR version 8, opset 13), field
 * numbers as in the ONNX repository's `onnx/onnx.proto`; only what these graphs use is written.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { ONNX_INPUT, OnnxOutput } from '../../contract/onnx-artifact.js';

/** One dense layer: `y = activation(x · kernel + bias)`. */
export interface DenseLayer {
  /** `inputs × units`, row-major (TensorFlow.js's kernel layout). */
  kernel: Float32Array;
  bias: Float32Array;
  inputs: number;
  units: number;
  activation: 'relu' | 'softmax' | 'linear';
}

// Protobuf wire format: varint (0), 64-bit (1), length-delimited (2), 32-bit (5).
function varint(value: number): number[] {
  const bytes: number[] = [];
  let v = BigInt(value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v > 0n);
  return bytes;
}
const intField = (field: number, value: number): number[] => [
  ...varint(field << 3),
  ...varint(value),
];
function bytesField(field: number, value: Uint8Array | number[]): number[] {
  return [...varint((field << 3) | 2), ...varint(value.length), ...value];
}
const stringField = (field: number, value: string): number[] =>
  bytesField(field, [...Buffer.from(value, 'utf8')]);

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTRIBUTE_INT = 2; // AttributeProto.AttributeType.INT

function tensorProto(name: string, dims: number[], values: Float32Array): number[] {
  const raw = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return [
    ...dims.flatMap((d) => intField(1, d)),
    ...intField(2, FLOAT),
    ...stringField(8, name),
    ...bytesField(9, raw),
  ];
}

/** A float32 tensor value of shape `[N, width]` (N symbolic) or `[N]` without a width. */
function valueInfo(name: string, width: number | undefined): number[] {
  const dims = [bytesField(1, stringField(2, 'N'))];
  if (width !== undefined) dims.push(bytesField(1, intField(1, width)));
  const shape = dims.flat();
  const tensorType = [...intField(1, FLOAT), ...bytesField(2, shape)];
  return [...stringField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

function node(
  op: string,
  inputs: string[],
  outputs: string[],
  attributes: number[][] = [],
): number[] {
  return [
    ...inputs.flatMap((i) => stringField(1, i)),
    ...outputs.flatMap((o) => stringField(2, o)),
    ...stringField(3, `${op}_${outputs[0]}`),
    ...stringField(4, op),
    ...attributes.flatMap((a) => bytesField(5, a)),
  ];
}

const intAttribute = (name: string, value: number): number[] => [
  ...stringField(1, name),
  ...intField(3, value),
  ...intField(20, ATTRIBUTE_INT),
];

/**
 * The ONNX model of `layers` applied in order: input `features` `[N, layers[0].inputs]`, output
 * `probabilities` (`task` classification: the last layer is a softmax) or `predictions`
 * `[N, 1]` (regression). Throws when consecutive layers do not fit.
 */
export function denseNetworkOnnx(
  layers: readonly DenseLayer[],
  task: 'classification' | 'regression',
): Uint8Array {
  if (layers.length === 0) throw new Error('a dense network needs at least one layer');
  const nodes: number[][] = [];
  const initializers: number[][] = [];
  let current: string = ONNX_INPUT;
  layers.forEach((layer, i) => {
    if (layer.kernel.length !== layer.inputs * layer.units || layer.bias.length !== layer.units) {
      throw new Error(
        `layer ${i}: the kernel or bias does not match ${layer.inputs}×${layer.units}`,
      );
    }
    if (i > 0 && layers[i - 1]!.units !== layer.inputs) {
      throw new Error(
        `layer ${i} takes ${layer.inputs} inputs; layer ${i - 1} has ${layers[i - 1]!.units} units`,
      );
    }
    const last = i === layers.length - 1;
    const output = OnnxOutput[task];
    initializers.push(tensorProto(`kernel_${i}`, [layer.inputs, layer.units], layer.kernel));
    initializers.push(tensorProto(`bias_${i}`, [layer.units], layer.bias));
    const linear = last && layer.activation === 'linear' ? output : `dense_${i}`;
    nodes.push(node('Gemm', [current, `kernel_${i}`, `bias_${i}`], [linear]));
    current = linear;
    if (layer.activation === 'linear') return;
    const activated = last ? output : `${layer.activation}_${i}`;
    nodes.push(
      layer.activation === 'relu'
        ? node('Relu', [current], [activated])
        : node('Softmax', [current], [activated], [intAttribute('axis', 1)]),
    );
    current = activated;
  });
  const outputWidth = layers[layers.length - 1]!.units;
  const graph = [
    ...nodes.flatMap((n) => bytesField(1, n)),
    ...stringField(2, 'lathe_dense'),
    ...initializers.flatMap((t) => bytesField(5, t)),
    ...bytesField(11, valueInfo(ONNX_INPUT, layers[0]!.inputs)),
    ...bytesField(12, valueInfo(OnnxOutput[task], outputWidth)),
  ];
  const model = [
    ...intField(1, 8), // ir_version
    ...stringField(2, 'lathe'),
    ...bytesField(7, graph),
    ...bytesField(8, [...stringField(1, ''), ...intField(2, 13)]), // opset_import
  ];
  return Uint8Array.from(model);
}

/**
 * The dense layers of a TensorFlow.js sequential model of `dense` layers (relu, softmax or
 * linear), with their trained weights: what `denseNetworkOnnx` writes. Throws for any other
 * layer or activation.
 */
export function denseLayersOf(model: tfjs.LayersModel): DenseLayer[] {
  return model.layers.map((layer) => {
    const config = layer.getConfig() as { activation?: string };
    const activation = config.activation ?? 'linear';
    if (layer.getClassName() !== 'Dense' || !['relu', 'softmax', 'linear'].includes(activation)) {
      throw new Error(
        `layer ${layer.name} is ${layer.getClassName()} (${activation}); only Dense layers with relu, softmax or linear activations are written`,
      );
    }
    const [kernel, bias] = layer.getWeights();
    const [inputs, units] = kernel!.shape as [number, number];
    return {
      kernel: kernel!.dataSync() as Float32Array,
      bias: bias!.dataSync() as Float32Array,
      inputs,
      units,
      activation: activation as DenseLayer['activation'],
    };
  });
}
