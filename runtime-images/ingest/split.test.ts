import { describe, expect, it } from 'vitest';
import { SplitAssigner, seededRandom, testRowsOf } from './split.js';

function assign(strata: string[], testFraction: number, seed: number): boolean[] {
  const counts = new Map<string, number>();
  for (const s of strata) counts.set(s, (counts.get(s) ?? 0) + 1);
  const split = new SplitAssigner(counts, testFraction, seed);
  return strata.map((s) => split.isTest(s));
}

describe('the split', () => {
  it.each([
    [150, 0.2, 30],
    [10, 0.25, 3],
    [3, 0.5, 2],
    [1, 0.2, 0],
  ])('gives %i rows at %f exactly %i test rows', (rows, fraction, expected) => {
    expect(testRowsOf(rows, fraction)).toBe(expected);
    const flags = assign(Array(rows).fill(''), fraction, 42);
    expect(flags.filter(Boolean)).toHaveLength(expected);
  });

  it('keeps class proportions in both splits when stratified', () => {
    const strata = [...Array(50).fill('a'), ...Array(30).fill('b'), ...Array(20).fill('c')];
    const flags = assign(strata, 0.2, 7);
    const testOf = (c: string) => strata.filter((s, i) => s === c && flags[i]).length;
    expect([testOf('a'), testOf('b'), testOf('c')]).toEqual([10, 6, 4]);
  });

  it('is the same for the same seed and differs for another', () => {
    const strata = Array(200).fill('');
    expect(assign(strata, 0.3, 1)).toEqual(assign(strata, 0.3, 1));
    expect(assign(strata, 0.3, 1)).not.toEqual(assign(strata, 0.3, 2));
  });

  it('picks test rows from the whole file, not its start', () => {
    const flags = assign(Array(1000).fill(''), 0.2, 3);
    const firstHalf = flags.slice(0, 500).filter(Boolean).length;
    expect(firstHalf).toBeGreaterThan(70);
    expect(firstHalf).toBeLessThan(130);
  });

  it('refuses a row it was not told about', () => {
    const split = new SplitAssigner(new Map([['a', 1]]), 0.5, 1);
    split.isTest('a');
    expect(() => split.isTest('a')).toThrow(/another row/);
  });

  it('draws the same numbers from the same seed', () => {
    const a = seededRandom(99);
    const b = seededRandom(99);
    const draws = Array.from({ length: 5 }, () => a());
    expect(draws).toEqual(Array.from({ length: 5 }, () => b()));
    for (const d of draws) expect(d >= 0 && d < 1).toBe(true);
  });
});
