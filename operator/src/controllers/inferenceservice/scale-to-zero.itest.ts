/**
 * Scale to zero on the local cluster: the InferenceService controller in-process, a real server
 * pod and the namespace's activator pod (`ghcr.io/lathe-dev/lathe-activator`) on the process
 * node, reached through the Service's ClusterIP (kube-proxy) from the host as a client in the
 * cluster would.
 *
 * An InferenceService with `min: 0` and a 10 s idle period goes to zero (the Service's selector
 * moves to the activator first, then the Deployment to 0); 50 concurrent requests sent at zero
 * are all answered 200 once a replica is ready, marked with `x-lathe-cold-start-ms`; the status
 * records the cold start; the Service goes back to the servers; with a queue of 2, requests
 * beyond it get 503 with Retry-After while the held ones succeed.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACTIVATOR_NAME,
  ACTIVATOR_POD_LABELS,
  COLD_START_HEADER,
} from '../../../../contract/activator.js';
import { modelVersionPrefix } from '../../../../contract/object-store-layout.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
} from '../../../../e2e/cluster/testenv.js';
import { runtimeImage, testClient, testStore } from '../../../../e2e/testing/controllers.js';
import {
  makeFixtureArtifact,
  uploadFixtureArtifact,
} from '../../../../runtime-images/server/fixture.js';
import { loadTensorflow } from '../../../../runtime-images/server/tensorflow.js';
import { LATHE_VERSION } from '../../config.js';
import { OperatorMetrics } from '../../observability/metrics.js';
import type { DeploymentObject, ServiceObject } from '../../runtime/builtin-kinds.js';
import { Manager } from '../../runtime/manager.js';
import { builtin, type KubeObject } from '../../runtime/resource.js';
import { latheKinds } from '../lathe-kinds.js';
import { modelVersionController } from '../modelversion/reconcile.js';
import { inferenceServiceController } from './reconcile.js';

const { minio } = clusterInfo();
const { store, access } = testStore();
const client = testClient();
const activatorImage = runtimeImage('activator');
let namespace: string;
let manager: Manager;
/** One row of the fixture's features (its label left out). */
let row: Record<string, unknown>;

interface Status {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  lastColdStart?: { seconds: number; at: string };
}
const status = async (name: string) =>
  ((await client.get<KubeObject>(latheKinds.inferenceService.resource, namespace, name)).status ??
    {}) as Status;
const condition = (s: Status, type: string) => s.conditions?.find((c) => c.type === type);
const service = (name: string) => client.get<ServiceObject>(builtin.service, namespace, name);
const deployment = (name: string) =>
  client.get<DeploymentObject>(builtin.deployment, namespace, name);
const onActivator = (svc: ServiceObject) =>
  svc.spec?.selector?.['app.kubernetes.io/name'] === ACTIVATOR_POD_LABELS['app.kubernetes.io/name'];

function predict(url: string, name: string) {
  return fetch(`${url}/v1/models/${name}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: [row] }),
    signal: AbortSignal.timeout(150_000),
  });
}

/** Waits until `name` is at zero: Deployment at 0, Service on the activator, ScaledToZero. */
async function atZero(name: string): Promise<void> {
  await eventually(
    async () => {
      const d = await deployment(`${name}-v1`);
      expect(d.spec?.replicas).toBe(0);
      expect(d.status?.readyReplicas ?? 0).toBe(0);
      expect(onActivator(await service(name))).toBe(true);
      const s = await status(name);
      expect(condition(s, 'ScaledToZero')).toMatchObject({ status: 'True', reason: 'Idle' });
      expect(condition(s, 'Ready')).toMatchObject({ status: 'True' });
    },
    { timeoutMs: 120_000, intervalMs: 1_000, what: `${name} at zero` },
  );
}

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('zero');
  const tf = (await loadTensorflow('cpu')).tf;
  const artifact = await makeFixtureArtifact(tf, { hidden: [5], epochs: 5 });
  const { species: _label, ...features } = artifact.rows[0] as Record<string, unknown>;
  row = features;
  const prefix = modelVersionPrefix(namespace, 'iris', 1);
  await uploadFixtureArtifact(store, minio.bucket, prefix, artifact);
  manager = new Manager({
    client,
    log: pino({ level: process.env.LATHE_TEST_LOG_LEVEL ?? 'silent' }),
    metrics: new OperatorMetrics(undefined, { processMetrics: false }),
    identity: 'zero-itest',
    namespaces: [namespace],
    defaultWorkers: 2,
  });
  manager.add(modelVersionController({ store }));
  manager.add(
    inferenceServiceController({
      access,
      image: `ghcr.io/lathe-dev/lathe-server:${LATHE_VERSION}`,
      activatorImage,
    }),
  );
  manager.start();
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
}, 120_000);

afterAll(async () => {
  await manager?.stop();
  await deleteTestNamespace(namespace);
});

describe('Scale to zero', () => {
  it('goes to zero when idle, holds 50 requests at zero and answers them all once a replica is ready, then leaves the path', async () => {
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'cold', namespace },
      spec: {
        model: { name: 'iris' },
        replicas: {
          min: 0,
          max: 1,
          scaleToZeroAfter: '10s',
          activationQueue: 60,
          activationTimeout: '120s',
        },
      },
    });
    const activator = await eventually(() => deployment(ACTIVATOR_NAME), {
      timeoutMs: 60_000,
      what: 'the namespace activator',
    });
    expect(activator.metadata?.ownerReferences?.map((o) => o.name)).toEqual(['cold']);
    await atZero('cold');

    const svc = await service('cold');
    const url = `http://${svc.spec?.clusterIP}:80`;
    const started = Date.now();
    const responses = await Promise.all(Array.from({ length: 50 }, () => predict(url, 'cold')));
    const statuses = responses.map((r) => r.status);
    expect(statuses).toEqual(Array(50).fill(200));
    const bodies = await Promise.all(
      responses.map((r) => r.json() as Promise<{ predictions: unknown[] }>),
    );
    expect(bodies.every((b) => Array.isArray(b.predictions) && b.predictions.length === 1)).toBe(
      true,
    );
    const waited = responses.map((r) => Number(r.headers.get(COLD_START_HEADER) ?? Number.NaN));
    expect(waited.filter((ms) => ms >= 0).length).toBe(50);
    expect(Math.max(...waited)).toBeLessThanOrEqual(Date.now() - started);

    // The activator leaves the path: the Service selects the servers again.
    await eventually(
      async () => {
        const back = await service('cold');
        expect(back.spec?.selector).toMatchObject({ 'lathe.dev/inferenceservice': 'cold' });
        expect(onActivator(back)).toBe(false);
        expect(back.spec?.clusterIP).toBe(svc.spec?.clusterIP);
        const s = await status('cold');
        expect(s.lastColdStart?.seconds).toBeGreaterThan(0);
        expect(condition(s, 'ScaledToZero')).toMatchObject({ status: 'False', reason: 'Serving' });
      },
      { timeoutMs: 30_000, what: 'the Service back on the servers' },
    );
    const direct = await predict(url, 'cold');
    expect(direct.status).toBe(200);
    expect(direct.headers.get(COLD_START_HEADER)).toBeNull();
  }, 360_000);

  it('answers requests beyond the queue 503 with Retry-After, and the held ones 200', async () => {
    await client.patch(latheKinds.inferenceService.resource, namespace, 'cold', 'merge', {
      spec: { replicas: { activationQueue: 2 } },
    });
    await atZero('cold');
    const svc = await service('cold');
    const url = `http://${svc.spec?.clusterIP}:80`;
    // Past the activator's 10 s settings cache, so it holds at most 2.
    await eventually(
      async () => {
        const annotations = (await service('cold')).metadata?.annotations ?? {};
        const since = Date.parse(annotations['lathe.dev/scaled-to-zero-since'] ?? '');
        expect(Date.now() - since).toBeGreaterThan(11_000);
      },
      { timeoutMs: 30_000, what: 'the activator re-reading the queue size' },
    );
    const responses = await Promise.all(Array.from({ length: 8 }, () => predict(url, 'cold')));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    const refused = responses.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    for (const r of refused) {
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await r.json()) as { error: string }).error).toMatch(/already holds 2 requests/);
    }
  }, 360_000);
});
