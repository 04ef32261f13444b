/**
 * The model comparison, training and serving pages on the local cluster: a real Dataset →
 * TrainingJob → ModelVersion → InferenceService (the controllers in-process, the ingestion,
 * trainer and server programs as pods on the process node), and the console as its program
 * runs it — informer caches, the object store's run records, the servers' metrics sampler, the
 * HTTP server — read with a ServiceAccount's token, checked by TokenReview and
 * SubjectAccessReview.
 *
 * The comparison page shows the ModelVersion's metrics exactly as its spec has them; the
 * training page lists as many epochs as the run's history.json holds; after predictions were
 * sent, the serving page shows a request rate above zero; a token without rights in the
 * namespace sees none of it.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RunFile, trainingRunPrefix } from '../contract/object-store-layout.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  kubectlOrThrow,
  repoRoot,
} from '../e2e/cluster/testenv.js';
import {
  startTestManager,
  testClient,
  testControllers,
  testStore,
} from '../e2e/testing/controllers.js';
import type { InferenceServiceObject } from '../operator/src/controllers/lathe-kinds.js';
import {
  latheKinds,
  type ModelVersionObject,
  type TrainingJobObject,
} from '../operator/src/controllers/lathe-kinds.js';
import type { ServiceObject } from '../operator/src/runtime/builtin-kinds.js';
import type { Manager } from '../operator/src/runtime/manager.js';
import { builtin, type KubeObject } from '../operator/src/runtime/resource.js';
import { KubeAccessReviewer } from './access-review.js';
import { InformerConsoleCache } from './cache.js';
import { pages } from './pages/index.js';
import { objectStoreRunRecords } from './run-records.js';
import { createConsoleServer } from './server.js';
import { ServingSampler } from './serving/sampler.js';
import { ServingPods } from './serving/serving-pods.js';
import { parseHistory } from './training/history-reader.js';

const { minio } = clusterInfo();
const { store } = testStore();
const client = testClient();
const log = pino({ level: process.env.LATHE_TEST_LOG_LEVEL ?? 'silent' });
const EPOCHS = 8;

let namespace: string;
let manager: Manager;
let cache: InformerConsoleCache;
let servingPods: ServingPods;
let sampler: ServingSampler;
let server: ReturnType<typeof createConsoleServer>;
let base = '';
let viewerToken = '';
let strangerToken = '';
let modelVersion: ModelVersionObject;

const get = <T extends KubeObject>(
  kind: { resource: typeof latheKinds.trainingJob.resource },
  name: string,
) => client.get<T>(kind.resource, namespace, name);

async function page(path: string, token = viewerToken): Promise<{ status: number; body: string }> {
  const res = await fetch(base + path, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.text() };
}

/** A ServiceAccount's token; `mayView`: a Role lets it get, list and watch Lathe's kinds. */
async function serviceAccountToken(name: string, mayView: boolean): Promise<string> {
  await kubectlOrThrow(['create', 'serviceaccount', name, '-n', namespace]);
  if (mayView) {
    await kubectlOrThrow([
      'create',
      'role',
      `${name}-view`,
      '-n',
      namespace,
      '--verb=get,list,watch',
      '--resource=datasets.lathe.dev,trainingjobs.lathe.dev,modelversions.lathe.dev,inferenceservices.lathe.dev,retrainpolicies.lathe.dev,batchpredictions.lathe.dev',
    ]);
    await kubectlOrThrow([
      'create',
      'rolebinding',
      `${name}-view`,
      '-n',
      namespace,
      `--role=${name}-view`,
      `--serviceaccount=${namespace}:${name}`,
    ]);
  }
  return (await kubectlOrThrow(['create', 'token', name, '-n', namespace, '--duration=1h'])).trim();
}

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('console');
  manager = startTestManager(
    namespace,
    testControllers('dataset', 'trainingjob', 'modelversion', 'inferenceservice'),
    'console-pages-itest',
  );
  const dataset = parse(
    await readFile(path.join(repoRoot, 'examples/dataset-iris.yaml'), 'utf8'),
  ) as KubeObject;
  dataset.metadata = { ...dataset.metadata, namespace };
  await client.create(latheKinds.dataset.resource, dataset);
  await client.create(latheKinds.trainingJob.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: 'iris-console', namespace },
    spec: {
      datasetRef: { name: 'iris' },
      model: { builtin: { architecture: 'mlp', layers: [8], backend: 'tensorflow' } },
      hyperparameters: {
        epochs: EPOCHS,
        batchSize: 16,
        learningRate: 0.02,
        validationSplit: 0.2,
        seed: 7,
      },
      modelName: 'iris',
    },
  });

  cache = new InformerConsoleCache({ client, log, namespaces: [namespace] });
  servingPods = new ServingPods({ client, log, namespaces: [namespace] });
  sampler = new ServingSampler({
    services: () => cache.reader('inferenceService').list(),
    podsOf: (isvc) => servingPods.podsOf(isvc),
    intervalMs: 1_000,
    capacity: 120,
  });
  server = createConsoleServer({
    cache,
    reviewer: new KubeAccessReviewer({
      request: (method, p, options) => client.request(method, p, options),
      log,
    }),
    pages,
    runRecords: objectStoreRunRecords(store, minio.bucket),
    serving: sampler,
    log,
    secureCookie: false,
  });
  cache.start();
  servingPods.start();
  sampler.start();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  viewerToken = await serviceAccountToken('viewer', true);
  strangerToken = await serviceAccountToken('stranger', false);

  const tj = await eventually(
    async () => {
      const job = await get<TrainingJobObject>(latheKinds.trainingJob, 'iris-console');
      expect(job.status?.phase, JSON.stringify(job.status?.failure ?? job.status?.conditions)).toBe(
        'Succeeded',
      );
      expect(job.status?.modelVersion).toBeDefined();
      return job;
    },
    {
      what: 'TrainingJob iris-console Succeeded with a ModelVersion',
      timeoutMs: 300_000,
      intervalMs: 2_000,
    },
  );
  modelVersion = await client.get<ModelVersionObject>(
    latheKinds.modelVersion.resource,
    namespace,
    tj.status!.modelVersion!.name,
  );
}, 600_000);

afterAll(async () => {
  sampler?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await Promise.all([cache?.stop(), servingPods?.stop(), manager?.stop()]);
  if (namespace) await deleteTestNamespace(namespace);
});

describe('the console pages on a trained model', () => {
  it('compares versions with the metrics exactly as the ModelVersion has them', async () => {
    const metrics = Object.entries(modelVersion.spec.metrics ?? {});
    expect(metrics.length).toBeGreaterThan(0);
    const { status, body } = await eventually(
      async () => {
        const answer = await page(`/models/${namespace}/iris`);
        expect(answer.status).toBe(200);
        return answer;
      },
      { what: 'the model page' },
    );
    const version = modelVersion.spec.version;
    for (const [metric, value] of metrics) {
      const cell = new RegExp(
        `<td data-version="${version}" data-metric="${metric}" data-value="([^"]+)"`,
      ).exec(body);
      expect(cell?.[1], metric).toBe(String(value));
    }
    expect(status).toBe(200);
    expect(body).toContain(`href="/training/${namespace}/iris-console"`);
  });

  it('lists as many epochs as the run’s history.json holds', async () => {
    const key = `${trainingRunPrefix(namespace, 'iris-console')}${RunFile.history}`;
    const history = parseHistory((await store.read(minio.bucket, key)).toString('utf8'));
    expect(history.epochs).toHaveLength(EPOCHS);
    const { status, body } = await page(`/training/${namespace}/iris-console`);
    expect(status).toBe(200);
    expect(body).toContain(`data-epochs="${history.epochs.length}"`);
    expect(body.match(/<tr data-epoch="\d+"/g)).toHaveLength(history.epochs.length);
    expect(body).not.toContain('http-equiv="refresh"');
  });

  it('shows a request rate above zero after predictions were sent', async () => {
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'iris', namespace },
      spec: {
        model: { name: 'iris', version: modelVersion.spec.version },
        replicas: { min: 1, max: 1 },
      },
    });
    await eventually(
      async () => {
        const isvc = await client.get<InferenceServiceObject>(
          latheKinds.inferenceService.resource,
          namespace,
          'iris',
        );
        expect(isvc.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      },
      { what: 'InferenceService iris Ready', timeoutMs: 180_000, intervalMs: 1_000 },
    );
    const svc = await client.get<ServiceObject>(builtin.service, namespace, 'iris');
    const url = `http://${svc.spec?.clusterIP}:80/v1/models/iris:predict`;
    const row = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
    const body = await eventually(
      async () => {
        for (let i = 0; i < 10; i++) {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ instances: [row] }),
            signal: AbortSignal.timeout(5_000),
          });
          expect(res.status).toBe(200);
          await res.arrayBuffer();
        }
        const answer = await page(`/serving/${namespace}/iris`);
        expect(answer.status).toBe(200);
        const rate = /data-measured="requestsPerSecond" data-value="([^"]+)"/.exec(
          answer.body,
        )?.[1];
        expect(Number(rate)).toBeGreaterThan(0);
        return answer.body;
      },
      { what: 'a request rate on the serving page', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(body).toContain('<dd data-field="replicas" data-value="1">1</dd>');
  });

  it('shows none of it to a token without rights in the namespace', async () => {
    for (const p of [
      `/models/${namespace}/iris`,
      `/training/${namespace}/iris-console`,
      `/serving/${namespace}/iris`,
    ]) {
      const { status, body } = await page(p, strangerToken);
      expect(status, p).toBe(404);
      expect(body).not.toContain('data-metric=');
      expect(body).not.toContain('data-epochs=');
      expect(body).not.toContain('data-measured=');
    }
  });
});
