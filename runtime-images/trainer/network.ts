/**
 * The math of one training step of a dense network (`linear`, `mlp`), written once against two
 * small interfaces that each backend family implements:
 *
 * - `TensorOps`: the forward and backward kernels of a dense layer, an activation, dropout and
 *   the loss. `native-ops.ts` maps each to one TensorFlow op (MatMul, BiasAdd, ReluGrad,
 *   SparseSoftmaxCrossEntropyWithLogits, ...) through tfjs-node; `portable-ops.ts` composes
 *   them from TensorFlow.js ops for WebAssembly and plain JavaScript.
 * - `ParameterStore`: the weights and the optimizer. Natively they are TensorFlow resource
 *   variables updated by one fused op each (ResourceApplyAdam, ...), as Keras does.
 *
 * Why not `model.fit` or `tf.variableGrads`: at the batch sizes tabular models train with,
 * a step costs its op dispatches, not its arithmetic. tfjs-layers' fit records a tape,
 * re-derives the gradient graph and runs the optimizer as ~15 element-wise ops per weight
 * tensor, about 150 dispatches a step for a two-layer MLP; this step makes about 35, and the
 * result is the same model (`layers-model.ts` puts these weights into a tfjs LayersModel, the
 * saved artifact, and a test checks its outputs equal this forward pass). Gradients are the
 * textbook ones of a dense stack and are checked against TensorFlow.js autodiff in the tests.
 */
import type * as tfjs from '@tensorflow/tfjs';

export type Tensor = tfjs.Tensor;
export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'elu' | 'selu';
export type OptimizerName = 'adam' | 'sgd' | 'rmsprop' | 'adagrad';

/** A dense network: `units` of each layer in order, the last being the output layer. */
export interface DenseNetwork {
  inputs: number;
  /** Units of every layer, hidden layers first, then the output layer. */
  units: number[];
  activation: Activation;
  dropout: number;
  task: 'classification' | 'regression';
}

/** The shapes of the weights, in LayersModel order: kernel then bias of each layer. */
export function weightShapes(network: DenseNetwork): number[][] {
  const shapes: number[][] = [];
  let inputs = network.inputs;
  for (const units of network.units) {
    shapes.push([inputs, units], [units]);
    inputs = units;
  }
  return shapes;
}

/** Multiply-adds of the largest matmul of a training step at `batchSize` rows. */
export function largestMatMul(network: DenseNetwork, batchSize: number): number {
  let largest = 0;
  let inputs = network.inputs;
  for (const units of network.units) {
    largest = Math.max(largest, batchSize * inputs * units);
    inputs = units;
  }
  return largest;
}

/** A batch's loss, summed over its rows, and what the optimizer descends (mean loss). */
export interface LossResult {
  /** Scalar: the sum over the batch's rows of the loss. */
  lossSum: Tensor;
  /** Scalar (classification): rows whose most probable class is the true one. */
  correct?: Tensor;
  /** dL/d(output) of the batch's mean loss. */
  grad: Tensor;
}

/** The kernels of a dense network on one backend. Every method returns a new tensor. */
export interface TensorOps {
  /** `x @ kernel + bias`. */
  affine(x: Tensor, kernel: Tensor, bias: Tensor): Tensor;
  activate(kind: Activation, z: Tensor): Tensor;
  /** dL/dz from dL/dy and y = activate(z). */
  activationGrad(kind: Activation, dy: Tensor, y: Tensor): Tensor;
  /** `dz @ kernel^T`: the gradient with respect to a layer's input. */
  inputGrad(dz: Tensor, kernel: Tensor): Tensor;
  /** `x^T @ dz`: the gradient with respect to a layer's kernel. */
  kernelGrad(x: Tensor, dz: Tensor): Tensor;
  /** Column sums of dz: the gradient with respect to a layer's bias. */
  biasGrad(dz: Tensor): Tensor;
  /** An inverted-dropout mask of `shape`: 0 with probability `rate`, else 1 / (1 - rate). */
  dropoutMask(shape: [number, number], rate: number, seed: number, counter: number): Tensor;
  mul(a: Tensor, b: Tensor): Tensor;
  /**
   * Softmax cross-entropy of `logits` against class indices `labels` (int32). `oneHot` is the
   * same labels one-hot encoded, for backends that need them (the portable ones).
   */
  softmaxCrossEntropy(logits: Tensor, labels: Tensor, oneHot: Tensor | undefined): LossResult;
  /** Squared error of `predictions` ([rows, 1]) against `targets` ([rows, 1]). */
  squaredError(predictions: Tensor, targets: Tensor): LossResult;
}

/** The network's weights and the optimizer that updates them. */
export interface ParameterStore {
  /** The current weights, kernel then bias per layer, as new tensors. */
  read(): Tensor[];
  /** One optimizer step with `grads` (same order as `read`). */
  update(grads: Tensor[]): void;
  /** Replaces the weights (restoring the best epoch's); the optimizer's state is kept. */
  assign(weights: Tensor[]): void;
  dispose(): void;
}

/** The batch's targets: class indices (and one-hot), or regression targets [rows, 1]. */
export interface BatchTargets {
  labels: Tensor;
  oneHot?: Tensor;
}

/** The output layer's values (logits, or standardised predictions) of `x`, without dropout. */
export function forward(
  network: DenseNetwork,
  ops: TensorOps,
  weights: Tensor[],
  x: Tensor,
): Tensor {
  let a = x;
  const last = network.units.length - 1;
  for (let layer = 0; layer <= last; layer++) {
    const z = ops.affine(a, weights[2 * layer]!, weights[2 * layer + 1]!);
    a = layer < last ? ops.activate(network.activation, z) : z;
  }
  return a;
}

/** The loss of the network's output against the targets (the task decides which). */
export function lossOf(
  network: DenseNetwork,
  ops: TensorOps,
  output: Tensor,
  targets: BatchTargets,
): LossResult {
  return network.task === 'classification'
    ? ops.softmaxCrossEntropy(output, targets.labels, targets.oneHot)
    : ops.squaredError(output, targets.labels);
}

/**
 * One optimisation step on a batch. Run it inside `tf.tidy` (intermediates are not disposed
 * here); keep the returned scalars to sum the epoch's loss and accuracy.
 */
export function trainStep(
  network: DenseNetwork,
  ops: TensorOps,
  parameters: ParameterStore,
  x: Tensor,
  targets: BatchTargets,
  dropoutSeed: number,
  step: number,
): { lossSum: Tensor; correct?: Tensor } {
  const weights = parameters.read();
  const last = network.units.length - 1;
  // inputs[l]: what layer l multiplied (after dropout); outputs[l]: its activation (hidden).
  const inputs: Tensor[] = [];
  const outputs: Tensor[] = [];
  const masks: (Tensor | undefined)[] = [];
  let a = x;
  for (let layer = 0; layer <= last; layer++) {
    inputs.push(a);
    const z = ops.affine(a, weights[2 * layer]!, weights[2 * layer + 1]!);
    if (layer === last) {
      a = z;
      break;
    }
    const y = ops.activate(network.activation, z);
    outputs.push(y);
    if (network.dropout > 0) {
      const mask = ops.dropoutMask(
        [x.shape[0]!, network.units[layer]!],
        network.dropout,
        dropoutSeed,
        step * network.units.length + layer,
      );
      masks.push(mask);
      a = ops.mul(y, mask);
    } else {
      masks.push(undefined);
      a = y;
    }
  }

  const loss = lossOf(network, ops, a, targets);
  const grads: Tensor[] = new Array(weights.length);
  let dz = loss.grad;
  for (let layer = last; layer >= 0; layer--) {
    grads[2 * layer] = ops.kernelGrad(inputs[layer]!, dz);
    grads[2 * layer + 1] = ops.biasGrad(dz);
    if (layer === 0) break;
    let da = ops.inputGrad(dz, weights[2 * layer]!);
    const mask = masks[layer - 1];
    if (mask) da = ops.mul(da, mask);
    dz = ops.activationGrad(network.activation, da, outputs[layer - 1]!);
  }
  // Let go of the weights read for this step before updating them: TensorFlow copies a variable
  // it updates while another tensor still holds its buffer.
  for (const w of weights) w.dispose();
  parameters.update(grads);
  return loss.correct
    ? { lossSum: loss.lossSum, correct: loss.correct }
    : { lossSum: loss.lossSum };
}

/** Hyperparameters of the optimizers, as Keras defaults them. */
export const optimizerDefaults = {
  adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  rmsprop: { rho: 0.9, momentum: 0, epsilon: 1e-7 },
  adagrad: { initialAccumulator: 0.1, epsilon: 1e-7 },
} as const;
