/**
 * The triggers' record: what each trigger of a RetrainPolicy has acted on, so that no run is
 * started twice — across restarts, a stale cache, and a wiped status. Pure.
 *
 * It is kept where it survives all three: as annotations of the policy's CronJob (which exists
 * for every policy; without a schedule trigger it is suspended), and on every run the policy
 * starts (`contract/retrain-run.ts`: the dataset version, the manual request, the reading). Runs
 * alone would not do — the history limits delete them — and the CronJob alone would not either:
 * a run is created before the record is advanced, so a crash in between leaves a run the record
 * does not know yet. The two are read together: a run that exists for a value counts as that
 * value acted on, and the record is brought up to date from it on the next pass.
 */
import {
  DATASET_VERSION_ANNOTATION,
  READING_ANNOTATION,
  type RetrainTrigger,
  RUN_NOW_ANNOTATION,
  triggerOf,
} from '../../../../contract/retrain-run.js';
import type { TrainingJobObject } from '../lathe-kinds.js';

/** What the triggers have acted on. */
export interface TriggerRecord {
  /** The dataset version the datasetChange trigger last acted on, or found as its baseline. */
  datasetVersion?: string;
  /** The `lathe.dev/run-now` value last acted on. */
  manualRequest?: string;
  /** The time of the drift reading that last started a run. */
  driftReading?: string;
  /** The time of the accuracy reading that last started a run. */
  accuracyReading?: string;
  /** The newest run of the policy, which the history limits may have deleted since. */
  lastRun?: { name: string; trigger: RetrainTrigger; time: string };
}

/** The CronJob annotations that hold the record. */
export const RecordAnnotation = {
  datasetVersion: 'lathe.dev/acted-on-dataset-version',
  manualRequest: 'lathe.dev/acted-on-run-now',
  driftReading: 'lathe.dev/acted-on-drift-reading',
  accuracyReading: 'lathe.dev/acted-on-accuracy-reading',
  lastRun: 'lathe.dev/last-run',
} as const;

/** The record as the annotations hold it (a missing or unreadable entry is left out). */
export function parseRecord(
  annotations: Readonly<Record<string, string>> | undefined,
): TriggerRecord {
  const a = annotations ?? {};
  const record: TriggerRecord = {};
  if (a[RecordAnnotation.datasetVersion])
    record.datasetVersion = a[RecordAnnotation.datasetVersion];
  if (a[RecordAnnotation.manualRequest] !== undefined)
    record.manualRequest = a[RecordAnnotation.manualRequest];
  if (a[RecordAnnotation.driftReading]) record.driftReading = a[RecordAnnotation.driftReading];
  if (a[RecordAnnotation.accuracyReading])
    record.accuracyReading = a[RecordAnnotation.accuracyReading];
  const lastRun = parseLastRun(a[RecordAnnotation.lastRun]);
  if (lastRun) record.lastRun = lastRun;
  return record;
}

function parseLastRun(raw: string | undefined): TriggerRecord['lastRun'] {
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as { name?: unknown; trigger?: unknown; time?: unknown };
    const trigger = triggerOf({
      metadata: { labels: { 'lathe.dev/trigger': String(value.trigger) } },
    });
    if (typeof value.name !== 'string' || typeof value.time !== 'string' || !trigger)
      return undefined;
    return { name: value.name, trigger, time: value.time };
  } catch {
    return undefined;
  }
}

/**
 * The record of a policy whose CronJob holds none: what an earlier version of the operator kept
 * in the policy's status (`lastDatasetVersion`, `lastManualRun`). Read only then — once, on an
 * upgrade, or if someone deleted the CronJob — so a run is not started again for a version or
 * request acted on before; otherwise the status is never read back.
 */
export function recordFromStatus(
  status: { lastDatasetVersion?: string; lastManualRun?: string } | undefined,
): TriggerRecord {
  return dropUndefined({
    datasetVersion: status?.lastDatasetVersion,
    manualRequest: status?.lastManualRun,
  });
}

/** Whether the annotations hold a record at all. */
export function holdsRecord(annotations: Readonly<Record<string, string>> | undefined): boolean {
  return Object.values(RecordAnnotation).some((key) => annotations?.[key] !== undefined);
}

/** The annotations that hold `record`. */
export function recordAnnotations(record: TriggerRecord): Record<string, string> {
  const a: Record<string, string> = {};
  if (record.datasetVersion) a[RecordAnnotation.datasetVersion] = record.datasetVersion;
  if (record.manualRequest !== undefined) a[RecordAnnotation.manualRequest] = record.manualRequest;
  if (record.driftReading) a[RecordAnnotation.driftReading] = record.driftReading;
  if (record.accuracyReading) a[RecordAnnotation.accuracyReading] = record.accuracyReading;
  if (record.lastRun) a[RecordAnnotation.lastRun] = JSON.stringify(record.lastRun);
  return a;
}

export interface RecordInputs {
  /** What the CronJob's annotations say (empty when the CronJob does not exist yet). */
  recorded: TriggerRecord;
  /** The policy's runs that exist. */
  runs: readonly TrainingJobObject[];
  /** Whether the datasetChange trigger is on. */
  datasetChange: boolean;
  /** The Dataset's current Ready version, if it has one. */
  currentDatasetVersion: string | undefined;
  /** The policy's `lathe.dev/run-now` annotation, if set. */
  manualRequest: string | undefined;
}

/**
 * The record brought up to date with the runs that exist: a run started for the dataset's
 * current version or for the pending manual request counts as acted on; the newest reading a
 * run carries and the newest run count; and with no version recorded yet, the one found now is
 * the datasetChange trigger's baseline (not a change).
 */
export function currentRecord(inputs: RecordInputs): TriggerRecord {
  const { recorded, runs } = inputs;
  const record: TriggerRecord = { ...recorded };
  const version = inputs.currentDatasetVersion;
  if (inputs.datasetChange && version) {
    if (record.datasetVersion === undefined || runFor(runs, DATASET_VERSION_ANNOTATION, version))
      record.datasetVersion = version;
  }
  const request = inputs.manualRequest;
  if (request !== undefined && runFor(runs, RUN_NOW_ANNOTATION, request))
    record.manualRequest = request;
  record.driftReading = latest(record.driftReading, newestReading(runs, 'drift'));
  record.accuracyReading = latest(record.accuracyReading, newestReading(runs, 'accuracy'));
  const newest = newestRun(runs);
  if (newest && (!record.lastRun || newest.time >= record.lastRun.time)) record.lastRun = newest;
  return dropUndefined(record);
}

/** Whether a run exists that was started for `value` of the annotation `key`. */
export function runFor(runs: readonly TrainingJobObject[], key: string, value: string): boolean {
  return runs.some((tj) => tj.metadata.annotations?.[key] === value);
}

function newestReading(
  runs: readonly TrainingJobObject[],
  trigger: 'drift' | 'accuracy',
): string | undefined {
  let newest: string | undefined;
  for (const tj of runs) {
    if (triggerOf(tj) !== trigger) continue;
    newest = latest(newest, tj.metadata.annotations?.[READING_ANNOTATION]);
  }
  return newest;
}

function newestRun(runs: readonly TrainingJobObject[]): TriggerRecord['lastRun'] {
  let newest: TriggerRecord['lastRun'];
  for (const tj of runs) {
    const trigger = triggerOf(tj);
    const time = tj.metadata.creationTimestamp;
    if (!trigger || !time) continue;
    const candidate = { name: tj.metadata.name ?? '', trigger, time };
    if (!newest || time > newest.time || (time === newest.time && candidate.name > newest.name))
      newest = candidate;
  }
  return newest;
}

/** The later of two RFC 3339 times (second precision, UTC: they sort as strings). */
function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b || undefined;
  if (!b) return a;
  return a >= b ? a : b;
}

function dropUndefined(record: TriggerRecord): TriggerRecord {
  return Object.fromEntries(
    Object.entries(record).filter(([, v]) => v !== undefined),
  ) as TriggerRecord;
}

/** The record once the run `started` exists (created at `time`). */
export function recordStarted(
  record: TriggerRecord,
  started: {
    name: string;
    trigger: RetrainTrigger;
    datasetVersion?: string;
    manualRequest?: string;
    readingTime?: string;
  },
  time: string,
): TriggerRecord {
  const next: TriggerRecord = {
    ...record,
    lastRun: { name: started.name, trigger: started.trigger, time },
  };
  if (started.trigger === 'datasetChange' && started.datasetVersion)
    next.datasetVersion = started.datasetVersion;
  if (started.trigger === 'manual' && started.manualRequest !== undefined)
    next.manualRequest = started.manualRequest;
  if (started.trigger === 'drift')
    next.driftReading = latest(next.driftReading, started.readingTime);
  if (started.trigger === 'accuracy')
    next.accuracyReading = latest(next.accuracyReading, started.readingTime);
  return dropUndefined(next);
}
