/**
 * The InferenceService and ModelVersion controllers, run in-process by the real manager, on
 * the local cluster: real server pods on the process node, reached through the Service's
 * ClusterIP (kube-proxy) from the host, as a client in the cluster would.
 *
 * Predictions on both protocols equal the model's own output; bad requests get 400s; a
 * promotion while a client sends requests without pause fails none of them; a 25 % canary gets
 * about a quarter of the replicas; a version whose artifact was corrupted after verification
 * never takes traffic while the previous one keeps serving; under load the service scales up,
 * and back down after the stabilisation window. A child name taken by an object Lathe does not
 * manage shows as Ready=False (`ChildConflict`) until it is gone; a wiped status is rebuilt
 * from what exists, with no Deployment replaced.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelVersionPrefix } from '../../../../contract/object-store-layout.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
} from '../../../../e2e/cluster/testenv.js';
import { testClient, testStore } from '../../../../e2e/testing/controllers.js';
import {
  expectedOutputs,
  type FixtureArtifact,
  makeFixtureArtifact,
  uploadFixtureArtifact,
} from '../../../../runtime-images/server/fixture.js';
import { loadTensorflow, type TensorflowJs } from '../../../../runtime-images/server/tensorflow.js';
import { LATHE_VERSION } from '../../config.js';
import { OperatorMetrics } from '../../observability/metrics.js';
import type {
  DeploymentObject,
  PodDisruptionBudgetObject,
  ServiceObject,
} from '../../runtime/builtin-kinds.js';
import { isNotFound } from '../../runtime/kube-client.js';
import { Manager } from '../../runtime/manager.js';
import { builtin, type KubeObject } from '../../runtime/resource.js';
import { latheKinds } from '../lathe-kinds.js';
import { modelVersionController } from '../modelversion/reconcile.js';
import { inferenceServiceController } from './reconcile.js';

const { minio } = clusterInfo();
const { store, access } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager;
let tf: TensorflowJs;
const artifacts: Record<number, FixtureArtifact> = {};

async function registerVersion(version: number, stage: string): Promise<void> {
  const prefix = modelVersionPrefix(namespace, 'iris', version);
  await uploadFixtureArtifact(store, minio.bucket, prefix, artifacts[version]!);
  await client.create(latheKinds.modelVersion.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: `iris-v${version}`, namespace },
    spec: {
      modelName: 'iris',
      version,
      artifact: {
        uri: `s3://${minio.bucket}/${prefix}`,
        format: 'tfjs',
        digest: artifacts[version]!.digest,
      },
      stage,
    },
  });
}

const isvcStatus = async (name: string) =>
  ((await client.get<KubeObject>(latheKinds.inferenceService.resource, namespace, name)).status ??
    {}) as {
    conditions?: { type: string; status: string; reason: string; message: string }[];
    servedVersions?: { version: number; role: string; replicas: number; readyReplicas: number }[];
    replicas?: number;
    url?: string;
    selector?: string;
    observedGeneration?: number;
  };
const ready = (s: Awaited<ReturnType<typeof isvcStatus>>) =>
  s.conditions?.find((c) => c.type === 'Ready');

async function serviceUrl(name: string): Promise<string> {
  const svc = await client.get<ServiceObject>(builtin.service, namespace, name);
  return `http://${svc.spec?.clusterIP}:80`;
}

async function post(
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('isvc');
  tf = (await loadTensorflow('cpu')).tf;
  for (const version of [1, 2, 3, 4]) {
    artifacts[version] = await makeFixtureArtifact(tf, {
      hidden: [4 + version],
      epochs: 5 + version,
    });
  }
  manager = new Manager({
    client,
    log: pino({ level: process.env.LATHE_TEST_LOG_LEVEL ?? 'silent' }),
    metrics: new OperatorMetrics(undefined, { processMetrics: false }),
    identity: 'isvc-itest',
    namespaces: [namespace],
    defaultWorkers: 2,
  });
  manager.add(modelVersionController({ store }));
  manager.add(
    inferenceServiceController({
      access,
      image: `ghcr.io/lathe-dev/lathe-server:${LATHE_VERSION}`,
    }),
  );
  manager.start();
  await registerVersion(1, 'production');
  await registerVersion(2, 'staging');
});

afterAll(async () => {
  await manager?.stop();
  await deleteTestNamespace(namespace);
});

describe('InferenceService', () => {
  it('serves the production version through its Service on both protocols, as the model computes', async () => {
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'iris', namespace },
      spec: { model: { name: 'iris' }, replicas: { min: 1, max: 1 } },
    });
    await eventually(async () => expect(ready(await isvcStatus('iris'))?.status).toBe('True'), {
      what: 'iris Ready',
      timeoutMs: 120_000,
    });
    const url = await serviceUrl('iris');
    const rows = artifacts[1]!.rows.slice(0, 5).map(({ species: _label, ...features }) => features);
    const expected = expectedOutputs(tf, artifacts[1]!, rows);

    const v1 = await eventually(async () => {
      const r = await post(`${url}/v1/models/iris:predict`, { instances: rows });
      expect(r.status).toBe(200);
      return r.json;
    });
    const predictions = v1.predictions as { label: string; probabilities: number[] }[];
    predictions.forEach((p, i) => {
      expect(p.probabilities.length).toBe(3);
      for (const [j, value] of p.probabilities.entries()) {
        expect(value).toBeCloseTo(expected[i]![j]!, 5);
      }
    });

    const v2 = await post(`${url}/v2/models/iris/infer`, {
      inputs: ['length', 'width', 'colour', 'fresh'].map((column) => ({
        name: column,
        shape: [rows.length],
        datatype:
          typeof rows[0]![column] === 'string'
            ? 'BYTES'
            : typeof rows[0]![column] === 'boolean'
              ? 'BOOL'
              : 'FP32',
        data: rows.map((r) => r[column]),
      })),
    });
    expect(v2.status, JSON.stringify(v2.json)).toBe(200);
    expect(v2.json.model_version).toBe('1');
    const probabilities = (v2.json.outputs as { name: string; data: number[] }[]).find(
      (o) => o.name === 'probabilities',
    );
    expect(probabilities?.data[0]).toBeCloseTo(expected[0]![0]!, 5);

    const bad = await post(`${url}/v1/models/iris:predict`, {
      instances: [{ length: 'tall', width: 1 }],
    });
    expect(bad.status).toBe(400);
    expect(String(bad.json.error)).toContain('length');
    const malformed = await post(`${url}/v2/models/iris/infer`, '{"inputs": [');
    expect(malformed.status).toBe(400);
  });

  it('rolls a promotion out with zero failed requests under continuous traffic', async () => {
    const url = await serviceUrl('iris');
    const row = artifacts[1]!.rows[0]!;
    let stop = false;
    const outcomes: { ok: boolean; version?: string; error?: string }[] = [];
    const clients = Array.from({ length: 3 }, async () => {
      while (!stop) {
        try {
          const r = await post(`${url}/v2/models/iris/infer`, {
            inputs: ['length', 'width', 'colour', 'fresh'].map((column) => ({
              name: column,
              shape: [1],
              datatype:
                typeof row[column] === 'string'
                  ? 'BYTES'
                  : typeof row[column] === 'boolean'
                    ? 'BOOL'
                    : 'FP32',
              data: [row[column]],
            })),
          });
          outcomes.push({
            ok: r.status === 200,
            version: String(r.json.model_version),
            ...(r.status === 200 ? {} : { error: JSON.stringify(r.json) }),
          });
        } catch (error) {
          outcomes.push({ ok: false, error: String(error) });
        }
      }
    });
    try {
      await eventually(() =>
        expect(outcomes.filter((o) => o.version === '1').length).toBeGreaterThan(20),
      );
      await client.patch(latheKinds.modelVersion.resource, namespace, 'iris-v2', 'merge', {
        spec: { stage: 'production' },
      });
      await eventually(
        async () => {
          const s = await isvcStatus('iris');
          expect(s.servedVersions?.map((v) => v.version)).toEqual([2]);
          expect(ready(s)?.status).toBe('True');
          expect(outcomes.slice(-10).every((o) => o.version === '2')).toBe(true);
        },
        { what: 'rolled out to version 2', timeoutMs: 120_000 },
      );
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    const failed = outcomes.filter((o) => !o.ok);
    expect(failed, JSON.stringify(failed.slice(0, 3))).toEqual([]);
    expect(outcomes.some((o) => o.version === '1')).toBe(true);
    expect(outcomes.some((o) => o.version === '2')).toBe(true);
    const v1 = await client.get<KubeObject>(latheKinds.modelVersion.resource, namespace, 'iris-v1');
    expect((v1.spec as { stage: string }).stage).toBe('archived');
  });

  it('gives a 25 % canary about a quarter of the replicas', async () => {
    await registerVersion(3, 'staging');
    await client.patch(latheKinds.inferenceService.resource, namespace, 'iris', 'merge', {
      spec: { replicas: { min: 1, max: 4 }, canary: { stage: 'staging', trafficPercent: 25 } },
    });
    await eventually(
      async () => {
        const s = await isvcStatus('iris');
        const byRole = Object.fromEntries((s.servedVersions ?? []).map((v) => [v.role, v]));
        expect(byRole.primary).toMatchObject({ version: 2, replicas: 3, readyReplicas: 3 });
        expect(byRole.canary).toMatchObject({ version: 3, replicas: 1, readyReplicas: 1 });
      },
      { what: 'canary at a quarter of the replicas', timeoutMs: 180_000 },
    );
    await client.patch(latheKinds.inferenceService.resource, namespace, 'iris', 'json', [
      { op: 'remove', path: '/spec/canary' },
      { op: 'replace', path: '/spec/replicas', value: { min: 1, max: 1 } },
    ]);
    await eventually(
      async () =>
        expect((await isvcStatus('iris')).servedVersions?.map((v) => v.version)).toEqual([2]),
      {
        what: 'canary removed',
        timeoutMs: 60_000,
      },
    );
  });

  it('never sends traffic to a version whose artifact was corrupted after verification', async () => {
    await registerVersion(4, 'staging');
    await eventually(async () => {
      const mv = await client.get<KubeObject>(
        latheKinds.modelVersion.resource,
        namespace,
        'iris-v4',
      );
      expect(JSON.stringify(mv.status)).toContain('"ArtifactVerified"');
    });
    const prefix = modelVersionPrefix(namespace, 'iris', 4);
    await store.write(
      minio.bucket,
      `${prefix}weights.bin`,
      Buffer.alloc(artifacts[4]!.files['weights.bin']!.length, 7),
    );
    await client.patch(latheKinds.inferenceService.resource, namespace, 'iris', 'merge', {
      spec: { model: { name: 'iris', version: 4 } },
    });
    const s = await eventually(
      async () => {
        const status = await isvcStatus('iris');
        expect(ready(status)).toMatchObject({ status: 'False', reason: 'ServerCrashing' });
        return status;
      },
      { what: 'the rollout of the corrupted version reported failed', timeoutMs: 120_000 },
    );
    expect(ready(s)?.message).toContain('v2 keeps serving');
    expect(ready(s)?.message).toMatch(/FileMismatch|ArtifactInvalid|weights\.bin/);
    const url = await serviceUrl('iris');
    for (let i = 0; i < 20; i++) {
      const answer = await fetch(`${url}/v2/models/iris`, { signal: AbortSignal.timeout(5_000) });
      expect(((await answer.json()) as { versions?: string[] }).versions).toEqual(['2']);
    }
    await client.patch(latheKinds.inferenceService.resource, namespace, 'iris', 'json', [
      { op: 'remove', path: '/spec/model/version' },
    ]);
  });

  it('scales up under load and back down after the stabilisation window', async () => {
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'busy', namespace },
      spec: {
        model: { name: 'iris' },
        replicas: { min: 1, max: 3 },
        autoscaling: {
          mode: 'lathe',
          metric: 'concurrency',
          target: 1,
          scaleDownStabilization: '15s',
        },
      },
    });
    await eventually(async () => expect(ready(await isvcStatus('busy'))?.status).toBe('True'), {
      what: 'busy Ready',
      timeoutMs: 120_000,
    });
    const url = await serviceUrl('busy');
    const row = artifacts[2]!.rows[0]!;
    // Concurrency is measured as the servers' own time per second (Little's law): requests of
    // 64 rows keep the server, not the client or the network, the busy side, however fast one
    // row is.
    const instances = Array.from({ length: 64 }, () => row);
    let stop = false;
    const deadline = Date.now() + 120_000;
    const clients = Array.from({ length: 8 }, async () => {
      while (!stop && Date.now() < deadline) {
        await post(`${url}/v1/models/busy:predict`, { instances }).catch(() => undefined);
      }
    });
    try {
      await eventually(async () => expect((await isvcStatus('busy')).replicas).toBeGreaterThan(1), {
        what: 'scaled up under load',
        timeoutMs: 90_000,
      });
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    await eventually(async () => expect((await isvcStatus('busy')).replicas).toBe(1), {
      what: 'scaled back down after the window',
      timeoutMs: 90_000,
    });
  });

  it('shows a child name taken by an object Lathe does not manage as Ready=False, then recovers', async () => {
    await eventually(async () => expect(ready(await isvcStatus('iris'))?.status).toBe('True'), {
      what: 'iris Ready',
      timeoutMs: 120_000,
    });
    const impostor: PodDisruptionBudgetObject = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'iris', namespace, labels: { app: 'someone-else' } },
      spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'someone-else' } } },
    };
    // The controller recreates its budget as soon as it sees it deleted: take the name again
    // until the impostor's create wins.
    await eventually(
      async () => {
        await client
          .delete(builtin.podDisruptionBudget, namespace, 'iris')
          .catch((error) => expect(isNotFound(error)).toBe(true));
        await client.create(builtin.podDisruptionBudget, impostor);
      },
      { what: 'the budget name taken by an unmanaged object' },
    );
    const conflict = await eventually(
      async () => {
        const s = await isvcStatus('iris');
        expect(ready(s)).toMatchObject({ status: 'False', reason: 'ChildConflict' });
        expect(s.conditions?.find((c) => c.type === 'Reconciling')?.status).toBe('True');
        return s;
      },
      { what: 'Ready=False with ChildConflict' },
    );
    expect(ready(conflict)?.message).toContain(`PodDisruptionBudget ${namespace}/iris`);
    expect(ready(conflict)?.message).toContain('not managed by Lathe');
    // The steps before the failing one still report what they found.
    expect(conflict.servedVersions?.map((v) => v.version)).toEqual([2]);
    const untouched = await client.get<PodDisruptionBudgetObject>(
      builtin.podDisruptionBudget,
      namespace,
      'iris',
    );
    expect(untouched.metadata?.labels).toEqual({ app: 'someone-else' });
    expect(untouched.metadata?.ownerReferences).toBeUndefined();

    await client.delete(builtin.podDisruptionBudget, namespace, 'iris');
    await eventually(
      async () => {
        expect(ready(await isvcStatus('iris'))).toMatchObject({
          status: 'True',
          reason: 'Serving',
        });
        const budget = await client.get<PodDisruptionBudgetObject>(
          builtin.podDisruptionBudget,
          namespace,
          'iris',
        );
        expect(budget.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('lathe');
      },
      { what: 'Ready again once the impostor is gone', timeoutMs: 60_000 },
    );
  });

  it('rebuilds a wiped status from what exists, replacing no Deployment', async () => {
    const deploymentUids = async () =>
      Object.fromEntries(
        (
          await client.list<DeploymentObject>(builtin.deployment, {
            namespace,
            labelSelector: 'lathe.dev/inferenceservice=iris',
          })
        ).items.map((d) => [d.metadata?.name, d.metadata?.uid]),
      );
    const comparable = (s: Awaited<ReturnType<typeof isvcStatus>>) => {
      const { conditions, ...rest } = s;
      return {
        ...rest,
        conditions: (conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message]).sort(),
      };
    };
    const before = await eventually(
      async () => {
        const s = await isvcStatus('iris');
        expect(ready(s)?.status).toBe('True');
        return s;
      },
      { what: 'iris Ready', timeoutMs: 120_000 },
    );
    const uids = await deploymentUids();
    expect(Object.keys(uids)).toEqual(['iris-v2']);

    await client.patch(
      latheKinds.inferenceService.resource,
      namespace,
      'iris',
      'merge',
      { status: null },
      { subresource: 'status' },
    );
    const after = await eventually(
      async () => {
        const s = await isvcStatus('iris');
        expect(ready(s)?.status).toBe('True');
        return s;
      },
      { what: 'iris Ready again after the wipe' },
    );
    expect(comparable(after)).toEqual(comparable(before));
    expect(after.url).toBe(`http://iris.${namespace}.svc.cluster.local`);
    expect(after.servedVersions?.map((v) => v.version)).toEqual([2]);
    expect(await deploymentUids()).toEqual(uids);
  });
});
