/**
 * The two trainers as programs against the local cluster's real MinIO, then as images on the
 * process node: each trains on prepared dataset versions (scikit-learn's bundled data sets,
 * prepared in the contract's format), and must leave an artifact that `verifyArtifact` accepts,
 * metrics in the contract's shape and a result the operator parses.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyArtifact } from '../../contract/manifest.js';
import type { ObjectStore } from '../../contract/object-store.js';
import {
  datasetVersionPrefix,
  s3Uri,
  trainingRunPrefix,
} from '../../contract/object-store-layout.js';
import {
  ModelMetricsSchema,
  parseResult,
  TrainingHistorySchema,
  TrainingProgressSchema,
  type TrainResult,
} from '../../contract/results.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubeConfig,
  kubectlOrThrow,
} from '../../e2e/cluster/testenv.js';
import { programObjectStoreEnv, testStore } from '../../e2e/testing/controllers.js';
import {
  python,
  runProgram as run,
  sklearnDataset,
  sklearnPythonPath,
} from '../../e2e/testing/sklearn-fixture.js';
import { loadTensorflow } from '../tensorflow/backend.js';
import { classificationMetrics } from './metrics.js';
import { type NumericTable, preparedVersionOf } from './prepared-fixture.js';

const namespace = `trainer-${process.pid}`;

let store: ObjectStore;
let bucket: string;
let objectStoreEnv: Record<string, string>;

interface Version {
  uri: string;
  version: string;
  files: Record<string, Buffer>;
  table: NumericTable;
}

async function uploadVersion(name: string, table: NumericTable): Promise<Version> {
  const { files } = preparedVersionOf(table, 0.2, 11);
  const version = `v-${name}`;
  const prefix = datasetVersionPrefix(namespace, name, version);
  for (const [file, bytes] of Object.entries(files))
    await store.write(bucket, `${prefix}${file}`, bytes);
  return { uri: s3Uri(bucket, prefix), version, files, table };
}

const programs = {
  tensorflow: (env: Record<string, string>) =>
    run(process.execPath, ['--import', 'tsx', 'runtime-images/trainer/main.ts'], env),
  sklearn: (env: Record<string, string>) =>
    run(python, ['-m', 'lathe_sklearn'], { ...env, PYTHONPATH: sklearnPythonPath }),
};

function trainEnv(job: string, dataset: Version, extra: Record<string, string> = {}) {
  const runPrefix = trainingRunPrefix(namespace, job);
  return {
    ...objectStoreEnv,
    LATHE_TRAINING_JOB_NAMESPACE: namespace,
    LATHE_TRAINING_JOB_NAME: job,
    LATHE_DATASET_URI: dataset.uri,
    LATHE_DATASET_VERSION: dataset.version,
    LATHE_OUTPUT_URI: s3Uri(bucket, `${runPrefix}artifact/`),
    LATHE_RUN_URI: s3Uri(bucket, runPrefix),
    LATHE_TASK: dataset.table.task,
    ...extra,
  };
}

/** Runs `program` and checks everything the operator will rely on; returns the result. */
async function trainAndCheck(
  program: keyof typeof programs,
  job: string,
  dataset: Version,
  extra: Record<string, string>,
) {
  const resultPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'lathe-result-')), 'result');
  const env = trainEnv(job, dataset, { LATHE_RESULT_PATH: resultPath, ...extra });
  const { code, stdout, stderr } = await programs[program](env);
  const result = parseResult('train', readFileSync(resultPath, 'utf8'));
  expect(result, `${stdout}\n${stderr}`).toMatchObject({ outcome: 'succeeded' });
  expect(code).toBe(0);
  if (result?.outcome !== 'succeeded') throw new Error('unreachable');

  const verification = await verifyArtifact(store, result.artifact);
  expect(verification).toMatchObject({ verified: true });
  const prefix = result.artifact.uri.replace(`s3://${bucket}/`, '');
  const files = (await store.list(bucket, prefix)).map((k) => k.slice(prefix.length)).sort();
  expect(files).toEqual(
    program === 'tensorflow'
      ? [
          'background.json',
          'manifest.json',
          'metrics.json',
          'model-card.json',
          'model.json',
          'schema.json',
          'weights.bin',
        ]
      : ['manifest.json', 'metrics.json', 'model.joblib', 'model.onnx', 'schema.json'],
  );
  const schema = await store.read(bucket, `${prefix}schema.json`);
  expect(schema.equals(dataset.files['schema.json']!)).toBe(true);
  const metrics = ModelMetricsSchema.parse(
    JSON.parse((await store.read(bucket, `${prefix}metrics.json`)).toString()),
  );
  expect(metrics.evaluatedOn).toEqual({
    datasetVersion: dataset.version,
    split: 'test',
    rows: Math.round(dataset.table.rows.length * 0.2),
  });
  expect(metrics.metrics).toEqual(result.metrics);
  expect(metrics.backend).toBe(result.backend);

  const runPrefix = trainingRunPrefix(namespace, job);
  const progress = TrainingProgressSchema.parse(
    JSON.parse((await store.read(bucket, `${runPrefix}progress.json`)).toString()),
  );
  const history = TrainingHistorySchema.parse(
    JSON.parse((await store.read(bucket, `${runPrefix}history.json`)).toString()),
  );
  expect(progress.epoch).toBe(result.epochs);
  expect(history.epochs).toHaveLength(result.epochs);
  return { result, metrics, prefix };
}

const classificationKeys = ['accuracy', 'f1', 'loss', 'precision', 'recall'];
const regressionKeys = ['loss', 'mae', 'mse', 'r2', 'rmse'];

let iris: Version;
let cancer: Version;
let diabetes: Version;

beforeAll(async () => {
  ({ store } = testStore());
  bucket = clusterInfo().minio.bucket;
  await store.ensureBucket(bucket);
  objectStoreEnv = programObjectStoreEnv();
  iris = await uploadVersion('iris', await sklearnDataset('iris'));
  cancer = await uploadVersion('breast-cancer', await sklearnDataset('breast_cancer'));
  diabetes = await uploadVersion('diabetes', await sklearnDataset('diabetes'));
});

afterAll(async () => {
  if (store) {
    await store.removePrefix(bucket, `datasets/${namespace}/`);
    await store.removePrefix(bucket, `runs/${namespace}/`);
  }
});

const mlp = (layers: number[]) => JSON.stringify({ architecture: 'mlp', layers });
const hyperparameters = (h: object) => JSON.stringify({ validationSplit: 0.1, seed: 1, ...h });

describe('the TensorFlow.js trainer as a program', () => {
  it('trains a binary classifier on native TensorFlow, with honest test metrics', async () => {
    const { result, metrics, prefix } = await trainAndCheck('tensorflow', 'cancer-tf', cancer, {
      LATHE_MODEL: mlp([16]),
      LATHE_HYPERPARAMETERS: hyperparameters({ epochs: 40, batchSize: 16, learningRate: 0.003 }),
    });
    expect(result).toMatchObject({
      backend: 'tensorflow',
      epochs: 40,
      artifact: { format: 'tfjs' },
    });
    expect(Object.keys(metrics.metrics).sort()).toEqual([...classificationKeys, 'rocAuc'].sort());
    expect(metrics.metrics.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(metrics).toMatchObject({ classes: ['benign', 'malignant'], backend: 'tensorflow' });

    // The saved artifact, loaded as any TensorFlow.js program would, scores what metrics.json says.
    const { tf } = await loadTensorflow({ choice: 'cpu', gpus: 0 });
    const modelJson = JSON.parse((await store.read(bucket, `${prefix}model.json`)).toString());
    const weights = await store.read(bucket, `${prefix}weights.bin`);
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
      }),
    );
    const test = cancer.files['test.csv']!.toString()
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',').map(Number));
    const x = tf.tensor2d(test.map((r) => r.slice(0, -1)));
    const probabilities = (
      model.predict(x) as ReturnType<typeof tf.tensor>
    ).dataSync() as Float32Array;
    const recomputed = classificationMetrics(
      probabilities,
      Int32Array.from(test.map((r) => r.at(-1)!)),
      2,
    );
    expect(recomputed.metrics.accuracy).toBeCloseTo(metrics.metrics.accuracy!, 6);
    expect(recomputed.confusionMatrix).toEqual(metrics.confusionMatrix);
    model.dispose();
  });

  it('trains a multi-class classifier on WebAssembly when told to, and records it', async () => {
    const { result, metrics } = await trainAndCheck('tensorflow', 'iris-wasm', iris, {
      LATHE_MODEL: mlp([16]),
      LATHE_HYPERPARAMETERS: hyperparameters({ epochs: 60, batchSize: 8, learningRate: 0.01 }),
      LATHE_BACKEND: 'wasm',
    });
    expect(result.backend).toBe('wasm');
    expect(metrics.backend).toBe('wasm');
    expect(Object.keys(metrics.metrics).sort()).toEqual(classificationKeys);
    expect(metrics.confusionMatrix).toHaveLength(3);
    expect(metrics.metrics.accuracy).toBeGreaterThanOrEqual(0.85);
  });

  it('trains a regression model that predicts in the label’s units', async () => {
    const { metrics } = await trainAndCheck('tensorflow', 'diabetes-tf', diabetes, {
      LATHE_MODEL: JSON.stringify({ architecture: 'linear' }),
      LATHE_HYPERPARAMETERS: hyperparameters({ epochs: 100, batchSize: 16, learningRate: 0.01 }),
    });
    expect(Object.keys(metrics.metrics).sort()).toEqual(regressionKeys);
    expect(metrics.metrics.r2).toBeGreaterThan(0.3);
    // Diabetes progression is ~25..350: an RMSE in those units, not in standardised ones.
    expect(metrics.metrics.rmse).toBeGreaterThan(20);
    expect(metrics.metrics.rmse).toBeLessThan(100);
  });
});

describe('the scikit-learn trainer as a program', () => {
  it('trains on the same dataset version with the same metric keys', async () => {
    const { result, metrics } = await trainAndCheck('sklearn', 'cancer-sklearn', cancer, {
      LATHE_HYPERPARAMETERS: hyperparameters({}),
    });
    expect(result).toMatchObject({
      backend: 'scikit-learn',
      epochs: 1,
      artifact: { format: 'onnx' },
    });
    expect(Object.keys(metrics.metrics).sort()).toEqual([...classificationKeys, 'rocAuc'].sort());
    expect(metrics.metrics.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(metrics.framework).toMatch(/^scikit-learn \d/);
  });

  it('trains a regression estimator chosen through LATHE_HP_ESTIMATOR', async () => {
    const { metrics } = await trainAndCheck('sklearn', 'diabetes-sklearn', diabetes, {
      LATHE_HP_ESTIMATOR: 'random_forest',
      LATHE_HP_N_ESTIMATORS: '50',
    });
    expect(Object.keys(metrics.metrics).sort()).toEqual(regressionKeys);
    expect(metrics.metrics.r2).toBeGreaterThan(0.2);
  });

  it("exports an estimator that saw some of the schema's classes in the schema's columns, and refuses an export that differs", async () => {
    // Iris without versicolor (class 1) in a schema of four classes: the ONNX model must give
    // [setosa, 0, virginica, 0] as scikit-learn's predict_proba placed in the schema's order.
    const program = `
import json
import numpy as np
from sklearn import datasets, ensemble, linear_model
from lathe_runtime.contract import ContractError
from lathe_runtime.onnx_check import check_onnx_export, run_onnx, session_of
from lathe_sklearn.__main__ import probabilities_over
from lathe_sklearn.onnx_export import export_onnx
iris = datasets.load_iris()
keep = iris.target != 1
x, y = iris.data[keep], iris.target[keep]
classes = ["setosa", "versicolor", "virginica", "unseen"]
out = {}
for name, estimator in [("logistic", linear_model.LogisticRegression(max_iter=1000)),
                        ("boosting", ensemble.GradientBoostingClassifier(n_estimators=10, random_state=0))]:
    estimator.fit(x, y)
    model = export_onnx(estimator, "classification", 4, len(classes))
    expected = probabilities_over(estimator, iris.data, classes)
    difference = check_onnx_export(model, "classification", 4, classes, iris.data, expected)
    got = run_onnx(session_of(model), "classification", iris.data)
    try:
        check_onnx_export(model, "classification", 4, classes, iris.data, expected + 1e-3)
        refused = None
    except ContractError as error:
        refused = [error.reason, str(error)]
    out[name] = {"difference": difference, "zeros": float(np.abs(got[:, [1, 3]]).max()),
                 "refused": refused}
print(json.dumps(out))
`;
    const result = await run(python, ['-c', program], { PYTHONPATH: sklearnPythonPath });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as Record<
      string,
      { difference: number; zeros: number; refused: [string, string] | null }
    >;
    for (const [name, estimator] of Object.entries(out)) {
      expect(estimator.difference, name).toBeLessThan(1e-5);
      expect(estimator.zeros, name).toBe(0);
      expect(estimator.refused?.[0], name).toBe('TrainingFailed');
      expect(estimator.refused?.[1], name).toMatch(
        /^the ONNX export differs from the framework's own probabilities on \d+ of 150 test rows \(row 0, column 0: /,
      );
    }
  });
});

describe.each(['tensorflow', 'sklearn'] as const)('the %s trainer failing', (program) => {
  it('reports a missing dataset version as DatasetInvalid and exits 1', async () => {
    const resultPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'lathe-result-')), 'result');
    const missing = {
      ...iris,
      uri: s3Uri(bucket, datasetVersionPrefix(namespace, 'nothing', 'v0')),
    };
    const { code } = await programs[program](
      trainEnv(`missing-${program}`, missing, {
        LATHE_RESULT_PATH: resultPath,
        LATHE_MODEL: mlp([4]),
      }),
    );
    expect(code).toBe(1);
    const result = parseResult('train', readFileSync(resultPath, 'utf8'));
    expect(result).toMatchObject({ outcome: 'failed', reason: 'DatasetInvalid' });
    expect(result?.outcome === 'failed' && result.message).toContain('has no manifest.json');
  });

  it('refuses an invalid environment, naming the variable, and exits 2', async () => {
    const resultPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'lathe-result-')), 'result');
    const { code } = await programs[program](
      trainEnv(`invalid-${program}`, iris, {
        LATHE_RESULT_PATH: resultPath,
        LATHE_TASK: 'clustering',
        LATHE_MODEL: mlp([4]),
      }),
    );
    expect(code).toBe(2);
    const result = parseResult('train', readFileSync(resultPath, 'utf8'));
    expect(result).toMatchObject({ outcome: 'failed', reason: 'InternalError' });
    expect(result?.outcome === 'failed' && result.message).toContain('LATHE_TASK');
  });
});

describe('the trainer images on the process node', () => {
  let k8sNamespace: string;
  let batch: k8s.BatchV1Api;
  let core: k8s.CoreV1Api;

  beforeAll(async () => {
    const kc = kubeConfig();
    batch = kc.makeApiClient(k8s.BatchV1Api);
    core = kc.makeApiClient(k8s.CoreV1Api);
    k8sNamespace = await createTestNamespace('trainer');
    await eventually(
      () => core.readNamespacedServiceAccount({ name: 'default', namespace: k8sNamespace }),
      {
        what: 'default service account',
      },
    );
  });

  afterAll(async () => {
    if (k8sNamespace) await deleteTestNamespace(k8sNamespace);
  });

  it.each([
    [
      'ghcr.io/lathe-dev/lathe-trainer:0.1.0',
      'job-tf',
      {
        LATHE_MODEL: mlp([8]),
        LATHE_HYPERPARAMETERS: hyperparameters({ epochs: 30, batchSize: 8, learningRate: 0.01 }),
      },
      'tfjs',
    ],
    ['ghcr.io/lathe-dev/lathe-trainer-sklearn:0.1.0', 'job-sklearn', {}, 'onnx'],
  ] as const)(
    '%s runs as a Job and reports its result in the termination message',
    async (image, job, extra, format) => {
      const env = Object.entries(trainEnv(job, iris, extra)).map(([name, value]) => ({
        name,
        value,
      }));
      await kubectlOrThrow(['apply', '-n', k8sNamespace, '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name: job },
          spec: {
            backoffLimit: 0,
            template: {
              spec: {
                restartPolicy: 'Never',
                containers: [{ name: 'trainer', image, env, terminationMessagePolicy: 'File' }],
              },
            },
          },
        }),
      });
      const result = await eventually(
        async () => {
          const pods = await core.listNamespacedPod({
            namespace: k8sNamespace,
            labelSelector: `job-name=${job}`,
          });
          const terminated = pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated;
          if (!terminated) throw new Error(`the ${job} pod has not finished`);
          return {
            exitCode: terminated.exitCode,
            result: parseResult('train', terminated.message),
          };
        },
        { what: `${job} to finish`, timeoutMs: 120_000 },
      );
      expect(result.exitCode).toBe(0);
      expect(result.result).toMatchObject({ outcome: 'succeeded', artifact: { format } });
      const verification = await verifyArtifact(
        store,
        (result.result as Extract<TrainResult, { outcome: 'succeeded' }>).artifact,
      );
      expect(verification.verified).toBe(true);
      await eventually(
        async () => {
          const done = await batch.readNamespacedJob({ name: job, namespace: k8sNamespace });
          if (done.status?.succeeded !== 1) throw new Error(`${job} is not marked succeeded yet`);
        },
        { what: `${job} to succeed` },
      );
    },
  );
});
