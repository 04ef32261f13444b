import { describe, expect, it } from 'vitest';
import { readingDue, untilNextReadingMs } from './readings.js';

const now = new Date('2026-01-01T00:10:00Z');
const checkMs = 5 * 60_000;

describe('the pace of readings', () => {
  it.each([
    ['none yet: due now; after a blocked attempt, an interval on', undefined, true, checkMs],
    ['a check interval old: due', { time: '2026-01-01T00:05:00Z' }, true, 1_000],
    ['newer: not due, until it is', { time: '2026-01-01T00:08:00Z' }, false, 3 * 60_000],
    ['unreadable: due', { time: 'yesterday' }, true, 1_000],
  ])('%s', (_name, last, due, until) => {
    expect(readingDue(last, checkMs, now)).toBe(due);
    expect(untilNextReadingMs(last, checkMs, now)).toBe(until);
  });
});
