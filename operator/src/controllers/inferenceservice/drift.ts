/**
 * The drift an InferenceService shows in `status.drift`: measured by the RetrainPolicy whose
 * drift trigger watches the service, and recorded in that policy's own status
 * (`status.lastDrift`). This controller copies the newest measurement into the service's
 * status, so each kind's status has one writer (docs/operator.md, "One writer per field"); the
 * policies are found through a field index, and a policy's status change re-reconciles the
 * service it names.
 */
import type { InferenceServiceStatus } from '../../api/inferenceservice.js';
import { type CacheReaders, indexField } from '../../runtime/controller.js';
import type { ObjectKey } from '../../runtime/object-key.js';
import type { Step } from '../../runtime/steps.js';
import {
  type InferenceServiceObject,
  latheKinds,
  type RetrainPolicyObject,
} from '../lathe-kinds.js';
import type { ServingFacts } from './status.js';

/** RetrainPolicies by the InferenceService their drift trigger watches. */
export const POLICIES_BY_DRIFT_SERVICE = 'retrainpolicy.spec.triggers.drift.inferenceServiceRef';

export const driftPolicyIndex = indexField(
  latheKinds.retrainPolicy,
  POLICIES_BY_DRIFT_SERVICE,
  (policy) => [policy.spec.triggers.drift?.inferenceServiceRef?.name],
);

/** The service a policy's drift trigger watches (the RetrainPolicy watch). */
export function driftServiceOf(policy: RetrainPolicyObject): ObjectKey[] {
  const name = policy.spec.triggers.drift?.inferenceServiceRef?.name;
  return name ? [{ namespace: policy.metadata?.namespace ?? '', name }] : [];
}

export type ServiceDrift = NonNullable<InferenceServiceStatus['drift']>;

/** The newest drift measured on the service by any of `policies`. Pure. */
export function newestDrift(policies: readonly RetrainPolicyObject[]): ServiceDrift | undefined {
  let newest: ServiceDrift | undefined;
  for (const policy of policies) {
    const measured = policy.status?.lastDrift;
    const metric = policy.spec.triggers.drift?.metric;
    if (!measured || !metric) continue;
    if (newest && Date.parse(newest.time) >= Date.parse(measured.time)) continue;
    newest = {
      time: measured.time,
      metric,
      value: measured.value,
      ...(measured.feature ? { feature: measured.feature } : {}),
      samples: measured.samples ?? 0,
      retrainPolicy: policy.metadata?.name ?? '',
    };
  }
  return newest;
}

/** The drift the policies watching `isvc` measured, from the cache. */
export function driftOf(isvc: InferenceServiceObject, caches: CacheReaders) {
  return newestDrift(
    caches.byField(
      latheKinds.retrainPolicy,
      POLICIES_BY_DRIFT_SERVICE,
      isvc.metadata?.namespace ?? '',
      isvc.metadata?.name ?? '',
    ),
  );
}

export const driftStep: Step<InferenceServiceObject, ServingFacts> = {
  name: 'drift',
  async run(isvc, ctx) {
    return { facts: { drift: driftOf(isvc, ctx) ?? null } };
  },
};
