import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HoldQueue } from './hold-queue.js';

describe('HoldQueue', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  const queue = (capacity: number, timeoutMs = 1_000) => {
    const timedOut: { item: string; waitedMs: number }[] = [];
    const q = new HoldQueue<string>({
      capacity,
      timeoutMs,
      onTimeout: (item, waitedMs) => timedOut.push({ item, waitedMs }),
    });
    return { q, timedOut };
  };

  it('holds up to its capacity and refuses one more', () => {
    const { q } = queue(2);
    expect([q.hold('a'), q.hold('b'), q.hold('c')]).toEqual([true, true, false]);
    expect(q.size).toBe(2);
  });

  it('refuses everything at capacity 0', () => {
    const { q } = queue(0);
    expect(q.hold('a')).toBe(false);
  });

  it('refuses the same entry twice', () => {
    const { q } = queue(5);
    expect([q.hold('a'), q.hold('a')]).toEqual([true, false]);
  });

  it('times an entry out after its own deadline, with how long it waited', () => {
    const { q, timedOut } = queue(5, 1_000);
    q.hold('a');
    vi.advanceTimersByTime(400);
    q.hold('b');
    vi.advanceTimersByTime(600);
    expect(timedOut).toEqual([{ item: 'a', waitedMs: 1_000 }]);
    expect(q.size).toBe(1);
    vi.advanceTimersByTime(400);
    expect(timedOut.map((t) => t.item)).toEqual(['a', 'b']);
    expect(q.size).toBe(0);
  });

  it('frees a place when an entry times out', () => {
    const { q } = queue(1, 100);
    q.hold('a');
    expect(q.hold('b')).toBe(false);
    vi.advanceTimersByTime(100);
    expect(q.hold('b')).toBe(true);
  });

  it('releases all, oldest first, with their waits, and none of them times out after', () => {
    const { q, timedOut } = queue(5, 1_000);
    q.hold('a');
    vi.advanceTimersByTime(300);
    q.hold('b');
    vi.advanceTimersByTime(200);
    expect(q.releaseAll()).toEqual([
      { item: 'a', waitedMs: 500 },
      { item: 'b', waitedMs: 200 },
    ]);
    vi.advanceTimersByTime(5_000);
    expect(timedOut).toEqual([]);
    expect(q.size).toBe(0);
  });

  it('cancels an entry so it neither times out nor is released', () => {
    const { q, timedOut } = queue(5, 1_000);
    q.hold('a');
    q.hold('b');
    expect(q.cancel('a')).toBe(true);
    expect(q.cancel('a')).toBe(false);
    vi.advanceTimersByTime(2_000);
    expect(timedOut.map((t) => t.item)).toEqual(['b']);
  });

  it.each([
    [{ capacity: -1, timeoutMs: 1 }, /capacity/],
    [{ capacity: 1.5, timeoutMs: 1 }, /capacity/],
    [{ capacity: 1, timeoutMs: 0 }, /timeoutMs/],
  ])('rejects bad options %o', (options, message) => {
    expect(() => new HoldQueue({ ...options, onTimeout: () => {} })).toThrow(message);
  });
});

describe('HoldQueue.oldestHeldAtMs', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000 }));
  afterEach(() => vi.useRealTimers());

  it('is the oldest entry still held', () => {
    const q = new HoldQueue<string>({ capacity: 5, timeoutMs: 1_000, onTimeout: () => {} });
    expect(q.oldestHeldAtMs()).toBeUndefined();
    q.hold('a');
    vi.advanceTimersByTime(300);
    q.hold('b');
    expect(q.oldestHeldAtMs()).toBe(1_000);
    q.cancel('a');
    expect(q.oldestHeldAtMs()).toBe(1_300);
  });
});
