/**
 * The trainer's `evaluate` mode as a program and as the RetrainPolicy controller's Job, against
 * the local cluster's real MinIO: a model trained by the real trainer program on one dataset
 * version is scored on a second version of the same data whose preparation differs (another
 * split, min-max instead of standard scaling, missing cells imputed where the first version had
 * none, a class the model never saw). The figures must match an independent computation: the
 * model's own scaling applied by hand to the raw rows, the model loaded by TensorFlow.js
 * directly, the metrics computed by scikit-learn.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../contract/object-store.js';
import {
  datasetVersionPrefix,
  parseS3Uri,
  s3Uri,
  trainingRunPrefix,
} from '../../contract/object-store-layout.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import { type EvaluateResult, parseResult, type TrainResult } from '../../contract/results.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubeConfig,
  kubectlOrThrow,
} from '../../e2e/cluster/testenv.js';
import {
  programObjectStoreEnv,
  scopedCredentialsSecret,
  testStore,
} from '../../e2e/testing/controllers.js';
import {
  python,
  runProgram,
  sklearnDataset,
  sklearnPythonPath,
} from '../../e2e/testing/sklearn-fixture.js';
import type { RetrainPolicy } from '../../operator/src/api/retrainpolicy.js';
import type { ModelVersionObject } from '../../operator/src/controllers/lathe-kinds.js';
import { desiredEvaluationJob } from '../../operator/src/controllers/retrainpolicy/desired.js';
import {
  CredentialRole,
  grants,
} from '../../operator/src/controllers/shared/object-store-access.js';
import { loadTensorflow, type Tf } from '../tensorflow/backend.js';
import {
  type NumericPreparation,
  type NumericTable,
  preparedVersionOf,
} from './prepared-fixture.js';

const namespace = `evaluate-${process.pid}`;
let store: ObjectStore;
let bucket: string;
let objectStoreEnv: Record<string, string>;
let tf: Tf;

interface Version {
  uri: string;
  schema: PreparedSchema;
  files: Record<string, Buffer>;
  table: NumericTable;
}

async function uploadVersion(
  name: string,
  table: NumericTable,
  split: { testFraction: number; seed: number },
  preparation: NumericPreparation,
): Promise<Version> {
  const { schema, files } = preparedVersionOf(table, split.testFraction, split.seed, preparation);
  const prefix = datasetVersionPrefix(namespace, name, `v-${split.seed}`);
  for (const [file, bytes] of Object.entries(files))
    await store.write(bucket, `${prefix}${file}`, bytes);
  return { uri: s3Uri(bucket, prefix), schema, files, table };
}

function resultFile(): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'lathe-result-')), 'result');
}

type Trained = Extract<TrainResult, { outcome: 'succeeded' }>;

/** Trains with the real trainer program (or the scikit-learn one) on `version`. */
async function train(
  job: string,
  version: Version,
  extra: Record<string, string>,
  program: 'tensorflow' | 'sklearn' = 'tensorflow',
): Promise<Trained> {
  const runPrefix = trainingRunPrefix(namespace, job);
  const resultPath = resultFile();
  const env = {
    ...objectStoreEnv,
    LATHE_TRAINING_JOB_NAMESPACE: namespace,
    LATHE_TRAINING_JOB_NAME: job,
    LATHE_DATASET_URI: version.uri,
    LATHE_DATASET_VERSION: 'v',
    LATHE_OUTPUT_URI: s3Uri(bucket, `${runPrefix}artifact/`),
    LATHE_RUN_URI: s3Uri(bucket, runPrefix),
    LATHE_TASK: version.table.task,
    LATHE_RESULT_PATH: resultPath,
    ...extra,
  };
  const run =
    program === 'tensorflow'
      ? await runProgram(
          process.execPath,
          ['--import', 'tsx', 'runtime-images/trainer/main.ts'],
          env,
        )
      : await runProgram(python, ['-m', 'lathe_sklearn'], {
          ...env,
          PYTHONPATH: sklearnPythonPath,
        });
  const result = parseResult('train', readFileSync(resultPath, 'utf8'));
  if (result?.outcome !== 'succeeded') {
    throw new Error(`training ${job} failed: ${JSON.stringify(result)}\n${run.stderr}`);
  }
  return result;
}

/** Runs the real program (or the scikit-learn one) in `evaluate` mode, as the evaluation Job does. */
async function evaluate(
  champion: { uri: string; digest: string },
  version: Version,
  extra: Record<string, string> = {},
  args = ['evaluate'],
  program: 'tensorflow' | 'sklearn' = 'tensorflow',
) {
  const resultPath = resultFile();
  const env = {
    ...objectStoreEnv,
    LATHE_EVALUATE_MODEL_URI: champion.uri,
    LATHE_EVALUATE_MODEL_DIGEST: champion.digest,
    LATHE_DATASET_URI: version.uri,
    LATHE_TASK: version.table.task,
    LATHE_RESULT_PATH: resultPath,
    ...extra,
  };
  const run =
    program === 'tensorflow'
      ? await runProgram(
          process.execPath,
          ['--import', 'tsx', 'runtime-images/trainer/main.ts', ...args],
          env,
        )
      : await runProgram(python, ['-m', 'lathe_sklearn', ...args], {
          ...env,
          PYTHONPATH: sklearnPythonPath,
        });
  return { ...run, result: parseResult('evaluate', readFileSync(resultPath, 'utf8')) };
}

type Succeeded = Extract<EvaluateResult, { outcome: 'succeeded' }>;

/** Runs a model on rows of prepared features: class probabilities, or one prediction, per row. */
type Predict = (x: number[][]) => Promise<number[][]>;

/** The champion's TensorFlow.js model, loaded by TensorFlow.js from its files. */
async function tensorflowPredict(champion: Trained): Promise<Predict> {
  const prefix = champion.artifact.uri.replace(`s3://${bucket}/`, '');
  const modelJson = JSON.parse((await store.read(bucket, `${prefix}model.json`)).toString());
  const weights = await store.read(bucket, `${prefix}weights.bin`);
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
    }),
  );
  return async (x) => {
    const outputs =
      x.length === 0
        ? []
        : (tf.tidy(() =>
            (model.predict(tf.tensor2d(x)) as ReturnType<typeof tf.tensor>).arraySync(),
          ) as number[][]);
    model.dispose();
    return outputs;
  };
}

/**
 * The champion's fitted scikit-learn estimator (`model.joblib`, not the ONNX export the evaluate
 * mode runs): predict_proba over the schema's classes, or predict.
 */
async function sklearnPredict(champion: Trained, schema: PreparedSchema): Promise<Predict> {
  const prefix = champion.artifact.uri.replace(`s3://${bucket}/`, '');
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'lathe-joblib-')), 'model.joblib');
  writeFileSync(file, await store.read(bucket, `${prefix}model.joblib`));
  const program = `
import json, sys, joblib, numpy as np
model = joblib.load(sys.argv[1])
x = np.array(json.load(sys.stdin), dtype=np.float64).reshape(-1, int(sys.argv[2]))
if sys.argv[3] == "regression":
    out = model.predict(x).reshape(-1, 1)
else:
    out = np.zeros((len(x), int(sys.argv[4])))
    out[:, model.classes_.astype(int)] = model.predict_proba(x)
print(json.dumps(out.tolist()))
`;
  const classes = String(schema.label.classes?.length ?? 0);
  return async (x) => {
    const { code, stdout, stderr } = await runProgram(
      python,
      ['-c', program, file, String(schema.features.length), schema.task, classes],
      {},
      JSON.stringify(x),
    );
    if (code !== 0) throw new Error(`scikit-learn failed: ${stderr}`);
    return JSON.parse(stdout) as number[][];
  };
}

/**
 * The champion's metrics on `version`'s raw test rows, computed without the evaluate mode's
 * code: the champion's standard scaling applied by hand, rows with a missing cell rejected (the
 * champion's version imputed nothing), the model run by its own framework (`predict`), and the
 * metrics by scikit-learn (macro averages over the champion's classes and the split's).
 */
async function independentMetrics(
  champion: Trained,
  championSchema: PreparedSchema,
  version: Version,
  predict?: Predict,
) {
  const table = version.table;
  const rows = version.files['test.raw.jsonl']!.toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number | string | null>);
  const scale = championSchema.inputs.map((input) => {
    if (input.kind !== 'numeric' || input.scale.method !== 'standard')
      throw new Error('unexpected');
    return input.scale;
  });
  const accepted = rows.filter((row) => table.featureNames.every((name) => row[name] !== null));
  const x = accepted.map((row) =>
    table.featureNames.map((name, c) => ((row[name] as number) - scale[c]!.mean) / scale[c]!.std),
  );
  const outputs = await (predict ?? (await tensorflowPredict(champion)))(x);
  const label = (row: Record<string, unknown>) => row[table.labelName];
  let next = 0;
  if (table.task === 'regression') {
    const y = rows.map((row) => Math.fround(label(row) as number));
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    const predicted = rows.map((row) => (accepted.includes(row) ? outputs[next++]![0]! : mean));
    return {
      rejected: rows.length - accepted.length,
      unseen: 0,
      metrics: await sklearnMetrics({ task: 'regression', y, predicted }),
    };
  }
  const classes = championSchema.label.classes!;
  const truth = rows.map((row) => String(label(row)));
  const predicted: string[] = [];
  const truthProbability: number[] = [];
  const positiveScores: number[] = [];
  for (const [r, row] of rows.entries()) {
    if (!accepted.includes(row)) {
      predicted.push('__no prediction__');
      truthProbability.push(0);
      continue;
    }
    const p = outputs[next++]!;
    predicted.push(classes[p.indexOf(Math.max(...p))]!);
    truthProbability.push(classes.includes(truth[r]!) ? p[classes.indexOf(truth[r]!)]! : 0);
    positiveScores.push(p[1]!);
  }
  const labels = [...new Set([...classes, ...truth])];
  return {
    rejected: rows.length - accepted.length,
    unseen: truth.filter((t) => !classes.includes(t)).length,
    metrics: await sklearnMetrics({
      task: 'classification',
      truth,
      predicted,
      labels,
      truthProbability,
      ...(labels.length === 2 && accepted.length === rows.length ? { positiveScores } : {}),
    }),
  };
}

/** scikit-learn's figures for the same predictions (the trainer's environment has it). */
async function sklearnMetrics(input: object): Promise<Record<string, number>> {
  const program = `
import json, sys
import numpy as np
from sklearn import metrics as m
d = json.load(sys.stdin)
if d["task"] == "classification":
    p, r, f, _ = m.precision_recall_fscore_support(
        d["truth"], d["predicted"], labels=d["labels"], average="macro", zero_division=0)
    out = {"accuracy": m.accuracy_score(d["truth"], d["predicted"]),
           "precision": p, "recall": r, "f1": f,
           "loss": float(-np.mean(np.log(np.clip(d["truthProbability"], 1e-7, 1 - 1e-7))))}
    if "positiveScores" in d:
        out["rocAuc"] = m.roc_auc_score([d["labels"].index(t) for t in d["truth"]], d["positiveScores"])
else:
    mse = m.mean_squared_error(d["y"], d["predicted"])
    out = {"mse": mse, "rmse": mse ** 0.5, "mae": m.mean_absolute_error(d["y"], d["predicted"]),
           "r2": m.r2_score(d["y"], d["predicted"]), "loss": mse}
print(json.dumps({k: float(v) for k, v in out.items()}))
`;
  const { code, stdout, stderr } = await runProgram(
    python,
    ['-c', program],
    {},
    JSON.stringify(input),
  );
  if (code !== 0) throw new Error(`scikit-learn failed: ${stderr}`);
  return JSON.parse(stdout) as Record<string, number>;
}

/**
 * Equal to 6 significant digits (the program predicts on native TensorFlow, this test on JS), or
 * to `tolerance` (an ONNX export in float32 against scikit-learn's float64).
 */
function expectSameMetrics(
  actual: Record<string, number>,
  expected: Record<string, number>,
  tolerance = 1e-6,
) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [key, value] of Object.entries(expected)) {
    expect(
      Math.abs(actual[key]! - value),
      `${key}: ${actual[key]} vs ${value}`,
    ).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(value)));
  }
}

const mlp = (layers: number[]) => JSON.stringify({ architecture: 'mlp', layers });
const hyperparameters = (h: object) => JSON.stringify({ validationSplit: 0.1, seed: 1, ...h });

let cancerA: Version;
let cancerB: Version;
let cancerChampion: Trained;

beforeAll(async () => {
  ({ store } = testStore());
  bucket = clusterInfo().minio.bucket;
  await store.ensureBucket(bucket);
  objectStoreEnv = programObjectStoreEnv();
  ({ tf } = await loadTensorflow({ choice: 'cpu', gpus: 0 }));
  const cancer = await sklearnDataset('breast_cancer');
  cancerA = await uploadVersion('cancer', cancer, { testFraction: 0.2, seed: 11 }, {});
  cancerB = await uploadVersion(
    'cancer',
    cancer,
    { testFraction: 0.25, seed: 12 },
    { scale: 'minMax' },
  );
  cancerChampion = await train('cancer-a', cancerA, {
    LATHE_MODEL: mlp([16]),
    LATHE_HYPERPARAMETERS: hyperparameters({ epochs: 40, batchSize: 16, learningRate: 0.003 }),
  });
}, 240_000);

afterAll(async () => {
  if (store) {
    await store.removePrefix(bucket, `datasets/${namespace}/`);
    await store.removePrefix(bucket, `runs/${namespace}/`);
  }
});

describe('the evaluate mode as a program', () => {
  it('scores a model on its own version as the trainer did', async () => {
    const { code, result } = await evaluate(cancerChampion.artifact, cancerA);
    expect(code).toBe(0);
    expect(result).toMatchObject({ kind: 'evaluate', outcome: 'succeeded', rows: 114 });
    expectSameMetrics((result as Succeeded).metrics, cancerChampion.metrics);
  });

  it('scores a binary classifier on a version scaled another way, with its own scaling', async () => {
    const { code, result, stdout } = await evaluate(cancerChampion.artifact, cancerB);
    expect(code, stdout).toBe(0);
    const expected = await independentMetrics(cancerChampion, cancerA.schema, cancerB);
    expect(result).toMatchObject({ outcome: 'succeeded', rows: 142 });
    expect(Object.keys((result as Succeeded).metrics)).toContain('rocAuc');
    expectSameMetrics((result as Succeeded).metrics, expected.metrics);
    expect(stdout).toContain('"backend":"tensorflow"');
  });

  it('counts rows it cannot prepare and classes it never saw as wrong', async () => {
    const iris = await sklearnDataset('iris');
    const irisA = await uploadVersion(
      'iris',
      iris,
      { testFraction: 0.2, seed: 11 },
      { missing: 'drop' },
    );
    // The new version: some petal widths missing (imputed by this version, rejected by the
    // champion, whose version had none and imputes nothing), large virginicas a class of their own.
    const irisB = await uploadVersion(
      'iris',
      {
        ...iris,
        rows: iris.rows.map((row, r) => (r % 6 === 0 ? [...row.slice(0, 3), Number.NaN] : row)),
        labels: iris.labels.map((label, r) =>
          label === 'virginica' && iris.rows[r]![2]! >= 6 ? 'virginica-large' : label,
        ),
      },
      { testFraction: 0.3, seed: 13 },
      { scale: 'minMax' },
    );
    const champion = await train('iris-a', irisA, {
      LATHE_MODEL: mlp([16]),
      LATHE_HYPERPARAMETERS: hyperparameters({ epochs: 60, batchSize: 8, learningRate: 0.01 }),
    });
    const { code, result, stdout } = await evaluate(champion.artifact, irisB);
    expect(code, stdout).toBe(0);
    const expected = await independentMetrics(champion, irisA.schema, irisB);
    // The split holds both kinds of row, or this test would prove nothing.
    expect(expected.rejected).toBeGreaterThan(0);
    expect(expected.unseen).toBeGreaterThan(0);
    expect(result).toMatchObject({ outcome: 'succeeded', rows: 45 });
    expectSameMetrics((result as Succeeded).metrics, expected.metrics);
    expect(stdout).toContain(`it rejected ${expected.rejected} of 45 rows, which count as wrong`);
    expect(stdout).toContain('"unseenClasses":[{"name":"virginica-large"');
  });

  it('scores a regression model on another version in the label’s units', async () => {
    const diabetes = await sklearnDataset('diabetes');
    const diabetesA = await uploadVersion(
      'diabetes',
      diabetes,
      { testFraction: 0.2, seed: 11 },
      {},
    );
    const diabetesB = await uploadVersion(
      'diabetes',
      diabetes,
      { testFraction: 0.25, seed: 12 },
      { scale: 'minMax' },
    );
    const champion = await train('diabetes-a', diabetesA, {
      LATHE_MODEL: JSON.stringify({ architecture: 'linear' }),
      LATHE_HYPERPARAMETERS: hyperparameters({ epochs: 100, batchSize: 16, learningRate: 0.01 }),
    });
    const { code, result } = await evaluate(champion.artifact, diabetesB);
    expect(code).toBe(0);
    const expected = await independentMetrics(champion, diabetesA.schema, diabetesB);
    expectSameMetrics((result as Succeeded).metrics, expected.metrics);
    expect((result as Succeeded).metrics.rmse).toBeGreaterThan(20);
  });
});

describe("the scikit-learn trainer's evaluate mode (python -m lathe_sklearn evaluate)", () => {
  it('scores a model on its own version as the trainer did', async () => {
    const champion = await train('cancer-sklearn-own', cancerA, {}, 'sklearn');
    const { code, result, stdout } = await evaluate(
      champion.artifact,
      cancerA,
      {},
      undefined,
      'sklearn',
    );
    expect(code, stdout).toBe(0);
    expect(result).toMatchObject({ kind: 'evaluate', outcome: 'succeeded', rows: 114 });
    expectSameMetrics((result as Succeeded).metrics, champion.metrics, 1e-5);
  });

  it('counts rows it cannot prepare and classes it never saw as wrong, as scikit-learn computes', async () => {
    const iris = await sklearnDataset('iris');
    const irisA = await uploadVersion(
      'iris-sklearn',
      iris,
      { testFraction: 0.2, seed: 11 },
      { missing: 'drop' },
    );
    const irisB = await uploadVersion(
      'iris-sklearn',
      {
        ...iris,
        rows: iris.rows.map((row, r) => (r % 6 === 0 ? [...row.slice(0, 3), Number.NaN] : row)),
        labels: iris.labels.map((label, r) =>
          label === 'virginica' && iris.rows[r]![2]! >= 6 ? 'virginica-large' : label,
        ),
      },
      { testFraction: 0.3, seed: 13 },
      { scale: 'minMax' },
    );
    const champion = await train('iris-sklearn-a', irisA, {}, 'sklearn');
    const { code, result, stdout } = await evaluate(
      champion.artifact,
      irisB,
      {},
      undefined,
      'sklearn',
    );
    expect(code, stdout).toBe(0);
    const expected = await independentMetrics(
      champion,
      irisA.schema,
      irisB,
      await sklearnPredict(champion, irisA.schema),
    );
    expect(expected.rejected).toBeGreaterThan(0);
    expect(expected.unseen).toBeGreaterThan(0);
    expect(result).toMatchObject({ outcome: 'succeeded', rows: 45 });
    expectSameMetrics((result as Succeeded).metrics, expected.metrics, 1e-5);
    expect(stdout).toContain(`"rejectedRows": ${expected.rejected}`);
    expect(stdout).toContain('"unseenClasses": [{"name": "virginica-large"');
  });

  it('scores a regression model on another version in the label’s units', async () => {
    const diabetes = await sklearnDataset('diabetes');
    const diabetesA = await uploadVersion(
      'diabetes-sklearn',
      diabetes,
      { testFraction: 0.2, seed: 11 },
      {},
    );
    const diabetesB = await uploadVersion(
      'diabetes-sklearn',
      diabetes,
      { testFraction: 0.25, seed: 12 },
      { scale: 'minMax' },
    );
    const champion = await train('diabetes-sklearn-a', diabetesA, {}, 'sklearn');
    const { code, result } = await evaluate(champion.artifact, diabetesB, {}, undefined, 'sklearn');
    expect(code).toBe(0);
    const expected = await independentMetrics(
      champion,
      diabetesA.schema,
      diabetesB,
      await sklearnPredict(champion, diabetesA.schema),
    );
    expectSameMetrics((result as Succeeded).metrics, expected.metrics, 1e-5);
    expect((result as Succeeded).metrics.rmse).toBeGreaterThan(20);
  });

  it('refuses an artifact that is not the recorded digest (exit 1) and invalid arguments (exit 2)', async () => {
    const champion = await train('cancer-sklearn-digest', cancerA, {}, 'sklearn');
    const tampered = await evaluate(
      { uri: champion.artifact.uri, digest: `sha256:${'1'.repeat(64)}` },
      cancerB,
      {},
      undefined,
      'sklearn',
    );
    expect(tampered.code).toBe(1);
    expect(tampered.result).toMatchObject({ outcome: 'failed', reason: 'ArtifactInvalid' });
    const badArgs = await evaluate(champion.artifact, cancerB, {}, ['evaluation'], 'sklearn');
    expect(badArgs.code).toBe(2);
    expect(badArgs.stdout).toContain('Invalid arguments [\\"evaluation\\"]');
  });
});

describe('the evaluate mode failing', () => {
  it('refuses an artifact that is not the recorded digest, exit 1', async () => {
    const { code, result } = await evaluate(
      { uri: cancerChampion.artifact.uri, digest: `sha256:${'1'.repeat(64)}` },
      cancerB,
    );
    expect(code).toBe(1);
    expect(result).toMatchObject({ outcome: 'failed', reason: 'ArtifactInvalid' });
    expect(result?.outcome === 'failed' && result.message).toContain('(DigestMismatch)');
  });

  it('names the format of a scikit-learn artifact it cannot run, exit 1', async () => {
    const sklearnChampion = await train('cancer-sklearn', cancerA, {}, 'sklearn');
    expect(sklearnChampion.artifact.format).toBe('onnx');
    const { code, result } = await evaluate(sklearnChampion.artifact, cancerB);
    expect(code).toBe(1);
    expect(result).toMatchObject({ outcome: 'failed', reason: 'InternalError' });
    expect(result?.outcome === 'failed' && result.message).toContain(
      'the artifact is an ONNX model (model.onnx, format onnx)',
    );
  });

  it('refuses an invalid environment or arguments, naming them, exit 2', async () => {
    const badDigest = await evaluate({ ...cancerChampion.artifact, digest: 'md5:0' }, cancerB);
    expect(badDigest.code).toBe(2);
    expect(badDigest.result).toMatchObject({ outcome: 'failed', reason: 'InternalError' });
    expect(badDigest.result?.outcome === 'failed' && badDigest.result.message).toContain(
      'LATHE_EVALUATE_MODEL_DIGEST',
    );
    const badArgs = await evaluate(cancerChampion.artifact, cancerB, {}, ['evaluation']);
    expect(badArgs.code).toBe(2);
  });
});

describe('the evaluation Job of a RetrainPolicy on the process node', () => {
  let k8sNamespace: string;
  let core: k8s.CoreV1Api;

  beforeAll(async () => {
    core = kubeConfig().makeApiClient(k8s.CoreV1Api);
    k8sNamespace = await createTestNamespace('evaluate');
  });

  afterAll(async () => {
    if (k8sNamespace) await deleteTestNamespace(k8sNamespace);
  });

  it('runs the trainer image with args [evaluate] and reports the metrics in its termination message', async () => {
    const info = clusterInfo();
    const config = {
      endpoint: info.minio.endpoint,
      bucket,
      region: 'us-east-1',
      accessKey: info.minio.accessKey,
      secretKey: info.minio.secretKey,
    };
    const job = desiredEvaluationJob(
      { metadata: { name: 'policy', namespace: k8sNamespace } } as RetrainPolicy,
      {
        name: 'policy-eval',
        champion: { spec: { artifact: cancerChampion.artifact } } as ModelVersionObject,
        datasetUri: cancerB.uri,
        task: 'classification',
        image: 'ghcr.io/lathe-dev/lathe-trainer:0.1.0',
        store: config,
        owner: { apiVersion: 'v1', kind: 'ConfigMap', name: 'unused', uid: 'unused' },
      },
    );
    // No RetrainPolicy owns it here: without the owner, the garbage collector leaves it alone.
    delete job.metadata?.ownerReferences;
    await kubectlOrThrow(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          await scopedCredentialsSecret(
            k8sNamespace,
            'policy',
            CredentialRole.evaluation,
            // The data lie under this test's own layout namespace, not the pod's.
            grants.evaluation(
              parseS3Uri(cancerB.uri).key,
              parseS3Uri(cancerChampion.artifact.uri).key,
            ),
          ),
          job,
        ],
      }),
    });
    const terminated = await eventually(
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: k8sNamespace,
          labelSelector: 'job-name=policy-eval',
        });
        const state = pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated;
        if (!state) throw new Error('the evaluation pod has not finished');
        return state;
      },
      { what: 'the evaluation pod to finish', timeoutMs: 120_000 },
    );
    expect(terminated.exitCode).toBe(0);
    const result = parseResult('evaluate', terminated.message);
    expect(result).toMatchObject({ outcome: 'succeeded', rows: 142 });
    const direct = await evaluate(cancerChampion.artifact, cancerB);
    expectSameMetrics((result as Succeeded).metrics, (direct.result as Succeeded).metrics);
  });
});
