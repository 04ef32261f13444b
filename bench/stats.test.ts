import { describe, expect, it } from 'vitest';
import { percentile, timeCalls } from './stats.js';

describe('percentile', () => {
  it('takes the nearest rank, and NaN of nothing', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('timeCalls', () => {
  it('makes the warm-up and timed calls, and orders p50 before p99', () => {
    let calls = 0;
    const { p50, p99 } = timeCalls(() => calls++, 100, 10);
    expect(calls).toBe(110);
    expect(p50).toBeGreaterThanOrEqual(0);
    expect(p99).toBeGreaterThanOrEqual(p50);
  });
});
