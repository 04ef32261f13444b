import { describe, expect, it } from 'vitest';
import { nextScheduleTime } from './schedule.js';

// A Monday, 20:00 UTC.
const after = new Date('2026-11-30T20:00:00Z');
const next = (cron: string, timeZone = 'Etc/UTC') =>
  nextScheduleTime(cron, timeZone, after)?.toISOString();

describe('nextScheduleTime', () => {
  it('reads the schedule in its time zone', () => {
    expect(next('0 3 * * *', 'Europe/Paris')).toBe('2026-12-01T02:00:00.000Z');
    expect(next('0 3 * * *')).toBe('2026-12-01T03:00:00.000Z');
    expect(next('30 9 * * *', 'America/New_York')).toBe('2026-12-01T14:30:00.000Z');
  });

  it('knows the macros, names, ranges, steps and lists', () => {
    expect(next('@hourly')).toBe('2026-11-30T21:00:00.000Z');
    expect(next('@midnight')).toBe('2026-12-01T00:00:00.000Z');
    expect(next('@weekly')).toBe('2026-12-06T00:00:00.000Z');
    expect(next('@yearly')).toBe('2027-01-01T00:00:00.000Z');
    expect(next('*/15 8-18 * * mon-fri')).toBe('2026-12-01T08:00:00.000Z');
    expect(next('0 0 1 JAN,jul *')).toBe('2027-01-01T00:00:00.000Z');
    expect(next('0 0 29 2 *')).toBe('2028-02-29T00:00:00.000Z');
  });

  it('combines day of month and day of week as Kubernetes does', () => {
    // Both restricted: either matches (Friday 4 December comes before the 13th).
    expect(next('0 0 13 * FRI')).toBe('2026-12-04T00:00:00.000Z');
    // One is *: only the other decides (the next Monday, not every day).
    expect(next('0 0 * * 1')).toBe('2026-12-07T00:00:00.000Z');
    expect(next('0 0 15 * *')).toBe('2026-12-15T00:00:00.000Z');
  });

  it('gives no time for a time zone it does not know', () => {
    expect(next('0 3 * * *', 'Mars/Olympus_Mons')).toBeUndefined();
  });
});
