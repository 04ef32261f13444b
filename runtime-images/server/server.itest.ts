/**
 * The real server program (`main.ts`, as the process node runs the image) against the local
 * cluster's MinIO: a model trained here and uploaded in the trainer's layout, served and
 * explained (`:explain`, `/explain`) on both protocols; a corrupted artifact; draining on
 * SIGTERM; sampled requests and labels in the store.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedbackLabelsSchema, SampledRequestSchema } from '../../contract/feedback-log.js';
import { ObjectStore } from '../../contract/object-store.js';
import { feedbackPrefix, modelVersionPrefix } from '../../contract/object-store-layout.js';
import { prepareRecord } from '../../contract/prepared-data.js';
import { ServeEnv } from '../../contract/runtime-env.js';
import { clusterInfo, eventually } from '../../e2e/cluster/testenv.js';
import {
  type ServerProgram,
  startServerProgram,
  stopServerProgram,
  waitForServer,
} from '../../e2e/testing/server-program.js';
import {
  expectedOutputs,
  type FixtureArtifact,
  fixtureRows,
  makeFixtureArtifact,
  uploadFixtureArtifact,
} from './fixture.js';
import { loadTensorflow, type TensorflowJs } from './tensorflow.js';

const { minio } = clusterInfo();
const store = new ObjectStore(minio);
const namespace = `itest-${randomBytes(3).toString('hex')}`;
let tf: TensorflowJs;
let artifact: FixtureArtifact;
let workDir: string;

type RunningServer = ServerProgram;

/** Starts the server on version `version` of this test's model (batches of 16). */
const startServer = (version: number, env: Record<string, string> = {}) =>
  startServerProgram({
    namespace,
    version,
    digest: artifact.digest,
    workDir,
    env: { [ServeEnv.batchMaxSize]: '16', ...env },
  });
const waitReady = waitForServer;
const stop = stopServerProgram;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-server-itest-'));
  ({ tf } = await loadTensorflow('wasm'));
  artifact = await makeFixtureArtifact(tf, { epochs: 20 });
  await uploadFixtureArtifact(
    store,
    minio.bucket,
    modelVersionPrefix(namespace, 'iris', 1),
    artifact,
  );
  // Version 2: the same manifest, one byte of the weights changed after it was written.
  const weights = Buffer.from(artifact.files['weights.bin']!);
  weights[weights.length - 1] = weights[weights.length - 1]! ^ 0x01;
  await uploadFixtureArtifact(store, minio.bucket, modelVersionPrefix(namespace, 'iris', 2), {
    ...artifact,
    files: { ...artifact.files, 'weights.bin': weights },
  });
}, 120_000);

afterAll(async () => {
  await store.removePrefix(minio.bucket, `models/${namespace}/`);
  await store.removePrefix(minio.bucket, `feedback/${namespace}/`);
  await rm(workDir, { recursive: true, force: true });
});

describe('the inference server program', () => {
  let server: RunningServer;
  const rows = fixtureRows('classification', 6, 77).map(({ species: _label, ...raw }) => raw);
  const post = (p: string, body: unknown) =>
    fetch(`${server.base}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer labeller-token' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    const tokenFile = path.join(workDir, 'feedback-token');
    await writeFile(tokenFile, 'labeller-token\n');
    server = await startServer(1, {
      [ServeEnv.feedbackTokenFile]: tokenFile,
      [ServeEnv.requestLogSampleRate]: '1',
      [ServeEnv.requestLogFlushIntervalMs]: '200',
      [ServeEnv.feedbackUri]: `s3://${minio.bucket}/${feedbackPrefix(namespace, 'iris')}`,
      [ServeEnv.shutdownDelayMs]: '300',
    });
    await waitReady(server);
  }, 120_000);
  afterAll(async () => {
    await stop(server);
  });

  it('predicts on both protocols exactly what the model itself computes on the same rows', async () => {
    const expected = expectedOutputs(tf, artifact, rows).map((row) =>
      Array.from(Float32Array.from(row)),
    );
    const v1 = (await (await post('/v1/models/iris:predict', { instances: rows })).json()) as {
      predictions: { probabilities: number[] }[];
    };
    expect(v1.predictions.map((p) => p.probabilities)).toEqual(expected);

    const prepared = rows.map((row) => prepareRecord(artifact.schema, row));
    const v1Prepared = (await (
      await post('/v1/models/iris:predict', { instances: prepared })
    ).json()) as typeof v1;
    expect(v1Prepared).toEqual(v1);

    const columns = ['length', 'width', 'colour', 'fresh'] as const;
    const datatypes = { length: 'FP64', width: 'FP64', colour: 'BYTES', fresh: 'BOOL' };
    const v2 = (await (
      await post('/v2/models/iris/versions/1/infer', {
        inputs: columns.map((name) => ({
          name,
          datatype: datatypes[name],
          shape: [rows.length],
          data: rows.map((row) => row[name]),
        })),
      })
    ).json()) as { outputs: { name: string; data: unknown[] }[] };
    expect(v2.outputs.find((o) => o.name === 'probabilities')?.data).toEqual(expected.flat());

    const v2Prepared = (await (
      await post('/v2/models/iris/infer', {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, 6], data: prepared }],
      })
    ).json()) as typeof v2;
    expect(v2Prepared.outputs).toEqual(v2.outputs);
  });

  it('explains on both protocols: per column, base value + Σ values = the prediction the model computes', async () => {
    interface Explanation {
      method: string;
      outputs: string[];
      baseValue: number[];
      prediction: number[];
      values: Record<string, number[]>;
    }
    const columns = ['length', 'width', 'colour', 'fresh'] as const;
    const expected = expectedOutputs(tf, artifact, rows);
    /** Each row's explanation adds up to its prediction, the model's own output for the row. */
    const expectAdditive = (explanations: Explanation[]) => {
      expect(explanations).toHaveLength(rows.length);
      for (const [r, explanation] of explanations.entries()) {
        expect(explanation).toMatchObject({
          method: 'exact',
          outputs: artifact.schema.label.classes,
        });
        expect(Object.keys(explanation.values)).toEqual([...columns]);
        for (const [k, prediction] of explanation.prediction.entries()) {
          expect(prediction).toBeCloseTo(expected[r]![k]!, 5);
          const sum = columns.reduce((s, c) => s + explanation.values[c]![k]!, 0);
          expect(explanation.baseValue[k]! + sum).toBeCloseTo(prediction, 5);
        }
      }
    };

    const v1Response = await post('/v1/models/iris:explain', { instances: rows });
    expect(v1Response.status).toBe(200);
    const v1 = (await v1Response.json()) as {
      predictions: { probabilities: number[] }[];
      explanations: Explanation[];
    };
    expect(v1.predictions.map((p) => p.probabilities)).toEqual(
      expected.map((row) => Array.from(Float32Array.from(row))),
    );
    expectAdditive(v1.explanations);

    const datatypes = { length: 'FP64', width: 'FP64', colour: 'BYTES', fresh: 'BOOL' };
    const v2Response = await post('/v2/models/iris/explain', {
      inputs: columns.map((name) => ({
        name,
        datatype: datatypes[name],
        shape: [rows.length],
        data: rows.map((row) => row[name]),
      })),
    });
    expect(v2Response.status).toBe(200);
    const v2 = (await v2Response.json()) as {
      outputs: { name: string; data: unknown[] }[];
      explanations: Explanation[];
    };
    expect(v2.outputs.find((o) => o.name === 'probabilities')?.data).toEqual(
      v1.predictions.flatMap((p) => p.probabilities),
    );
    expectAdditive(v2.explanations);
    expect(v2.explanations).toEqual(v1.explanations);
  });

  it('answers bad requests with 400s that say what is wrong', async () => {
    const wrongShape = await post('/v2/models/iris/infer', {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }],
    });
    expect(wrongShape.status).toBe(400);
    expect(await wrongShape.json()).toEqual({
      error:
        'input "features" has shape [1,3]; prepared features must have shape [n, 6] (length, width, colour=red, colour=green, colour=__other__, fresh), or send one input per column (length, width, colour, fresh)',
    });
    const badCell = await post('/v1/models/iris:predict', {
      instances: [{ length: 'x', width: 1, colour: 'red', fresh: null }],
    });
    expect(badCell.status).toBe(400);
    expect(await badCell.json()).toEqual({
      error: 'instances[0]: column length: "x" is not a number',
    });
    const unknown = await post('/v1/models/tulip:predict', { instances: rows });
    expect(unknown.status).toBe(404);
  });

  it('writes sampled requests and labels under the feedback prefix, and live accuracy moves', async () => {
    const response = await post('/v1/models/iris:predict', { instances: rows.slice(0, 4) });
    const requestId = response.headers.get('x-request-id')!;
    const predicted = (
      (await response.json()) as { predictions: { label: string }[] }
    ).predictions.map((p) => p.label);
    const classes = artifact.schema.label.classes!;
    const truth = predicted.map((label, i) =>
      i === 0 ? classes[(classes.indexOf(label) + 1) % 3]! : label,
    );
    const feedback = await post('/v1/models/iris:feedback', {
      request_id: requestId,
      labels: truth,
    });
    expect(feedback.status).toBe(202);
    const metrics = await (await fetch(`${server.base}/metrics`)).text();
    expect(metrics).toContain('lathe_feedback_live_accuracy{model="iris",version="1"} 0.75');

    const prefix = feedbackPrefix(namespace, 'iris');
    const lines = async (dir: string) => {
      const keys = (await store.list(minio.bucket, `${prefix}${dir}`)).sort();
      const all: unknown[] = [];
      for (const key of keys) {
        expect(key).toMatch(
          /\/\d{4}-\d{2}-\d{2}\/\d{2}\/\d{8}T\d{6}\.\d{3}Z-iris-v1-test-\d{6}\.jsonl$/,
        );
        const text = (await store.read(minio.bucket, key)).toString();
        all.push(
          ...text
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line)),
        );
      }
      return all;
    };
    const sampled = await eventually(
      async () => {
        const found = (await lines('requests/')).map((l) => SampledRequestSchema.parse(l));
        const mine = found.find((r) => r.requestId === requestId);
        if (!mine)
          throw new Error(`request ${requestId} is not in the log yet (${found.length} lines)`);
        return mine;
      },
      { timeoutMs: 20_000, what: 'the sampled request in the store' },
    );
    expect(sampled.records).toEqual(rows.slice(0, 4));
    expect(sampled.predictions.map((p) => (p as { label: string }).label)).toEqual(predicted);
    const labelled = await eventually(
      async () => {
        const found = (await lines('labels/')).map((l) => FeedbackLabelsSchema.parse(l));
        const mine = found.find((r) => r.requestId === requestId);
        if (!mine) throw new Error('the labels are not in the store yet');
        return mine;
      },
      { timeoutMs: 20_000, what: 'the labels in the store' },
    );
    expect(labelled.labels).toEqual(truth);
    expect(labelled.records).toEqual(rows.slice(0, 4));
  });

  it('drains on SIGTERM: not ready at once, a request in flight still answered, exit 0', async () => {
    const url = new URL(`${server.base}/v1/models/iris:predict`);
    const body = JSON.stringify({ instances: [rows[0]] });
    let sent!: () => void;
    const headersSent = new Promise<void>((r) => (sent = r));
    const answered = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 5), () => sent());
      setTimeout(() => req.end(body.slice(5)), 1500);
    });
    await headersSent;
    server.child.kill('SIGTERM');
    await eventually(
      async () => {
        const status = (await fetch(`${server.base}/v2/health/ready`)).status;
        if (status !== 400) throw new Error(`ready answered ${status}`);
      },
      { timeoutMs: 5_000, what: 'readiness to go false' },
    );
    expect(await answered).toBe(200);
    expect(await server.exited).toBe(0);
  });
});

describe('the inference server on native TensorFlow', () => {
  it('serves with LATHE_BACKEND=tensorflow what the model computes, and says so in its log', async () => {
    const server = await startServer(1, { [ServeEnv.backend]: 'tensorflow' });
    try {
      await waitReady(server);
      const rows = fixtureRows('classification', 5, 91).map(({ species: _label, ...raw }) => raw);
      const response = await fetch(`${server.base}/v1/models/iris:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: rows }),
      });
      const { predictions } = (await response.json()) as {
        predictions: { probabilities: number[] }[];
      };
      // Another backend's kernels: the same outputs up to float32 rounding.
      const expected = expectedOutputs(tf, artifact, rows);
      expect(predictions).toHaveLength(rows.length);
      for (const [i, prediction] of predictions.entries()) {
        for (const [c, p] of prediction.probabilities.entries()) {
          expect(p).toBeCloseTo(expected[i]![c]!, 5);
        }
      }
      const loaded = server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg?: string; backend?: string })
        .find((line) => line.msg?.startsWith('Loaded TensorFlow.js'));
      expect(loaded).toMatchObject({ backend: 'tensorflow', requested: 'tensorflow' });
    } finally {
      await stop(server);
    }
  }, 120_000);
});

describe('a corrupted artifact', () => {
  it('never becomes ready: the server exits 1 with the reason in its termination message', async () => {
    const server = await startServer(2);
    let readySeen = false;
    while (server.child.exitCode === null) {
      const status = await fetch(`${server.base}/v2/health/ready`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) readySeen = true;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await server.exited).toBe(1);
    expect(readySeen).toBe(false);
    const result = JSON.parse(await readFile(server.resultPath, 'utf8'));
    expect(result).toMatchObject({ kind: 'serve', outcome: 'failed', reason: 'ArtifactInvalid' });
    expect(result.message).toContain('(FileMismatch): weights.bin is');
  }, 120_000);
});
