/**
 * Step `promotion`: champion against challenger, for every run of the policy that produced a
 * verified ModelVersion, newest first (`decision.ts` for how a decision is recorded):
 *
 * 1. a run that carries a decision is final: if its ModelVersion does not carry it yet (a crash
 *    between the two writes), the ModelVersion's patch — the promotion with it — is finished;
 * 2. otherwise the champion (the target stage's version of the model, found by the model-name
 *    index) is scored on the challenger's split — from its metrics when it was trained on that
 *    split, else by an evaluation Job — and the decision is written on the run first, then on
 *    the ModelVersion with the promotion. Both writes are merge patches guarded by the
 *    resourceVersion read, so a pass working from a stale cache fails (409, retried) instead of
 *    deciding twice.
 *
 * Then `status.lastPromotion` is the newest decision of the policy, from the ModelVersions that
 * carry one (the decided-by index) and the runs.
 */
import type { FairnessSummary } from '../../../../contract/fairness/summary.js';
import { PROMOTION_ANNOTATION } from '../../../../contract/retrain-run.js';
import { controllerReference } from '../../runtime/apply.js';
import { kinds } from '../../runtime/builtin-kinds.js';
import { isConditionTrue } from '../../runtime/conditions.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { Step } from '../../runtime/steps.js';
import {
  latheKinds,
  type ModelVersionObject,
  type RetrainPolicyObject,
  type TrainingJobObject,
} from '../lathe-kinds.js';
import { MODEL_VERSIONS_BY_MODEL } from '../shared/indexes.js';
import { resolveModelVersion } from '../shared/resolve-model-version.js';
import {
  championEvidence,
  newestDecision,
  type PromotionRecord,
  promotionRecord,
  recordedDecision,
} from './decision.js';
import { evaluateChampion } from './evaluation.js';
import type { RetrainFacts } from './facts.js';
import { fairnessGate, fairnessSummaryOfStatus } from './fairness-gate.js';
import { DECIDED_BY_INDEX } from './indexes.js';
import { byCreation } from './runs.js';

type Ctx = ReconcileContext<RetrainPolicyObject>;

export function promotionStep(trainerImage: string): Step<RetrainPolicyObject, RetrainFacts> {
  return {
    name: 'promotion',
    async run(policy, ctx, facts) {
      const namespace = policy.metadata.namespace ?? '';
      const name = policy.metadata.name ?? '';
      const runs = facts.runs ?? [];
      const madeNow: PromotionRecord[] = [];
      if (policy.spec.promotion && facts.storage) {
        for (const run of byCreation(runs).reverse()) {
          if (run.status?.phase !== 'Succeeded' || !run.status.modelVersion) continue;
          const made = await decideFor(policy, run, ctx, {
            access: facts.storage.access,
            image: trainerImage,
          });
          if (made) madeNow.push(made);
        }
      }
      const onModels = ctx
        .byField(latheKinds.modelVersion, DECIDED_BY_INDEX, namespace, name)
        .map(recordedDecision);
      const lastPromotion = newestDecision(
        [...madeNow, ...onModels, ...runs.map(recordedDecision)],
        name,
      );
      return { facts: { lastPromotion } };
    },
  };
}

/** Decides about the ModelVersion `run` produced, once; returns a decision made now. */
async function decideFor(
  policy: RetrainPolicyObject,
  run: TrainingJobObject,
  ctx: Ctx,
  options: { access: NonNullable<RetrainFacts['storage']>['access']; image: string },
): Promise<PromotionRecord | undefined> {
  const namespace = policy.metadata.namespace ?? '';
  const rule = policy.spec.promotion!;
  const challenger = ctx
    .reader(latheKinds.modelVersion)
    .get(namespace, run.status?.modelVersion?.name ?? '');
  if (!challenger) return undefined;
  const final = recordedDecision(run);
  if (final) {
    if (!recordedDecision(challenger)) await writeOnModel(challenger, final, rule.targetStage, ctx);
    return undefined;
  }
  // Decided before decisions were kept on runs, or by hand: not ours to redo.
  if (recordedDecision(challenger)) return undefined;
  if (!isConditionTrue(challenger.status?.conditions, 'Ready')) return undefined;

  const resolved = resolveModelVersion(
    ctx
      .byField(
        latheKinds.modelVersion,
        MODEL_VERSIONS_BY_MODEL,
        namespace,
        challenger.spec.modelName,
      )
      .filter((m) => m.metadata.name !== challenger.metadata.name),
    challenger.spec.modelName,
    { stage: rule.targetStage },
  );
  const champion = resolved.ok ? resolved.modelVersion : undefined;
  let championValue: number | undefined;
  let problem: string | undefined;
  let evaluationJob: Parameters<Ctx['delete']>[1] | undefined;
  // The gate on the challenger's own verdict first: failing it, the champion is not needed.
  const fairness = run.spec.fairness;
  let gate = fairnessGate({ fairness, challenger });
  let championFairness: { name: string; summary?: FairnessSummary; problem?: string } | undefined =
    champion
      ? { name: champion.metadata.name ?? '', problem: 'it was not scored on this split' }
      : undefined;
  if (champion && challenger.spec.metrics?.[rule.metric] !== undefined && gate?.passed !== false) {
    const evidence = championEvidence(rule.metric, challenger, champion);
    if (evidence.source === 'metrics') {
      championValue = evidence.value;
      // Evaluated on the same split: its own disparities are the ones to compare with.
      championFairness = {
        name: champion.metadata.name ?? '',
        summary: fairnessSummaryOfStatus(champion),
        problem: 'its ModelVersion has no group metrics',
      };
    } else {
      const evaluated = await evaluateChampion(policy, challenger, champion, run, ctx, {
        access: options.access,
        owner: controllerReference(policy, latheKinds.retrainPolicy.resource),
        image: options.image,
      });
      if (evaluated.state === 'pending') return undefined;
      evaluationJob = evaluated.job;
      if (evaluated.state === 'failed') {
        problem = evaluated.error;
        championFairness = { name: champion.metadata.name ?? '', problem: evaluated.error };
      } else {
        championValue = evaluated.metrics[rule.metric];
        if (championValue === undefined)
          problem = `the evaluation of ${champion.metadata.name} has no metric ${rule.metric}`;
        championFairness = {
          name: champion.metadata.name ?? '',
          summary: evaluated.fairness,
          problem: evaluated.fairnessError,
        };
      }
    }
  }
  if (gate?.passed !== false)
    gate = fairnessGate({ fairness, challenger, champion: championFairness });
  const record = promotionRecord({
    policy,
    challenger,
    champion,
    championValue,
    problem,
    fairness: gate,
    now: ctx.now(),
  });
  // The run first: once it carries the decision, no later pass decides again.
  await ctx.client.patch(
    latheKinds.trainingJob.resource,
    namespace,
    run.metadata.name ?? '',
    'merge',
    {
      metadata: {
        resourceVersion: run.metadata.resourceVersion,
        annotations: { [PROMOTION_ANNOTATION]: JSON.stringify(record) },
      },
    },
    { fieldManager: ctx.fieldManager },
  );
  await writeOnModel(challenger, record, rule.targetStage, ctx);
  if (evaluationJob) await ctx.delete(kinds.job, evaluationJob);
  ctx.log.info({ decision: record }, 'Decided champion against challenger');
  await ctx.events.record(
    policy,
    record.decision === 'Promoted' ? 'Normal' : 'Warning',
    record.decision,
    'Promote',
    `${record.decision} ${challenger.metadata.name}${champion ? ` over ${champion.metadata.name}` : ''}: ${record.reason}`,
  );
  return record;
}

/** Records the decision on the challenger, with the promotion itself in the same patch. */
async function writeOnModel(
  challenger: ModelVersionObject,
  record: PromotionRecord,
  targetStage: string,
  ctx: Ctx,
): Promise<void> {
  await ctx.client.patch(
    latheKinds.modelVersion.resource,
    challenger.metadata.namespace,
    challenger.metadata.name ?? '',
    'merge',
    {
      metadata: {
        resourceVersion: challenger.metadata.resourceVersion,
        annotations: { [PROMOTION_ANNOTATION]: JSON.stringify(record) },
      },
      ...(record.decision === 'Promoted' ? { spec: { stage: targetStage } } : {}),
    },
    { fieldManager: ctx.fieldManager },
  );
}
