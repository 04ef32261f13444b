/**
 * The hostile battery (`e2e/testing/hostile-battery.ts`) through an InferenceService's Service,
 * as a hostile client in the cluster would send it: the real controllers deploy the server with
 * the service's `spec.limits`, kube-proxy routes the ClusterIP to its pod, and every case must
 * get its 4xx with a JSON error within the limits the InferenceService set, while valid
 * predictions keep being answered; beyond `maxInFlight`, 503 with Retry-After.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelVersionPrefix } from '../../../../contract/object-store-layout.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
} from '../../../../e2e/cluster/testenv.js';
import {
  startTestManager,
  testClient,
  testControllers,
  testStore,
} from '../../../../e2e/testing/controllers.js';
import {
  type BatteryTarget,
  exchange,
  expectBatteryRefusedInTime,
  head,
  json,
  rows,
  validPrediction,
} from '../../../../e2e/testing/hostile-battery.js';
import {
  makeFixtureArtifact,
  uploadFixtureArtifact,
} from '../../../../runtime-images/server/fixture.js';
import { loadTensorflow } from '../../../../runtime-images/server/tensorflow.js';
import type { ServiceObject } from '../../runtime/builtin-kinds.js';
import type { Manager } from '../../runtime/manager.js';
import { builtin, type KubeObject } from '../../runtime/resource.js';
import { latheKinds } from '../lathe-kinds.js';

const { minio } = clusterInfo();
const { store } = testStore();
const client = testClient();
const limits = {
  maxInFlight: 8,
  maxRowsPerRequest: 100,
  headersTimeoutSeconds: 1,
  bodyTimeoutSeconds: 2,
};
let namespace: string;
let manager: Manager | undefined;
let target: BatteryTarget;

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('hostile');
  const { tf } = await loadTensorflow('cpu');
  const artifact = await makeFixtureArtifact(tf, { epochs: 2 });
  const prefix = modelVersionPrefix(namespace, 'iris', 1);
  await uploadFixtureArtifact(store, minio.bucket, prefix, artifact);
  manager = startTestManager(
    namespace,
    testControllers('modelversion', 'inferenceservice'),
    'hostile-itest',
  );
  await client.create(latheKinds.modelVersion.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'iris-v1', namespace },
    spec: {
      modelName: 'iris',
      version: 1,
      artifact: { uri: `s3://${minio.bucket}/${prefix}`, format: 'tfjs', digest: artifact.digest },
      stage: 'production',
    },
  });
  await client.create(latheKinds.inferenceService.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'InferenceService',
    metadata: { name: 'iris', namespace },
    spec: { model: { name: 'iris' }, replicas: { min: 1, max: 1 }, limits },
  });
  await eventually(
    async () => {
      const isvc = await client.get<KubeObject>(
        latheKinds.inferenceService.resource,
        namespace,
        'iris',
      );
      const conditions = (isvc.status as { conditions?: { type: string; status: string }[] })
        ?.conditions;
      const ready = conditions?.find((c) => c.type === 'Ready');
      expect(ready?.status).toBe('True');
    },
    { timeoutMs: 150_000, what: 'the InferenceService Ready' },
  );
  const svc = await client.get<ServiceObject>(builtin.service, namespace, 'iris');
  target = {
    host: svc.spec?.clusterIP ?? '',
    port: 80,
    model: 'iris',
    headersTimeoutMs: limits.headersTimeoutSeconds * 1000,
    bodyTimeoutMs: limits.bodyTimeoutSeconds * 1000,
    maxRowsPerRequest: limits.maxRowsPerRequest,
    // The server's default; the InferenceService does not set it.
    maxTensorElements: 1_000_000,
  };
  await eventually(async () => expect(await validPrediction(target)).toBe(200), {
    timeoutMs: 30_000,
    what: 'a prediction through the Service',
  });
}, 240_000);

afterAll(async () => {
  await manager?.stop();
  await deleteTestNamespace(namespace);
});

describe('an InferenceService under hostile input, through its Service', () => {
  it('answers every hostile case with a 4xx and a JSON error within its limits, and valid requests meanwhile', async () => {
    await expectBatteryRefusedInTime(target);
  }, 90_000);

  it('refuses predictions beyond spec.limits.maxInFlight with 503 and Retry-After, then serves again', async () => {
    const V1 = '/v1/models/iris:predict';
    const body = JSON.stringify({ instances: rows });
    const holding = Array.from({ length: limits.maxInFlight }, () =>
      exchange(target, head(V1, undefined), { kind: 'trickle', body, bytes: 1, everyMs: 200 }),
    );
    const refused = await eventually(
      async () => {
        const request = json(V1, { instances: rows });
        const answer = await exchange(target, request.head, request.sending);
        expect(answer.status).toBe(503);
        return answer;
      },
      { timeoutMs: 5_000, what: `a 503 with ${limits.maxInFlight} predictions in flight` },
    );
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body).error).toContain('predictions in flight');
    for (const held of await Promise.all(holding)) expect(held.status).toBe(408);
    expect(await validPrediction(target)).toBe(200);
  }, 30_000);
});
