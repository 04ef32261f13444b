/**
 * The decision log, pure: every automatic action Lathe took, with what it acted on, the rule
 * it applied and what came of it, newest first — gathered from where each action leaves its
 * record rather than from a log of its own (Argo Rollouts' analysis runs and Flagger's canary
 * events show the same kind of history, kept the same way on the objects):
 *
 * - **Retrain started**: a TrainingJob a RetrainPolicy created, its trigger labels and
 *   annotations (`lineage.ts`, `runTrigger`), and the policy's trigger rules as thresholds.
 * - **Challenger promoted / rejected**: the champion/challenger record the policy writes as the
 *   `lathe.dev/promotion` annotation on the run and the ModelVersion
 *   (`operator/src/controllers/retrainpolicy/decision.ts`, `recordedDecision`), else the
 *   policy's `status.lastPromotion`; the policy's promotion rule as threshold.
 * - **Rollout started / held**: an InferenceService's `Ready` condition while it rolls a new
 *   version out, or after the new version failed to become ready (the old one keeps serving).
 * - **Gate failed**: a ModelVersion's `FairnessChecked=False` (the fairness gate), a Dataset's
 *   `Validated=False` (the validation gate, which keeps the previous version current).
 *
 * Every number is copied from those fields as they are, so it is what `kubectl get -o yaml`
 * shows.
 */
import type { Condition } from '../operator/src/api/conditions.js';
import { ROLLOUT_FAILURE_REASONS } from '../operator/src/controllers/inferenceservice/rollout.js';
import {
  type PromotionRecord,
  recordedDecision,
} from '../operator/src/controllers/retrainpolicy/decision.js';
import type { ConsoleObjects, KindKey } from './kinds.js';
import { runTrigger } from './lineage.js';

export type DecisionAction =
  | 'Retrain started'
  | 'Challenger promoted'
  | 'Challenger rejected'
  | 'Rollout started'
  | 'Rollout held'
  | 'Gate failed';

/** One automatic action. */
export interface Decision {
  /** RFC 3339. */
  time: string;
  namespace: string;
  action: DecisionAction;
  /** The object the action was about. */
  subject: { kind: KindKey; name: string };
  /** The object that decided, when another one did (a RetrainPolicy). */
  decidedBy?: { kind: KindKey; name: string };
  inputs: string;
  thresholds: string;
  outcome: string;
}

type Objects = {
  datasets: readonly ConsoleObjects['dataset'][];
  trainingJobs: readonly ConsoleObjects['trainingJob'][];
  modelVersions: readonly ConsoleObjects['modelVersion'][];
  inferenceServices: readonly ConsoleObjects['inferenceService'][];
  retrainPolicies: readonly ConsoleObjects['retrainPolicy'][];
};

const conditionOf = (obj: { status?: unknown }, type: string): Condition | undefined =>
  ((obj.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find(
    (c) => c.type === type,
  );

/** Every decision among `objects` (one viewer's visible objects), newest first. O(objects). */
export function decisionLog(objects: Objects): Decision[] {
  const policies = new Map(
    objects.retrainPolicies.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]),
  );
  const policyOf = (ns: string, name: string | undefined) =>
    name ? policies.get(`${ns}/${name}`) : undefined;
  const decisions: Decision[] = [];

  for (const run of objects.trainingJobs) {
    const ns = run.metadata.namespace ?? '';
    const policyName = run.metadata.labels?.['lathe.dev/retrainpolicy'];
    const trigger = runTrigger(run, policyOf(ns, policyName));
    if (!trigger) continue;
    const produced = run.status?.modelVersion?.name;
    decisions.push({
      time: run.metadata.creationTimestamp ?? '',
      namespace: ns,
      action: 'Retrain started',
      subject: { kind: 'trainingJob', name: run.metadata.name ?? '' },
      decidedBy: { kind: 'retrainPolicy', name: trigger.policy },
      inputs: `${trigger.trigger}: ${trigger.input}`,
      thresholds: trigger.threshold,
      outcome: `run ${run.status?.phase ?? 'Pending'}${produced ? `; produced ${produced}` : ''}${run.status?.failure ? `; ${run.status.failure.reason}: ${run.status.failure.message}` : ''}`,
    });
  }

  const seen = new Set<string>();
  const promotion = (ns: string, record: PromotionRecord) => {
    const id = `${ns}/${record.policy}/${record.challenger.modelVersion}/${record.time}`;
    if (seen.has(id)) return;
    seen.add(id);
    const rule = policyOf(ns, record.policy)?.spec.promotion;
    decisions.push({
      time: record.time,
      namespace: ns,
      action: record.decision === 'Promoted' ? 'Challenger promoted' : 'Challenger rejected',
      subject: { kind: 'modelVersion', name: record.challenger.modelVersion },
      decidedBy: { kind: 'retrainPolicy', name: record.policy },
      inputs: `${record.metric}: challenger ${record.challenger.modelVersion} ${record.challenger.value}${record.champion ? `, champion ${record.champion.modelVersion} ${record.champion.value}` : ', no champion'}${record.datasetVersion ? `; dataset version ${record.datasetVersion}` : ''}`,
      thresholds: rule
        ? `${rule.direction} ${rule.metric}, better by at least ${rule.minImprovement}; promote to ${rule.targetStage}`
        : '',
      outcome: `${record.decision}: ${record.reason}`,
    });
  };
  for (const obj of [...objects.modelVersions, ...objects.trainingJobs]) {
    const record = recordedDecision(obj);
    if (record) promotion(obj.metadata.namespace ?? '', record);
  }
  for (const policy of objects.retrainPolicies) {
    const last = policy.status?.lastPromotion;
    if (last)
      promotion(policy.metadata.namespace ?? '', { ...last, policy: policy.metadata.name ?? '' });
  }

  for (const service of objects.inferenceServices) {
    const ready = conditionOf(service, 'Ready');
    if (!ready || ready.status === 'True') continue;
    const held = (ROLLOUT_FAILURE_REASONS as readonly string[]).includes(ready.reason);
    if (!held && ready.reason !== 'RollingOut') continue;
    const serving = (service.status?.servedVersions ?? [])
      .map(
        (v) =>
          `v${v.version} ${v.role} ${v.trafficPercent}% (${v.readyReplicas}/${v.replicas} ready)`,
      )
      .join(', ');
    decisions.push({
      time: ready.lastTransitionTime,
      namespace: service.metadata.namespace ?? '',
      action: held ? 'Rollout held' : 'Rollout started',
      subject: { kind: 'inferenceService', name: service.metadata.name ?? '' },
      inputs: ready.message,
      thresholds: held
        ? `the new version must become ready (${ready.reason})`
        : 'the new version ready before the old one is removed',
      outcome: `${held ? 'held' : 'in progress'}; serving ${serving || 'nothing'}`,
    });
  }

  for (const mv of objects.modelVersions) {
    const gate = conditionOf(mv, 'FairnessChecked');
    if (gate?.status !== 'False') continue;
    decisions.push({
      time: gate.lastTransitionTime,
      namespace: mv.metadata.namespace ?? '',
      action: 'Gate failed',
      subject: { kind: 'modelVersion', name: mv.metadata.name ?? '' },
      inputs: `fairness: ${mv.status?.fairness?.message ?? gate.message}`,
      thresholds: "the TrainingJob's spec.fairness rules",
      outcome: `${gate.reason}: ${gate.message}`,
    });
  }
  for (const dataset of objects.datasets) {
    const gate = conditionOf(dataset, 'Validated');
    if (gate?.status !== 'False') continue;
    decisions.push({
      time: gate.lastTransitionTime,
      namespace: dataset.metadata.namespace ?? '',
      action: 'Gate failed',
      subject: { kind: 'dataset', name: dataset.metadata.name ?? '' },
      inputs: `validation of the new data: ${gate.message}`,
      thresholds: "the Dataset's spec.schema and validation rules",
      outcome: `${gate.reason}; ${dataset.status?.currentVersion ? `version ${dataset.status.currentVersion} stays current` : 'no version yet'}`,
    });
  }

  return decisions.sort(
    (a, b) =>
      b.time.localeCompare(a.time) ||
      a.namespace.localeCompare(b.namespace) ||
      a.subject.name.localeCompare(b.subject.name),
  );
}
