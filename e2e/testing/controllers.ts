/**
 * What the controllers' integration tests share: the local cluster's object store, the images
 * of the runtime programs, and a manager running chosen controllers in-process against the
 * real API server, watching one test namespace. Test support only: nothing in the operator
 * imports it.
 */
import { pino } from 'pino';
import { ObjectStore } from '../../contract/object-store.js';
import { ObjectStoreEnv } from '../../contract/runtime-env.js';
import { LATHE_VERSION } from '../../operator/src/config.js';
import { controllers } from '../../operator/src/controllers/index.js';
import {
  type CredentialRole,
  credentialIssuer,
  credentialsSecretName,
  defaultCredentialSettings,
  desiredCredentialsSecret,
  type Grant,
  ObjectStoreAccess,
} from '../../operator/src/controllers/shared/object-store-access.js';
import type { DistributedBackend } from '../../operator/src/controllers/trainingjob/distributed/backend.js';
import { OperatorMetrics } from '../../operator/src/observability/metrics.js';
import type { SecretObject } from '../../operator/src/runtime/builtin-kinds.js';
import type { ControllerDefinition } from '../../operator/src/runtime/controller.js';
import { HttpKubeClient } from '../../operator/src/runtime/kube-client.js';
import { Manager } from '../../operator/src/runtime/manager.js';
import type { KubeObject } from '../../operator/src/runtime/resource.js';
import { clusterInfo, kubeConfig } from '../cluster/testenv.js';

/**
 * The local cluster's MinIO as the operator is configured with it, and the pods' scoped
 * credentials issued from it (`ObjectStoreAccess`, as `controllers()` builds it).
 */
export function testStore() {
  const { minio } = clusterInfo();
  const storeConfig = { ...minio, region: 'us-east-1' };
  return {
    store: new ObjectStore(minio),
    storeConfig,
    access: new ObjectStoreAccess(
      storeConfig,
      credentialIssuer(storeConfig, defaultCredentialSettings),
    ),
  };
}

/**
 * The credentials Secret the operator would write for `owner`'s pods of `role` — scoped
 * credentials for `grant`, issued by the local MinIO's STS — for tests that apply a pod's Job
 * themselves (`desiredIngestJob`, `desiredEvaluationJob`) without the controller.
 */
export async function scopedCredentialsSecret(
  namespace: string,
  owner: string,
  role: CredentialRole,
  grant: Grant,
): Promise<SecretObject> {
  const { storeConfig } = testStore();
  const name = credentialsSecretName(owner, role);
  const issued = await credentialIssuer(storeConfig, defaultCredentialSettings).issue(
    grant,
    `test-${namespace}-${name}`,
  );
  return desiredCredentialsSecret(namespace, name, grant, issued);
}

/**
 * The local cluster's MinIO in the variables the runtime programs read (`ObjectStoreEnv`), for
 * tests that run a program as a child process.
 */
export function programObjectStoreEnv(): Record<string, string> {
  const { minio } = clusterInfo();
  return {
    [ObjectStoreEnv.endpoint]: minio.endpoint,
    [ObjectStoreEnv.bucket]: minio.bucket,
    [ObjectStoreEnv.accessKey]: minio.accessKey,
    [ObjectStoreEnv.secretKey]: minio.secretKey,
  };
}

/** The PII master key the test controllers hold (`LATHE_PII_KEY`). */
export const TEST_PII_MASTER_KEY = 'lathe-test-pii-master-key-0123456789';

/** A runtime image of this version, as the operator names it. */
export const runtimeImage = (name: string) => `ghcr.io/lathe-dev/lathe-${name}:${LATHE_VERSION}`;

export const testClient = () => new HttpKubeClient(kubeConfig());

type ControllerName =
  | 'dataset'
  | 'trainingjob'
  | 'modelversion'
  | 'inferenceservice'
  | 'retrainpolicy'
  | 'batchprediction';

/**
 * The operator's controllers as `main.ts` builds them (`controllers()`), configured with the
 * local cluster's MinIO and this version's runtime images; `names` picks some of them.
 */
export function testControllers(...names: ControllerName[]): ControllerDefinition<KubeObject>[] {
  return testControllersWith({}, ...names);
}

/**
 * `testControllers` with the distributed-training engines a suite runs with (`main.ts` passes
 * those the API server serves; a suite that starts JobSet passes its backend).
 */
export function testControllersWith(
  options: { distributedBackends?: readonly DistributedBackend[] },
  ...names: ControllerName[]
): ControllerDefinition<KubeObject>[] {
  const all = controllers({
    objectStore: testStore().storeConfig,
    piiMasterKey: TEST_PII_MASTER_KEY,
    images: {
      ingest: runtimeImage('ingest'),
      trainer: runtimeImage('trainer'),
      trainerGpu: runtimeImage('trainer-gpu'),
      server: runtimeImage('server'),
      retrain: runtimeImage('retrain'),
      activator: runtimeImage('activator'),
    },
    ...options,
  });
  return names.length === 0 ? all : all.filter((c) => (names as string[]).includes(c.name));
}

/** Starts a manager running `controllers` on `namespace`; logs are silent unless LATHE_TEST_LOG_LEVEL. */
export function startTestManager(
  namespace: string,
  controllers: ControllerDefinition<KubeObject>[],
  name = 'itest',
): Manager {
  const manager = new Manager({
    client: testClient(),
    log: pino({ level: process.env.LATHE_TEST_LOG_LEVEL ?? 'silent' }),
    metrics: new OperatorMetrics(undefined, { processMetrics: false }),
    identity: `${name}-${Date.now()}`,
    namespaces: [namespace],
    defaultWorkers: 2,
  });
  for (const controller of controllers) manager.add(controller);
  manager.start();
  return manager;
}
