/**
 * How the Deployments of an InferenceService move from what runs to what the spec asks for,
 * without a moment in which nothing ready serves. Pure: the resolved versions, the wanted
 * replicas and the Deployments found (with their pods' state) in, a plan out.
 *
 * - One Deployment per served version, `<isvc>-v<N>`, labelled with its role (primary or
 *   canary); the Service selects them all, so traffic follows ready replicas.
 * - A new primary version is scaled up beside the old one; the old one is deleted only once the
 *   new one has all its replicas available. A new version that never becomes ready (its pods
 *   crash, its progress deadline passes) leaves the old one serving, and the plan says why.
 * - A canary gets a share of the traffic by replica ratio: with `p` percent and at least
 *   `canary.replicas` canary replicas, the primary runs enough replicas that
 *   canary / (canary + primary) ≈ p (within the primary's bounds). Approximate by design.
 */
import type { DeploymentObject, PodObject } from '../../runtime/builtin-kinds.js';
import type { ModelVersionObject } from '../lathe-kinds.js';

export type Role = 'primary' | 'canary';

/** A serving Deployment as found in the cache. */
export interface ServedDeployment {
  deployment: DeploymentObject;
  version: number;
  role: Role;
  /** Replicas the Deployment asks for. */
  replicas: number;
  availableReplicas: number;
  readyReplicas: number;
  /** Why the version is not becoming ready, when it is clear it will not. */
  failure?: { reason: RolloutFailureReason; message: string };
}

export interface ServingTarget {
  modelVersion: ModelVersionObject;
  version: number;
}

export interface PlannedDeployment {
  version: number;
  role: Role;
  modelVersion: ModelVersionObject;
  /** Undefined when a HorizontalPodAutoscaler owns the replicas. */
  replicas: number | undefined;
}

/** The reasons a version is found not to become ready (`podFailure`, `deploymentFailure`). */
export const ROLLOUT_FAILURE_REASONS = [
  'ServerCrashing',
  'ImagePullFailed',
  'ProgressDeadlineExceeded',
] as const;
export type RolloutFailureReason = (typeof ROLLOUT_FAILURE_REASONS)[number];

export type RolloutState =
  | { state: 'Stable'; message: string }
  | { state: 'RollingOut'; message: string }
  | { state: 'Failed'; reason: string; message: string }
  | { state: 'Unresolved'; message: string };

export interface RolloutPlan {
  apply: PlannedDeployment[];
  delete: ServedDeployment[];
  rollout: RolloutState;
}

/** Replicas of the primary and the canary for a canary share of `percent`. */
export function canaryReplicas(input: {
  primary: number;
  canaryMinimum: number;
  percent: number;
  min: number;
  max: number;
}): { primary: number; canary: number } {
  const { primary, canaryMinimum, percent, min, max } = input;
  if (percent <= 0) return { primary, canary: 0 };
  if (percent >= 100) return { primary: 0, canary: Math.max(canaryMinimum, primary) };
  const forShare = Math.round((canaryMinimum * (100 - percent)) / percent);
  const primaryReplicas = Math.min(max, Math.max(min, primary, forShare));
  const canary = Math.max(canaryMinimum, Math.round((primaryReplicas * percent) / (100 - percent)));
  return { primary: primaryReplicas, canary };
}

/** Why pods of a version will not become ready on their own, if they show it. */
export function podFailure(pods: readonly PodObject[]): ServedDeployment['failure'] {
  for (const pod of pods) {
    const status = pod.status?.containerStatuses?.[0];
    const waiting = status?.state?.waiting;
    const last = status?.lastState?.terminated ?? status?.state?.terminated;
    if (
      waiting?.reason === 'CrashLoopBackOff' ||
      (last && last.exitCode !== 0 && (status?.restartCount ?? 0) > 0)
    ) {
      const detail = last?.message?.trim() || waiting?.message || `exit code ${last?.exitCode}`;
      return {
        reason: 'ServerCrashing',
        message: `Pod ${pod.metadata?.name} keeps failing: ${detail.slice(0, 1500)}`,
      };
    }
    if (
      waiting?.reason &&
      ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName'].includes(waiting.reason)
    ) {
      return { reason: 'ImagePullFailed', message: waiting.message ?? waiting.reason };
    }
  }
  return undefined;
}

/** The failure a Deployment reports itself (its progress deadline passed). */
export function deploymentFailure(d: DeploymentObject): ServedDeployment['failure'] {
  const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return {
      reason: 'ProgressDeadlineExceeded',
      message: progressing.message ?? 'the rollout made no progress',
    };
  }
  return undefined;
}

export function planRollout(input: {
  primary: ServingTarget | undefined;
  canary: (ServingTarget & { percent: number; replicas: number }) | undefined;
  /** Replicas the primary should run (autoscaler or floor); undefined under an HPA. */
  primaryReplicas: number | undefined;
  bounds: { min: number; max: number };
  existing: readonly ServedDeployment[];
  unresolvedMessage: string;
}): RolloutPlan {
  const { primary, existing } = input;
  if (!primary) {
    return {
      apply: [],
      delete: [],
      rollout: { state: 'Unresolved', message: input.unresolvedMessage },
    };
  }
  const target = primary.version;
  const canary = input.canary && input.canary.version !== target ? input.canary : undefined;

  let primaryReplicas = input.primaryReplicas;
  let canaryCount = 0;
  if (canary) {
    const split = canaryReplicas({
      primary: primaryReplicas ?? input.bounds.min,
      canaryMinimum: canary.replicas,
      percent: canary.percent,
      min: input.bounds.min,
      max: input.bounds.max,
    });
    if (primaryReplicas !== undefined) primaryReplicas = split.primary;
    canaryCount = split.canary;
  }

  const apply: PlannedDeployment[] = [
    {
      version: target,
      role: 'primary',
      modelVersion: primary.modelVersion,
      replicas: primaryReplicas,
    },
  ];
  if (canary) {
    apply.push({
      version: canary.version,
      role: 'canary',
      modelVersion: canary.modelVersion,
      replicas: canaryCount,
    });
  }

  const current = existing.find((d) => d.version === target);
  const wanted = primaryReplicas ?? Math.max(1, current?.replicas ?? 1);
  const rolledOut =
    current !== undefined &&
    current.role === 'primary' &&
    (wanted === 0 || current.availableReplicas >= Math.max(1, wanted));
  const others = existing.filter((d) => d.version !== target && d.version !== canary?.version);
  const oldPrimaries = others.filter((d) => d.role === 'primary');
  const remove = rolledOut ? others : others.filter((d) => d.role !== 'primary');
  const kept = oldPrimaries.filter((d) => !remove.includes(d));
  const keeping = kept.map((d) => `v${d.version}`).join(', ');

  const serving = current?.role === 'primary' && current.availableReplicas >= 1;
  let rollout: RolloutState;
  const failure = current?.failure;
  if (failure && !rolledOut) {
    rollout = {
      state: 'Failed',
      reason: failure.reason,
      message: `Version ${target} is not becoming ready: ${failure.message}${keeping ? `; ${keeping} keeps serving` : ''}`,
    };
  } else if (kept.length > 0 || !serving) {
    rollout = {
      state: 'RollingOut',
      message: `Rolling out version ${target} (${current?.availableReplicas ?? 0}/${wanted} available)${keeping ? `; ${keeping} keeps serving until then` : ''}`,
    };
  } else {
    rollout = {
      state: 'Stable',
      message: `Serving version ${target} (${current?.availableReplicas}/${wanted} available)${canary ? `, canary version ${canary.version} at about ${canary.percent}%` : ''}`,
    };
  }
  return { apply, delete: remove, rollout };
}
