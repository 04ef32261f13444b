import { beforeAll, describe, expect, it } from 'vitest';
import { loadTensorflow, type Tf } from '../tensorflow/backend.js';
import { buildLayersModel, foldTargetScaling } from './layers-model.js';
import { NativeOps, NativeParameters } from './native-ops.js';
import {
  type Activation,
  type DenseNetwork,
  forward,
  largestMatMul,
  type OptimizerName,
  type ParameterStore,
  type Tensor,
  type TensorOps,
  trainStep,
  weightShapes,
} from './network.js';
import { PortableOps, PortableParameters } from './portable-ops.js';

/** Element-wise toBeCloseTo. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, digits: number) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) expect(actual[i]).toBeCloseTo(expected[i]!, digits);
}

/** A store that hands out fixed weights and records the gradients it is given. */
function recordingStore(tf: Tf, weights: Tensor[]): ParameterStore & { grads: number[][] } {
  const store = {
    grads: [] as number[][],
    read: () => weights.map((w) => w.clone()),
    update: (grads: Tensor[]) => {
      store.grads = grads.map((g) => Array.from(g.dataSync()));
    },
    assign: () => {},
    dispose: () => tf.dispose(weights),
  };
  return store;
}

/** The network's mean loss written with plain tfjs ops, for tfjs' autodiff to differentiate. */
function referenceLoss(
  tf: Tf,
  network: DenseNetwork,
  weights: Tensor[],
  x: Tensor,
  targets: Tensor,
  masks: Tensor[],
): Tensor {
  let a = x;
  const last = network.units.length - 1;
  for (let layer = 0; layer <= last; layer++) {
    const z = tf.add(tf.matMul(a as never, weights[2 * layer] as never), weights[2 * layer + 1]!);
    if (layer === last) {
      a = z;
      break;
    }
    const activate = {
      relu: tf.relu,
      tanh: tf.tanh,
      sigmoid: tf.sigmoid,
      elu: tf.elu,
      selu: tf.selu,
    }[network.activation];
    a = activate(z);
    if (masks[layer]) a = tf.mul(a, masks[layer]!);
  }
  return network.task === 'classification'
    ? tf.losses.softmaxCrossEntropy(targets, a)
    : tf.losses.meanSquaredError(targets, a);
}

/** Random weights, inputs and targets of a small network. */
function problem(tf: Tf, network: DenseNetwork, rows: number) {
  const weights = weightShapes(network).map((shape, i) =>
    tf.randomNormal(shape, 0, 0.5, 'float32', i + 1),
  );
  const x = tf.randomNormal([rows, network.inputs], 0, 1, 'float32', 99);
  const classes = network.units.at(-1)!;
  const labels = tf.tensor1d(
    Array.from({ length: rows }, (_, i) => i % classes),
    'int32',
  );
  const oneHot = tf.oneHot(labels as never, Math.max(classes, 2)).toFloat();
  const regressionTargets = tf.randomNormal([rows, 1], 0, 1, 'float32', 7);
  return { weights, x, labels, oneHot, regressionTargets };
}

describe('largestMatMul', () => {
  it('is the batch times the largest fan-in x fan-out of the layers', () => {
    const network: DenseNetwork = {
      inputs: 20,
      units: [64, 32, 3],
      activation: 'relu',
      dropout: 0,
      task: 'classification',
    };
    expect(largestMatMul(network, 512)).toBe(512 * 64 * 32);
    expect(largestMatMul({ ...network, inputs: 100 }, 10)).toBe(10 * 100 * 64);
  });
});

const backends: [string, () => Promise<{ tf: Tf; ops: TensorOps }>][] = [
  [
    'native TensorFlow',
    async () => {
      const { tf } = await loadTensorflow({ choice: 'tensorflow', gpus: 0 });
      return { tf, ops: new NativeOps(tf) };
    },
  ],
  [
    'plain JavaScript',
    async () => {
      const { tf } = await loadTensorflow({ choice: 'cpu', gpus: 0 });
      return { tf, ops: new PortableOps(tf) };
    },
  ],
];

describe.each(backends)('the dense network on %s', (_, load) => {
  let tf: Tf;
  let ops: TensorOps;
  beforeAll(async () => {
    ({ tf, ops } = await load());
  });

  const activations: Activation[] = ['relu', 'tanh', 'sigmoid', 'elu', 'selu'];
  it.each(
    activations.flatMap(
      (a) =>
        [
          [a, 'classification'],
          [a, 'regression'],
        ] as const,
    ),
  )('computes the gradients tfjs autodiff computes (%s, %s)', (activation, task) => {
    const network: DenseNetwork = {
      inputs: 5,
      units: [7, 4, task === 'classification' ? 3 : 1],
      activation,
      dropout: 0,
      task,
    };
    const p = problem(tf, network, 9);
    const targets = task === 'classification' ? p.oneHot : p.regressionTargets;
    const expected = tf
      .grads((...w: Tensor[]) => referenceLoss(tf, network, w, p.x, targets, []))(p.weights)
      .map((g) => Array.from(g.dataSync()));
    const store = recordingStore(tf, p.weights);
    const loss = tf.tidy(
      () =>
        trainStep(
          network,
          ops,
          store,
          p.x,
          task === 'classification'
            ? { labels: p.labels, oneHot: p.oneHot }
            : { labels: p.regressionTargets },
          1,
          0,
        ).lossSum.dataSync()[0]!,
    );
    const expectedLoss = referenceLoss(tf, network, p.weights, p.x, targets, []).dataSync()[0]!;
    expect(loss / 9).toBeCloseTo(expectedLoss, 4);
    for (const [i, g] of store.grads.entries()) expectClose(g, expected[i]!, 4);
  });

  it('back-propagates through dropout with the mask of the forward pass', () => {
    const network: DenseNetwork = {
      inputs: 4,
      units: [6, 2],
      activation: 'relu',
      dropout: 0.5,
      task: 'classification',
    };
    const p = problem(tf, network, 8);
    const mask = ops.dropoutMask([8, 6], 0.5, 3, 0);
    const values = new Set(Array.from(mask.dataSync()));
    expect([...values].every((v) => v === 0 || v === 2)).toBe(true);
    const fixedMask: TensorOps = Object.assign(Object.create(ops), {
      dropoutMask: () => mask.clone(),
    });
    const expected = tf
      .grads((...w: Tensor[]) => referenceLoss(tf, network, w, p.x, p.oneHot, [mask]))(p.weights)
      .map((g) => Array.from(g.dataSync()));
    const store = recordingStore(tf, p.weights);
    tf.tidy(() => {
      trainStep(network, fixedMask, store, p.x, { labels: p.labels, oneHot: p.oneHot }, 1, 0);
    });
    for (const [i, g] of store.grads.entries()) expectClose(g, expected[i]!, 4);
  });

  it('draws a different dropout mask per step, the same for the same seed and step', () => {
    const a = Array.from(ops.dropoutMask([50, 20], 0.3, 5, 1).dataSync());
    const b = Array.from(ops.dropoutMask([50, 20], 0.3, 5, 1).dataSync());
    const c = Array.from(ops.dropoutMask([50, 20], 0.3, 5, 2).dataSync());
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const dropped = a.filter((v) => v === 0).length / a.length;
    expect(dropped).toBeGreaterThan(0.2);
    expect(dropped).toBeLessThan(0.4);
  });

  it('saves a LayersModel whose outputs are the softmax of the forward pass', () => {
    const network: DenseNetwork = {
      inputs: 3,
      units: [5, 3],
      activation: 'tanh',
      dropout: 0.2,
      task: 'classification',
    };
    const model = buildLayersModel(tf, network, 11);
    const p = problem(tf, network, 6);
    model.setWeights(p.weights);
    const predicted = Array.from((model.predict(p.x) as Tensor).dataSync());
    const logits = forward(network, ops, p.weights, p.x);
    expectClose(predicted, (tf.softmax as (t: Tensor) => Tensor)(logits).dataSync(), 5);
    model.dispose();
  });

  it('folds the target scaling into the last layer of a regression model', () => {
    const network: DenseNetwork = {
      inputs: 3,
      units: [4, 1],
      activation: 'relu',
      dropout: 0,
      task: 'regression',
    };
    const model = buildLayersModel(tf, network, 11);
    const p = problem(tf, network, 6);
    model.setWeights(foldTargetScaling(tf, p.weights, { mean: 1000, std: 50 }));
    const predicted = Array.from((model.predict(p.x) as Tensor).dataSync());
    const standardised = Array.from(forward(network, ops, p.weights, p.x).dataSync());
    expectClose(
      predicted,
      standardised.map((v) => v * 50 + 1000),
      2,
    );
    model.dispose();
  });
});

describe('the optimizers', () => {
  let tf: Tf;
  beforeAll(async () => {
    ({ tf } = await loadTensorflow({ choice: 'tensorflow', gpus: 0 }));
  });

  it.each(['adam', 'sgd', 'rmsprop', 'adagrad'] as OptimizerName[])(
    "%s: TensorFlow's fused op and the portable loop take the same steps",
    (optimizer) => {
      const initial = [
        tf.randomNormal([4, 3], 0, 1, 'float32', 1),
        tf.randomNormal([3], 0, 1, 'float32', 2),
      ];
      const native = new NativeParameters(tf, initial, optimizer, 0.01);
      const portable = new PortableParameters(tf, initial, optimizer, 0.01);
      for (let step = 0; step < 3; step++) {
        const grads = [
          tf.randomNormal([4, 3], 0, 1, 'float32', 10 + step),
          tf.randomNormal([3], 0, 1, 'float32', 20 + step),
        ];
        native.update(grads);
        portable.update(grads);
      }
      const [a, b] = [native.read(), portable.read()];
      expect(Array.from(a[0]!.dataSync())).not.toEqual(Array.from(initial[0]!.dataSync()));
      for (const [i, w] of a.entries()) expectClose(w.dataSync(), b[i]!.dataSync(), 5);
      native.dispose();
      portable.dispose();
    },
  );

  it('Adam matches a hand-computed first step', () => {
    // One step of Adam moves each weight by lr * sign(grad) (m/sqrt(v) = g/|g| at step 1).
    const portable = new PortableParameters(tf, [tf.tensor1d([1, 1])], 'adam', 0.1);
    portable.update([tf.tensor1d([0.5, -2])]);
    const [w] = portable.read();
    const [a, b] = Array.from(w!.dataSync());
    expect(a).toBeCloseTo(0.9, 5);
    expect(b).toBeCloseTo(1.1, 5);
  });
});
