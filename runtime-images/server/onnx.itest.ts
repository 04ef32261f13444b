/**
 * The real server program (`main.ts`) serving scikit-learn models exported to ONNX with
 * skl2onnx, against the local cluster's MinIO: a logistic regression on iris and a linear
 * regression on diabetes, fitted here by the scikit-learn trainer's Python environment on the
 * prepared features of a Lathe dataset version (`preparedVersionOf`), written under the ONNX
 * artifact contract (`contract/onnx-artifact.ts`). Raw records sent on V1 and V2 must be
 * answered with scikit-learn's own `predict_proba` / `predict` on the same rows (1e-5), and an
 * artifact of a format the server does not run must be refused with the reason.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestFor } from '../../contract/manifest.js';
import { ObjectStore } from '../../contract/object-store.js';
import { DatasetFile, ModelFile, modelVersionPrefix } from '../../contract/object-store-layout.js';
import { ONNX_MODEL_FILE } from '../../contract/onnx-artifact.js';
import { type PreparedSchema, prepareRecord } from '../../contract/prepared-data.js';
import { ServeEnv } from '../../contract/runtime-env.js';
import { clusterInfo } from '../../e2e/cluster/testenv.js';
import {
  type ServerProgram,
  startServerProgram,
  stopServerProgram,
  waitForServer,
} from '../../e2e/testing/server-program.js';
import { python, runProgram, sklearnDataset } from '../../e2e/testing/sklearn-fixture.js';
import { preparedVersionOf } from '../trainer/prepared-fixture.js';
import { uploadFixtureArtifact } from './fixture.js';

const TOLERANCE = 1e-5;

/**
 * Fits the estimator on the prepared train split, exports it with skl2onnx under the contract
 * (input `features`; `probabilities` without ZipMap, or `predictions`), and prints the model
 * and scikit-learn's own outputs on the prepared rows it is given.
 */
const FIT_AND_EXPORT = `
import base64, io, json, sys
import numpy as np
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType
from sklearn.linear_model import LinearRegression, LogisticRegression

job = json.load(sys.stdin)
train = np.loadtxt(io.StringIO(job["train"]), delimiter=",", skiprows=1, ndmin=2)
x, y = train[:, :-1], train[:, -1]
rows = np.asarray(job["rows"], dtype=np.float32)
features = [("features", FloatTensorType([None, x.shape[1]]))]
if job["task"] == "classification":
    estimator = LogisticRegression(max_iter=1000).fit(x, y.astype(np.int64))
    model = convert_sklearn(estimator, initial_types=features, target_opset={"": 17, "ai.onnx.ml": 3},
                            options={id(estimator): {"zipmap": False}},
                            final_types=[("label", Int64TensorType([None])),
                                         ("probabilities", FloatTensorType([None, len(estimator.classes_)]))])
    expected = estimator.predict_proba(rows)
else:
    estimator = LinearRegression().fit(x, y)
    model = convert_sklearn(estimator, initial_types=features, target_opset={"": 17, "ai.onnx.ml": 3},
                            final_types=[("predictions", FloatTensorType([None, 1]))])
    expected = estimator.predict(rows).reshape(-1, 1)
print(json.dumps({"model": base64.b64encode(model.SerializeToString()).decode(),
                  "expected": expected.tolist()}))
`;

const { minio } = clusterInfo();
const store = new ObjectStore(minio);
const namespace = `itest-onnx-${randomBytes(3).toString('hex')}`;
let workDir: string;

interface ServedCase {
  version: number;
  digest: string;
  schema: PreparedSchema;
  /** Raw test records, without their label. */
  records: Record<string, unknown>[];
  /** scikit-learn's outputs on them, one array per row. */
  expected: number[][];
}

/** Fits and exports `dataset`'s model, uploads its artifact as version `version`. */
async function onnxVersion(version: number, dataset: 'iris' | 'diabetes'): Promise<ServedCase> {
  const table = await sklearnDataset(dataset);
  const prepared = preparedVersionOf(table);
  const schema = prepared.schema;
  const records = prepared.files[DatasetFile.testRaw]!.toString('utf8')
    .trim()
    .split('\n')
    .slice(0, 12)
    .map((line) => {
      const { [table.labelName]: _label, ...raw } = JSON.parse(line) as Record<string, unknown>;
      return raw;
    });
  const rows = records.map((r) => prepareRecord(schema, r));
  const job = JSON.stringify({
    task: schema.task,
    train: prepared.files[DatasetFile.train]!.toString('utf8'),
    rows,
  });
  const fitted = await runProgram(python, ['-c', FIT_AND_EXPORT], {}, job);
  if (fitted.code !== 0) throw new Error(`fitting ${dataset} failed: ${fitted.stderr}`);
  const { model, expected } = JSON.parse(fitted.stdout) as { model: string; expected: number[][] };
  const files: Record<string, Buffer> = {
    [ONNX_MODEL_FILE]: Buffer.from(model, 'base64'),
    [ModelFile.schema]: prepared.files[DatasetFile.schema]!,
    [ModelFile.metrics]: Buffer.from('{}\n'),
  };
  const { manifest, digest } = manifestFor(files);
  await uploadFixtureArtifact(store, minio.bucket, modelVersionPrefix(namespace, 'iris', version), {
    files,
    manifest,
  });
  return { version, digest, schema, records, expected };
}

let classifier: ServedCase;
let regressor: ServedCase;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-onnx-itest-'));
  [classifier, regressor] = await Promise.all([onnxVersion(1, 'iris'), onnxVersion(2, 'diabetes')]);
}, 180_000);

afterAll(async () => {
  await store.removePrefix(minio.bucket, `models/${namespace}/`);
  await rm(workDir, { recursive: true, force: true });
});

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => {
    expect(Math.abs(value - expected[i]!)).toBeLessThan(
      TOLERANCE * Math.max(1, Math.abs(expected[i]!)),
    );
  });
}

describe.each([
  ['a scikit-learn classifier (iris, LogisticRegression)', () => classifier],
  ['a scikit-learn regressor (diabetes, LinearRegression)', () => regressor],
])('the server program on %s exported to ONNX', (_, served) => {
  let server: ServerProgram;
  let c: ServedCase;
  const post = async (p: string, body: unknown) => {
    const response = await fetch(`${server.base}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    c = served();
    server = await startServerProgram({
      namespace,
      version: c.version,
      digest: c.digest,
      workDir,
      env: { [ServeEnv.modelFormat]: 'onnx', [ServeEnv.batchMaxSize]: '16' },
    });
    await waitForServer(server);
  }, 120_000);
  afterAll(async () => {
    await stopServerProgram(server);
  });

  it('answers V1 raw records with scikit-learn’s own outputs on the same rows', async () => {
    const v1 = await post('/v1/models/iris:predict', { instances: c.records });
    const predictions = v1.predictions as (number | { label: string; probabilities: number[] })[];
    predictions.forEach((p, r) => {
      if (typeof p === 'number') expectClose([p], c.expected[r]!);
      else {
        expectClose(p.probabilities, c.expected[r]!);
        const best = c.expected[r]!.indexOf(Math.max(...c.expected[r]!));
        expect(p.label).toBe(c.schema.label.classes![best]);
      }
    });
  });

  it('answers V2 per-column inputs, one request per row at once, with the same outputs', async () => {
    const answers = await Promise.all(
      c.records.map((record) =>
        post('/v2/models/iris/infer', {
          inputs: Object.entries(record).map(([name, value]) => ({
            name,
            datatype: 'FP64',
            shape: [1],
            data: [value],
          })),
        }),
      ),
    );
    const output = c.schema.task === 'classification' ? 'probabilities' : 'prediction';
    answers.forEach((answer, r) => {
      const outputs = answer.outputs as { name: string; data: number[] }[];
      expectClose(outputs.find((o) => o.name === output)!.data, c.expected[r]!);
    });
  });
});

describe('an artifact of a format the server does not run', () => {
  it('never becomes ready: the server exits 1 with UnsupportedFormat in its termination message', async () => {
    const server = await startServerProgram({
      namespace,
      version: classifier.version,
      digest: classifier.digest,
      workDir,
      env: { [ServeEnv.modelFormat]: 'joblib' },
    });
    expect(await server.exited).toBe(1);
    const result = JSON.parse(await readFile(server.resultPath, 'utf8'));
    expect(result).toMatchObject({ kind: 'serve', outcome: 'failed', reason: 'ArtifactInvalid' });
    expect(result.message).toContain(
      "The artifact cannot be served (UnsupportedFormat): the ModelVersion's artifact is format joblib",
    );
  });
});
