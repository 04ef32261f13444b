/**
 * The Dataset controller, as ordered steps (`runtime/steps.ts`):
 *
 * 1. `storage` — the operator has an object store; without one the Dataset is Stalled
 *    (`StorageNotConfigured`) until the operator is configured.
 * 2. `runs` (`ingestion.ts`) — the ingestion Jobs: start one when due (`runs.ts`), stop one of
 *    an older spec, and report the runs, the latest, the newest that succeeded and `Validated`.
 * 3. `versions` (`versions.ts`) — the versions in the object store, the history status shows,
 *    the current version and its statistics, and whether the Dataset is Ready.
 * 4. `history` (`retention.ts`) — deletes old ingestion Jobs and the data versions beyond
 *    `spec.versionHistoryLimit` that nothing refers to.
 *
 * The status is built by `status.ts` from what the steps found, never from the previous
 * status, and written on every path by the step runner.
 */
import type { ObjectStore } from '../../../../contract/object-store.js';
import type { OperatorConfig } from '../../config.js';
import { kinds } from '../../runtime/builtin-kinds.js';
import { owns, TerminalError, watches, watchesPodsOf } from '../../runtime/controller.js';
import { defineStepController, type Step } from '../../runtime/steps.js';
import { type DatasetObject, latheKinds } from '../lathe-kinds.js';
import {
  type ObjectStoreAccess,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import { piiKeySecretPermissions, piiKeyStep } from '../shared/pii-key.js';
import { ingestionStep } from './ingestion.js';
import { referenceIndexes, retentionStep } from './retention.js';
import { type DatasetFacts, datasetReady, datasetStatusFields } from './status.js';
import { DatasetVersionStore } from './version-store.js';
import { versionsStep } from './versions.js';

export interface DatasetControllerOptions {
  store: ObjectStore | undefined;
  /** The ingestion pods' credentials (and the store's configuration). */
  access: ObjectStoreAccess | undefined;
  image: string;
  /** Where an HTTP source may connect; unset: the built-in refusals only. */
  httpSource?: OperatorConfig['httpSource'];
  /** The operator's PII master key (`LATHE_PII_KEY`): ingestion gets its namespace's key. */
  piiMasterKey?: string | undefined;
}

/** The `storage` step: nothing else can run without an object store. */
const storageNotConfigured: Step<DatasetObject, DatasetFacts> = {
  name: 'storage',
  async run() {
    throw new TerminalError(
      'The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials)',
      { reason: 'StorageNotConfigured' },
    );
  },
};

export function datasetController({
  store,
  access,
  image,
  httpSource,
  piiMasterKey,
}: DatasetControllerOptions) {
  const steps: Step<DatasetObject, DatasetFacts>[] = [];
  if (!store || !access) {
    steps.push(storageNotConfigured);
  } else {
    const versions = new DatasetVersionStore(store, access.store.bucket);
    steps.push(
      piiKeyStep(piiMasterKey),
      ingestionStep({ image, access, ...(httpSource ? { httpSource } : {}) }),
      versionsStep(versions),
      retentionStep(versions),
    );
  }
  return defineStepController<DatasetObject, DatasetFacts>({
    name: 'dataset',
    for: latheKinds.dataset,
    owns: [owns(kinds.job, { deletes: true })],
    watches: [
      watchesPodsOf('Dataset'),
      // Read (through `referenceIndexes`) to keep the versions they refer to; their changes
      // need no reconcile.
      watches(latheKinds.trainingJob, () => []),
      watches(latheKinds.modelVersion, () => []),
    ],
    indexes: referenceIndexes,
    permissions: [...objectStoreSecretPermissions, ...piiKeySecretPermissions],
    steps,
    status: (_ds, facts) => datasetStatusFields(facts),
    ready: (_ds, facts) => datasetReady(facts),
  });
}
