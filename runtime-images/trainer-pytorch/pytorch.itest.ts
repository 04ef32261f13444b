/**
 * PyTorch end to end on the local cluster: a Dataset ingested, a TrainingJob with the PyTorch
 * image (`ghcr.io/lathe-dev/lathe-trainer-pytorch`, a custom image: nothing in the operator knows
 * it is PyTorch) trained on it, the ModelVersion registered and verified with format `onnx`,
 * then served by an InferenceService through its Service on V1 and V2. The served predictions
 * must equal torch's own: the artifact's TorchScript `model.pt` run on the same raw rows,
 * prepared with the Python twin of the record preparation. Then a RetrainPolicy judges a
 * scikit-learn challenger against the PyTorch champion on the challenger's test split, the
 * champion scored there by the PyTorch image's own evaluate mode (ONNX Runtime on the served
 * model.onnx): frameworks compete on the same rows. Every controller runs in-process; the
 * ingestion, trainer, evaluation and server programs run as pods on the process node.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DatasetFile,
  datasetVersionPrefix,
  parseS3Uri,
  s3Uri,
} from '../../contract/object-store-layout.js';
import { parseResult } from '../../contract/results.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  repoRoot,
} from '../../e2e/cluster/testenv.js';
import {
  programObjectStoreEnv,
  runtimeImage,
  startTestManager,
  testClient,
  testControllers,
  testStore,
} from '../../e2e/testing/controllers.js';
import {
  latheKinds,
  type ModelVersionObject,
  type RetrainPolicyObject,
  type TrainingJobObject,
} from '../../operator/src/controllers/lathe-kinds.js';
import { RUN_NOW_ANNOTATION } from '../../operator/src/controllers/retrainpolicy/desired.js';
import type { ServiceObject } from '../../operator/src/runtime/builtin-kinds.js';
import type { Manager } from '../../operator/src/runtime/manager.js';
import { builtin, type KubeObject } from '../../operator/src/runtime/resource.js';
import {
  preparePytorchEnv,
  pytorchPythonPath,
  torchscriptOutputsForRecords,
} from './pytorch-env.js';

const { minio } = clusterInfo();
const { store } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager | undefined;
let python: string;
let workDir: string;

const ready = (o: object) =>
  (
    (o as { status?: unknown }).status as
      | { conditions?: { type: string; status: string }[] }
      | undefined
  )?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

async function post(
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

let irisCsv: string;
/** The Dataset's source: the example iris CSV, under this namespace's key so a test can change it. */
const dataKey = () => `sources/${namespace}/iris.csv`;

beforeAll(async () => {
  python = await preparePytorchEnv();
  workDir = mkdtempSync(path.join(os.tmpdir(), 'lathe-pytorch-itest-'));
  await installCrds();
  namespace = await createTestNamespace('pytorch');
  irisCsv = await readFile(path.join(repoRoot, 'examples/data/iris.csv'), 'utf8');
  await store.write(minio.bucket, dataKey(), irisCsv);
  manager = startTestManager(namespace, testControllers(), 'pytorch-itest');
  await client.create(latheKinds.dataset.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name: 'iris', namespace },
    spec: {
      source: { s3: { bucket: minio.bucket, key: dataKey() } },
      schema: { label: 'species' },
    },
  });
}, 300_000);

afterAll(async () => {
  await manager?.stop();
  if (namespace) await deleteTestNamespace(namespace);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('a PyTorch model through the whole loop', () => {
  let modelVersion: ModelVersionObject;
  let datasetVersion: string;

  it('trains on the Dataset with the PyTorch image and registers a verified ONNX ModelVersion', async () => {
    await client.create(latheKinds.trainingJob.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name: 'iris-torch', namespace },
      spec: {
        datasetRef: { name: 'iris' },
        model: { custom: { image: runtimeImage('trainer-pytorch') } },
        hyperparameters: {
          epochs: 60,
          batchSize: 16,
          learningRate: 0.02,
          seed: 7,
          extra: { layers: '16' },
        },
        modelName: 'iris-torch',
      },
    });
    const tj = await eventually(
      async () => {
        const job = await client.get<TrainingJobObject>(
          latheKinds.trainingJob.resource,
          namespace,
          'iris-torch',
        );
        expect(
          job.status?.phase,
          JSON.stringify(job.status?.failure ?? job.status?.conditions),
        ).toBe('Succeeded');
        return job;
      },
      { what: 'TrainingJob iris-torch Succeeded', timeoutMs: 300_000 },
    );
    expect(tj.status?.progress).toMatchObject({ epoch: 60, totalEpochs: 60 });
    datasetVersion = tj.status?.datasetVersion ?? '';
    modelVersion = await eventually(async () => {
      const mv = await client.get<ModelVersionObject>(
        latheKinds.modelVersion.resource,
        namespace,
        tj.status?.modelVersion?.name ?? '',
      );
      expect(ready(mv)).toBe(true);
      return mv;
    });
    expect(modelVersion.spec.artifact.format).toBe('onnx');
    expect(modelVersion.spec.lineage?.trainingJob?.backend).toBe('pytorch');
    expect(modelVersion.spec.metrics?.accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it("serves it through the Service on V1 and V2 with torch's own predictions", async () => {
    expect(modelVersion, 'the training test ran first').toBeDefined();
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'iris-torch', namespace },
      spec: {
        model: { name: 'iris-torch', version: modelVersion.spec.version },
        replicas: { min: 1, max: 1 },
      },
    });
    await eventually(
      async () =>
        expect(
          ready(
            await client.get<KubeObject>(
              latheKinds.inferenceService.resource,
              namespace,
              'iris-torch',
            ),
          ),
        ).toBe(true),
      { what: 'InferenceService iris-torch Ready', timeoutMs: 180_000 },
    );

    // Raw rows of the test split, as a client sends them (without the label).
    const raw = await store.read(
      minio.bucket,
      `${datasetVersionPrefix(namespace, 'iris', datasetVersion)}${DatasetFile.testRaw}`,
    );
    const records = raw
      .toString()
      .trim()
      .split('\n')
      .slice(0, 10)
      .map((line) => {
        const { species: _label, ...features } = JSON.parse(line) as Record<string, unknown>;
        return features;
      });
    const artifact = parseS3Uri(modelVersion.spec.artifact.uri);
    const files = {
      schema: path.join(workDir, 'schema.json'),
      model: path.join(workDir, 'model.pt'),
    };
    writeFileSync(files.schema, await store.read(artifact.bucket, `${artifact.key}schema.json`));
    writeFileSync(files.model, await store.read(artifact.bucket, `${artifact.key}model.pt`));
    const expected = await torchscriptOutputsForRecords(python, files, records);
    expect(expected).toHaveLength(10);

    const svc = await client.get<ServiceObject>(builtin.service, namespace, 'iris-torch');
    const url = `http://${svc.spec?.clusterIP}:80`;
    const v1 = await eventually(async () => {
      const r = await post(`${url}/v1/models/iris-torch:predict`, { instances: records });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      return r.json;
    });
    const predictions = v1.predictions as { label: string; probabilities: number[] }[];
    expect(predictions).toHaveLength(10);
    const classes = ['setosa', 'versicolor', 'virginica'];
    for (const [i, prediction] of predictions.entries()) {
      expect(prediction.probabilities).toHaveLength(3);
      for (const [j, value] of prediction.probabilities.entries()) {
        expect(value).toBeCloseTo(expected[i]![j]!, 5);
      }
      const best = expected[i]!.indexOf(Math.max(...expected[i]!));
      expect(prediction.label).toBe(classes[best]);
    }

    const columns = Object.keys(records[0]!);
    const v2 = await post(`${url}/v2/models/iris-torch/infer`, {
      inputs: columns.map((column) => ({
        name: column,
        shape: [records.length],
        datatype: 'FP64',
        data: records.map((r) => r[column]),
      })),
    });
    expect(v2.status, JSON.stringify(v2.json)).toBe(200);
    const probabilities = (
      v2.json.outputs as { name: string; shape: number[]; data: number[] }[]
    ).find((o) => o.name === 'probabilities');
    expect(probabilities?.shape).toEqual([10, 3]);
    for (const [k, value] of (probabilities?.data ?? []).entries()) {
      expect(value).toBeCloseTo(expected[Math.floor(k / 3)]![k % 3]!, 5);
    }
  });
  it('loses its place to a scikit-learn challenger judged on the same split, scored there by its own evaluate mode', async () => {
    const spec = (model: Record<string, unknown>, hyperparameters: Record<string, unknown>) => ({
      spec: { datasetRef: { name: 'iris' }, model, hyperparameters, modelName: 'iris-policy' },
    });
    // The champion: a PyTorch network barely trained (one epoch at a tiny learning rate).
    await client.create(latheKinds.retrainPolicy.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'RetrainPolicy',
      metadata: { name: 'iris', namespace, annotations: { [RUN_NOW_ANNOTATION]: 'first' } },
      spec: {
        template: spec(
          { custom: { image: runtimeImage('trainer-pytorch') } },
          { epochs: 1, learningRate: 0.0001, seed: 3, extra: { layers: '4' } },
        ),
        triggers: { datasetChange: true },
        promotion: { metric: 'accuracy', direction: 'maximize', minImprovement: 0.01 },
      },
    });
    const getPolicy = () =>
      client.get<RetrainPolicyObject>(latheKinds.retrainPolicy.resource, namespace, 'iris');
    const first = await eventually(
      async () => {
        const p = await getPolicy();
        expect(p.status?.lastPromotion?.decision).toBe('Promoted');
        return p;
      },
      { what: 'the PyTorch run promoted', timeoutMs: 240_000 },
    );
    const champion = await client.get<ModelVersionObject>(
      latheKinds.modelVersion.resource,
      namespace,
      first.status?.lastPromotion?.challenger.modelVersion ?? '',
    );
    expect(champion.spec.artifact.format).toBe('onnx');
    expect(champion.spec.lineage?.trainingJob?.backend).toBe('pytorch');

    // The challenger: scikit-learn on a new dataset version (rows reversed, a few left out: another
    // test split), which the dataset change starts.
    await client.patch(latheKinds.retrainPolicy.resource, namespace, 'iris', 'json', [
      {
        op: 'replace',
        path: '/spec/template',
        value: spec(
          { custom: { image: runtimeImage('trainer-sklearn') } },
          { seed: 3, extra: { estimator: 'gradient_boosting', n_estimators: '40' } },
        ),
      },
    ]);
    const [header, ...lines] = irisCsv.trim().split('\n');
    const newData = [header, ...lines.reverse().filter((_, i) => i % 15 !== 7)].join('\n');
    await store.write(minio.bucket, dataKey(), `${newData}\n`);
    await client.patch(latheKinds.dataset.resource, namespace, 'iris', 'merge', {
      metadata: { annotations: { 'lathe.dev/refresh': 'new-data' } },
    });
    const judged = await eventually(
      async () => {
        const p = await getPolicy();
        expect(p.status?.lastPromotion?.champion?.modelVersion).toBe(champion.metadata?.name);
        return p;
      },
      {
        what: 'the scikit-learn challenger judged against the PyTorch champion',
        timeoutMs: 300_000,
      },
    );
    const decision = judged.status!.lastPromotion!;
    expect(decision.decision, decision.reason).toBe('Promoted');
    expect(decision.reason).toContain('on the same test split');
    const challenger = await client.get<ModelVersionObject>(
      latheKinds.modelVersion.resource,
      namespace,
      decision.challenger.modelVersion,
    );
    expect(challenger.spec.lineage?.trainingJob?.backend).toBe('scikit-learn');
    expect(challenger.spec.lineage?.dataset.version).not.toBe(
      champion.spec.lineage?.dataset.version,
    );

    // The champion's figure is its score on the challenger's split by the PyTorch image's
    // evaluate mode: the same program run here gives the same number, not its training score.
    const resultPath = path.join(workDir, 'evaluate.result');
    writeFileSync(resultPath, '');
    const output = await new Promise<string>((resolve) =>
      execFile(
        python,
        ['-m', 'lathe_pytorch', 'evaluate'],
        {
          env: {
            PATH: process.env.PATH ?? '',
            PYTHONPATH: pytorchPythonPath,
            ...programObjectStoreEnv(),
            LATHE_EVALUATE_MODEL_URI: champion.spec.artifact.uri,
            LATHE_EVALUATE_MODEL_DIGEST: champion.spec.artifact.digest,
            LATHE_DATASET_URI: s3Uri(
              minio.bucket,
              datasetVersionPrefix(
                namespace,
                'iris',
                challenger.spec.lineage?.dataset.version ?? '',
              ),
            ),
            LATHE_TASK: 'classification',
            LATHE_RESULT_PATH: resultPath,
          },
        },
        (_error, stdout, stderr) => resolve(`${stdout}${stderr}`),
      ),
    );
    const result = parseResult('evaluate', readFileSync(resultPath, 'utf8'));
    expect(result, output).toMatchObject({ outcome: 'succeeded' });
    if (result?.outcome !== 'succeeded') throw new Error('unreachable');
    expect(decision.champion?.value).toBeCloseTo(result.metrics.accuracy!, 6);
    expect(decision.challenger.value).toBeGreaterThan(decision.champion!.value! + 0.01);
  });
});
