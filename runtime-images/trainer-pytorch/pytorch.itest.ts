/**
 * PyTorch end to end on the local cluster: a Dataset ingested, a TrainingJob with the PyTorch
 * image (`ghcr.io/lathe-dev/lathe-trainer-pytorch`, a custom image: nothing in the operator knows
 * it is PyTorch) trained on it, the ModelVersion registered and verified with format `onnx`,
 * then served by an InferenceService through its Service on V1 and V2. The served predictions
 * must equal torch's own: the artifact's TorchScript `model.pt` run on the same raw rows,
 * prepared with the Python twin of the record preparation. The Dataset, TrainingJob,
 * ModelVersion and InferenceService controllers run in-process; the ingestion, trainer and
 * server programs run as pods on the process node.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DatasetFile,
  datasetVersionPrefix,
  parseS3Uri,
} from '../../contract/object-store-layout.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  repoRoot,
} from '../../e2e/cluster/testenv.js';
import {
  runtimeImage,
  startTestManager,
  testClient,
  testControllers,
  testStore,
} from '../../e2e/testing/controllers.js';
import {
  latheKinds,
  type ModelVersionObject,
  type TrainingJobObject,
} from '../../operator/src/controllers/lathe-kinds.js';
import type { ServiceObject } from '../../operator/src/runtime/builtin-kinds.js';
import type { Manager } from '../../operator/src/runtime/manager.js';
import { builtin, type KubeObject } from '../../operator/src/runtime/resource.js';
import { preparePytorchEnv, torchscriptOutputsForRecords } from './pytorch-env.js';

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

beforeAll(async () => {
  python = await preparePytorchEnv();
  workDir = mkdtempSync(path.join(os.tmpdir(), 'lathe-pytorch-itest-'));
  await installCrds();
  namespace = await createTestNamespace('pytorch');
  manager = startTestManager(
    namespace,
    testControllers('dataset', 'trainingjob', 'modelversion', 'inferenceservice'),
    'pytorch-itest',
  );
  const dataset = parse(
    await readFile(path.join(repoRoot, 'examples/dataset-iris.yaml'), 'utf8'),
  ) as KubeObject;
  dataset.metadata = { ...dataset.metadata, namespace };
  await client.create(latheKinds.dataset.resource, dataset);
});

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
});
