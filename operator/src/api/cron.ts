/**
 * Cron schedules and time zones, validated by one grammar in both CEL and zod.
 *
 * The grammar is the five-field one a Kubernetes CronJob accepts (minute, hour, day of month,
 * month, day of week; `*`, values, ranges, steps, lists, three-letter month and day names) plus
 * the `@hourly`-style macros. It is written without backslashes or flags so the same source
 * text is a valid RE2 pattern inside a CEL string literal and a valid JavaScript RegExp.
 */
import { z } from 'zod';
import { withCel } from './cel.js';

function field(value: string): string {
  const item = `([*]|(${value})(-(${value}))?)(/[0-9]{1,2})?`;
  return `${item}(,${item})*`;
}

const MONTH_NAMES = 'JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC';
const DAY_NAMES = 'SUN|MON|TUE|WED|THU|FRI|SAT';
const MINUTE = '[0-5]?[0-9]';
const HOUR = '[01]?[0-9]|2[0-3]';
const DAY_OF_MONTH = '0?[1-9]|[12][0-9]|3[01]';
const MONTH = `0?[1-9]|1[0-2]|${MONTH_NAMES}|${MONTH_NAMES.toLowerCase()}`;
const DAY_OF_WEEK = `[0-6]|${DAY_NAMES}|${DAY_NAMES.toLowerCase()}`;

/** The macros a CronJob schedule accepts in place of five fields. */
export const CRON_MACROS = [
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@midnight',
  '@hourly',
] as const;

/** The cron grammar as pattern source text, shared by the CEL rule and the zod check. */
export const CRON_PATTERN_SOURCE = `^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(${[
  MINUTE,
  HOUR,
  DAY_OF_MONTH,
  MONTH,
  DAY_OF_WEEK,
]
  .map(field)
  .join(') +(')}))$`;

const CRON_PATTERN = new RegExp(CRON_PATTERN_SOURCE);

/** Whether `expression` is a schedule a CronJob accepts (five fields or a macro). */
export function isValidCron(expression: string): boolean {
  return CRON_PATTERN.test(expression);
}

/** Time zone names: IANA tz database identifiers such as `Europe/Paris` or `Etc/UTC`. */
export const TIME_ZONE_PATTERN = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/**
 * A cron schedule field. `fieldName` is the path a user sees in errors
 * (`spec.triggers.schedule.cron`).
 */
export function cronExpression(fieldName: string, description: string) {
  const schema = z
    .string()
    .min(1)
    .max(128)
    .meta({
      description,
      examples: ['0 3 * * *', '*/15 8-18 * * MON-FRI', '0 0 1 jan,jul *', '@hourly'],
    });
  return withCel(schema, [
    {
      rule: `self.matches('${CRON_PATTERN_SOURCE}')`,
      message: `${fieldName} must be a cron expression of five fields (minute hour day-of-month month day-of-week, e.g. "0 3 * * *") or one of ${CRON_MACROS.join(', ')}`,
      holds: isValidCron,
    },
  ]);
}

/** An IANA time zone name for a schedule. */
export function timeZone(description: string) {
  return z
    .string()
    .min(1)
    .max(64)
    .regex(TIME_ZONE_PATTERN, {
      message: 'must be an IANA time zone name such as "Etc/UTC" or "Europe/Paris"',
    })
    .describe(description);
}
