import { describe, expect, it } from 'vitest';
import { driftNote } from './step-start.js';

describe('driftNote', () => {
  const at = '2026-01-01T01:00:00Z';
  const due = { name: 'p-drift-x', trigger: 'drift' as const, readingTime: at };
  it.each([
    {
      name: 'a batch reading names its BatchPrediction',
      reading: { time: at, value: 1.2, feature: 'x1', batchPrediction: 'nightly' },
      want: ', drift 1.2 in x1 of BatchPrediction nightly',
    },
    { name: 'a served reading', reading: { time: at, value: 0.4 }, want: ', drift 0.4' },
    {
      name: 'a newer reading than the run’s says nothing',
      reading: { time: '2026-01-01T02:00:00Z', value: 0.4 },
      want: '',
    },
  ])('$name', ({ reading, want }) => {
    expect(driftNote(due, reading)).toBe(want);
  });

  it('says nothing of another trigger’s run', () => {
    expect(driftNote({ name: 'p-manual-1', trigger: 'manual' }, { time: at, value: 3 })).toBe('');
  });
});
