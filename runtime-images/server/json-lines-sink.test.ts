import { afterEach, describe, expect, it, vi } from 'vitest';
import { closeWithin, JsonLinesSink } from './json-lines-sink.js';

function sink(
  options: { fail?: () => boolean; maxBufferedBytes?: number; maxLinesPerFile?: number } = {},
) {
  const files = new Map<string, string>();
  const counts = { written: 0, dropped: 0, failures: 0 };
  const s = new JsonLinesSink({
    kind: 'requests',
    bucket: 'lathe',
    prefix: 'feedback/ns/iris/',
    writer: 'iris-v1-abc',
    flushIntervalMs: 1000,
    maxBufferedBytes: options.maxBufferedBytes,
    maxLinesPerFile: options.maxLinesPerFile,
    now: () => new Date('2026-01-02T03:04:05.678Z'),
    write: async (_bucket, key, body) => {
      if (options.fail?.()) throw new Error('store down');
      files.set(key, body.toString());
    },
    onWritten: (n) => (counts.written += n),
    onDropped: (n) => (counts.dropped += n),
    onWriteFailure: () => counts.failures++,
  });
  return { s, files, counts };
}

describe('JsonLinesSink', () => {
  afterEach(() => vi.useRealTimers());

  it('writes buffered records as one JSON Lines file under the feedback layout', async () => {
    const { s, files, counts } = sink();
    s.add({ a: 1 });
    s.add({ b: 'x' });
    await s.flush();
    expect([...files.entries()]).toEqual([
      [
        'feedback/ns/iris/requests/2026-01-02/03/20260102T030405.678Z-iris-v1-abc-000000.jsonl',
        '{"a":1}\n{"b":"x"}\n',
      ],
    ]);
    expect(counts.written).toBe(2);
    await s.flush();
    expect(files.size).toBe(1);
  });

  it('flushes on its interval and when a file is full', async () => {
    vi.useFakeTimers();
    const { s, files } = sink({ maxLinesPerFile: 2 });
    s.start();
    s.add({ n: 1 });
    s.add({ n: 2 }); // full: written now
    await vi.advanceTimersByTimeAsync(0);
    expect(files.size).toBe(1);
    s.add({ n: 3 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(files.size).toBe(2);
    await s.close();
  });

  it('drops records, never blocking, when the buffer is full', () => {
    const { s, counts } = sink({ maxBufferedBytes: 20 });
    expect(s.add({ n: 1 })).toBe(true);
    expect(s.add({ n: 2 })).toBe(true);
    expect(s.add({ n: 3 })).toBe(false);
    expect(counts.dropped).toBe(1);
    expect(s.buffered).toBe(2);
  });

  it('keeps the lines of a failed write for the next flush', async () => {
    let down = true;
    const { s, files, counts } = sink({ fail: () => down });
    s.add({ n: 1 });
    await s.flush();
    expect(counts.failures).toBe(1);
    expect(s.buffered).toBe(1);
    down = false;
    s.add({ n: 2 });
    await s.flush();
    expect([...files.values()]).toEqual(['{"n":1}\n{"n":2}\n']);
  });

  it('counts what it could not write by close as dropped', async () => {
    const { s, counts } = sink({ fail: () => true });
    s.add({ n: 1 });
    await s.close();
    expect(counts.dropped).toBe(1);
  });

  it('closes sinks within a time bound, counting what a hung store never took', async () => {
    vi.useFakeTimers();
    const hung = new JsonLinesSink({
      kind: 'labels',
      bucket: 'lathe',
      prefix: 'feedback/ns/iris/',
      writer: 'w',
      flushIntervalMs: 1000,
      write: () => new Promise<void>(() => undefined),
    });
    const { s: healthy, files } = sink();
    hung.add({ n: 1 });
    hung.add({ n: 2 });
    healthy.add({ n: 3 });
    const closing = closeWithin([hung, healthy, undefined], 500);
    await vi.advanceTimersByTimeAsync(499);
    expect(files.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await closing).toEqual({ complete: false, unwritten: 2 });
  });

  it('closes sinks that write in time as complete', async () => {
    const { s, files } = sink();
    s.add({ n: 1 });
    expect(await closeWithin([s], 10_000)).toEqual({ complete: true, unwritten: 0 });
    expect(files.size).toBe(1);
  });
});
