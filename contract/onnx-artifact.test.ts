import { describe, expect, it } from 'vitest';
import { type OnnxValueInfo, onnxModelBinding } from './onnx-artifact.js';
import type { PreparedSchema } from './prepared-data.js';

const classifier: PreparedSchema = {
  formatVersion: 1,
  task: 'classification',
  label: { name: 'species', type: 'string', classes: ['setosa', 'versicolor', 'virginica'] },
  inputs: [
    { name: 'a', kind: 'numeric', type: 'number', impute: 0, scale: { method: 'none' } },
    { name: 'b', kind: 'numeric', type: 'number', impute: 0, scale: { method: 'none' } },
  ],
  features: ['a', 'b'],
};
const regressor: PreparedSchema = {
  ...classifier,
  task: 'regression',
  label: { name: 'price', type: 'number' },
};

const tensor = (name: string, shape: (number | string)[], type = 'float32'): OnnxValueInfo => ({
  name,
  isTensor: true,
  type,
  shape,
});
const features = tensor('features', ['N', 2]);
const zipmap: OnnxValueInfo = { name: 'output_probability', isTensor: false };

describe('onnxModelBinding', () => {
  it.each([
    [
      'skl2onnx classifier (label ignored)',
      classifier,
      [tensor('label', ['N'], 'int64'), tensor('probabilities', ['N', 3])],
      3,
    ],
    ['fixed widths, symbolic batch', classifier, [tensor('probabilities', ['batch', 3])], 3],
    ['undeclared output shape', classifier, [tensor('probabilities', [])], 3],
    ['regression [N, 1]', regressor, [tensor('predictions', ['N', 1])], 1],
    ['regression [N]', regressor, [tensor('predictions', ['N'])], 1],
  ] as const)('binds %s', (_, schema, outputs, width) => {
    expect(onnxModelBinding(schema, [features], outputs)).toEqual({
      binding: {
        input: 'features',
        output: schema.task === 'classification' ? 'probabilities' : 'predictions',
        outputWidth: width,
      },
    });
  });

  it('accepts an input whose shape is not declared', () => {
    expect(
      onnxModelBinding(classifier, [tensor('features', [])], [tensor('probabilities', ['N', 3])]),
    ).toHaveProperty('binding');
  });

  it.each([
    [
      'no features input',
      classifier,
      [tensor('float_input', ['N', 2])],
      [tensor('probabilities', ['N', 3])],
      'the model has no input named "features" (its inputs: "float_input"); a Lathe ONNX model takes one float32 input "features" of shape [N, 2]',
    ],
    [
      'a second input',
      classifier,
      [features, tensor('mask', ['N', 2])],
      [tensor('probabilities', ['N', 3])],
      'the model has 2 inputs ("features", "mask"); a Lathe ONNX model takes one, "features"',
    ],
    [
      'a double input',
      classifier,
      [tensor('features', ['N', 2], 'float64')],
      [tensor('probabilities', ['N', 3])],
      'the model\'s input "features" is float64; it must be float32',
    ],
    [
      'the wrong feature count',
      classifier,
      [tensor('features', ['N', 4])],
      [tensor('probabilities', ['N', 3])],
      'the model\'s input "features" has shape ["N", 4]; schema.json prepares 2 features per row, so it must be [N, 2]',
    ],
    [
      'a fixed batch axis',
      classifier,
      [tensor('features', [1, 2])],
      [tensor('probabilities', [1, 3])],
      'the model\'s input "features" has a fixed batch dimension of 1; export it with a dynamic first axis',
    ],
    [
      'no probabilities output',
      classifier,
      [features],
      [tensor('output_label', ['N'], 'int64'), zipmap],
      'a classification model must have an output named "probabilities", float32 [N, 3] (one probability per class of schema.json, in its order); its outputs: "output_label", "output_probability"',
    ],
    [
      'a ZipMap probabilities output',
      classifier,
      [features],
      [{ name: 'probabilities', isTensor: false }],
      "the model's output \"probabilities\" is not a tensor (skl2onnx's ZipMap? export with options={'zipmap': False})",
    ],
    [
      'the wrong class count',
      classifier,
      [features],
      [tensor('probabilities', ['N', 2])],
      'the model\'s output "probabilities" has shape ["N", 2]; a classification model of schema.json must return float32 [N, 3]',
    ],
    [
      'a double output',
      regressor,
      [features],
      [tensor('predictions', ['N', 1], 'float64')],
      'the model\'s output "predictions" is float64; it must be float32 [N, 1] or [N]',
    ],
    [
      'a wide regression output',
      regressor,
      [features],
      [tensor('predictions', ['N', 2])],
      'the model\'s output "predictions" has shape ["N", 2]; a regression model of schema.json must return float32 [N, 1] or [N]',
    ],
    [
      'a regression model named like a classifier',
      regressor,
      [features],
      [tensor('variable', ['N', 1])],
      'a regression model must have an output named "predictions"',
    ],
  ] as const)('refuses %s, saying why', (_, schema, inputs, outputs, why) => {
    const result = onnxModelBinding(schema, inputs, outputs);
    expect(result).toHaveProperty('why');
    expect((result as { why: string }).why).toContain(why);
  });
});
