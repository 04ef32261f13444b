import { describe, expect, it } from 'vitest';
import { batchDistributionOf } from '../../../../contract/batch.js';
import type { ColumnDistribution } from '../../../../contract/dataset-stats.js';
import { batchDriftOf } from './output.js';

const x: ColumnDistribution = { name: 'x', numeric: { edges: [0], fractions: [0.5, 0.5] } };
const marker = (shard: number, counts?: number[]) => ({
  formatVersion: 1 as const,
  shard,
  part: `part-0000${shard}.jsonl`,
  rows: 10,
  failedRecords: 0,
  sizeBytes: 10,
  sha256: 'a'.repeat(64),
  modelDigest: 'sha256:x',
  ...(counts
    ? {
        distribution: {
          rows: counts[0]! + counts[1]!,
          stride: 1,
          columns: [{ name: 'x', numeric: { edges: [0], counts } }],
        },
      }
    : {}),
});

describe('batchDriftOf', () => {
  it('is the PSI of the shards’ merged counts against the training fractions', () => {
    // 9 + 1 below 0, 1 + 9 above: 50/50 merged, no drift; one shard alone: 90/10.
    const merged = batchDistributionOf([marker(0, [9, 1]), marker(1, [1, 9])]);
    expect(batchDriftOf([x], merged)).toEqual({
      metric: 'psi',
      value: 0,
      feature: 'x',
      rows: 20,
      features: [{ feature: 'x', value: 0, samples: 20 }],
    });
    const oneShard = batchDriftOf([x], batchDistributionOf([marker(0, [9, 1])]));
    const psi = 0.4 * Math.log(0.9 / 0.5) + -0.4 * Math.log(0.1 / 0.5);
    expect(oneShard?.value).toBeCloseTo(psi, 4);
  });

  it('is undefined when a shard counted nothing (an older marker) or no column was counted', () => {
    expect(batchDistributionOf([marker(0, [1, 1]), marker(1)])).toBeUndefined();
    expect(batchDriftOf([x], undefined)).toBeUndefined();
    expect(batchDriftOf([x], { rows: 3, stride: 1, columns: [] })).toBeUndefined();
  });
});
