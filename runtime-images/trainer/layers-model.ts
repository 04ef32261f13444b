/**
 * The saved form of a dense network: a TensorFlow.js LayersModel, which the inference server
 * (or any TensorFlow.js program) loads with `tf.loadLayersModel`. Its outputs follow the
 * artifact's convention (`ModelFile` in the contract): softmax probabilities over the schema's
 * classes for classification, the label in its own units for regression.
 *
 * Training works on the same weights (kernel then bias of each Dense layer); the regression
 * target is standardised for training, and `foldTargetScaling` folds the inverse into the last
 * layer so the saved model predicts in the label's units.
 */
import type * as tfjs from '@tensorflow/tfjs';
import type { BuiltinModel } from '../../operator/src/api/trainingjob.js';
import type { Tf } from '../tensorflow/backend.js';
import type { DenseNetwork, Tensor } from './network.js';

/** The network a built-in model describes, for `inputs` features and `outputs` output units. */
export function denseNetworkOf(
  model: BuiltinModel,
  task: 'classification' | 'regression',
  inputs: number,
  outputs: number,
): DenseNetwork {
  const hidden = model.architecture === 'mlp' ? (model.layers ?? []) : [];
  return {
    inputs,
    units: [...hidden, outputs],
    activation: model.activation,
    dropout: hidden.length > 0 ? model.dropout : 0,
    task,
  };
}

/**
 * The LayersModel of `network`, its weights initialised from `seed` (Glorot-uniform kernels,
 * zero biases, as Keras' Dense does).
 */
export function buildLayersModel(tf: Tf, network: DenseNetwork, seed: number): tfjs.Sequential {
  const model = tf.sequential();
  const last = network.units.length - 1;
  network.units.forEach((units, layer) => {
    const output = layer === last;
    model.add(
      tf.layers.dense({
        units,
        ...(layer === 0 ? { inputShape: [network.inputs] } : {}),
        activation: output
          ? network.task === 'classification'
            ? 'softmax'
            : 'linear'
          : network.activation,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + layer }),
        biasInitializer: 'zeros',
        name: output ? 'output' : `hidden_${layer + 1}`,
      }),
    );
    if (!output && network.dropout > 0) {
      model.add(tf.layers.dropout({ rate: network.dropout, name: `dropout_${layer + 1}` }));
    }
  });
  return model;
}

/** How the regression target was standardised for training: `(y - mean) / std`. */
export interface TargetScaling {
  mean: number;
  std: number;
}

/** The mean and standard deviation of `targets` (std 1 for a constant target). */
export function targetScalingOf(targets: Float32Array | Int32Array): TargetScaling {
  let mean = 0;
  for (const t of targets) mean += t;
  mean /= targets.length;
  let variance = 0;
  for (const t of targets) variance += (t - mean) ** 2;
  const std = Math.sqrt(variance / targets.length);
  return { mean, std: std > 0 ? std : 1 };
}

/**
 * The weights with the last layer mapping back to the label's units: kernel * std and
 * bias * std + mean, so `model(x) = std * f(x) + mean` with no extra layer.
 */
export function foldTargetScaling(tf: Tf, weights: Tensor[], scaling: TargetScaling): Tensor[] {
  return tf.tidy(() => {
    const folded = [...weights];
    const kernel = weights.length - 2;
    folded[kernel] = tf.mul(weights[kernel]!, scaling.std);
    folded[kernel + 1] = tf.add(tf.mul(weights[kernel + 1]!, scaling.std), scaling.mean);
    return folded;
  });
}
