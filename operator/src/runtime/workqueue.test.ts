import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from './backoff.js';
import { WorkQueue, type WorkQueueMetrics } from './workqueue.js';

/** Resolves pending promise callbacks without advancing fake time. */
const flush = () => new Promise<void>((resolve) => queueMicrotask(resolve));

function recordingMetrics() {
  const m = {
    added: 0,
    retried: 0,
    depths: [] as number[],
    queued: [] as number[],
    worked: [] as number[],
  };
  const metrics: WorkQueueMetrics = {
    added: () => void m.added++,
    retried: () => void m.retried++,
    depth: (d) => void m.depths.push(d),
    queued: (s) => void m.queued.push(s),
    worked: (s) => void m.worked.push(s),
  };
  return { m, metrics };
}

describe('backoffDelay', () => {
  it.each([
    { failures: 0, expected: 100 },
    { failures: 1, expected: 200 },
    { failures: 2, expected: 400 },
    { failures: 3, expected: 800 },
    { failures: 10, expected: 1000 },
    { failures: 1000, expected: 1000 },
  ])('is $expected ms after $failures failures (base 100, cap 1000)', ({ failures, expected }) => {
    expect(backoffDelay(failures, { baseMs: 100, capMs: 1000 })).toBe(expected);
  });
});

describe('WorkQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('deduplicates a key added several times before it is taken', async () => {
    const { m, metrics } = recordingMetrics();
    const q = new WorkQueue({ metrics });
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.len()).toBe(2);
    expect(m.added).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.len()).toBe(0);
  });

  it('never hands a key being processed to a second worker, and reprocesses it after done', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    const first = await q.get();
    expect(first).toBe('ns/a');

    // Re-added while processing: it must not be handed out now.
    q.add('ns/a');
    expect(q.len()).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => {
      second = k;
    });
    await flush();
    expect(second).toBeUndefined();

    // Once the first worker is done, the dirty key is processed again.
    q.done('ns/a');
    await flush();
    expect(second).toBe('ns/a');
  });

  it('runs concurrent workers without ever overlapping on one key', async () => {
    const q = new WorkQueue();
    const active = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    const worker = async () => {
      for (;;) {
        const key = await q.get();
        if (key === undefined) return;
        if (active.has(key)) overlaps++;
        active.add(key);
        await new Promise((r) => setTimeout(r, 5));
        active.delete(key);
        processed++;
        q.done(key);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    for (let i = 0; i < 50; i++) {
      q.add(`ns/k${i % 3}`);
      await vi.advanceTimersByTimeAsync(1);
    }
    await vi.advanceTimersByTimeAsync(100);
    const drained = q.drain();
    await vi.advanceTimersByTimeAsync(100);
    await drained;
    await Promise.all(workers);
    expect(overlaps).toBe(0);
    expect(processed).toBeGreaterThanOrEqual(3);
  });

  it('backs off per key 1x, 2x, 4x... up to the cap, and resets on forget', async () => {
    const q = new WorkQueue({ backoff: { baseMs: 100, capMs: 500 } });
    const expectedDelays = [100, 200, 400, 500, 500];
    for (const delay of expectedDelays) {
      q.addRateLimited('ns/a');
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(q.len(), `not ready 1 ms before ${delay} ms`).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(q.len(), `ready at ${delay} ms`).toBe(1);
      expect(await q.get()).toBe('ns/a');
      q.done('ns/a');
    }
    expect(q.numRequeues('ns/a')).toBe(5);

    q.forget('ns/a');
    expect(q.numRequeues('ns/a')).toBe(0);
    q.addRateLimited('ns/a');
    await vi.advanceTimersByTimeAsync(100);
    expect(q.len()).toBe(1);
  });

  it('keeps backoff separate per key', async () => {
    const q = new WorkQueue({ backoff: { baseMs: 100, capMs: 10_000 } });
    q.addRateLimited('ns/a');
    q.addRateLimited('ns/a'); // second failure of a, scheduled later; the earlier timer wins
    q.addRateLimited('ns/b');
    expect(q.numRequeues('ns/a')).toBe(2);
    expect(q.numRequeues('ns/b')).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(q.len()).toBe(2);
  });

  it('adds a key after a delay, keeping the earliest of several delays', async () => {
    const q = new WorkQueue();
    q.addAfter('ns/a', 1000);
    q.addAfter('ns/a', 300);
    q.addAfter('ns/a', 5000);
    await vi.advanceTimersByTimeAsync(299);
    expect(q.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('ns/a');
    q.done('ns/a');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(q.len()).toBe(0);
  });

  it('treats a zero delay as an immediate add', () => {
    const q = new WorkQueue();
    q.addAfter('ns/a', 0);
    expect(q.len()).toBe(1);
  });

  it('on shut down, stops handing out keys, ignores adds and waits for in-flight work', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.addAfter('ns/c', 100);
    const inFlight = await q.get();
    expect(inFlight).toBe('ns/a');

    let drained = false;
    const drain = q.drain().then(() => {
      drained = true;
    });
    expect(await q.get()).toBeUndefined();
    q.add('ns/d');
    await vi.advanceTimersByTimeAsync(200);
    expect(q.len()).toBe(0);
    await flush();
    expect(drained).toBe(false);

    q.done('ns/a');
    await drain;
    expect(drained).toBe(true);
  });

  it('resolves waiting workers with undefined on shut down', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
  });

  it('reports queue and work durations', async () => {
    const { m, metrics } = recordingMetrics();
    const q = new WorkQueue({ metrics });
    q.add('ns/a');
    await vi.advanceTimersByTimeAsync(2000);
    const key = await q.get();
    await vi.advanceTimersByTimeAsync(500);
    q.done(key!);
    expect(m.queued).toEqual([2]);
    expect(m.worked).toEqual([0.5]);
    q.addRateLimited('ns/a');
    expect(m.retried).toBe(1);
  });
});
