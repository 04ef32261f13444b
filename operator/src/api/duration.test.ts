import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DURATION_PATTERN, durationAtLeast, durationMs } from './duration.js';

describe('durationMs', () => {
  it.each([
    ['1m', 60_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['250ms', 250],
    ['24h', 86_400_000],
  ])('%s is %d ms', (text, ms) => {
    expect(DURATION_PATTERN.test(text)).toBe(true);
    expect(durationMs(text)).toBe(ms);
  });

  it.each(['', '1', 'daily', '1d', '-1m', '1 m', '1µs'])('%j is not a duration', (text) => {
    expect(DURATION_PATTERN.test(text)).toBe(false);
  });
});

describe('durationAtLeast', () => {
  const schema = z.object({ every: durationAtLeast('spec.every', '1m', 'How often.') });

  it.each(['1m', '60s', '2h', '1h0m'])('accepts %s', (every) => {
    expect(schema.safeParse({ every }).success).toBe(true);
  });

  it.each([
    ['59s', 'spec.every must be at least 1m'],
    ['500ms', 'spec.every must be at least 1m'],
    ['soon', 'must be a duration'],
  ])('rejects %s with "%s"', (every, message) => {
    const result = schema.safeParse({ every });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('\n')).toContain(message);
  });
});
