import { describe, expect, it } from 'vitest';
import { batchManifestOf, batchMarkerFile, batchPartFile, shardRanges } from './batch.js';

describe('shardRanges', () => {
  const objects = [{ sizeBytes: 10 }, { sizeBytes: 0 }, { sizeBytes: 5 }];

  it('cuts the objects taken end to end into contiguous ranges covering every byte once', () => {
    for (const shards of [1, 2, 3, 4, 7, 15, 20]) {
      const covered: string[] = [];
      for (let i = 0; i < shards; i++)
        for (const r of shardRanges(objects, shards, i))
          for (let b = r.start; b < r.end; b++) covered.push(`${r.object}:${b}`);
      expect(covered).toEqual([
        ...Array.from({ length: 10 }, (_, b) => `0:${b}`),
        ...Array.from({ length: 5 }, (_, b) => `2:${b}`),
      ]);
    }
  });

  it('gives a shard the part of each object it spans', () => {
    expect(shardRanges(objects, 3, 0)).toEqual([{ object: 0, start: 0, end: 5 }]);
    expect(shardRanges(objects, 3, 1)).toEqual([{ object: 0, start: 5, end: 10 }]);
    expect(shardRanges(objects, 3, 2)).toEqual([{ object: 2, start: 0, end: 5 }]);
    expect(shardRanges(objects, 2, 1)).toEqual([
      { object: 0, start: 7, end: 10 },
      { object: 2, start: 0, end: 5 },
    ]);
  });

  it('leaves a shard with no bytes empty, and refuses an index out of range', () => {
    expect(shardRanges([{ sizeBytes: 2 }], 4, 0)).toEqual([]);
    expect(() => shardRanges(objects, 2, 2)).toThrow(/shard index 2 is not in 0..1/);
    expect(() => shardRanges(objects, 0, 0)).toThrow(/positive integer/);
  });
});

describe('batch output names and the manifest', () => {
  it('names parts and markers by shard, sortable', () => {
    expect(batchPartFile(3, 'jsonl')).toBe('part-00003.jsonl');
    expect(batchMarkerFile(12)).toBe('_shards/00012.json');
  });

  it('lists the parts in shard order with the totals', () => {
    const marker = (shard: number, rows: number, failedRecords: number) => ({
      formatVersion: 1 as const,
      shard,
      part: batchPartFile(shard, 'csv'),
      rows,
      failedRecords,
      sizeBytes: rows * 10,
      sha256: 'a'.repeat(64),
      modelDigest: 'sha256:m',
    });
    const manifest = batchManifestOf([marker(1, 5, 1), marker(0, 7, 0)], {
      model: { modelVersion: 'iris-v1', digest: 'sha256:m' },
      format: 'csv',
    });
    expect(manifest.parts.map((p) => p.path)).toEqual(['part-00000.csv', 'part-00001.csv']);
    expect(manifest).toMatchObject({ rows: 12, failedRecords: 1, format: 'csv' });
    // Markers of an older Lathe count nothing: no distribution.
    expect(manifest).not.toHaveProperty('distribution');
    const counted = (m: ReturnType<typeof marker>, a: number, b: number) => ({
      ...m,
      distribution: { rows: a + b, stride: 1, columns: [], predictions: { classes: { a, b } } },
    });
    const withCounts = batchManifestOf(
      [counted(marker(1, 5, 0), 2, 3), counted(marker(0, 7, 0), 7, 0)],
      { model: { modelVersion: 'iris-v1', digest: 'sha256:m' }, format: 'csv' },
    );
    expect(withCounts.distribution).toEqual({
      rows: 12,
      stride: 1,
      columns: [],
      predictions: { classes: { a: 9, b: 3 } },
    });
  });
});
