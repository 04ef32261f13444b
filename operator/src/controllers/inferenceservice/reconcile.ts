/**
 * The InferenceService controller, as ordered steps (`runtime/steps.ts`), the way KServe's
 * raw-deployment reconciler splits an InferenceService into sub-reconcilers:
 *
 * 1. storage — the operator has an object store (else `Stalled`/`StorageNotConfigured`);
 * 2. retention — about once an hour, the request log's and labels' days older than
 *    `requestLogging.retentionDays` deleted (`retention.ts`);
 * 3. resolve — the ModelVersions of the primary and the canary (`ModelResolved`);
 * 4. credentials — the servers' own object-store credentials (`<name>-serve-store`), rotated;
 * 5. autoscale — `lathe` mode: the pods' load and the replicas to run (`autoscale-step.ts`);
 * 6. scale to zero — `min: 0`: zero replicas when idle, the Service on the namespace's
 *    activator meanwhile (`scale-to-zero-step.ts`);
 * 7. pii key — the namespace's PII key Secret, for models that hash personal data;
 * 8. deployments — the rollout plan; one Deployment per served version, the rest deleted;
 * 9. service — the Service in front of every version;
 * 10. disruption budget — the PodDisruptionBudget;
 * 11. hpa — `hpa` mode: the HorizontalPodAutoscaler; otherwise none;
 * 12. rollout verdict — Ready from the plan and what is available;
 * 13. drift — the newest drift a RetrainPolicy measured on the service (`drift.ts`).
 *
 * The runner writes the status on every path; a step that fails (a child name taken by an
 * object Lathe does not manage) shows as `Ready=False` with its reason. The status is built
 * from what exists — ModelVersions, Deployments, pods — so a wiped status is rebuilt the same.
 *
 * A promotion on any ModelVersion re-resolves the InferenceServices that serve its model, found
 * through a field index, as are the model's versions and the service's pods (`indexes.ts`).
 */

import { kinds } from '../../runtime/builtin-kinds.js';
import { owns, watches, watchesPodsOf } from '../../runtime/controller.js';
import { defineStepController } from '../../runtime/steps.js';
import { type InferenceServiceObject, latheKinds } from '../lathe-kinds.js';
import {
  type ObjectStoreAccess,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import { piiKeySecretPermissions, piiKeyStep } from '../shared/pii-key.js';
import { autoscaleStep } from './autoscale-step.js';
import { driftPolicyIndex, driftServiceOf, driftStep } from './drift.js';
import { inferenceServiceIndexes, servicesOfModel } from './indexes.js';
import { retentionStep } from './retention.js';
import {
  scaleToZeroIndexes,
  scaleToZeroOwns,
  scaleToZeroPermissions,
  scaleToZeroStep,
} from './scale-to-zero-step.js';
import {
  credentialsStep,
  deploymentsStep,
  disruptionBudgetStep,
  hpaStep,
  resolveStep,
  rolloutVerdictStep,
  serviceStep,
  storageStep,
} from './serving-steps.js';
import { inferenceServiceStatus, rolloutEvent, type ServingFacts, servingReady } from './status.js';

export { SCRAPE_INTERVAL_MS } from './autoscale-step.js';

export interface InferenceServiceControllerOptions {
  /** The servers' credentials (and the store's configuration). */
  access: ObjectStoreAccess | undefined;
  image: string;
  /** Reads a pod's `/metrics` (injectable for tests; default: HTTP to the pod IP). */
  fetchMetrics?: (url: string) => Promise<string>;
  /** The operator's PII master key (`LATHE_PII_KEY`): the servers get their namespace's key. */
  piiMasterKey?: string | undefined;
  /** The activator image (`LATHE_IMAGE_ACTIVATOR`); without one, nothing scales to zero. */
  activatorImage?: string | undefined;
}

export function inferenceServiceController(options: InferenceServiceControllerOptions) {
  const store = options.access;
  return defineStepController<InferenceServiceObject, ServingFacts>({
    name: 'inferenceservice',
    for: latheKinds.inferenceService,
    owns: [
      owns(kinds.deployment, { deletes: true }),
      owns(kinds.service),
      owns(kinds.podDisruptionBudget),
      owns(kinds.horizontalPodAutoscaler, { deletes: true }),
      ...scaleToZeroOwns,
    ],
    watches: [
      watchesPodsOf('InferenceService'),
      watches(latheKinds.modelVersion, servicesOfModel),
      watches(latheKinds.retrainPolicy, driftServiceOf),
    ],
    indexes: [...inferenceServiceIndexes, driftPolicyIndex, ...scaleToZeroIndexes],
    permissions: [
      ...objectStoreSecretPermissions,
      ...piiKeySecretPermissions,
      ...scaleToZeroPermissions,
    ],
    steps: [
      storageStep(store),
      retentionStep(store),
      resolveStep,
      credentialsStep(store),
      autoscaleStep(options.fetchMetrics),
      scaleToZeroStep({ image: options.activatorImage, fetchMetrics: options.fetchMetrics }),
      piiKeyStep(options.piiMasterKey),
      deploymentsStep({ image: options.image, store }),
      serviceStep,
      disruptionBudgetStep,
      hpaStep,
      rolloutVerdictStep,
      driftStep,
    ],
    status: (isvc, facts) => inferenceServiceStatus(isvc, facts),
    ready: (isvc) => servingReady(isvc),
    async afterStatus(isvc, before, after, ctx) {
      const event = rolloutEvent(before, after);
      if (event) await ctx.events.record(isvc, event.type, event.reason, 'Rollout', event.message);
    },
  });
}
