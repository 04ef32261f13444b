import { describe, expect, it } from 'vitest';
import {
  type Condition,
  findCondition,
  readyCondition,
  setCondition,
  setKstatus,
  stalledCondition,
} from './conditions.js';

const t0 = new Date('2025-01-01T00:00:00.123Z');
const t1 = new Date('2025-01-01T01:00:00Z');

describe('setCondition', () => {
  const existing: Condition[] = [
    {
      type: 'Ready',
      status: 'False',
      reason: 'Progressing',
      message: 'waiting',
      lastTransitionTime: '2025-01-01T00:00:00Z',
      observedGeneration: 1,
    },
  ];

  it.each([
    {
      name: 'keeps lastTransitionTime when the status is unchanged (even if reason and message change)',
      input: readyCondition(false, 'DatasetNotReady', 'dataset d is not ready', 2),
      expected: {
        status: 'False',
        reason: 'DatasetNotReady',
        lastTransitionTime: '2025-01-01T00:00:00Z',
        observedGeneration: 2,
      },
    },
    {
      name: 'sets lastTransitionTime to now when the status changes',
      input: readyCondition(true, 'Verified', 'ok', 2),
      expected: {
        status: 'True',
        reason: 'Verified',
        lastTransitionTime: '2025-01-01T01:00:00Z',
        observedGeneration: 2,
      },
    },
  ])('$name', ({ input, expected }) => {
    const next = setCondition(existing, input, t1);
    expect(next).toHaveLength(1);
    expect(next[0]).toMatchObject(expected);
  });

  it('appends a new condition with now as its transition time, at second precision', () => {
    const next = setCondition(existing, stalledCondition('InvalidSpec', 'bad', 3), t0);
    expect(next.map((c) => c.type)).toEqual(['Ready', 'Stalled']);
    expect(findCondition(next, 'Stalled')).toEqual({
      type: 'Stalled',
      status: 'True',
      reason: 'InvalidSpec',
      message: 'bad',
      lastTransitionTime: '2025-01-01T00:00:00Z',
      observedGeneration: 3,
    });
  });

  it('does not change its input', () => {
    const copy = structuredClone(existing);
    setCondition(existing, readyCondition(true, 'Verified', 'ok', 2), t1);
    expect(existing).toEqual(copy);
  });

  it('rejects a reason that is not CamelCase', () => {
    expect(() => setCondition([], readyCondition(true, 'not ok', 'x'), t1)).toThrow(
      /not CamelCase/,
    );
  });
});

describe('setKstatus', () => {
  it('walks progressing -> stalled -> ready with the right triple each time', () => {
    let c = setKstatus(
      undefined,
      { state: 'progressing', reason: 'Training', message: 'job running' },
      1,
      t0,
    );
    expect(c.map((x) => `${x.type}=${x.status}`)).toEqual(['Ready=False', 'Reconciling=True']);

    c = setKstatus(c, { state: 'stalled', reason: 'InvalidSpec', message: 'bad' }, 2, t1);
    expect(c.map((x) => `${x.type}=${x.status}`)).toEqual(['Ready=False', 'Stalled=True']);
    // Ready stayed False: its transition time is the first one.
    expect(findCondition(c, 'Ready')?.lastTransitionTime).toBe('2025-01-01T00:00:00Z');
    expect(findCondition(c, 'Ready')?.observedGeneration).toBe(2);

    c = setKstatus(c, { state: 'ready', reason: 'Succeeded', message: 'done' }, 3, t1);
    expect(c.map((x) => `${x.type}=${x.status}`)).toEqual(['Ready=True']);
    expect(findCondition(c, 'Ready')?.lastTransitionTime).toBe('2025-01-01T01:00:00Z');
  });
});
