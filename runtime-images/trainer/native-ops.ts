/**
 * The dense network's kernels and optimizers on native TensorFlow (tfjs-node, CPU or GPU): each
 * kernel is one TensorFlow op, run through the backend's `executeSingleOutput`, the same entry
 * tfjs-node's own kernels use. The weights are TensorFlow resource variables, each updated by
 * one fused op (ResourceApplyAdam, ResourceApplyGradientDescent, ResourceApplyRMSProp,
 * ResourceApplyAdagradV2), which is what Keras runs. See `network.ts` for why.
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

/** What this module uses of tfjs-node's backend (`NodeJSKernelBackend`). */
interface NodeBackend {
  binding: Record<
    | 'TF_ATTR_TYPE'
    | 'TF_ATTR_BOOL'
    | 'TF_ATTR_INT'
    | 'TF_ATTR_STRING'
    | 'TF_ATTR_SHAPE'
    | 'TF_FLOAT'
    | 'TF_INT32'
    | 'TF_BOOL',
    number
  >;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: Tensor[]): Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: Tensor[], count: number): Tensor[];
}

interface OpAttr {
  name: string;
  type: number;
  value: boolean | number | string | number[];
}

/** TensorFlow's name for a variable owned by its handle (freed with it). */
const ANONYMOUS_RESOURCE = 'cd2c89b7-88b7-44c8-ad83-06c2a9158347';

/** Whether `tf` runs on tfjs-node (the backends `tensorflow` and `tensorflow-gpu`). */
export function isNativeBackend(tf: Tf): boolean {
  const backend = tf.backend() as unknown as Partial<NodeBackend>;
  return typeof backend.executeSingleOutput === 'function' && backend.binding !== undefined;
}

function nodeBackend(tf: Tf): NodeBackend {
  if (!isNativeBackend(tf)) throw new Error(`backend ${tf.getBackend()} is not tfjs-node`);
  return tf.backend() as unknown as NodeBackend;
}

/** Attribute builders and op runners shared by the kernels and the parameter store. */
class Native {
  readonly backend: NodeBackend;
  readonly float: OpAttr;
  readonly floatDtype: OpAttr;
  readonly noLocking: OpAttr;
  private readonly scalars = new Map<number, Tensor>();

  constructor(readonly tf: Tf) {
    this.backend = nodeBackend(tf);
    this.float = this.type('T', 'float32');
    this.floatDtype = this.type('dtype', 'float32');
    this.noLocking = this.bool('use_locking', false);
  }

  type(name: string, dtype: 'float32' | 'int32' | 'bool'): OpAttr {
    const b = this.backend.binding;
    const value = dtype === 'float32' ? b.TF_FLOAT : dtype === 'int32' ? b.TF_INT32 : b.TF_BOOL;
    return { name, type: b.TF_ATTR_TYPE, value };
  }

  bool(name: string, value: boolean): OpAttr {
    return { name, type: this.backend.binding.TF_ATTR_BOOL, value };
  }

  run(op: string, attrs: OpAttr[], inputs: Tensor[]): Tensor {
    return this.backend.executeSingleOutput(op, attrs, inputs);
  }

  runMany(op: string, attrs: OpAttr[], inputs: Tensor[], count: number): Tensor[] {
    return this.backend.executeMultipleOutputs(op, attrs, inputs, count);
  }

  /** A float32 scalar kept for the life of the process: constants are made once. */
  scalar(value: number): Tensor {
    let s = this.scalars.get(value);
    if (!s) {
      s = this.tf.keep(this.tf.scalar(value, 'float32'));
      this.scalars.set(value, s);
    }
    return s;
  }
}

const activationOps: Record<
  Activation,
  { op: string; grad: string; gradTakesOutputFirst: boolean }
> = {
  relu: { op: 'Relu', grad: 'ReluGrad', gradTakesOutputFirst: false },
  elu: { op: 'Elu', grad: 'EluGrad', gradTakesOutputFirst: false },
  selu: { op: 'Selu', grad: 'SeluGrad', gradTakesOutputFirst: false },
  // TanhGrad and SigmoidGrad take (y, dy).
  tanh: { op: 'Tanh', grad: 'TanhGrad', gradTakesOutputFirst: true },
  sigmoid: { op: 'Sigmoid', grad: 'SigmoidGrad', gradTakesOutputFirst: true },
};

/** The kernels on native TensorFlow. */
export class NativeOps implements TensorOps {
  private readonly n: Native;
  private readonly matMulAttrs: Record<'plain' | 'transposeA' | 'transposeB', OpAttr[]>;
  private readonly sumAttrs: OpAttr[];
  private readonly sparseAttrs: OpAttr[];
  private readonly castToFloat: OpAttr[];
  private readonly randomAttrs: OpAttr[];
  private readonly axis0: Tensor;
  private readonly bothAxes: Tensor;
  private readonly k1: Tensor;

  constructor(tf: Tf) {
    this.n = new Native(tf);
    const n = this.n;
    const matMul = (a: boolean, b: boolean) => [
      n.float,
      n.bool('transpose_a', a),
      n.bool('transpose_b', b),
    ];
    this.matMulAttrs = {
      plain: matMul(false, false),
      transposeA: matMul(true, false),
      transposeB: matMul(false, true),
    };
    this.sumAttrs = [n.float, n.type('Tidx', 'int32'), n.bool('keep_dims', false)];
    this.sparseAttrs = [n.float, n.type('Tlabels', 'int32')];
    this.castToFloat = [
      n.type('SrcT', 'bool'),
      n.type('DstT', 'float32'),
      n.bool('Truncate', false),
    ];
    this.randomAttrs = [n.floatDtype, n.type('T', 'int32'), n.type('Tseed', 'int32')];
    this.axis0 = tf.keep(tf.scalar(0, 'int32'));
    this.bothAxes = tf.keep(tf.tensor1d([0, 1], 'int32'));
    this.k1 = tf.keep(tf.scalar(1, 'int32'));
  }

  affine(x: Tensor, kernel: Tensor, bias: Tensor): Tensor {
    const product = this.n.run('MatMul', this.matMulAttrs.plain, [x, kernel]);
    return this.n.run('BiasAdd', [this.n.float], [product, bias]);
  }

  activate(kind: Activation, z: Tensor): Tensor {
    return this.n.run(activationOps[kind].op, [this.n.float], [z]);
  }

  activationGrad(kind: Activation, dy: Tensor, y: Tensor): Tensor {
    const { grad, gradTakesOutputFirst } = activationOps[kind];
    return this.n.run(grad, [this.n.float], gradTakesOutputFirst ? [y, dy] : [dy, y]);
  }

  inputGrad(dz: Tensor, kernel: Tensor): Tensor {
    return this.n.run('MatMul', this.matMulAttrs.transposeB, [dz, kernel]);
  }

  kernelGrad(x: Tensor, dz: Tensor): Tensor {
    return this.n.run('MatMul', this.matMulAttrs.transposeA, [x, dz]);
  }

  biasGrad(dz: Tensor): Tensor {
    return this.n.run('BiasAddGrad', [this.n.float], [dz]);
  }

  dropoutMask(shape: [number, number], rate: number, seed: number, counter: number): Tensor {
    const tf = this.n.tf;
    const uniform = this.n.run('StatelessRandomUniform', this.randomAttrs, [
      tf.tensor1d(shape, 'int32'),
      tf.tensor1d([seed | 0, counter | 0], 'int32'),
    ]);
    const kept = this.n.run('GreaterEqual', [this.n.float], [uniform, this.n.scalar(rate)]);
    const mask = this.n.run('Cast', this.castToFloat, [kept]);
    return this.n.run('Mul', [this.n.float], [mask, this.n.scalar(1 / (1 - rate))]);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.n.run('Mul', [this.n.float], [a, b]);
  }

  softmaxCrossEntropy(logits: Tensor, labels: Tensor): LossResult {
    const [rowLoss, backprop] = this.n.runMany(
      'SparseSoftmaxCrossEntropyWithLogits',
      this.sparseAttrs,
      [logits, labels],
      2,
    );
    const hits = this.n.run('InTopKV2', [this.n.type('T', 'int32')], [logits, labels, this.k1]);
    return {
      lossSum: this.n.run('Sum', this.sumAttrs, [rowLoss!, this.axis0]),
      correct: this.n.run('Sum', this.sumAttrs, [
        this.n.run('Cast', this.castToFloat, [hits]),
        this.axis0,
      ]),
      grad: this.mul(backprop!, this.n.scalar(1 / logits.shape[0]!)),
    };
  }

  squaredError(predictions: Tensor, targets: Tensor): LossResult {
    const error = this.n.run('Sub', [this.n.float], [predictions, targets]);
    const squares = this.n.run('Square', [this.n.float], [error]);
    const lossSum = this.n.run('Sum', this.sumAttrs, [squares, this.bothAxes]);
    return { lossSum, grad: this.mul(error, this.n.scalar(2 / predictions.shape[0]!)) };
  }
}

/** A resource variable: its handle tensor (dtype resource, shown as string). */
function newVariable(n: Native, initial: Tensor): Tensor {
  const handle = n.run(
    'VarHandleOp',
    [
      { name: 'container', type: n.backend.binding.TF_ATTR_STRING, value: '' },
      { name: 'shared_name', type: n.backend.binding.TF_ATTR_STRING, value: ANONYMOUS_RESOURCE },
      n.floatDtype,
      { name: 'shape', type: n.backend.binding.TF_ATTR_SHAPE, value: initial.shape },
    ],
    [],
  );
  n.runMany('AssignVariableOp', [n.floatDtype], [handle, initial], 0);
  return n.tf.keep(handle);
}

/**
 * The weights as resource variables, with the optimizer's slots, updated by TensorFlow's
 * fused training ops. The formulas are those of `portable-ops.ts` (tests compare them).
 */
export class NativeParameters implements ParameterStore {
  private readonly n: Native;
  private readonly variables: Tensor[];
  /** Per weight, the optimizer's slot variables (Adam: m, v; RMSProp: ms, mom; Adagrad: accum). */
  private readonly slots: Tensor[][];
  private readonly applyAttrs: OpAttr[];
  private step = 0;

  constructor(
    tf: Tf,
    initial: Tensor[],
    private readonly optimizer: OptimizerName,
    private readonly learningRate: number,
  ) {
    const n = new Native(tf);
    this.n = n;
    this.variables = initial.map((w) => newVariable(n, w));
    this.slots = initial.map((w) =>
      tf.tidy(() => {
        switch (optimizer) {
          case 'adam':
          case 'rmsprop':
            return [newVariable(n, tf.zerosLike(w)), newVariable(n, tf.zerosLike(w))];
          case 'adagrad':
            return [newVariable(n, tf.fill(w.shape, optimizerDefaults.adagrad.initialAccumulator))];
          case 'sgd':
            return [];
        }
      }),
    );
    this.applyAttrs =
      optimizer === 'adam'
        ? [n.float, n.noLocking, n.bool('use_nesterov', false)]
        : optimizer === 'adagrad'
          ? [n.float, n.noLocking, n.bool('update_slots', true)]
          : [n.float, n.noLocking];
  }

  read(): Tensor[] {
    return this.variables.map((v) => this.n.run('ReadVariableOp', [this.n.floatDtype], [v]));
  }

  update(grads: Tensor[]): void {
    const n = this.n;
    this.step++;
    const lr = n.scalar(this.learningRate);
    if (this.optimizer === 'adam') {
      const { beta1, beta2, epsilon } = optimizerDefaults.adam;
      const beta1Power = n.tf.scalar(beta1 ** this.step);
      const beta2Power = n.tf.scalar(beta2 ** this.step);
      const constants = [lr, n.scalar(beta1), n.scalar(beta2), n.scalar(epsilon)];
      for (let i = 0; i < grads.length; i++) {
        const [m, v] = this.slots[i]!;
        n.runMany(
          'ResourceApplyAdam',
          this.applyAttrs,
          [this.variables[i]!, m!, v!, beta1Power, beta2Power, ...constants, grads[i]!],
          0,
        );
      }
      beta1Power.dispose();
      beta2Power.dispose();
      return;
    }
    for (let i = 0; i < grads.length; i++) {
      const variable = this.variables[i]!;
      const grad = grads[i]!;
      const slots = this.slots[i]!;
      switch (this.optimizer) {
        case 'sgd':
          n.runMany('ResourceApplyGradientDescent', this.applyAttrs, [variable, lr, grad], 0);
          break;
        case 'rmsprop': {
          const { rho, momentum, epsilon } = optimizerDefaults.rmsprop;
          n.runMany(
            'ResourceApplyRMSProp',
            this.applyAttrs,
            [
              variable,
              slots[0]!,
              slots[1]!,
              lr,
              n.scalar(rho),
              n.scalar(momentum),
              n.scalar(epsilon),
              grad,
            ],
            0,
          );
          break;
        }
        case 'adagrad':
          n.runMany(
            'ResourceApplyAdagradV2',
            this.applyAttrs,
            [variable, slots[0]!, lr, n.scalar(optimizerDefaults.adagrad.epsilon), grad],
            0,
          );
          break;
      }
    }
  }

  assign(weights: Tensor[]): void {
    weights.forEach((w, i) => {
      this.n.runMany('AssignVariableOp', [this.n.floatDtype], [this.variables[i]!, w], 0);
    });
  }

  dispose(): void {
    this.n.tf.dispose([...this.variables, ...this.slots.flat()]);
  }
}
