/**
 * The status of an InferenceService, pure, from what the steps found: the resolution of its
 * model, the rollout plan, the Deployments that serve and the load the autoscaler measured.
 * Nothing here reads the previous status, so a wiped status is rebuilt the same on the next
 * pass; only the rollout events compare the status before and after a write (a transition is
 * what an event reports).
 *
 * Ready means the version the spec asks for serves with its replicas available. While another
 * version still serves during a rollout, Ready is False and Reconciling says so; a new version
 * that will not become ready is Stalled with the reason, and the old one keeps serving. Traffic
 * shares are the ready replicas' shares: what the Service actually does.
 */
import type { InferenceService, InferenceServiceStatus } from '../../api/inferenceservice.js';
import type { Condition, ConditionInput, Readiness } from '../../runtime/conditions.js';
import type { Resolution } from '../shared/resolve-model-version.js';
import type { MeasuredLoad } from './autoscale.js';
import {
  MODEL_VERSION_ANNOTATION,
  selectorString,
  serviceUrl,
  versionSelector,
} from './desired.js';
import { ROLLOUT_FAILURE_REASONS, type RolloutPlan, type ServedDeployment } from './rollout.js';
import type { ZeroDecision } from './scale-to-zero.js';

/** What the steps found, for later steps and the status. Rebuilt on every pass. */
export interface ServingFacts {
  /** The ModelVersion the spec's model selector resolves to (resolve). */
  primary: Resolution;
  /** The canary's, when the spec has a canary (resolve). */
  canary: Resolution;
  /** Replicas the primary should run; `undefined` when a HorizontalPodAutoscaler owns them (autoscale). */
  scale: { primaryReplicas: number | undefined };
  /** Load of the primary version's ready pods, when measured (autoscale). */
  load: MeasuredLoad;
  /** The rollout plan (deployments). */
  plan: RolloutPlan;
  /** The serving Deployments that remain after the plan's deletions (deployments). */
  served: readonly ServedDeployment[];
  /** Scale to zero's decision; undefined when the service does not scale to zero (scale to zero). */
  zero: ZeroDecision | undefined;
  /** The newest drift a RetrainPolicy measured on the service; null when none did (drift). */
  drift: NonNullable<InferenceServiceStatus['drift']> | null;
}

type StepCondition = Omit<ConditionInput, 'observedGeneration'>;

/** `ModelResolved`: which version serves and why, or why none can. */
export function modelResolvedCondition(
  isvc: InferenceService,
  primary: Resolution,
  canary: Resolution | undefined,
): StepCondition {
  if (!primary.ok) {
    return {
      type: 'ModelResolved',
      status: 'False',
      reason: primary.reason,
      message: primary.message,
    };
  }
  const detail =
    isvc.spec.model.version !== undefined
      ? `pinned version ${isvc.spec.model.version}`
      : `stage ${isvc.spec.model.stage ?? 'production'}`;
  const canaryNote = !canary
    ? ''
    : canary.ok
      ? `; canary ${canary.modelVersion.metadata.name}`
      : `; canary unresolved (${canary.reason}: ${canary.message})`;
  return {
    type: 'ModelResolved',
    status: 'True',
    reason: 'Resolved',
    message: `Serving ${primary.modelVersion.metadata.name} (${detail})${canaryNote}`,
  };
}

/** The service's readiness from the rollout plan (kstatus: ready, progressing or stalled). */
export function rolloutReadiness(
  primary: Resolution,
  plan: RolloutPlan,
  served: readonly ServedDeployment[],
): Readiness {
  const rollout = plan.rollout;
  switch (rollout.state) {
    case 'Stable':
      return { state: 'ready', reason: 'Serving', message: rollout.message };
    case 'RollingOut':
      return { state: 'progressing', reason: 'RollingOut', message: rollout.message };
    case 'Failed':
      return { state: 'stalled', reason: rollout.reason, message: rollout.message };
    case 'Unresolved': {
      const reason = primary.ok ? 'ModelNotReady' : primary.reason;
      const serving = served.filter((d) => d.readyReplicas > 0).map((d) => `v${d.version}`);
      const keeps = serving.length > 0 ? `; ${serving.join(', ')} keeps serving` : '';
      return { state: 'progressing', reason, message: `${rollout.message}${keeps}` };
    }
  }
}

/**
 * The status fields (all but the conditions) from the facts. A field whose step did not run
 * (an error before it) is left undefined, so it keeps its last value.
 */
export function inferenceServiceStatus(
  isvc: InferenceService,
  facts: Readonly<Partial<ServingFacts>>,
): Omit<InferenceServiceStatus, 'conditions' | 'observedGeneration'> {
  const name = isvc.metadata.name ?? '';
  const served = facts.served;
  const status: ReturnType<typeof inferenceServiceStatus> = {
    url: serviceUrl(isvc),
    // null (none measured) is written as absent; undefined (the step did not run) is kept.
    drift: facts.drift === null ? undefined : facts.drift,
    // Only once the scale-to-zero step ran: undefined there removes it (no longer min 0).
    ...('zero' in facts ? { lastColdStart: facts.zero?.lastColdStart } : {}),
    load: facts.load
      ? {
          requestsPerSecond: round(facts.load.requestsPerSecond),
          concurrency: round(facts.load.concurrency / Math.max(1, facts.load.replicas)),
        }
      : undefined,
  };
  if (!served) return status;
  const ready = served.reduce((n, d) => n + d.readyReplicas, 0);
  const servedVersions = [...served]
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
  const primaryVersion = facts.primary?.ok
    ? facts.primary.modelVersion.spec.version
    : served.find((d) => d.role === 'primary')?.version;
  const primaryDeployment = served.find(
    (d) => d.version === primaryVersion && d.role === 'primary',
  );
  return {
    ...status,
    servedVersions,
    replicas: primaryDeployment?.replicas ?? 0,
    selector:
      primaryVersion !== undefined
        ? selectorString(versionSelector(name, primaryVersion))
        : undefined,
  };
}

/** The `Ready=True` reason and message when no step reported another readiness. */
export function servingReady(isvc: InferenceService): { reason: string; message: string } {
  return { reason: 'Serving', message: `Serving ${serviceUrl(isvc)}` };
}

export interface RolloutEvent {
  type: 'Normal' | 'Warning';
  reason: 'RolloutStarted' | 'RolloutFinished' | 'RolloutFailed';
  message: string;
}

/**
 * The rollout event a status write records, from the `Ready` condition before and after it:
 * started when Ready turns `RollingOut`; finished when Ready turns True after a rollout or a
 * failed one (not after a wiped status or a passing error, which roll nothing out); failed when
 * it turns to a rollout failure. Pure.
 */
export function rolloutEvent(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown>,
): RolloutEvent | undefined {
  const was = readyOf(before);
  const now = readyOf(after);
  if (!now || (was?.status === now.status && was.reason === now.reason)) return undefined;
  if (now.status === 'False' && now.reason === 'RollingOut')
    return { type: 'Normal', reason: 'RolloutStarted', message: now.message };
  if (now.status === 'False' && isRolloutFailure(now.reason))
    return { type: 'Warning', reason: 'RolloutFailed', message: now.message };
  if (now.status === 'True' && (was?.reason === 'RollingOut' || isRolloutFailure(was?.reason)))
    return { type: 'Normal', reason: 'RolloutFinished', message: now.message };
  return undefined;
}

function readyOf(status: Record<string, unknown> | undefined): Condition | undefined {
  return (status?.conditions as Condition[] | undefined)?.find((c) => c.type === 'Ready');
}

const isRolloutFailure = (reason: string | undefined) =>
  (ROLLOUT_FAILURE_REASONS as readonly (string | undefined)[]).includes(reason);

const round = (n: number) => Math.round(n * 1000) / 1000;
