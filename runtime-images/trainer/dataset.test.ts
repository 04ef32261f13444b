import { describe, expect, it } from 'vitest';
import { parsePreparedCsv, preparedDataset } from './dataset.js';
import { preparedVersionOf, syntheticClassification } from './prepared-fixture.js';

const { schema, files } = preparedVersionOf(syntheticClassification(50, 3, 3));
const text = (name: string) => files[name]!.toString('utf8');

describe('preparedDataset', () => {
  it('reads both splits into dense arrays', () => {
    const dataset = preparedDataset(
      { schema: text('schema.json'), train: text('train.csv'), test: text('test.csv') },
      'classification',
    );
    expect(dataset).toMatchObject({ featureCount: 3, classCount: 3 });
    expect(dataset.train.rows + dataset.test.rows).toBe(50);
    expect(dataset.test.rows).toBe(10);
    expect(dataset.train.features).toHaveLength(dataset.train.rows * 3);
    expect(dataset.train.labels).toBeInstanceOf(Int32Array);
  });

  it('refuses a version prepared for another task', () => {
    expect(() =>
      preparedDataset(
        { schema: text('schema.json'), train: text('train.csv'), test: text('test.csv') },
        'regression',
      ),
    ).toThrow(
      "the TrainingJob's task is regression, but the dataset version was prepared for classification",
    );
  });

  it('refuses a test split without rows', () => {
    expect(() =>
      preparedDataset(
        { schema: text('schema.json'), train: text('train.csv'), test: 'x1,x2,x3,class\n' },
        'classification',
      ),
    ).toThrow('test.csv has no rows');
  });

  it('refuses a schema that is not one, naming the field', () => {
    expect(() =>
      preparedDataset({ schema: '{"formatVersion":1}', train: '', test: '' }, 'classification'),
    ).toThrow('schema.json is not a prepared schema: task');
  });
});

describe('parsePreparedCsv', () => {
  it.each([
    [
      'a wrong header',
      'a,b,c,class\n1,2,3,0\n',
      'train.csv: the header does not match schema.json',
    ],
    [
      'a text cell',
      'x1,x2,x3,class\n1,two,3,0\n',
      'train.csv line 2, column x2: "two" is not a number',
    ],
    ['an empty cell', 'x1,x2,x3,class\n1,,3,0\n', 'line 2, column x2: "" is not a number'],
    ['a missing field', 'x1,x2,x3,class\n1,2,3\n', 'train.csv line 2: 3 fields, expected 4'],
    ['a short row', 'x1,x2,x3,class\n1,2\n', 'train.csv line 2: 2 fields, expected 4'],
    ['an extra field', 'x1,x2,x3,class\n1,2,3,0,5\n', 'train.csv line 2: more than 4 fields'],
    [
      'a class out of range',
      'x1,x2,x3,class\n1,2,3,3\n',
      'column class: 3 is not a class index (0..2)',
    ],
    ['a fractional class', 'x1,x2,x3,class\n1,2,3,0.5\n', 'column class: 0.5 is not a class index'],
  ])('reports %s with file, line and column', (_, csv, message) => {
    expect(() => parsePreparedCsv(csv, schema, 'train.csv')).toThrow(message);
  });

  it('accepts CRLF line ends', () => {
    const split = parsePreparedCsv('x1,x2,x3,class\r\n1,2,3,2\r\n', schema, 'train.csv');
    expect(Array.from(split.features)).toEqual([1, 2, 3]);
    expect(Array.from(split.labels)).toEqual([2]);
  });
});
