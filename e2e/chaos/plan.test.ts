import { describe, expect, it } from 'vitest';
import { faultKinds, planFaults, seededRandom } from './plan.js';

describe('seededRandom', () => {
  it('repeats its sequence for a seed and differs across seeds, within [0, 1)', () => {
    const a = Array.from({ length: 1000 }, seededRandom(42));
    const again = Array.from({ length: 1000 }, seededRandom(42));
    const other = Array.from({ length: 1000 }, seededRandom(43));
    expect(again).toEqual(a);
    expect(other).not.toEqual(a);
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
    // Roughly uniform: each tenth of the range gets 5–15% of the draws.
    const tenths = Array(10).fill(0);
    for (const x of a) tenths[Math.floor(x * 10)]++;
    expect(tenths.every((n) => n > 50 && n < 150)).toBe(true);
  });
});

describe('planFaults', () => {
  it.each([0, 1, 7, 12345, 2 ** 31 - 1])(
    'seed %i: every kind once, sorted, inside the window, spread at least the gap apart',
    (seed) => {
      const plan = planFaults({ seed, windowMs: 120_000, minGapMs: 20_000 });
      expect(plan.map((f) => f.kind).sort()).toEqual([...faultKinds].sort());
      for (const [i, fault] of plan.entries()) {
        expect(fault.atMs).toBeGreaterThanOrEqual(0);
        expect(fault.atMs).toBeLessThan(120_000);
        if (i > 0) expect(fault.atMs - plan[i - 1]!.atMs).toBeGreaterThanOrEqual(20_000);
      }
    },
  );

  it('is the same timeline for the same seed and another for another seed', () => {
    const options = { windowMs: 600_000 };
    expect(planFaults({ seed: 99, ...options })).toEqual(planFaults({ seed: 99, ...options }));
    expect(planFaults({ seed: 99, ...options })).not.toEqual(planFaults({ seed: 100, ...options }));
  });

  it('repeats a kind as often as counted, and leaves out a kind counted 0', () => {
    const plan = planFaults({
      seed: 3,
      windowMs: 100_000,
      counts: { 'kill-leader': 3, 'kill-node-pods': 0 },
    });
    const count = (kind: string) => plan.filter((f) => f.kind === kind).length;
    expect(count('kill-leader')).toBe(3);
    expect(count('kill-node-pods')).toBe(0);
    expect(count('restart-api-server')).toBe(1);
    expect(plan).toHaveLength(5);
  });

  it('fits faults drawn close to the end of the window inside it', () => {
    // Many seeds: some draw every moment late, which the spreading pushes past the end.
    for (let seed = 0; seed < 200; seed++) {
      const plan = planFaults({ seed, windowMs: 10_000, minGapMs: 2_400 });
      expect(plan.at(-1)!.atMs).toBeLessThan(10_000);
      for (let i = 1; i < plan.length; i++)
        expect(plan[i]!.atMs - plan[i - 1]!.atMs).toBeGreaterThanOrEqual(2_400);
    }
  });

  it.each([
    [{ seed: -1, windowMs: 1000 }, /seed must be a whole number/],
    [{ seed: 1.5, windowMs: 1000 }, /seed must be a whole number/],
    [{ seed: 1, windowMs: 0 }, /windowMs must be > 0/],
    [{ seed: 1, windowMs: 1000, counts: { 'kill-leader': -2 } }, /counts.kill-leader/],
    [{ seed: 1, windowMs: 1000, minGapMs: 400 }, /do not fit in a 1000 ms window/],
  ])('rejects %j', (options, message) => {
    expect(() => planFaults(options)).toThrow(message);
  });
});
