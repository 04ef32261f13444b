import { describe, expect, it } from 'vitest';
import { prepareRecord } from '../../contract/prepared-data.js';
import { fixtureSchema } from './fixture.js';
import { BadRequestError } from './rows.js';
import { parseV2Infer, v2InferResponse, v2ModelMetadata } from './v2.js';

const schema = fixtureSchema('classification');
const shape = { schema, featureCount: schema.features.length };
const model = { name: 'iris', version: '3', schema, outputWidth: 3 };

const column = (name: string, datatype: string, data: unknown[], shape2 = [data.length]) => ({
  name,
  datatype,
  shape: shape2,
  data,
});

describe('parseV2Infer', () => {
  it('reads one input per raw column, as the pandas codecs send a table', () => {
    const request = parseV2Infer(shape, {
      id: 'r-1',
      inputs: [
        column('length', 'FP64', [6.1, 3]),
        column('width', 'FP32', [[2], [1]], [2, 1]),
        column('colour', 'BYTES', ['green', 'blue']),
        column('fresh', 'BOOL', [true, false]),
      ],
    });
    expect(request.id).toBe('r-1');
    expect(request.rows.rows).toBe(2);
    const expected = [
      ...prepareRecord(schema, { length: 6.1, width: 2, colour: 'green', fresh: true }),
      ...prepareRecord(schema, { length: 3, width: 1, colour: 'blue', fresh: false }),
    ];
    expect(Array.from(request.rows.features)).toEqual(Array.from(Float32Array.from(expected)));
    expect(request.rows.records[1]).toEqual({ length: 3, width: 1, colour: 'blue', fresh: false });
  });

  it('imputes null elements, as the preparation was fitted', () => {
    const request = parseV2Infer(shape, {
      inputs: [
        column('length', 'FP64', [null]),
        column('width', 'INT64', [2]),
        column('colour', 'BYTES', [null]),
        column('fresh', 'BOOL', [null]),
      ],
    });
    const record = { length: null, width: 2, colour: null, fresh: null };
    expect(Array.from(request.rows.features)).toEqual(
      Array.from(Float32Array.from(prepareRecord(schema, record))),
    );
  });

  it('reads one prepared tensor [n, features], flat or nested', () => {
    const flat = parseV2Infer(shape, {
      inputs: [
        {
          name: 'features',
          datatype: 'FP32',
          shape: [2, 6],
          data: [1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1],
        },
      ],
    });
    const nested = parseV2Infer(shape, {
      inputs: [
        {
          name: 'x',
          datatype: 'FP32',
          shape: [2, 6],
          data: [
            [1, 2, 3, 4, 5, 6],
            [6, 5, 4, 3, 2, 1],
          ],
        },
      ],
      outputs: [{ name: 'label' }],
    });
    expect(Array.from(flat.rows.features)).toEqual([1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1]);
    expect(nested.rows.features).toEqual(flat.rows.features);
    expect(nested.rows.records).toEqual([null, null]);
    expect(nested.outputs).toEqual(['label']);
  });

  it.each([
    ['no inputs', {}, 'has no "inputs"'],
    ['empty inputs', { inputs: [] }, '"inputs" is empty'],
    ['a non-string id', { id: 4, inputs: [] }, '"id" must be a string'],
    [
      'an input without a name',
      { inputs: [{ shape: [1], datatype: 'FP32', data: [1] }] },
      'inputs[0].name must be a non-empty string',
    ],
    [
      'an unknown datatype',
      { inputs: [column('length', 'FLOAT', [1])] },
      'input "length": datatype "FLOAT" is not one of BOOL',
    ],
    [
      'a bad shape',
      { inputs: [{ name: 'length', datatype: 'FP32', shape: [-1], data: [1] }] },
      'input "length": shape must be a list of non-negative integers',
    ],
    [
      'data that does not fill the shape',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 6], data: [1, 2, 3] }] },
      'input "x": shape [2,6] needs 12 elements, data has 3',
    ],
    [
      'a string in an FP32 tensor',
      { inputs: [column('length', 'FP32', ['7'])] },
      'input "length": element 0 ("7") is not a FP32 value',
    ],
    [
      'a fraction in an INT64 tensor',
      { inputs: [column('length', 'INT64', [1.5])] },
      'element 0 (1.5) is not a INT64 value',
    ],
    [
      'a prepared tensor of the wrong width',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] },
      'input "x" has shape [1,4]; prepared features must have shape [n, 6]',
    ],
    [
      'an unknown column among several',
      { inputs: [column('length', 'FP32', [1]), column('height', 'FP32', [1])] },
      'input "height" is not a column of the model; its columns are length, width, colour, fresh',
    ],
    [
      'columns of different lengths',
      { inputs: [column('length', 'FP32', [1, 2]), column('width', 'FP32', [1])] },
      'input "width" has 1 rows; input "length" has 2',
    ],
    [
      'a 2-D column',
      { inputs: [column('length', 'FP32', [1, 2, 3, 4], [2, 2]), column('width', 'FP32', [1, 2])] },
      'input "length" has shape [2,2]; a column must have shape [n] or [n, 1]',
    ],
    [
      'an input given twice',
      { inputs: [column('length', 'FP32', [1]), column('length', 'FP32', [1])] },
      'input "length" is given twice',
    ],
    [
      'a cell that does not fit its column',
      {
        inputs: [
          column('length', 'BYTES', ['long']),
          column('width', 'FP32', [1]),
          column('colour', 'BYTES', ['red']),
          column('fresh', 'BOOL', [true]),
        ],
      },
      'row 0: column length: "long" is not a number',
    ],
    [
      'left-out inputs',
      { inputs: [column('length', 'FP32', [1]), column('colour', 'BYTES', ['red'])] },
      "the request leaves out the model's inputs width, fresh",
    ],
    [
      'an infinite number',
      { inputs: [column('length', 'FP64', [Number.POSITIVE_INFINITY])] },
      'input "length": element 0 (Infinity) is not a FP64 value',
    ],
    [
      'a null in a prepared tensor',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 6], data: [1, 2, null, 4, 5, 6] }] },
      'input "x" row 0[2]: null is not a finite number',
    ],
    [
      'data nested deeper than its shape',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 6], data: [[[1, 2, 3, 4, 5, 6]]] }] },
      'input "x": shape [1,6] needs 6 elements, data has 1',
    ],
    [
      'a tensor over the element limit',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1_000_000, 6], data: [] }] },
      'input "x": shape [1000000,6] is over the limit of 1000000 elements per tensor',
    ],
    [
      'too many rows',
      { inputs: [column('length', 'FP32', new Array(10_001).fill(1))] },
      'input "length" has 10001 rows; the limit is 10000 rows per request',
    ],
    [
      'a long input name',
      { inputs: [column('x'.repeat(300), 'FP32', [1])] },
      'inputs[0].name must be a non-empty string of at most 256 characters',
    ],
    [
      'an unknown output',
      { inputs: [column('length', 'FP32', [1])], outputs: [{ name: 'logits' }] },
      'output "logits" does not exist; this model\'s outputs are probabilities, label',
    ],
  ])('refuses %s with a message naming it', (_name, body, message) => {
    expect(() => parseV2Infer(shape, body)).toThrow(BadRequestError);
    expect(() => parseV2Infer(shape, body)).toThrow(message);
  });
});

describe('v2InferResponse', () => {
  const outputs = Float32Array.from([0.5, 0.25, 0.25, 0.125, 0.125, 0.75]);

  it('gives probabilities and labels, echoing the id', () => {
    expect(JSON.parse(v2InferResponse(model, 'r-1', outputs, 2, undefined))).toEqual({
      model_name: 'iris',
      model_version: '3',
      id: 'r-1',
      outputs: [
        { name: 'probabilities', shape: [2, 3], datatype: 'FP32', data: Array.from(outputs) },
        { name: 'label', shape: [2], datatype: 'BYTES', data: ['setosa', 'virginica'] },
      ],
    });
  });

  it('gives only the outputs asked for', () => {
    const body = JSON.parse(v2InferResponse(model, 'r', outputs, 2, ['label']));
    expect(body.outputs.map((o: { name: string }) => o.name)).toEqual(['label']);
  });

  it('gives regression predictions as one FP32 value per row', () => {
    const regression = { ...model, schema: fixtureSchema('regression'), outputWidth: 1 };
    const body = JSON.parse(
      v2InferResponse(regression, 'r', Float32Array.from([1.5, 2.5]), 2, undefined),
    );
    expect(body.outputs).toEqual([
      { name: 'prediction', shape: [2], datatype: 'FP32', data: [1.5, 2.5] },
    ]);
  });
});

describe('v2ModelMetadata', () => {
  it('lists one input per raw column and the outputs', () => {
    expect(v2ModelMetadata(model)).toEqual({
      name: 'iris',
      versions: ['3'],
      platform: 'tensorflowjs_layers',
      inputs: [
        { name: 'length', datatype: 'FP64', shape: [-1] },
        { name: 'width', datatype: 'FP64', shape: [-1] },
        { name: 'colour', datatype: 'BYTES', shape: [-1] },
        { name: 'fresh', datatype: 'BOOL', shape: [-1] },
      ],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'BYTES', shape: [-1] },
      ],
    });
  });
});
