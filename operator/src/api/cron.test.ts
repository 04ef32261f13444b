import { describe, expect, it } from 'vitest';
import { CRON_PATTERN_SOURCE, isValidCron, TIME_ZONE_PATTERN } from './cron.js';

describe('isValidCron', () => {
  it.each([
    '0 3 * * *',
    '*/15 * * * *',
    '0 0 1 1 *',
    '5,35 8-18/2 * * MON-FRI',
    '0 12 * jan,jul sun',
    '59 23 31 12 6',
    '0 0 1-15/3 * 1,3,5',
    '@hourly',
    '@daily',
    '@midnight',
    '@weekly',
    '@monthly',
    '@yearly',
    '@annually',
  ])('accepts %s', (expression) => {
    expect(isValidCron(expression)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['* * * *', 'four fields'],
    ['0 0 3 * * *', 'six fields (seconds)'],
    ['60 * * * *', 'minute 60'],
    ['0 24 * * *', 'hour 24'],
    ['0 0 0 * *', 'day of month 0'],
    ['0 0 32 * *', 'day of month 32'],
    ['0 0 * 13 *', 'month 13'],
    ['0 0 * * 7', 'day of week 7'],
    ['0 0 * * FUNDAY', 'unknown day name'],
    ['@fortnightly', 'unknown macro'],
    ['@every 5m', 'interval macro'],
    [' 0 3 * * *', 'leading space'],
    ['0 3 * * * ', 'trailing space'],
    ['every day', 'words'],
    ['0 3 ? * *', 'Quartz ?'],
  ])('rejects %j (%s)', (expression) => {
    expect(isValidCron(expression)).toBe(false);
  });

  it('is written without backslashes, so the CEL string literal needs no escaping', () => {
    expect(CRON_PATTERN_SOURCE).not.toContain('\\');
    expect(CRON_PATTERN_SOURCE).not.toContain("'");
  });
});

describe('TIME_ZONE_PATTERN', () => {
  it.each(['Etc/UTC', 'UTC', 'Europe/Paris', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5'])(
    'accepts %s',
    (zone) => expect(TIME_ZONE_PATTERN.test(zone)).toBe(true),
  );
  it.each(['', 'Not A Zone', '/Europe', 'Europe/', '../etc/passwd'])('rejects %j', (zone) =>
    expect(TIME_ZONE_PATTERN.test(zone)).toBe(false),
  );
});
