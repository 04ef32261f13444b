/**
 * scikit-learn through the whole loop on the local cluster, with every controller run in-process
 * by the real manager and the real programs as pods on the process node: a Dataset is ingested,
 * the scikit-learn trainer image trains on it (exporting ONNX), the ModelVersion is registered
 * and verified, the InferenceService serves it through its Service with ONNX Runtime on V1 and
 * V2 — the same probabilities as scikit-learn's own `predict_proba` on the same rows — and a
 * RetrainPolicy promotes one scikit-learn model over another, the champion (trained on an
 * earlier dataset version) scored on the challenger's test split by the scikit-learn image's
 * own evaluate mode, as KServe would run a framework's own runtime.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetVersionPrefix, parseS3Uri, s3Uri } from '../../contract/object-store-layout.js';
import {
  type PreparedSchema,
  PreparedSchemaSchema,
  prepareRecord,
} from '../../contract/prepared-data.js';
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
import { python, runProgram, sklearnPythonPath } from '../../e2e/testing/sklearn-fixture.js';
import {
  latheKinds,
  type ModelVersionObject,
  type RetrainPolicyObject,
  type TrainingJobObject,
} from '../../operator/src/controllers/lathe-kinds.js';
import { RUN_NOW_ANNOTATION } from '../../operator/src/controllers/retrainpolicy/desired.js';
import type { Manager } from '../../operator/src/runtime/manager.js';
import { builtin, type KubeObject } from '../../operator/src/runtime/resource.js';

const info = clusterInfo();
const { store } = testStore();
const client = testClient();
const image = runtimeImage('trainer-sklearn');
let namespace: string;
let manager: Manager | undefined;
let irisCsv: string;

const dataKey = () => `sources/${namespace}/iris.csv`;
const condition = (o: unknown, type: string) =>
  (
    o as { status?: { conditions?: { type: string; status: string }[] } } | undefined
  )?.status?.conditions?.find((c) => c.type === type);

/** A TrainingJob spec of the scikit-learn image with `estimator` and its hyperparameters. */
function sklearnSpec(modelName: string, extra: Record<string, string>) {
  return {
    datasetRef: { name: 'iris' },
    model: { custom: { image } },
    hyperparameters: { seed: 3, extra },
    modelName,
  };
}

/** The raw rows of the iris CSV (features only) and their species. */
function irisRows(csv: string): { rows: Record<string, number>[]; species: string[] } {
  const [header, ...lines] = csv.trim().split('\n');
  const names = header!.split(',');
  const rows: Record<string, number>[] = [];
  const species: string[] = [];
  for (const line of lines) {
    const cells = line.split(',');
    rows.push(Object.fromEntries(names.slice(0, 4).map((n, i) => [n, Number(cells[i])])));
    species.push(cells[4]!);
  }
  return { rows, species };
}

/** scikit-learn's own predict_proba of the artifact's model.joblib on `rows`, prepared by schema.json. */
async function sklearnProbabilities(
  mv: ModelVersionObject,
  rows: Record<string, number>[],
): Promise<{ schema: PreparedSchema; probabilities: number[][] }> {
  const { bucket, key } = parseS3Uri(mv.spec.artifact.uri);
  const prefix = key.endsWith('/') ? key : `${key}/`;
  const schema = PreparedSchemaSchema.parse(
    JSON.parse((await store.read(bucket, `${prefix}schema.json`)).toString()),
  );
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'lathe-sklearn-')), 'model.joblib');
  writeFileSync(file, await store.read(bucket, `${prefix}model.joblib`));
  const features = rows.map((row) => prepareRecord(schema, row));
  const program = `
import json, sys, joblib, numpy as np
model = joblib.load(sys.argv[1])
x = np.array(json.load(sys.stdin), dtype=np.float64)
out = np.zeros((len(x), int(sys.argv[2])))
out[:, model.classes_.astype(int)] = model.predict_proba(x)
print(json.dumps(out.tolist()))
`;
  const classes = String(schema.label.classes?.length);
  const run = await runProgram(
    python,
    ['-c', program, file, classes],
    {},
    JSON.stringify(features),
  );
  if (run.code !== 0) throw new Error(`scikit-learn failed: ${run.stderr}`);
  return { schema, probabilities: JSON.parse(run.stdout) as number[][] };
}

async function post(url: string, body: unknown) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const getMv = (name: string) =>
  client.get<ModelVersionObject>(latheKinds.modelVersion.resource, namespace, name);

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('sklearn');
  irisCsv = await readFile(path.join(repoRoot, 'examples/data/iris.csv'), 'utf8');
  await store.write(info.minio.bucket, dataKey(), irisCsv);
  manager = startTestManager(namespace, testControllers(), 'sklearn-itest');
  await client.create(latheKinds.dataset.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name: 'iris', namespace },
    spec: {
      source: { s3: { bucket: info.minio.bucket, key: dataKey() } },
      schema: { label: 'species' },
    },
  });
  await eventually(
    async () => {
      const ds = await client.get<KubeObject>(latheKinds.dataset.resource, namespace, 'iris');
      expect(JSON.stringify(ds.status)).toContain('"VersionAvailable"');
    },
    { what: 'Dataset iris Ready', timeoutMs: 120_000 },
  );
}, 300_000);

afterAll(async () => {
  await manager?.stop();
  if (namespace) await deleteTestNamespace(namespace);
});

describe('a scikit-learn model through the whole loop', () => {
  it("is trained, registered, verified and served on V1 and V2 with scikit-learn's own probabilities", async () => {
    await client.create(latheKinds.trainingJob.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name: 'iris-forest', namespace },
      spec: sklearnSpec('iris-sklearn', { estimator: 'random_forest', n_estimators: '30' }),
    });
    const tj = await eventually(
      async () => {
        const t = await client.get<TrainingJobObject>(
          latheKinds.trainingJob.resource,
          namespace,
          'iris-forest',
        );
        expect(t.status?.phase, JSON.stringify(t.status?.conditions)).toBe('Succeeded');
        return t;
      },
      { what: 'TrainingJob iris-forest Succeeded', timeoutMs: 240_000 },
    );
    const mvName = tj.status?.modelVersion?.name ?? '';
    const mv = await eventually(
      async () => {
        const m = await getMv(mvName);
        expect(condition(m, 'Ready')?.status).toBe('True');
        return m;
      },
      { what: `${mvName} verified`, timeoutMs: 120_000 },
    );
    expect(mv.spec.artifact.format).toBe('onnx');
    expect(mv.spec.lineage?.trainingJob).toMatchObject({ backend: 'scikit-learn', image });
    expect(mv.spec.metrics?.accuracy).toBeGreaterThanOrEqual(0.85);
    await client.patch(latheKinds.modelVersion.resource, namespace, mvName, 'merge', {
      spec: { stage: 'production' },
    });

    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'iris-sklearn', namespace },
      spec: { model: { name: 'iris-sklearn' }, replicas: { min: 1, max: 1 } },
    });
    await eventually(
      async () => {
        const isvc = await client.get<KubeObject>(
          latheKinds.inferenceService.resource,
          namespace,
          'iris-sklearn',
        );
        expect(condition(isvc, 'Ready')?.status, JSON.stringify(isvc.status)).toBe('True');
      },
      { what: 'iris-sklearn served', timeoutMs: 180_000 },
    );
    const svc = await client.get<KubeObject>(builtin.service, namespace, 'iris-sklearn');
    const url = `http://${(svc.spec as { clusterIP: string }).clusterIP}:80`;

    // Rows of every class, the first of each twenty.
    const { rows } = irisRows(irisCsv);
    const sample = rows.filter((_, i) => i % 20 === 0);
    const { schema, probabilities } = await sklearnProbabilities(mv, sample);
    const classes = schema.label.classes!;

    const v1 = await eventually(async () => {
      const r = await post(`${url}/v1/models/iris-sklearn:predict`, { instances: sample });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      return r.json;
    });
    const predictions = v1.predictions as { label: string; probabilities: number[] }[];
    expect(predictions).toHaveLength(sample.length);
    for (const [i, p] of predictions.entries()) {
      const expected = probabilities[i]!;
      expect(p.probabilities).toHaveLength(classes.length);
      for (const [j, value] of p.probabilities.entries()) {
        expect(Math.abs(value - expected[j]!), `row ${i} class ${j}`).toBeLessThanOrEqual(1e-5);
      }
      expect(p.label).toBe(classes[expected.indexOf(Math.max(...expected))]);
    }

    const v2 = await post(`${url}/v2/models/iris-sklearn/infer`, {
      inputs: Object.keys(sample[0]!).map((column) => ({
        name: column,
        shape: [sample.length],
        datatype: 'FP32',
        data: sample.map((row) => row[column]),
      })),
    });
    expect(v2.status, JSON.stringify(v2.json)).toBe(200);
    const output = (v2.json.outputs as { name: string; shape: number[]; data: number[] }[]).find(
      (o) => o.name === 'probabilities',
    );
    expect(output?.shape).toEqual([sample.length, classes.length]);
    const flat = probabilities.flat();
    for (const [k, value] of (output?.data ?? []).entries()) {
      // FP32 inputs on V2: the features are the same float32 the model is fed on V1.
      expect(Math.abs(value - flat[k]!), `V2 value ${k}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it('promotes one scikit-learn model over another, the champion scored by its own image on the challenger’s split', async () => {
    const template = (extra: Record<string, string>) => ({
      spec: sklearnSpec('iris-policy', extra),
    });
    // The first champion: logistic regression regularised to near the class priors.
    await client.create(latheKinds.retrainPolicy.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'RetrainPolicy',
      metadata: { name: 'sklearn', namespace, annotations: { [RUN_NOW_ANNOTATION]: 'first' } },
      spec: {
        template: template({ estimator: 'logistic_regression', c: '0.0001' }),
        triggers: { datasetChange: true },
        promotion: { metric: 'accuracy', direction: 'maximize', minImprovement: 0.01 },
      },
    });
    const getPolicy = () =>
      client.get<RetrainPolicyObject>(latheKinds.retrainPolicy.resource, namespace, 'sklearn');
    const first = await eventually(
      async () => {
        const p = await getPolicy();
        expect(p.status?.lastPromotion?.decision).toBe('Promoted');
        return p;
      },
      { what: 'the first scikit-learn run promoted', timeoutMs: 240_000 },
    );
    const champion = await getMv(first.status?.lastPromotion?.challenger.modelVersion ?? '');

    // The challenger: gradient boosting, trained on a new dataset version (rows reversed and a
    // few left out, so another split), which a dataset change starts.
    await client.patch(latheKinds.retrainPolicy.resource, namespace, 'sklearn', 'json', [
      {
        op: 'replace',
        path: '/spec/template',
        value: template({ estimator: 'gradient_boosting', n_estimators: '40' }),
      },
    ]);
    const [header, ...lines] = irisCsv.trim().split('\n');
    const newData = [header, ...lines.reverse().filter((_, i) => i % 15 !== 7)].join('\n');
    await store.write(info.minio.bucket, dataKey(), `${newData}\n`);
    await client.patch(latheKinds.dataset.resource, namespace, 'iris', 'merge', {
      metadata: { annotations: { 'lathe.dev/refresh': 'new-data' } },
    });
    const judged = await eventually(
      async () => {
        const p = await getPolicy();
        expect(p.status?.lastPromotion?.champion?.modelVersion).toBe(champion.metadata.name);
        return p;
      },
      { what: 'the challenger judged against the champion', timeoutMs: 300_000 },
    );
    const decision = judged.status!.lastPromotion!;
    expect(decision.decision, decision.reason).toBe('Promoted');
    expect(decision.reason).toContain('on the same test split');
    const challenger = await getMv(decision.challenger.modelVersion);
    expect(challenger.spec.lineage?.dataset.version).not.toBe(
      champion.spec.lineage?.dataset.version,
    );
    expect(challenger.spec.stage).toBe('production');

    // The champion's figure is its score on the challenger's test split, by the scikit-learn
    // image's evaluate mode: the same program run here gives the same number.
    const datasetUri = s3Uri(
      info.minio.bucket,
      datasetVersionPrefix(namespace, 'iris', challenger.spec.lineage?.dataset.version ?? ''),
    );
    const resultPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'lathe-result-')), 'result');
    const direct = await runProgram(python, ['-m', 'lathe_sklearn', 'evaluate'], {
      ...programObjectStoreEnv(),
      PYTHONPATH: sklearnPythonPath,
      LATHE_EVALUATE_MODEL_URI: champion.spec.artifact.uri,
      LATHE_EVALUATE_MODEL_DIGEST: champion.spec.artifact.digest,
      LATHE_DATASET_URI: datasetUri,
      LATHE_TASK: 'classification',
      LATHE_RESULT_PATH: resultPath,
    });
    const result = parseResult('evaluate', await readFile(resultPath, 'utf8'));
    expect(result, direct.stdout).toMatchObject({ outcome: 'succeeded' });
    if (result?.outcome !== 'succeeded') throw new Error('unreachable');
    expect(decision.champion?.value).toBeCloseTo(result.metrics.accuracy!, 6);
    expect(result.metrics.accuracy).not.toBeCloseTo(champion.spec.metrics?.accuracy ?? -1, 6);
  });
});
