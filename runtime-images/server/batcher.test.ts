import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from './batcher.js';

/** Lets every batch that is due run (a few turns of the real event loop). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe('Batcher', () => {
  // Timers and the clock are fake; setImmediate stays real, so `settle()` lets a scheduled batch run.
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  function recording(options: {
    maxBatchSize: number;
    maxLatencyMs: number;
    arriving?: () => number;
  }) {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>({
      maxBatchSize: options.maxBatchSize,
      maxLatencyMs: options.maxLatencyMs,
      arrivalsPending: options.arriving ?? (() => 0),
      run: (items) => {
        batches.push(items);
        return items.map((i) => i * 10);
      },
    });
    return { batcher, batches };
  }

  it('runs a lone request at once when nothing else is arriving', async () => {
    const { batcher, batches } = recording({ maxBatchSize: 8, maxLatencyMs: 50 });
    const result = batcher.submit(1);
    await settle();
    expect(await result).toBe(10);
    expect(batches).toEqual([[1]]);
  });

  it('puts requests submitted in the same turn into one forward pass, in order', async () => {
    const { batcher, batches } = recording({ maxBatchSize: 8, maxLatencyMs: 50 });
    const results = Promise.all([batcher.submit(1), batcher.submit(2), batcher.submit(3)]);
    await settle();
    expect(await results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('splits at maxBatchSize', async () => {
    const { batcher, batches } = recording({ maxBatchSize: 2, maxLatencyMs: 50 });
    const results = Promise.all([1, 2, 3, 4, 5].map((i) => batcher.submit(i)));
    await settle();
    expect(await results).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('waits for requests still arriving, at most maxLatencyMs', async () => {
    let arriving = 2;
    const { batcher, batches } = recording({
      maxBatchSize: 8,
      maxLatencyMs: 5,
      arriving: () => arriving,
    });
    const first = batcher.submit(1);
    await vi.advanceTimersByTimeAsync(3);
    await settle();
    expect(batches).toEqual([]);
    arriving = 1;
    const second = batcher.submit(2);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1); // 5 ms after the first: go without the third
    await settle();
    expect(batches).toEqual([[1, 2]]);
    expect(await Promise.all([first, second])).toEqual([10, 20]);
  });

  it('goes as soon as the last pending arrival is in (poke)', async () => {
    let arriving = 1;
    const { batcher, batches } = recording({
      maxBatchSize: 8,
      maxLatencyMs: 1000,
      arriving: () => arriving,
    });
    const first = batcher.submit(1);
    await vi.advanceTimersByTimeAsync(10);
    await settle();
    expect(batches).toEqual([]);
    arriving = 0; // that request turned out to be malformed: it never submits
    batcher.poke();
    await settle();
    expect(batches).toEqual([[1]]);
    await first;
  });

  it('does not wait when the batch is full', async () => {
    const { batcher, batches } = recording({
      maxBatchSize: 2,
      maxLatencyMs: 1000,
      arriving: () => 5,
    });
    const results = Promise.all([batcher.submit(1), batcher.submit(2)]);
    await settle();
    expect(batches).toEqual([[1, 2]]);
    await results;
  });

  it('runs one batch at a time; what queues meanwhile forms the next batch', async () => {
    const batches: number[][] = [];
    let release: () => void = () => {};
    const batcher = new Batcher<number, number>({
      maxBatchSize: 8,
      maxLatencyMs: 5,
      run: async (items) => {
        batches.push(items);
        if (batches.length === 1) await new Promise<void>((r) => (release = r));
        return items;
      },
    });
    const first = batcher.submit(1);
    await settle();
    const later = [batcher.submit(2), batcher.submit(3)];
    await vi.advanceTimersByTimeAsync(10);
    await settle();
    expect(batches).toEqual([[1]]);
    release();
    expect(await Promise.all([first, ...later])).toEqual([1, 2, 3]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it('fails only the requests of a failed batch', async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>({
      maxBatchSize: 1,
      maxLatencyMs: 0,
      run: (items) => {
        calls++;
        if (calls === 1) throw new Error('out of memory');
        return items;
      },
    });
    const first = batcher.submit(1);
    const second = batcher.submit(2);
    const settled = Promise.allSettled([first, second]);
    await settle();
    const [a, b] = await settled;
    expect(a).toMatchObject({ status: 'rejected', reason: new Error('out of memory') });
    expect(b).toEqual({ status: 'fulfilled', value: 2 });
  });
});
