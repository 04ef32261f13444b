/**
 * Step `cronjob`: the policy's CronJob — the schedule trigger, run under its own ServiceAccount,
 * Role and RoleBinding (only with a schedule trigger) — and the triggers' record its annotations
 * hold (`trigger-record.ts`), brought up to date with the runs that exist. With the
 * datasetChange trigger and no version recorded yet, the Dataset's current version is recorded
 * as the baseline.
 *
 * It runs before any trigger acts: if the CronJob cannot be written (its name is taken by an
 * object Lathe does not manage), no run starts, because none could be recorded.
 */

import { controllerReference } from '../../runtime/apply.js';
import { kinds } from '../../runtime/builtin-kinds.js';
import { isConditionTrue } from '../../runtime/conditions.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { OwnerReference } from '../../runtime/resource.js';
import type { Step } from '../../runtime/steps.js';
import { latheKinds, type RetrainPolicyObject } from '../lathe-kinds.js';
import { cronJobName, desiredCronJob, RUN_NOW_ANNOTATION, triggerIdentity } from './desired.js';
import type { RetrainFacts } from './facts.js';
import { nextRunTime, untilNextRunMs } from './status.js';
import {
  currentRecord,
  holdsRecord,
  parseRecord,
  recordAnnotations,
  recordFromStatus,
  type TriggerRecord,
} from './trigger-record.js';

export function cronJobStep(retrainImage: string): Step<RetrainPolicyObject, RetrainFacts> {
  return {
    name: 'cronjob',
    async run(policy, ctx, facts) {
      const namespace = policy.metadata.namespace ?? '';
      const spec = policy.spec;
      const owner = controllerReference(policy, latheKinds.retrainPolicy.resource);
      const datasetName = spec.template.spec.datasetRef.name;
      const dataset = spec.triggers.datasetChange
        ? ctx.reader(latheKinds.dataset).get(namespace, datasetName)
        : undefined;
      const datasetVersion =
        dataset && isConditionTrue(dataset.status?.conditions, 'Ready')
          ? dataset.status?.currentVersion
          : undefined;
      const existing = ctx
        .childrenOf(kinds.cronJob, policy)
        .find((c) => c.metadata?.name === cronJobName(policy.metadata.name ?? ''));
      const record = currentRecord({
        recorded: holdsRecord(existing?.metadata?.annotations)
          ? parseRecord(existing?.metadata?.annotations)
          : recordFromStatus(policy.status),
        runs: facts.runs ?? [],
        datasetChange: spec.triggers.datasetChange,
        currentDatasetVersion: datasetVersion,
        manualRequest: policy.metadata.annotations?.[RUN_NOW_ANNOTATION] || undefined,
      });

      if (spec.triggers.schedule) {
        const identity = triggerIdentity(policy, owner);
        await ctx.apply(kinds.serviceAccount, identity.serviceAccount);
        await ctx.apply(kinds.role, identity.role);
        await ctx.apply(kinds.roleBinding, identity.roleBinding);
      } else {
        for (const kind of [kinds.roleBinding, kinds.role, kinds.serviceAccount])
          await ctx.prune(kind, policy, []);
      }
      await applyCronJob(policy, ctx, { image: retrainImage, owner, record });

      const blocked =
        spec.triggers.datasetChange && !dataset && !spec.suspend
          ? {
              state: 'progressing' as const,
              reason: 'DatasetNotFound',
              message: `Dataset ${datasetName} does not exist`,
            }
          : undefined;
      const now = ctx.now();
      const untilNext = untilNextRunMs(nextRunTime(policy, now), now);
      return {
        facts: { datasetVersion, record },
        ...(blocked ? { readiness: blocked } : {}),
        ...(untilNext !== undefined ? { requeueAfterMs: untilNext } : {}),
      };
    },
  };
}

/** Applies the policy's CronJob with `record` in its annotations. */
export async function applyCronJob(
  policy: RetrainPolicyObject,
  ctx: ReconcileContext<RetrainPolicyObject>,
  options: { image: string; owner: OwnerReference; record: TriggerRecord },
): Promise<void> {
  await ctx.apply(
    kinds.cronJob,
    desiredCronJob(policy, {
      image: options.image,
      owner: options.owner,
      record: recordAnnotations(options.record),
    }),
  );
}
