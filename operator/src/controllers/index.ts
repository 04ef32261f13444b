/**
 * Every controller the operator runs. `main.ts` registers each with the manager; add a new
 * controller here (wrapped in `defineController`) and nowhere else.
 */

import { ObjectStore } from '../../../contract/object-store.js';
import type { OperatorConfig } from '../config.js';
import type { ControllerDefinition } from '../runtime/controller.js';
import type { KubeObject } from '../runtime/resource.js';
import { batchPredictionController } from './batchprediction/reconcile.js';
import { datasetController } from './dataset/reconcile.js';
import { inferenceServiceController } from './inferenceservice/reconcile.js';
import { modelVersionController } from './modelversion/reconcile.js';
import { retrainPolicyController } from './retrainpolicy/reconcile.js';
import {
  credentialIssuer,
  defaultCredentialSettings,
  ObjectStoreAccess,
} from './shared/object-store-access.js';
import type { DistributedBackend } from './trainingjob/distributed/backend.js';
import { trainingJobController } from './trainingjob/reconcile.js';

/**
 * Builds the controllers from the operator's configuration (the parts they read).
 * `distributedBackends`: the engines besides the built-in Indexed Job that distributed runs may
 * be handed to (`main.ts` passes those the API server serves when it starts).
 */
export function controllers(
  config: Pick<OperatorConfig, 'objectStore' | 'images'> &
    Partial<Pick<OperatorConfig, 'piiMasterKey'>> &
    Partial<Pick<OperatorConfig, 'httpSource' | 'objectStoreCredentials'>> & {
      distributedBackends?: readonly DistributedBackend[];
    },
): ControllerDefinition<KubeObject>[] {
  const store = config.objectStore ? new ObjectStore(config.objectStore) : undefined;
  // One issuer of the pods' credentials for every controller.
  const access = config.objectStore
    ? new ObjectStoreAccess(
        config.objectStore,
        credentialIssuer(
          config.objectStore,
          config.objectStoreCredentials ?? defaultCredentialSettings,
        ),
      )
    : undefined;
  return [
    datasetController({
      store,
      access,
      image: config.images.ingest,
      piiMasterKey: config.piiMasterKey,
      ...(config.httpSource ? { httpSource: config.httpSource } : {}),
    }),
    trainingJobController({
      store,
      access,
      image: config.images.trainer,
      gpuImage: config.images.trainerGpu,
      extraBackends: config.distributedBackends ?? [],
    }),
    modelVersionController({ store, bucket: config.objectStore?.bucket }),
    inferenceServiceController({
      access,
      image: config.images.server,
      piiMasterKey: config.piiMasterKey,
      activatorImage: config.images.activator,
    }),
    retrainPolicyController({
      store,
      access,
      retrainImage: config.images.retrain,
      piiMasterKey: config.piiMasterKey,
      trainerImage: config.images.trainer,
    }),
    batchPredictionController({
      store,
      access,
      image: config.images.trainer,
      piiMasterKey: config.piiMasterKey,
      ...(config.httpSource ? { httpSource: config.httpSource } : {}),
    }),
  ];
}
