import { describe, expect, it } from 'vitest';
import { prepareRecord } from '../../contract/prepared-data.js';
import { fixtureSchema } from './fixture.js';
import { BadRequestError } from './rows.js';
import { parseV1Predict, v1PredictResponse } from './v1.js';

const schema = fixtureSchema('classification');
const shape = { schema, featureCount: schema.features.length };
const raw = { length: 6.1, width: 2, colour: 'green', fresh: 'yes' };

describe('parseV1Predict', () => {
  it('prepares raw records with the fitted preparation and keeps them', () => {
    const imputed = { length: '3', width: 1, colour: null, fresh: null };
    const rows = parseV1Predict(shape, { instances: [raw, imputed] });
    expect(rows.rows).toBe(2);
    const expected = [...prepareRecord(schema, raw), ...prepareRecord(schema, imputed)];
    expect(rows.features).toEqual(Float32Array.from(expected));
    expect(rows.records).toEqual([raw, imputed]);
  });

  it('takes prepared feature arrays, also mixed with records', () => {
    const prepared = [0.5, 0.25, 0, 1, 0, 1];
    const rows = parseV1Predict(shape, { instances: [prepared, raw] });
    expect(Array.from(rows.features.subarray(0, 6))).toEqual(prepared);
    expect(rows.records).toEqual([null, raw]);
  });

  it('reads TensorFlow Serving columnar inputs', () => {
    const rows = parseV1Predict(shape, {
      inputs: { length: [1, 2], width: [0, 4], colour: ['red', 'x'], fresh: [true, null] },
    });
    expect(rows.records).toEqual([
      { length: 1, width: 0, colour: 'red', fresh: true },
      { length: 2, width: 4, colour: 'x', fresh: null },
    ]);
  });

  it.each([
    ['a list', [1, 2], 'must be a JSON object with "instances"'],
    ['no instances', { rows: [] }, 'has no "instances"'],
    ['instances not a list', { instances: { a: 1 } }, '"instances" must be a list of rows'],
    ['empty instances', { instances: [] }, '"instances" is empty'],
    [
      'a row of the wrong width',
      { instances: [[1, 2, 3]] },
      'instances[0] has 3 values; the model takes 6 prepared features',
    ],
    [
      'a non-number feature',
      { instances: [[1, 2, 3, 4, 'x', 6]] },
      'instances[0][4]: "x" is not a finite number',
    ],
    [
      'a scalar instance',
      { instances: [raw, 7] },
      'instances[1] must be an object keyed by input column or a list of 6 prepared features',
    ],
    [
      'a non-numeric cell',
      { instances: [{ ...raw, length: 'long' }] },
      'instances[0]: column length: "long" is not a number',
    ],
    [
      'a null cell the preparation cannot impute',
      { instances: [{ ...raw, width: null }] },
      'instances[0]: column width: a value is required',
    ],
    [
      'left-out inputs',
      { instances: [raw, { length: 1, colour: 'red' }] },
      "instances[1] leaves out the model's inputs width, fresh; every input must be given (null for a value to impute)",
    ],
    [
      'no known column',
      { instances: [{ height: 1 }] },
      "instances[0] leaves out the model's inputs length, width, colour, fresh",
    ],
    [
      'a left-out column in columnar inputs',
      { inputs: { length: [1], width: [1], colour: ['red'] } },
      "inputs[0] leaves out the model's input fresh",
    ],
    [
      'a list in a cell',
      { instances: [{ ...raw, colour: [[['red']]] }] },
      'instances[0]: column colour: [[["red"]]] is not a value',
    ],
    [
      'an infinite number in a cell',
      { instances: [{ ...raw, length: Number.POSITIVE_INFINITY }] },
      'instances[0]: column length: Infinity is not a finite number',
    ],
    [
      'too many rows',
      { instances: new Array(10_001).fill(raw) },
      '"instances" has 10001 rows; the limit is 10000 rows per request',
    ],
    [
      'a long string where a number belongs, quoted short',
      { instances: [[0, 0, 0, 0, 'x'.repeat(10_000), 0]] },
      `instances[0][4]: "${'x'.repeat(63)}…`,
    ],
    [
      'ragged columnar inputs',
      { inputs: { length: [1, 2], width: [1] } },
      'inputs.width has 1 values; inputs.length has 2',
    ],
  ])('refuses %s with a message naming it', (_name, body, message) => {
    expect(() => parseV1Predict(shape, body)).toThrow(BadRequestError);
    expect(() => parseV1Predict(shape, body)).toThrow(message);
  });
});

describe('v1PredictResponse', () => {
  it('writes predictions as TensorFlow Serving does for named outputs', () => {
    expect(
      JSON.parse(v1PredictResponse([{ label: 'setosa', probabilities: [0.5, 0.25, 0.25] }, 3])),
    ).toEqual({
      predictions: [{ label: 'setosa', probabilities: [0.5, 0.25, 0.25] }, 3],
    });
  });
});
