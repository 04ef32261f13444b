import { describe, expect, it } from 'vitest';
import type { DatasetStats } from '../../contract/dataset-stats.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import { hashedColumnsOf, shardDistribution } from './distribution.js';

const schema = (task: 'classification' | 'regression'): PreparedSchema => ({
  formatVersion: 1,
  task,
  label: {
    name: 'y',
    type: 'categorical',
    ...(task === 'classification' ? { classes: ['no', 'yes'] } : {}),
  },
  inputs: [
    { name: 'x', type: 'number', kind: 'numeric', impute: 0, scale: { method: 'none' } },
    {
      name: 'email',
      type: 'string',
      kind: 'categorical',
      impute: null,
      encoding: 'ordinal',
      categories: ['h1'],
      other: true,
      hash: 'hmac-sha256/v1',
    },
  ],
  features: ['x', 'email'],
});
const stats: DatasetStats = {
  formatVersion: 1,
  rows: 4,
  trainRows: 4,
  testRows: 0,
  sourceRows: 4,
  columns: [],
  distributions: [
    { name: 'x', numeric: { edges: [10], fractions: [0.5, 0.5] } },
    { name: 'email', categorical: { fractions: { h1: 1 } } },
  ],
};
const records = [5, 15, 25, 35].map((x) => ({ values: { x, email: 'a@b.c' } }));

describe('shardDistribution', () => {
  it('finds the hashed PII columns', () => {
    expect([...hashedColumnsOf(schema('classification'))]).toEqual(['email']);
  });

  it('counts scored rows only, by the argmax class, skipping hashed PII columns', () => {
    const { counter, observe } = shardDistribution(schema('classification'), stats, 1);
    // Row 1 failed: its outputs are not in `outputs`; rows 0, 2, 3 scored in that order.
    observe(
      records,
      [undefined, 'bad', undefined, undefined],
      Float32Array.of(0.9, 0.1, 0.2, 0.8, 0.3, 0.7),
      2,
    );
    expect(counter.counts()).toEqual({
      rows: 3,
      stride: 1,
      columns: [{ name: 'x', numeric: { edges: [10], counts: [1, 2] } }],
      predictions: { classes: { no: 1, yes: 2 } },
    });
  });

  it('counts every stride-th scored row across batches, and regression values', () => {
    const { counter, observe } = shardDistribution(schema('regression'), undefined, 2);
    const none = [undefined, undefined, undefined, undefined];
    observe(records.slice(0, 3), none, Float32Array.of(1, 2, 3), 1);
    observe(records.slice(3), none, Float32Array.of(4), 1);
    // Scored rows 0 and 2 (values 1 and 3); no statistics, so no input columns.
    expect(counter.counts()).toEqual({
      rows: 2,
      stride: 2,
      columns: [],
      predictions: { regression: { count: 2, sum: 4, min: 1, max: 3 } },
    });
  });
});
