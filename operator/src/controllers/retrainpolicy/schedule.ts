/**
 * When a RetrainPolicy's schedule next fires, for `status.nextRunTime`.
 *
 * The CronJob controller decides when runs really start; this reads the same calendar with
 * croner: five fields or a macro, month and day names, and — as Kubernetes' cron library does —
 * day-of-month OR day-of-week when both are restricted, AND when either is `*`; in the
 * schedule's IANA time zone.
 */
import { Cron } from 'croner';

/** The first time after `after` that `cron` fires in `timeZone`; undefined if it cannot be read. */
export function nextScheduleTime(cron: string, timeZone: string, after: Date): Date | undefined {
  try {
    return new Cron(cron, { timezone: timeZone, mode: '5-part' }).nextRun(after) ?? undefined;
  } catch {
    // An unknown time zone: the CronJob reports it; the policy's status just has no next time.
    return undefined;
  }
}
