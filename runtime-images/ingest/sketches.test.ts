import { describe, expect, it } from 'vitest';
import {
  EXACT_QUANTILE_VALUES,
  FrequencyCounter,
  QuantileSketch,
  RunningStats,
} from './sketches.js';

describe('RunningStats', () => {
  it('gives the mean, population standard deviation and range', () => {
    const s = new RunningStats();
    for (const x of [2, 4, 4, 4, 5, 5, 7, 9]) s.add(x);
    expect(s).toMatchObject({ count: 8, mean: 5, min: 2, max: 9 });
    expect(s.stddev).toBeCloseTo(2, 12);
  });

  it('adds repeated values as if added one by one', () => {
    const one = new RunningStats();
    const many = new RunningStats();
    for (const x of [1, 3, 8]) {
      one.add(x);
      many.add(x);
    }
    for (let i = 0; i < 5; i++) one.add(10);
    many.addRepeated(10, 5);
    expect(many.mean).toBeCloseTo(one.mean, 12);
    expect(many.stddev).toBeCloseTo(one.stddev, 12);
    expect(many.max).toBe(10);
  });
});

describe('FrequencyCounter', () => {
  it('counts exactly within its capacity and ranks ties by value', () => {
    const c = new FrequencyCounter(10);
    for (const v of ['b', 'a', 'c', 'a', 'b']) c.add(v);
    expect(c.exact).toBe(true);
    expect(c.ranked()).toEqual([
      ['a', 2],
      ['b', 2],
      ['c', 1],
    ]);
  });

  it('keeps the heavy hitters beyond its capacity, and says it is no longer exact', () => {
    const c = new FrequencyCounter(4);
    for (let i = 0; i < 1000; i++) {
      c.add('hot');
      c.add(`rare-${i}`);
    }
    expect(c.exact).toBe(false);
    expect(c.counts.size).toBeLessThanOrEqual(4);
    expect(c.ranked()[0]![0]).toBe('hot');
  });
});

describe('QuantileSketch', () => {
  it.each([
    ['an odd count', [5, 1, 3], 0.5, 3],
    ['an even count (mean of the middle two)', [4, 1, 3, 2], 0.5, 2.5],
    ['the first decile', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.1, 2],
    ['ties', [1, 1, 1, 9], 0.5, 1],
  ])('is exact for %s', (_, values, q, expected) => {
    const s = new QuantileSketch(Math.min(...values), Math.max(...values));
    for (const v of values) s.add(v);
    expect(s.exact).toBe(true);
    expect(s.quantiles([q])[0]).toBeCloseTo(expected, 12);
  });

  it('counts added points, even outside the range', () => {
    const s = new QuantileSketch(1, 3);
    for (const v of [1, 2, 3]) s.add(v);
    s.addPoint(0, 4);
    expect(s.quantiles([0.5])[0]).toBe(0);
  });

  it('stays within (hi - lo) / bins of the truth past its exact limit', () => {
    const n = EXACT_QUANTILE_VALUES * 4;
    const s = new QuantileSketch(0, n - 1);
    for (let i = 0; i < n; i++) s.add((i * 7919) % n);
    expect(s.exact).toBe(false);
    const [median] = s.quantiles([0.5]);
    expect(Math.abs(median! - (n - 1) / 2)).toBeLessThanOrEqual(n / 4096 + 1);
  });
});
