/**
 * What the retrain trigger submits: the TrainingJob of one scheduled run of a RetrainPolicy,
 * built by the same builder the operator's controller uses for its runs
 * (`contract/retrain-run.ts`). Pure, so the name and the guard are unit-tested.
 *
 * The TrainingJob is named after the scheduled Job (`<policy>-<minutes since epoch>` comes from
 * the CronJob's Job name), so a retried pod finds its own TrainingJob (`AlreadyExists`) instead
 * of starting a second run. It is owned by the policy without `blockOwnerDeletion` (the
 * trigger's Role grants nothing on the policy).
 */
import {
  isRunActive,
  type RetrainTrainingJob,
  type RunTemplate,
  retrainTrainingJob,
  scheduledRunName,
} from '../../contract/retrain-run.js';

export { POLICY_LABEL, TRIGGER_LABEL } from '../../contract/retrain-run.js';

export interface ScheduledRun {
  namespace: string;
  policy: string;
  policyUid: string;
  /** The scheduled Job's name: `<cronjob>-<minutes>`. */
  runName: string;
  template: RunTemplate;
}

/** The TrainingJob name for a scheduled run: at most 63 characters, unique per run. */
export const scheduledTrainingJobName = scheduledRunName;

/** The TrainingJob of the scheduled run. */
export function scheduledTrainingJob(run: ScheduledRun): RetrainTrainingJob {
  return retrainTrainingJob({
    namespace: run.namespace,
    policy: { name: run.policy, uid: run.policyUid },
    name: scheduledRunName(run.policy, run.runName),
    trigger: 'schedule',
    template: run.template,
    blockOwnerDeletion: false,
  });
}

/** Whether a run is still going (not Succeeded, not Failed). */
export const isActive = isRunActive;
