import { describe, expect, it } from 'vitest';
import {
  HistoryReader,
  historyKey,
  parseHistory,
  type RunRecordsReader,
} from './history-reader.js';

const history = (epochs: number) =>
  JSON.stringify({
    epochs: Array.from({ length: epochs }, (_, i) => ({
      epoch: i + 1,
      loss: 1 / (i + 1),
      metrics: {},
    })),
  });

/** A store holding `files`, counting reads; `failing` keys throw like an unreachable store. */
function fakeStore(files: Map<string, string>, failing = new Set<string>()) {
  const reads: string[] = [];
  const store: RunRecordsReader = {
    async readText(key) {
      reads.push(key);
      await Promise.resolve();
      if (failing.has(key)) throw new Error('connect ECONNREFUSED');
      return files.get(key);
    },
  };
  return { store, reads };
}

describe('HistoryReader', () => {
  const key = historyKey('team-a', 'iris-run');

  it('reads runs/<ns>/<job>/history.json', () => {
    expect(key).toBe('runs/team-a/iris-run/history.json');
  });

  it('keeps a running job’s history for liveTtlMs, a finished one’s much longer', async () => {
    let now = 0;
    const files = new Map([[key, history(2)]]);
    const { store, reads } = fakeStore(files);
    const reader = new HistoryReader(store, {
      liveTtlMs: 5_000,
      finishedTtlMs: 600_000,
      nowMs: () => now,
    });

    const first = await reader.read('team-a', 'iris-run', false);
    expect(first.state === 'found' && first.history.epochs.length).toBe(2);
    files.set(key, history(3));
    now = 4_000;
    await reader.read('team-a', 'iris-run', false);
    expect(reads).toHaveLength(1);
    now = 6_000;
    const later = await reader.read('team-a', 'iris-run', false);
    expect(later.state === 'found' && later.history.epochs.length).toBe(3);
    expect(reads).toHaveLength(2);

    // Finished now: one more read (the last one was made while it ran), then none for minutes.
    now = 12_000;
    await reader.read('team-a', 'iris-run', true);
    now = 300_000;
    await reader.read('team-a', 'iris-run', true);
    expect(reads).toHaveLength(3);
    now = 700_000;
    await reader.read('team-a', 'iris-run', true);
    expect(reads).toHaveLength(4);
  });

  it('shares one read between concurrent views', async () => {
    const { store, reads } = fakeStore(new Map([[key, history(1)]]));
    const reader = new HistoryReader(store);
    const all = await Promise.all([1, 2, 3].map(() => reader.read('team-a', 'iris-run', true)));
    expect(reads).toHaveLength(1);
    expect(all.every((r) => r.state === 'found')).toBe(true);
  });

  it('remembers a missing or malformed history, but not a failed store', async () => {
    const bad = historyKey('team-a', 'bad');
    const down = historyKey('team-a', 'down');
    const { store, reads } = fakeStore(
      new Map([[bad, '{"epochs":[{"epoch":0}]}']]),
      new Set([down]),
    );
    const reader = new HistoryReader(store);
    for (let i = 0; i < 2; i++) {
      expect((await reader.read('team-a', 'gone', true)).state).toBe('missing');
      const malformed = await reader.read('team-a', 'bad', true);
      expect(malformed).toMatchObject({ state: 'unreadable' });
      const failed = await reader.read('team-a', 'down', true);
      expect(failed).toMatchObject({ state: 'unreadable', message: 'connect ECONNREFUSED' });
    }
    expect(reads.filter((k) => k === down)).toHaveLength(2);
    expect(reads).toHaveLength(4);
  });

  it('bounds what it keeps', async () => {
    const { store, reads } = fakeStore(new Map());
    const reader = new HistoryReader(store, { maxEntries: 2 });
    for (const job of ['a', 'b', 'c', 'a']) await reader.read('ns', job, true);
    expect(reads).toEqual(['a', 'b', 'c', 'a'].map((j) => historyKey('ns', j)));
  });
});

describe('parseHistory', () => {
  it.each([
    ['not JSON', '{', /^history\.json is not JSON: /],
    [
      'a wrong shape',
      '{"epochs":[{"epoch":0,"loss":1}]}',
      /^history\.json is not a training history: epochs\.0\.epoch: /,
    ],
    ['no epochs', '{}', /^history\.json is not a training history: epochs: /],
  ])('names what is wrong with %s', (_case, text, message) => {
    expect(() => parseHistory(text)).toThrow(message);
  });
});
