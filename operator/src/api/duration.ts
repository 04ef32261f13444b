/**
 * Durations in Go's `time.ParseDuration` syntax (`90s`, `1h30m`), which is what CEL's
 * `duration()` parses, so a minimum can be checked identically by the API server and zod.
 */
import { z } from 'zod';
import { withCel } from './cel.js';

/** Units Lathe accepts; the same subset in CEL and here (no `ns`/`us`, which never make sense). */
export const DURATION_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a duration string that matches `DURATION_PATTERN`. */
export function durationMs(text: string): number {
  let total = 0;
  for (const match of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
  }
  return total;
}

/**
 * A duration field of at least `minimum` (a Go duration such as `1m`). `fieldName` is the path
 * a user sees in errors.
 */
export function durationAtLeast(fieldName: string, minimum: string, description: string) {
  const base = z
    .string()
    .max(32)
    .regex(DURATION_PATTERN, { message: 'must be a duration such as "30m", "1h" or "1h30m"' })
    .meta({ description, examples: ['1m', '90s', '1h30m', '24h'] });
  return withCel(base, [
    {
      rule: `duration(self) >= duration('${minimum}')`,
      message: `${fieldName} must be at least ${minimum}`,
      holds: (self) => !DURATION_PATTERN.test(self) || durationMs(self) >= durationMs(minimum),
    },
  ]);
}
