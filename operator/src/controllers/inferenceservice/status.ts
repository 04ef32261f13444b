/**
 * The status of an InferenceService: pure, from the resolution of its model, the rollout plan,
 * the Deployments found and the load the autoscaler measured.
 *
 * Ready means the version the spec asks for serves with its replicas available. While another
 * version still serves during a rollout, Ready is False and Reconciling says so; a new version
 * that will not become ready is Stalled with the reason, and the old one keeps serving. Traffic
 * shares are the ready replicas' shares: what the Service actually does.
 */
import type { InferenceService, InferenceServiceStatus } from '../../api/inferenceservice.js';
import {
  type Condition,
  type ConditionInput,
  removeCondition,
  setConditions,
} from '../../runtime/conditions.js';
import type { Resolution } from '../shared/resolve-model-version.js';
import type { PodLoad } from './autoscale.js';
import {
  MODEL_VERSION_ANNOTATION,
  selectorString,
  serviceUrl,
  versionSelector,
} from './desired.js';
import type { RolloutPlan, ServedDeployment } from './rollout.js';

export interface ServingObservation {
  primary: Resolution;
  canary: Resolution | undefined;
  plan: RolloutPlan;
  /** The serving Deployments that remain after the plan's deletions. */
  deployments: readonly ServedDeployment[];
  /** Total load of the primary version's pods, when measured. */
  load: (PodLoad & { replicas: number }) | undefined;
}

export function inferenceServiceStatus(
  isvc: InferenceService,
  observed: ServingObservation,
  now: Date,
): InferenceServiceStatus {
  const generation = isvc.metadata.generation ?? 0;
  const name = isvc.metadata.name ?? '';
  const cond = (type: string, status: Condition['status'], reason: string, message: string) =>
    ({ type, status, reason, message, observedGeneration: generation }) satisfies ConditionInput;
  const { primary, canary, plan } = observed;

  const inputs: ConditionInput[] = [];
  if (primary.ok) {
    const detail = isvc.spec.model.version
      ? `pinned version ${isvc.spec.model.version}`
      : `stage ${isvc.spec.model.stage ?? 'production'}`;
    const canaryNote = canary
      ? canary.ok
        ? `; canary ${canary.modelVersion.metadata.name}`
        : `; canary unresolved (${canary.reason}: ${canary.message})`
      : '';
    inputs.push(
      cond(
        'ModelResolved',
        'True',
        'Resolved',
        `Serving ${primary.modelVersion.metadata.name} (${detail})${canaryNote}`,
      ),
    );
  } else {
    inputs.push(cond('ModelResolved', 'False', primary.reason, primary.message));
  }

  let reconciling: ConditionInput | undefined;
  let stalled: ConditionInput | undefined;
  const rollout = plan.rollout;
  switch (rollout.state) {
    case 'Stable':
      inputs.push(cond('Ready', 'True', 'Serving', rollout.message));
      break;
    case 'RollingOut':
      inputs.push(cond('Ready', 'False', 'RollingOut', rollout.message));
      reconciling = cond('Reconciling', 'True', 'RollingOut', rollout.message);
      break;
    case 'Failed':
      inputs.push(cond('Ready', 'False', rollout.reason, rollout.message));
      stalled = cond('Stalled', 'True', rollout.reason, rollout.message);
      break;
    case 'Unresolved': {
      const reason = primary.ok ? 'ModelNotReady' : primary.reason;
      const serving = observed.deployments
        .filter((d) => d.readyReplicas > 0)
        .map((d) => `v${d.version}`);
      const message = `${rollout.message}${serving.length ? `; ${serving.join(', ')} keeps serving` : ''}`;
      inputs.push(cond('Ready', 'False', reason, message));
      reconciling = cond('Reconciling', 'True', reason, message);
      break;
    }
  }
  if (reconciling) inputs.push(reconciling);
  if (stalled) inputs.push(stalled);
  let conditions = setConditions(isvc.status?.conditions as Condition[] | undefined, inputs, now);
  if (!reconciling) conditions = removeCondition(conditions, 'Reconciling');
  if (!stalled) conditions = removeCondition(conditions, 'Stalled');

  const ready = observed.deployments.reduce((n, d) => n + d.readyReplicas, 0);
  const servedVersions = [...observed.deployments]
    .sort((a, b) => (a.role === b.role ? a.version - b.version : a.role === 'primary' ? -1 : 1))
    .slice(0, 4)
    .map((d) => ({
      version: d.version,
      modelVersion:
        d.deployment.metadata?.annotations?.[MODEL_VERSION_ANNOTATION] ??
        `${isvc.spec.model.name}-v${d.version}`,
      role: d.role,
      replicas: d.replicas,
      readyReplicas: d.readyReplicas,
      trafficPercent: ready === 0 ? 0 : Math.round((100 * d.readyReplicas) / ready),
    }));
  const primaryVersion = primary.ok
    ? primary.modelVersion.spec.version
    : observed.deployments.find((d) => d.role === 'primary')?.version;
  const primaryDeployment = observed.deployments.find(
    (d) => d.version === primaryVersion && d.role === 'primary',
  );

  return Object.fromEntries(
    Object.entries({
      observedGeneration: generation,
      conditions,
      url: serviceUrl(isvc),
      servedVersions,
      replicas: primaryDeployment?.replicas ?? 0,
      selector:
        primaryVersion !== undefined
          ? selectorString(versionSelector(name, primaryVersion))
          : undefined,
      load: observed.load
        ? {
            requestsPerSecond: round(observed.load.requestsPerSecond),
            concurrency: round(observed.load.concurrency / Math.max(1, observed.load.replicas)),
          }
        : isvc.status?.load,
    }).filter(([, v]) => v !== undefined),
  ) as InferenceServiceStatus;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
