/**
 * One run of a RetrainPolicy: the TrainingJob made from the policy's `spec.template`, and the
 * labels and annotations that say why it was started.
 *
 * Two writers create these TrainingJobs — the operator's RetrainPolicy controller (a new dataset
 * version, drift, live accuracy, a manual request) and the retrain program its CronJob runs (the
 * schedule) — so the object is built here, once, below both: neither builds it by hand, and
 * what one writes the other reads the same way.
 *
 * What a run carries is the policy's memory of what it has acted on, kept on the object it
 * created rather than in the policy's status (which may be wiped): the trigger, the dataset
 * version a dataset-change run was started for, the manual request it answered, the reading
 * (drift or accuracy) that called for it, and, once made, the champion/challenger decision about
 * the model it produced.
 */
import { createHash } from 'node:crypto';

export const RETRAIN_API_VERSION = 'lathe.dev/v1alpha1';
/** The label naming the RetrainPolicy a run belongs to. */
export const POLICY_LABEL = 'lathe.dev/retrainpolicy';
/** The label naming what started a run. */
export const TRIGGER_LABEL = 'lathe.dev/trigger';
/** The dataset version a datasetChange run was started for. */
export const DATASET_VERSION_ANNOTATION = 'lathe.dev/dataset-version';
/** The `lathe.dev/run-now` value a manual run answered (the same key a user sets on the policy). */
export const RUN_NOW_ANNOTATION = 'lathe.dev/run-now';
/** The time of the drift or accuracy reading that called for a run. */
export const READING_ANNOTATION = 'lathe.dev/reading-time';
/** The champion/challenger decision about the run's model (JSON), on the run and the model. */
export const PROMOTION_ANNOTATION = 'lathe.dev/promotion';

const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
const MANAGED_BY_VALUE = 'lathe';

export type RetrainTrigger = 'schedule' | 'datasetChange' | 'drift' | 'accuracy' | 'manual';

/** `RetrainPolicy.spec.template`, as far as a run needs it. */
export interface RunTemplate<S extends RunTemplateSpec = RunTemplateSpec> {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: S;
}

export interface RunTemplateSpec {
  datasetRef: { name: string; version?: string };
  [field: string]: unknown;
}

export interface RetrainRun<S extends RunTemplateSpec = RunTemplateSpec> {
  namespace: string;
  policy: { name: string; uid: string };
  /** The TrainingJob's name (deterministic, so a retry finds the run it already made). */
  name: string;
  trigger: RetrainTrigger;
  template: RunTemplate<S>;
  /** Pins the run to this dataset version (a datasetChange run); else the latest is used. */
  datasetVersion?: string;
  /** The manual request answered. */
  manualRequest?: string;
  /** The time of the reading that called for a drift or accuracy run. */
  readingTime?: string;
  /**
   * Whether the policy cannot be deleted before the run is (`blockOwnerDeletion`): the operator
   * sets it; the retrain program's Role grants nothing on the policy, so it cannot.
   */
  blockOwnerDeletion: boolean;
}

/** A TrainingJob of a RetrainPolicy, as created. */
export type RetrainTrainingJob<S extends RunTemplateSpec = RunTemplateSpec> = {
  apiVersion: string;
  kind: 'TrainingJob';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller: boolean;
      blockOwnerDeletion: boolean;
    }[];
  };
  spec: S;
};

/** The TrainingJob of one run: the template, labelled, annotated and owned by the policy. Pure. */
export function retrainTrainingJob<S extends RunTemplateSpec>(
  run: RetrainRun<S>,
): RetrainTrainingJob<S> {
  const annotations: Record<string, string> = { ...(run.template.metadata?.annotations ?? {}) };
  if (run.datasetVersion) annotations[DATASET_VERSION_ANNOTATION] = run.datasetVersion;
  if (run.manualRequest !== undefined) annotations[RUN_NOW_ANNOTATION] = run.manualRequest;
  if (run.readingTime) annotations[READING_ANNOTATION] = run.readingTime;
  const spec = run.template.spec;
  return {
    apiVersion: RETRAIN_API_VERSION,
    kind: 'TrainingJob',
    metadata: {
      name: run.name,
      namespace: run.namespace,
      labels: {
        ...(run.template.metadata?.labels ?? {}),
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        [POLICY_LABEL]: run.policy.name,
        [TRIGGER_LABEL]: run.trigger,
      },
      annotations,
      ownerReferences: [
        {
          apiVersion: RETRAIN_API_VERSION,
          kind: 'RetrainPolicy',
          name: run.policy.name,
          uid: run.policy.uid,
          controller: true,
          blockOwnerDeletion: run.blockOwnerDeletion,
        },
      ],
    },
    spec: {
      ...spec,
      datasetRef: {
        ...spec.datasetRef,
        ...(run.datasetVersion ? { version: run.datasetVersion } : {}),
      },
    },
  };
}

/**
 * The name of a scheduled run: `<policy>-sched-<minutes>` from the CronJob's Job name
 * (`<cronjob>-<minutes since epoch>`), so a retried trigger pod finds its own TrainingJob. At
 * most 63 characters.
 */
export function scheduledRunName(policy: string, jobName: string): string {
  const minutes =
    /-(\d+)$/.exec(jobName)?.[1] ?? createHash('sha256').update(jobName).digest('hex').slice(0, 10);
  const suffix = `-sched-${minutes}`;
  return `${policy.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** The trigger a run's label names, if it is one. */
export function triggerOf(run: {
  metadata?: { labels?: Record<string, string> };
}): RetrainTrigger | undefined {
  const trigger = run.metadata?.labels?.[TRIGGER_LABEL];
  return trigger === 'schedule' ||
    trigger === 'datasetChange' ||
    trigger === 'drift' ||
    trigger === 'accuracy' ||
    trigger === 'manual'
    ? trigger
    : undefined;
}

/** Whether a run is still going (its TrainingJob is neither Succeeded nor Failed). */
export function isRunActive(run: { status?: unknown; [field: string]: unknown }): boolean {
  const phase = (run.status as { phase?: string } | undefined)?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}
