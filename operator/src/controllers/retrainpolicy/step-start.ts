/**
 * Step `start`: starts the run the triggers admitted — deletes the runs it replaces
 * (`concurrencyPolicy: Replace`), creates its TrainingJob from the template (named after what
 * called for it, so a second create finds the first: `AlreadyExists` is the same run), then
 * records it in the CronJob's annotations. A crash between the two leaves a run the record does
 * not know yet; the run itself says what it was for, and the next pass records it.
 */

import { controllerReference } from '../../runtime/apply.js';
import { timestamp } from '../../runtime/conditions.js';
import { TerminalError } from '../../runtime/controller.js';
import { isAlreadyExists } from '../../runtime/kube-client.js';
import type { Step } from '../../runtime/steps.js';
import { latheKinds, type RetrainPolicyObject, type TrainingJobObject } from '../lathe-kinds.js';
import { desiredRun } from './desired.js';
import type { RetrainFacts } from './facts.js';
import { applyCronJob } from './step-cronjob.js';
import { recordStarted } from './trigger-record.js';
import type { DueRun } from './triggers.js';

export function startStep(retrainImage: string): Step<RetrainPolicyObject, RetrainFacts> {
  return {
    name: 'start',
    async run(policy, ctx, facts) {
      const admission = facts.admission;
      if (admission?.verdict !== 'start') return undefined;
      const due = admission.run;
      for (const tj of admission.replace) {
        await ctx.delete(latheKinds.trainingJob, tj);
        ctx.log.info({ run: tj.metadata.name }, 'Deleted a run a new one replaces');
      }
      const body = desiredRun(policy, due);
      let created: TrainingJobObject | undefined;
      try {
        created = await ctx.client.create<TrainingJobObject>(latheKinds.trainingJob.resource, body);
      } catch (error) {
        if (!isAlreadyExists(error)) {
          if ((error as { statusCode?: number }).statusCode === 422) {
            throw new TerminalError(
              `spec.template is not a valid TrainingJob: ${(error as Error).message}`,
              { cause: error, reason: 'InvalidTemplate' },
            );
          }
          throw error;
        }
      }
      const time = created?.metadata.creationTimestamp ?? timestamp(ctx.now());
      const record = recordStarted(facts.record ?? {}, due, time);
      await applyCronJob(policy, ctx, {
        image: retrainImage,
        owner: controllerReference(policy, latheKinds.retrainPolicy.resource),
        record,
      });
      if (created) {
        await ctx.events.record(
          policy,
          'Normal',
          'RunStarted',
          'Retrain',
          `Started TrainingJob ${due.name} (${due.trigger}${due.datasetVersion ? `, dataset version ${due.datasetVersion}` : ''}${driftNote(due, facts.lastDrift)})`,
        );
      }
      const replaced = new Set(admission.replace);
      const runs = (facts.runs ?? []).filter((tj) => !replaced.has(tj));
      return {
        facts: { record, runs: created ? [...runs, created] : runs },
        ...(facts.moreDue ? { requeueAfterMs: 1_000 } : {}),
      };
    },
  };
}

/** What a drift run's event says of its reading: its value, and the batch run it came from. */
export function driftNote(due: DueRun, reading: RetrainFacts['lastDrift']): string {
  if (due.trigger !== 'drift' || !reading || reading.time !== due.readingTime) return '';
  const where = reading.batchPrediction ? ` of BatchPrediction ${reading.batchPrediction}` : '';
  return `, drift ${reading.value}${reading.feature ? ` in ${reading.feature}` : ''}${where}`;
}
