import { describe, expect, it } from 'vitest';
import { TrainingHistorySchema, TrainingProgressSchema } from '../../contract/results.js';
import { RunReporter } from './run-files.js';

/** A store whose writes finish when the test says so. */
function slowStore() {
  const writes: { key: string; body: string }[] = [];
  const waiting: (() => void)[] = [];
  return {
    writes,
    release: () => {
      for (const resolve of waiting.splice(0)) resolve();
    },
    write: (_bucket: string, key: string, body: Buffer | string) =>
      new Promise<void>((resolve) => {
        writes.push({ key, body: body.toString() });
        waiting.push(resolve);
      }),
  };
}

const epoch = (n: number) => ({
  epoch: n,
  loss: 1 / n,
  valLoss: 2 / n,
  metrics: { accuracy: n / 10 },
});
const now = () => new Date('2026-01-02T03:04:05Z');

describe('RunReporter', () => {
  it('writes history.json and progress.json in the contract shapes', async () => {
    const store = slowStore();
    const reporter = new RunReporter(store, 's3://lathe/runs/ns/job/', 10, 'tensorflow', now);
    reporter.epoch(epoch(1));
    await new Promise((r) => setImmediate(r));
    store.release();
    await new Promise((r) => setImmediate(r));
    store.release();
    await reporter.flush();
    expect(store.writes.map((w) => w.key)).toEqual([
      'runs/ns/job/history.json',
      'runs/ns/job/progress.json',
    ]);
    expect(TrainingHistorySchema.parse(JSON.parse(store.writes[0]!.body))).toEqual({
      epochs: [epoch(1)],
    });
    expect(TrainingProgressSchema.parse(JSON.parse(store.writes[1]!.body))).toEqual({
      epoch: 1,
      totalEpochs: 10,
      loss: 1,
      valLoss: 2,
      metrics: { accuracy: 0.1 },
      backend: 'tensorflow',
      updatedAt: '2026-01-02T03:04:05.000Z',
    });
  });

  it('folds epochs that end during an upload into one later upload of the latest state', async () => {
    const store = slowStore();
    const reporter = new RunReporter(store, 's3://lathe/runs/ns/job/', 10, 'cpu', now);
    reporter.schedule();
    for (let n = 1; n <= 5; n++) reporter.epoch(epoch(n));
    const flushed = reporter.flush();
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setImmediate(r));
      store.release();
    }
    await flushed;
    const progress = store.writes.filter((w) => w.key.endsWith('progress.json'));
    expect(progress).toHaveLength(2);
    expect(JSON.parse(progress[0]!.body).epoch).toBe(0);
    expect(JSON.parse(progress[1]!.body).epoch).toBe(5);
  });

  it('surfaces a failed upload when flushed', async () => {
    const reporter = new RunReporter(
      { write: async () => Promise.reject(new Error('connect ECONNREFUSED')) },
      's3://lathe/runs/ns/job/',
      3,
      'cpu',
    );
    reporter.epoch(epoch(1));
    await expect(reporter.flush()).rejects.toThrow('ECONNREFUSED');
  });
});
