/**
 * What the retrain trigger submits: the TrainingJob of one scheduled run of a RetrainPolicy,
 * from the policy's template. Pure, so the name and the guard are unit-tested.
 *
 * The TrainingJob is named after the scheduled Job (`<policy>-<minutes since epoch>` comes from
 * the CronJob's Job name), so a retried pod finds its own TrainingJob (`AlreadyExists`) instead
 * of starting a second run. It is owned by the policy (no `blockOwnerDeletion`: the trigger's
 * Role grants nothing on the policy) and labelled with it and the trigger.
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../operator/src/runtime/resource.js';

export const POLICY_LABEL = 'lathe.dev/retrainpolicy';
export const TRIGGER_LABEL = 'lathe.dev/trigger';

export interface ScheduledRun {
  namespace: string;
  policy: string;
  policyUid: string;
  /** The scheduled Job's name: `<cronjob>-<minutes>`. */
  runName: string;
  template: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: Record<string, unknown>;
  };
}

/** The TrainingJob name for a scheduled run: at most 63 characters, unique per run. */
export function scheduledTrainingJobName(policy: string, runName: string): string {
  const minutes =
    /-(\d+)$/.exec(runName)?.[1] ?? createHash('sha256').update(runName).digest('hex').slice(0, 10);
  const suffix = `-sched-${minutes}`;
  return `${policy.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

export function scheduledTrainingJob(run: ScheduledRun): KubeObject {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: {
      name: scheduledTrainingJobName(run.policy, run.runName),
      namespace: run.namespace,
      labels: {
        ...(run.template.metadata?.labels ?? {}),
        'app.kubernetes.io/managed-by': 'lathe',
        [POLICY_LABEL]: run.policy,
        [TRIGGER_LABEL]: 'schedule',
      },
      annotations: { ...(run.template.metadata?.annotations ?? {}) },
      ownerReferences: [
        {
          apiVersion: 'lathe.dev/v1alpha1',
          kind: 'RetrainPolicy',
          name: run.policy,
          uid: run.policyUid,
          controller: true,
          blockOwnerDeletion: false,
        },
      ],
    },
    spec: run.template.spec,
  };
}

/** Whether a run is still going (not Succeeded, not Failed). */
export function isActive(trainingJob: KubeObject): boolean {
  const phase = (trainingJob.status as { phase?: string } | undefined)?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}
