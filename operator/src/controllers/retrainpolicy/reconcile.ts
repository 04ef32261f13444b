/**
 * The RetrainPolicy controller, as ordered steps (`runtime/steps.ts`):
 *
 * 1. `storage`   — whether the object store the drift trigger and promotion need is configured;
 * 2. `runs`      — the policy's TrainingJobs (owner index), cut back to the concurrency policy;
 * 3. `cronjob`   — the CronJob (the schedule trigger; its annotations hold the triggers'
 *                  record) and, with a schedule, the ServiceAccount, Role and RoleBinding its
 *                  pod runs under;
 * 4. `triggers`  — the readings that are due (drift, live accuracy), the runs the triggers call
 *                  for, and whether suspend, cooldown and concurrency let one start;
 * 5. `start`     — creates that run's TrainingJob and records it;
 * 6. `promotion` — champion against challenger for every finished run's model, once;
 * 7. `history`   — deletes runs beyond the history limits and finished evaluations.
 *
 * What must survive a restart lives in what exists, not in status and not in memory: the
 * record on the CronJob, what each run was started for (its labels and annotations), and each
 * decision (on the run and on its ModelVersion). Wiping the status changes nothing; the next
 * pass rebuilds it. (The status is read once, to take over the record an earlier operator
 * version kept there, while the CronJob holds none.) The only memory kept is a cache — training statistics, and the newest
 * readings, which pace the next ones — whose loss changes no decision (`step-triggers.ts`).
 */
import type { DatasetStats } from '../../../../contract/dataset-stats.js';
import type { ObjectStore } from '../../../../contract/object-store.js';
import { kinds } from '../../runtime/builtin-kinds.js';
import { type CacheReaders, owns, watches, watchesPodsOf } from '../../runtime/controller.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import type { ObjectKey } from '../../runtime/object-key.js';
import type { KubeObject } from '../../runtime/resource.js';
import { defineStepController, type Step } from '../../runtime/steps.js';
import { latheKinds, type RetrainPolicyObject } from '../lathe-kinds.js';
import {
  type ObjectStoreAccess,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import { piiKeySecretPermissions, piiKeyStep } from '../shared/pii-key.js';
import { recordedDecision } from './decision.js';
import { POLICY_LABEL } from './desired.js';
import type { RetrainFacts } from './facts.js';
import {
  POLICY_BATCH_MODEL_INDEX,
  POLICY_DATASET_INDEX,
  POLICY_SERVICE_INDEX,
  retrainPolicyIndexes,
} from './indexes.js';
import { readyOf, retrainPolicyStatus } from './status.js';
import { cronJobStep } from './step-cronjob.js';
import { historyStep } from './step-history.js';
import { promotionStep } from './step-promotion.js';
import { runsStep } from './step-runs.js';
import { startStep } from './step-start.js';
import { type LatestReadings, triggersStep } from './step-triggers.js';

export { PROMOTION_ANNOTATION } from './decision.js';
export { MIN_DRIFT_SAMPLES } from './triggers.js';

export interface RetrainPolicyControllerOptions {
  store: ObjectStore | undefined;
  /** The evaluation pods' credentials (and the store's configuration). */
  access: ObjectStoreAccess | undefined;
  retrainImage: string;
  trainerImage: string;
  /** The operator's PII master key (`LATHE_PII_KEY`): evaluations get their namespace's key. */
  piiMasterKey?: string | undefined;
}

const keyOf = (p: RetrainPolicyObject) => ({
  namespace: p.metadata.namespace ?? '',
  name: p.metadata.name ?? '',
});

/** A watch mapping: the policies whose field index `index` names the changed object. */
const policiesIndexedBy =
  (index: string) =>
  (obj: KubeObject, caches: CacheReaders): ObjectKey[] =>
    caches
      .byField(
        latheKinds.retrainPolicy,
        index,
        obj.metadata?.namespace ?? '',
        obj.metadata?.name ?? '',
      )
      .map(keyOf);

export function retrainPolicyController(options: RetrainPolicyControllerOptions) {
  const storage =
    options.store && options.access
      ? { store: options.store, config: options.access.store, access: options.access }
      : undefined;
  /** Training statistics by object-store key (immutable: a version's files never change). */
  const stats = new ExpiringMap<string, DatasetStats>({ maxEntries: 100 });
  /** Each policy's newest readings: a cache (see `step-triggers.ts`); an hour is plenty. */
  const readings = new ExpiringMap<string, LatestReadings>({
    maxEntries: 10_000,
    maxAgeMs: 60 * 60_000,
  });

  const storageStep: Step<RetrainPolicyObject, RetrainFacts> = {
    name: 'storage',
    async run(policy) {
      const needs = policy.spec.triggers.drift
        ? 'the drift trigger'
        : policy.spec.promotion
          ? 'promotion'
          : undefined;
      if (storage || !needs) return { facts: { storage } };
      return {
        facts: { storage: undefined },
        readiness: {
          state: 'stalled',
          reason: 'StorageNotConfigured',
          message: `The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials), which ${needs} needs`,
        },
      };
    },
  };

  return defineStepController<RetrainPolicyObject, RetrainFacts>({
    name: 'retrainpolicy',
    for: latheKinds.retrainPolicy,
    owns: [
      owns(kinds.cronJob, { deletes: true }),
      owns(kinds.serviceAccount, { deletes: true }),
      owns(kinds.role, { deletes: true }),
      owns(kinds.roleBinding, { deletes: true }),
      owns(latheKinds.trainingJob, { deletes: true }),
      owns(kinds.job, { deletes: true }),
    ],
    watches: [
      watchesPodsOf('RetrainPolicy'),
      watches(latheKinds.dataset, policiesIndexedBy(POLICY_DATASET_INDEX)),
      // A challenger that becomes verified: the policy that owns its TrainingJob decides; a
      // decision recorded on it: the policy that made it shows it.
      watches(latheKinds.modelVersion, (mv, caches) => {
        const namespace = mv.metadata?.namespace ?? '';
        const tj = mv.spec.lineage?.trainingJob?.name;
        const owner = tj
          ? caches.reader(latheKinds.trainingJob).get(namespace, tj)?.metadata.labels?.[
              POLICY_LABEL
            ]
          : undefined;
        const decidedBy = recordedDecision(mv)?.policy;
        return [...new Set([owner, decidedBy])]
          .filter((name): name is string => !!name)
          .map((name) => ({ namespace, name }));
      }),
      // The service a drift or accuracy trigger reads: a policy blocked until it serves a
      // version (NoReference, InferenceServiceNotReady) looks again as soon as it does.
      watches(latheKinds.inferenceService, policiesIndexedBy(POLICY_SERVICE_INDEX)),
      // A batch run that succeeds: the policies taking batch runs of its model as drift
      // evidence look at it (at their next check interval).
      watches(latheKinds.batchPrediction, (bp, caches) =>
        bp.status?.phase === 'Succeeded'
          ? caches
              .byField(
                latheKinds.retrainPolicy,
                POLICY_BATCH_MODEL_INDEX,
                bp.metadata?.namespace ?? '',
                bp.spec.model.name,
              )
              .map(keyOf)
          : [],
      ),
    ],
    indexes: retrainPolicyIndexes,
    permissions: [
      ...objectStoreSecretPermissions,
      ...piiKeySecretPermissions,
      // Promoting a challenger and recording the decision on it: one merge patch.
      { apiGroups: ['lathe.dev'], resources: ['modelversions'], verbs: ['patch'] },
    ],
    steps: [
      storageStep,
      runsStep,
      cronJobStep(options.retrainImage),
      triggersStep({ readings, stats }),
      startStep(options.retrainImage),
      piiKeyStep(options.piiMasterKey),
      promotionStep(options.trainerImage),
      historyStep,
    ],
    status: retrainPolicyStatus,
    ready: readyOf,
  });
}
