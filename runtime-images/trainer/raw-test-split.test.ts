import { describe, expect, it } from 'vitest';
import {
  legacySaltedHash,
  namespacePiiKey,
  PII_HASH_SCHEME,
  PiiKeyMissingError,
  piiHash,
} from '../../contract/pii-hash.js';
import { type PreparedSchema, prepareRecord } from '../../contract/prepared-data.js';
import { DatasetError } from './dataset.js';
import { classificationMetrics, regressionMetrics } from './metrics.js';
import { piiHashFor, RawTestSplit } from './raw-test-split.js';

/** A champion's schema: one numeric input whose missing values were dropped, one categorical. */
function schemaOf(task: 'classification' | 'regression', classes = ['a', 'b', 'c']) {
  return {
    formatVersion: 1,
    task,
    label:
      task === 'classification'
        ? { name: 'kind', type: 'categorical', classes }
        : { name: 'price', type: 'number' },
    inputs: [
      {
        name: 'size',
        type: 'number',
        kind: 'numeric',
        impute: null,
        scale: { method: 'standard', mean: 10, std: 2 },
      },
      {
        name: 'colour',
        type: 'categorical',
        kind: 'categorical',
        impute: 'red',
        encoding: 'oneHot',
        categories: ['red', 'blue'],
        other: false,
      },
    ],
    features: ['size', 'colour=red', 'colour=blue'],
  } satisfies PreparedSchema;
}

const splitOf = (schema: PreparedSchema, rows: Record<string, unknown>[]) => {
  const split = new RawTestSplit(schema);
  for (const [i, row] of rows.entries()) split.add(row, i + 1);
  return split;
};

describe('RawTestSplit on rows the model knows', () => {
  it.each([
    ['three classes', ['a', 'b', 'c']],
    ['two classes', ['a', 'b']],
  ])('scores exactly what the trainer computes on the prepared rows (%s)', (_, classes) => {
    const schema = schemaOf('classification', classes);
    const rows = Array.from({ length: 12 }, (_, i) => ({
      size: 8 + i / 2,
      colour: i % 3 === 0 ? 'blue' : 'red',
      kind: classes[i % classes.length],
    }));
    const split = splitOf(schema, rows);
    expect(split.preparedFeatures()).toEqual(
      Float32Array.from(rows.flatMap((r) => prepareRecord(schema, r))),
    );
    // A model's made-up probabilities, one row per test row.
    const outputs = Float32Array.from(
      rows.flatMap((_, r) => {
        const raw = classes.map((__, c) => 1 + ((r * 7 + c * 3) % 5));
        const sum = raw.reduce((s, v) => s + v, 0);
        return raw.map((v) => v / sum);
      }),
    );
    const labels = Int32Array.from(rows.map((r) => classes.indexOf(r.kind!)));
    expect(split.metrics(outputs)).toEqual(
      classificationMetrics(outputs, labels, classes.length).metrics,
    );
    if (classes.length === 2) expect(split.metrics(outputs)).toHaveProperty('rocAuc');
  });

  it('scores a regression exactly as the trainer, on float32 targets as the prepared split has', () => {
    const schema = schemaOf('regression');
    const rows = [
      { size: 9, colour: 'red', price: 100.1 },
      { size: 11, colour: 'blue', price: '250.7' },
      { size: 12, colour: 'red', price: 180 },
    ];
    const outputs = Float32Array.from([110, 240, 170]);
    expect(splitOf(schema, rows).metrics(outputs)).toEqual(
      regressionMetrics(outputs, Float32Array.from([100.1, 250.7, 180])),
    );
  });
});

describe('RawTestSplit on rows the model cannot handle', () => {
  const schema = schemaOf('classification', ['a', 'b']);

  it('counts a class the model never saw as wrong, and averages over it too', () => {
    const split = splitOf(schema, [
      { size: 10, colour: 'red', kind: 'a' },
      { size: 10, colour: 'red', kind: 'b' },
      { size: 10, colour: 'red', kind: 'z' },
      { size: 10, colour: 'red', kind: 'z' },
    ]);
    expect(split.unseenClasses).toEqual([{ name: 'z', rows: 2 }]);
    // Predicts a, b, a, b: the two z rows are wrong whatever is predicted.
    const metrics = split.metrics(Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7]));
    expect(metrics.accuracy).toBeCloseTo(0.5, 12);
    // Classes a, b, z: precision 1/2, 1/2, 0; recall 1, 1, 0.
    expect(metrics.precision).toBeCloseTo(1 / 3, 12);
    expect(metrics.recall).toBeCloseTo(2 / 3, 12);
    expect(metrics.f1).toBeCloseTo((2 / 3 + 2 / 3) / 3, 12);
    // The z rows had no probability: each pays -log(1e-7).
    expect(metrics.loss).toBeCloseTo((-Math.log(0.9) - Math.log(0.8) - 2 * Math.log(1e-7)) / 4, 6);
    // Three classes: ROC AUC is not defined, as for a challenger trained on them.
    expect(metrics).not.toHaveProperty('rocAuc');
  });

  it('counts a row the preparation rejects as wrong, ranked last by ROC AUC, and says why', () => {
    const split = splitOf(schema, [
      { size: 10, colour: 'red', kind: 'a' },
      { size: 'big', colour: 'red', kind: 'b' },
      { size: null, colour: 'blue', kind: 'a' },
      { size: 12, colour: 'blue', kind: 'b' },
    ]);
    expect(split.rows).toBe(4);
    expect(split.acceptedRows).toBe(2);
    expect(split.rejectedRows).toBe(2);
    expect(split.rejectedByColumn).toEqual({ size: 2 });
    expect(split.rejectedExamples).toEqual([
      { line: 2, column: 'size', message: 'column size: "big" is not a number' },
      { line: 3, column: 'size', message: 'column size: a value is required' },
    ]);
    // The two scored rows are right, with scores 0.2 (a) and 0.9 (b).
    const metrics = split.metrics(Float32Array.from([0.8, 0.2, 0.1, 0.9]));
    expect(metrics.accuracy).toBeCloseTo(0.5, 12);
    // No prediction is nobody's false positive: precision 1, 1; recall 1/2, 1/2.
    expect(metrics.precision).toBeCloseTo(1, 12);
    expect(metrics.recall).toBeCloseTo(0.5, 12);
    expect(metrics.f1).toBeCloseTo(2 / 3, 12);
    // The rejected b row ranks below every a, the rejected a row above every b: of the four
    // (b, a) pairs only (0.9, 0.2) is in order.
    expect(metrics.rocAuc).toBeCloseTo(0.25, 12);
    expect(metrics.loss).toBeCloseTo((-Math.log(0.8) - Math.log(0.9) - 2 * Math.log(1e-7)) / 4, 6);
  });

  it('predicts a rejected regression row as the split’s mean label: no credit in R²', () => {
    const split = splitOf(schemaOf('regression'), [
      { size: 9, colour: 'red', price: 10 },
      { size: 'x', colour: 'red', price: 20 },
      { size: 11, colour: 'red', price: 30 },
    ]);
    const metrics = split.metrics(Float32Array.from([10, 30]));
    // Errors 0, 0 and 20 - 20 (the mean): perfect here because the mean is right.
    expect(metrics.mse).toBe(0);
    const worse = splitOf(schemaOf('regression'), [
      { size: 9, colour: 'red', price: 10 },
      { size: 11, colour: 'red', price: 20 },
      { size: 'x', colour: 'red', price: 60 },
    ]).metrics(Float32Array.from([10, 20]));
    // The rejected row is predicted 30 (the mean of 10, 20, 60): error 30.
    expect(worse.mse).toBeCloseTo(900 / 3, 9);
    expect(worse.mae).toBeCloseTo(10, 9);
  });

  it('scores rows whose every cell is rejected: nothing predicted, accuracy 0', () => {
    const split = splitOf(schema, [
      { colour: 'red', kind: 'a' },
      { colour: 'red', kind: 'b' },
    ]);
    expect(split.acceptedRows).toBe(0);
    expect(split.metrics(new Float32Array(0))).toMatchObject({ accuracy: 0, rocAuc: 0 });
  });
});

describe('RawTestSplit labels and lines', () => {
  it('reads labels as the model’s schema types them (booleans, numbers as class names)', () => {
    const schema: PreparedSchema = {
      ...schemaOf('classification'),
      label: { name: 'churned', type: 'boolean', classes: ['false', 'true'] },
    };
    const split = splitOf(schema, [
      { size: 10, churned: 'yes' },
      { size: 10, churned: false },
      { size: 10, churned: 1 },
    ]);
    expect(split.unseenClasses).toEqual([]);
    expect(split.metrics(Float32Array.from([0.1, 0.9, 0.9, 0.1, 0.1, 0.9])).accuracy).toBe(1);
  });

  it.each([
    [
      'a missing label',
      { size: 1, kind: null },
      'test.raw.jsonl line 1 has no value for the label kind',
    ],
    ['no label column', { size: 1 }, 'test.raw.jsonl line 1 has no value for the label kind'],
  ])('refuses %s, naming the line', (_, row, message) => {
    expect(() => splitOf(schemaOf('classification'), [row])).toThrow(new DatasetError(message));
  });

  it('refuses a regression label that is not a number, naming the line', () => {
    expect(() => splitOf(schemaOf('regression'), [{ size: 1, price: 'cheap' }])).toThrow(
      'test.raw.jsonl line 1: column price: "cheap" is not a number',
    );
  });

  it('reads JSON lines, skipping blank ones, and names a line that is not a row', () => {
    const split = new RawTestSplit(schemaOf('classification'));
    split.addLine('{"size": 10, "colour": "blue", "kind": "c"}', 1);
    split.addLine('', 2);
    split.addLine('{"size": 11, "kind": "a", "extra": [1]}', 3);
    expect(split.rows).toBe(2);
    expect(Array.from(split.preparedFeatures())).toEqual([0, 0, 1, 0.5, 1, 0]);
    expect(() => split.addLine('{"size": 1,', 4)).toThrow(/^test.raw.jsonl line 4 is not JSON/);
    expect(() => split.addLine('[1, 2]', 5)).toThrow(
      'test.raw.jsonl line 5 is not a JSON object keyed by column',
    );
  });

  it('has nothing to score without rows, and checks the outputs it is given', () => {
    const split = new RawTestSplit(schemaOf('classification'));
    expect(() => split.metrics(new Float32Array(0))).toThrow(
      'test.raw.jsonl has no rows: nothing to evaluate on',
    );
    split.add({ size: 10, kind: 'a' }, 1);
    expect(() => split.metrics(new Float32Array(2))).toThrow('expected 3 outputs');
  });
});

describe('piiHashFor', () => {
  const key = Buffer.from(namespacePiiKey('test-master-key-0123456789', 'ns'), 'hex');
  const otherKey = Buffer.from(namespacePiiKey('test-master-key-0123456789', 'other'), 'hex');
  const keyed = piiHash(key, 'ann@example.com');
  const salted = legacySaltedHash('s1', 'ann@example.com');
  /** A schema whose `email` column is hashed as `how` says, knowing `category`. */
  const withPii = (
    how: { hash: typeof PII_HASH_SCHEME } | { hashSalt: string } | undefined,
    category = keyed,
  ): PreparedSchema => ({
    ...schemaOf('classification'),
    inputs: [
      {
        name: 'email',
        type: 'categorical',
        kind: 'categorical',
        impute: null,
        encoding: 'oneHot',
        categories: [category],
        other: true,
        ...how,
      },
    ],
    features: ['email=x', 'email=__other__'],
  });
  const keyedSchema = { hash: PII_HASH_SCHEME } as const;

  it.each([
    {
      name: 'keyed model, keyed version: the cell is the namespace hash, taken as it is',
      model: withPii(keyedSchema),
      version: withPii(keyedSchema),
      cell: keyed,
      features: [1, 0],
      otherScheme: [],
    },
    {
      name: 'keyed model, version without PII hashing: the raw cell is hashed with the key',
      model: withPii(keyedSchema),
      version: withPii(undefined),
      cell: 'ann@example.com',
      features: [1, 0],
      otherScheme: [],
    },
    {
      name: 'keyed model, old salted version: named, an unknown category',
      model: withPii(keyedSchema),
      version: withPii({ hashSalt: 's1' }, salted),
      cell: salted,
      features: [0, 1],
      otherScheme: ['email'],
    },
    {
      name: 'old salted model, same salt: taken as it is',
      model: withPii({ hashSalt: 's1' }, salted),
      version: withPii({ hashSalt: 's1' }, salted),
      cell: salted,
      features: [1, 0],
      otherScheme: [],
    },
    {
      name: 'old salted model, another salt: named, an unknown category',
      model: withPii({ hashSalt: 's1' }, salted),
      version: withPii({ hashSalt: 's2' }),
      cell: legacySaltedHash('s2', 'ann@example.com'),
      features: [0, 1],
      otherScheme: ['email'],
    },
    {
      name: 'old salted model, version without PII hashing: hashed with the model’s salt',
      model: withPii({ hashSalt: 's1' }, salted),
      version: withPii(undefined),
      cell: 'ann@example.com',
      features: [1, 0],
      otherScheme: [],
    },
  ])('$name', ({ model, version, cell, features, otherScheme }) => {
    const pii = piiHashFor(model, version, key);
    expect(pii.otherScheme).toEqual(otherScheme);
    const split = new RawTestSplit(model, pii.hash);
    split.add({ email: cell, kind: 'a' }, 1);
    expect(Array.from(split.preparedFeatures())).toEqual(features);
  });

  it('another namespace’s key gives another hash: the value is an unknown category', () => {
    const pii = piiHashFor(withPii(keyedSchema), withPii(undefined), otherKey);
    const split = new RawTestSplit(withPii(keyedSchema), pii.hash);
    split.add({ email: 'ann@example.com', kind: 'a' }, 1);
    expect(Array.from(split.preparedFeatures())).toEqual([0, 1]);
  });

  it('refuses raw cells of a keyed column without the key, naming the column and variable', () => {
    const pii = piiHashFor(withPii(keyedSchema), withPii(undefined), undefined);
    const split = new RawTestSplit(withPii(keyedSchema), pii.hash);
    expect(() => split.add({ email: 'ann@example.com', kind: 'a' }, 1)).toThrow(PiiKeyMissingError);
    expect(() => split.add({ email: 'ann@example.com', kind: 'a' }, 1)).toThrow(
      /column email .*LATHE_PII_KEY is not set/,
    );
  });
});
