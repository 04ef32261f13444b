/**
 * The demo's loop, small, for the web console's browser tests: in one namespace, with the
 * operator's controllers running in-process and the real programs as pods, a Dataset is
 * ingested, a RetrainPolicy trains a first model and promotes it (no champion yet), an
 * InferenceService serves it and answers some predictions, and a second, worse run is
 * rejected — so every console page has something true to show: two versions to compare, two
 * runs' curves, a serving history and two decisions. Test support only.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  latheKinds,
  type RetrainPolicyObject,
} from '../../operator/src/controllers/lathe-kinds.js';
import { RUN_NOW_ANNOTATION } from '../../operator/src/controllers/retrainpolicy/desired.js';
import { builtin, type KubeObject } from '../../operator/src/runtime/resource.js';
import { clusterInfo, eventually, repoRoot } from '../cluster/testenv.js';
import { testClient, testStore } from './controllers.js';

/** The names the loop made, and what it decided. */
export interface ConsoleLoop {
  namespace: string;
  dataset: string;
  policy: string;
  service: string;
  model: string;
  /** The promoted (production) and the rejected ModelVersion. */
  promoted: string;
  rejected: string;
  /** The TrainingJobs of the two runs, first then second. */
  runs: string[];
  /** Predictions the service answered with 200. */
  predictions: number;
}

const client = testClient();

/** A template whose model is good (an MLP trained long enough) or poor (one epoch, linear). */
function template(quality: 'good' | 'poor') {
  return {
    spec: {
      datasetRef: { name: 'iris' },
      model:
        quality === 'good'
          ? { builtin: { architecture: 'mlp', layers: [16] } }
          : { builtin: { architecture: 'linear' } },
      hyperparameters:
        quality === 'good'
          ? { epochs: 40, batchSize: 16, learningRate: 0.02, seed: 7 }
          : { epochs: 2, batchSize: 64, learningRate: 0.0001, seed: 7 },
      modelName: 'iris',
    },
  };
}

async function getPolicy(namespace: string, name: string) {
  return client.get<RetrainPolicyObject>(latheKinds.retrainPolicy.resource, namespace, name);
}

async function decided(namespace: string, policy: string, decision: 'Promoted' | 'Rejected') {
  return eventually(
    async () => {
      const p = await getPolicy(namespace, policy);
      const last = p.status?.lastPromotion;
      if (last?.decision !== decision)
        throw new Error(
          `last decision ${JSON.stringify(last)}; conditions ${JSON.stringify(p.status?.conditions)}`,
        );
      return { last, run: p.status?.lastTrainingJob?.name ?? '' };
    },
    { what: `RetrainPolicy ${policy}: ${decision}`, timeoutMs: 300_000, intervalMs: 1_000 },
  );
}

/**
 * Sends `count` predictions to InferenceService `service` through its Service, one after the
 * other, and returns how many were answered with 200.
 */
export async function predict(namespace: string, service: string, count: number): Promise<number> {
  const svc = await client.get<KubeObject>(builtin.service, namespace, service);
  const url = `http://${(svc.spec as { clusterIP: string }).clusterIP}/v1/models/iris:predict`;
  const rows = [
    { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
    { sepal_length: 5.9, sepal_width: 3.0, petal_length: 5.1, petal_width: 1.8 },
  ];
  let answered = 0;
  for (let i = 0; i < count; i++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [rows[i % 2]] }),
      signal: AbortSignal.timeout(10_000),
    });
    await response.text();
    if (response.ok) answered++;
  }
  return answered;
}

/**
 * Runs the loop in `namespace` (the controllers must be running on it) and returns what it
 * made. About 3–5 minutes on a busy 2-core machine.
 */
export async function runConsoleLoop(namespace: string): Promise<ConsoleLoop> {
  const { minio } = clusterInfo();
  const key = `sources/${namespace}/iris.csv`;
  await testStore().store.write(
    minio.bucket,
    key,
    await readFile(path.join(repoRoot, 'examples/data/iris.csv'), 'utf8'),
  );
  await client.create(latheKinds.dataset.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name: 'iris', namespace },
    spec: { source: { s3: { bucket: minio.bucket, key } }, schema: { label: 'species' } },
  });
  await eventually(
    async () => {
      const ds = await client.get<KubeObject>(latheKinds.dataset.resource, namespace, 'iris');
      if (!JSON.stringify(ds.status).includes('"VersionAvailable"'))
        throw new Error(`Dataset iris: ${JSON.stringify(ds.status)}`);
    },
    { what: 'Dataset iris Ready', timeoutMs: 180_000, intervalMs: 1_000 },
  );

  await client.create(latheKinds.retrainPolicy.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'RetrainPolicy',
    metadata: { name: 'iris-retrain', namespace, annotations: { [RUN_NOW_ANNOTATION]: 'first' } },
    spec: {
      template: template('good'),
      triggers: { datasetChange: true },
      promotion: { metric: 'accuracy', direction: 'maximize', minImprovement: 0.01 },
    },
  });
  const first = await decided(namespace, 'iris-retrain', 'Promoted');

  await client.create(latheKinds.inferenceService.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'InferenceService',
    metadata: { name: 'iris', namespace },
    spec: { model: { name: 'iris' }, requestLogging: { sampleRate: 1 } },
  });
  await eventually(
    async () => {
      const isvc = await client.get<KubeObject>(
        latheKinds.inferenceService.resource,
        namespace,
        'iris',
      );
      const ready = (
        isvc.status as { conditions?: { type: string; status: string }[] }
      )?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status !== 'True')
        throw new Error(`InferenceService iris: ${JSON.stringify(isvc.status)}`);
    },
    { what: 'InferenceService iris Ready', timeoutMs: 180_000, intervalMs: 1_000 },
  );
  const predictions = await predict(namespace, 'iris', 20);

  await client.patch(latheKinds.retrainPolicy.resource, namespace, 'iris-retrain', 'json', [
    { op: 'replace', path: '/spec/template', value: template('poor') },
  ]);
  await client.patch(latheKinds.retrainPolicy.resource, namespace, 'iris-retrain', 'merge', {
    metadata: { annotations: { [RUN_NOW_ANNOTATION]: 'second' } },
  });
  const second = await decided(namespace, 'iris-retrain', 'Rejected');

  return {
    namespace,
    dataset: 'iris',
    policy: 'iris-retrain',
    service: 'iris',
    model: 'iris',
    promoted: first.last.challenger.modelVersion,
    rejected: second.last.challenger.modelVersion,
    runs: [first.run, second.run],
    predictions,
  };
}
