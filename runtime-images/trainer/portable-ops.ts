/**
 * The dense network's kernels and optimizers composed from TensorFlow.js ops, for the backends
 * without TensorFlow's fused kernels (WebAssembly, plain JavaScript). The optimizers follow the
 * formulas of TensorFlow's training ops exactly (see `native-ops.ts`), so a model trains the
 * same whichever backend runs it, up to float rounding.
 */
import type { Tf } from '../tensorflow/backend.js';
import {
  type Activation,
  type LossResult,
  type OptimizerName,
  optimizerDefaults,
  type ParameterStore,
  type Tensor,
  type TensorOps,
} from './network.js';

/** tfjs's SELU constants (the same as TensorFlow's). */
const SELU_SCALE = 1.0507009873554805;
const SELU_SCALE_ALPHA = 1.7580993408473766;

export class PortableOps implements TensorOps {
  constructor(private readonly tf: Tf) {}

  affine(x: Tensor, kernel: Tensor, bias: Tensor): Tensor {
    return this.tf.add(this.tf.matMul(x as never, kernel as never), bias);
  }

  activate(kind: Activation, z: Tensor): Tensor {
    const tf = this.tf;
    switch (kind) {
      case 'relu':
        return tf.relu(z);
      case 'tanh':
        return tf.tanh(z);
      case 'sigmoid':
        return tf.sigmoid(z);
      case 'elu':
        return tf.elu(z);
      case 'selu':
        return tf.selu(z);
    }
  }

  activationGrad(kind: Activation, dy: Tensor, y: Tensor): Tensor {
    const tf = this.tf;
    switch (kind) {
      case 'relu':
        return tf.mul(dy, tf.step(y));
      case 'tanh':
        return tf.mul(dy, tf.sub(1, tf.square(y)));
      case 'sigmoid':
        return tf.mul(dy, tf.mul(y, tf.sub(1, y)));
      case 'elu':
        // y > 0: 1; else exp(z) = y + 1.
        return tf.mul(dy, tf.where(tf.greater(y, 0), tf.onesLike(y), tf.add(y, 1)));
      case 'selu':
        // y > 0: scale; else scale * alpha * exp(z) = y + scale * alpha.
        return tf.mul(
          dy,
          tf.where(tf.greater(y, 0), tf.fill(y.shape, SELU_SCALE), tf.add(y, SELU_SCALE_ALPHA)),
        );
    }
  }

  inputGrad(dz: Tensor, kernel: Tensor): Tensor {
    return this.tf.matMul(dz as never, kernel as never, false, true);
  }

  kernelGrad(x: Tensor, dz: Tensor): Tensor {
    return this.tf.matMul(x as never, dz as never, true, false);
  }

  biasGrad(dz: Tensor): Tensor {
    return this.tf.sum(dz, 0);
  }

  dropoutMask(shape: [number, number], rate: number, seed: number, counter: number): Tensor {
    const tf = this.tf;
    const uniform = tf.randomUniform(shape, 0, 1, 'float32', `${seed}:${counter}`);
    return tf.mul(tf.cast(tf.greaterEqual(uniform, rate), 'float32'), 1 / (1 - rate));
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.tf.mul(a, b);
  }

  softmaxCrossEntropy(logits: Tensor, labels: Tensor, oneHot: Tensor | undefined): LossResult {
    const tf = this.tf;
    const targets = oneHot ?? tf.oneHot(labels as never, logits.shape[1]!);
    const logProbabilities = tf.logSoftmax(logits);
    const lossSum = tf.neg(tf.sum(tf.mul(targets, logProbabilities)));
    const predicted = tf.argMax(logits, 1);
    const correct = tf.sum(tf.cast(tf.equal(predicted, labels), 'float32'));
    const grad = tf.div(tf.sub(tf.exp(logProbabilities), targets), logits.shape[0]!);
    return { lossSum, correct, grad };
  }

  squaredError(predictions: Tensor, targets: Tensor): LossResult {
    const tf = this.tf;
    const error = tf.sub(predictions, targets);
    return {
      lossSum: tf.sum(tf.square(error)),
      grad: tf.mul(error, 2 / predictions.shape[0]!),
    };
  }
}

/**
 * The weights in JavaScript arrays, updated by the optimizer in one loop per weight tensor: on
 * these backends an op dispatch costs more than the arithmetic of a tabular model's update, and
 * the optimizer would take ~12 dispatches per weight tensor. Each step reads the gradients out
 * and hands fresh weight tensors to the next.
 */
export class PortableParameters implements ParameterStore {
  private readonly shapes: number[][];
  private values: Float32Array[];
  private readonly slots: Float32Array[][];
  private step = 0;

  constructor(
    private readonly tf: Tf,
    initial: Tensor[],
    private readonly optimizer: OptimizerName,
    private readonly learningRate: number,
  ) {
    this.shapes = initial.map((w) => w.shape);
    this.values = initial.map((w) => Float32Array.from(w.dataSync() as Float32Array));
    this.slots = this.values.map((w) => {
      switch (optimizer) {
        case 'adam':
        case 'rmsprop':
          return [new Float32Array(w.length), new Float32Array(w.length)];
        case 'adagrad':
          return [new Float32Array(w.length).fill(optimizerDefaults.adagrad.initialAccumulator)];
        default:
          return [];
      }
    });
  }

  read(): Tensor[] {
    // A copy each time: a tensor must never see its values change under it.
    return this.values.map((w, i) => this.tf.tensor(w.slice(), this.shapes[i]!, 'float32'));
  }

  update(grads: Tensor[]): void {
    this.step++;
    const lr = this.learningRate;
    grads.forEach((gradTensor, i) => {
      const g = gradTensor.dataSync() as Float32Array;
      const w = this.values[i]!;
      const [s0, s1] = this.slots[i]!;
      switch (this.optimizer) {
        case 'sgd':
          for (let k = 0; k < w.length; k++) w[k]! -= lr * g[k]!;
          break;
        case 'adam': {
          const { beta1, beta2, epsilon } = optimizerDefaults.adam;
          // TensorFlow's ApplyAdam: alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t).
          const alpha = (lr * Math.sqrt(1 - beta2 ** this.step)) / (1 - beta1 ** this.step);
          const m = s0!;
          const v = s1!;
          for (let k = 0; k < w.length; k++) {
            m[k]! += (g[k]! - m[k]!) * (1 - beta1);
            v[k]! += (g[k]! * g[k]! - v[k]!) * (1 - beta2);
            w[k]! -= (m[k]! * alpha) / (Math.sqrt(v[k]!) + epsilon);
          }
          break;
        }
        case 'rmsprop': {
          const { rho, momentum, epsilon } = optimizerDefaults.rmsprop;
          // TensorFlow's ApplyRMSProp.
          const ms = s0!;
          const mom = s1!;
          for (let k = 0; k < w.length; k++) {
            ms[k]! += (g[k]! * g[k]! - ms[k]!) * (1 - rho);
            mom[k] = momentum * mom[k]! + (lr * g[k]!) / Math.sqrt(ms[k]! + epsilon);
            w[k]! -= mom[k]!;
          }
          break;
        }
        case 'adagrad': {
          // TensorFlow's ApplyAdagradV2.
          const accumulator = s0!;
          const { epsilon } = optimizerDefaults.adagrad;
          for (let k = 0; k < w.length; k++) {
            accumulator[k]! += g[k]! * g[k]!;
            w[k]! -= (lr * g[k]!) / (Math.sqrt(accumulator[k]!) + epsilon);
          }
          break;
        }
      }
    });
  }

  assign(weights: Tensor[]): void {
    this.values = weights.map((w) => Float32Array.from(w.dataSync() as Float32Array));
  }

  dispose(): void {}
}
