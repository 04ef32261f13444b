/**
 * BatchPrediction on the local cluster, with every controller in-process and the real programs
 * as pods: a model is trained on a synthetic table and served; then
 * - 100,000 raw rows in the namespace's sources, scored in 5 shards, 2 at a time, match the
 *   online server's predictions for the same rows, row for row, with every id once, in order;
 * - a shard pod killed while it runs is retried alone, and the output still holds every row once;
 * - a Dataset version (both splits, raw) is scored through datasetRef;
 * - 300 rows with explanations: every row's Shapley values add up to its predicted probability,
 *   and a row's equal the Service's `:explain` answer for it;
 * - bad records under the threshold become error rows in place; over it the run fails with the
 *   count;
 * - a run records the distribution of its inputs and predictions: counts per training bin that
 *   match a count by hand, a low PSI for rows like the training data and a high one, naming the
 *   column, for rows shifted away from it;
 * - a missing model or Dataset is a waiting condition, not a crash, and the run starts when the
 *   model appears;
 * - a CSV at an HTTP URL (a server on the host, behind a token from a Secret) is read by 3 shards
 *   with Range requests and gives the same output as the same file in the store;
 * - a chosen output prefix holds the run (under its UID); one outside the namespace stalls.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchManifestSchema } from '../../../../contract/batch.js';
import { DatasetStatsSchema } from '../../../../contract/dataset-stats.js';
import { parseS3Uri } from '../../../../contract/object-store-layout.js';
import { POLICY_LABEL } from '../../../../contract/retrain-run.js';
import { seededRandom } from '../../../../contract/seeded-random.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
} from '../../../../e2e/cluster/testenv.js';
import {
  startTestManager,
  testClient,
  testControllers,
  testStore,
} from '../../../../e2e/testing/controllers.js';
import { COUNT_STRIDE } from '../../../../runtime-images/batch/distribution.js';
import type { BatchPredictionStatus } from '../../api/batchprediction.js';
import { kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import type { Manager } from '../../runtime/manager.js';
import { builtin, type KubeObject } from '../../runtime/resource.js';
import { type BatchPredictionObject, latheKinds } from '../lathe-kinds.js';
import { batchJobName } from './desired.js';

const info = clusterInfo();
const { store } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager | undefined;

const colours = ['red', 'green', 'blue'];

/** Bytes the host's HTTP server serves, by path; and the Range headers it was asked. */
const served = new Map<string, Buffer>();
const rangesAsked: string[] = [];
const TOKEN = 'Bearer itest-token';
/** An HTTP server on the host address, which pods reach: honours Range, wants the token. */
const server = http.createServer((req, res) => {
  const body = served.get(new URL(req.url ?? '/', 'http://x').pathname);
  if (req.headers.authorization !== TOKEN) {
    res.writeHead(401).end();
    return;
  }
  if (!body) {
    res.writeHead(404).end();
    return;
  }
  const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (!match) {
    res.writeHead(200, { 'content-length': body.length }).end(body);
    return;
  }
  rangesAsked.push(req.headers.range!);
  const first = Number(match[1]);
  const last = match[2] ? Math.min(Number(match[2]), body.length - 1) : body.length - 1;
  if (first >= body.length) {
    res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
    return;
  }
  res
    .writeHead(206, { 'content-range': `bytes ${first}-${last}/${body.length}` })
    .end(body.subarray(first, last + 1));
});
let baseUrl: string;

/** `rows` rows of `id,x1,x2,colour,y`: y depends on x1 + x2 and the colour. */
function table(rows: number, seed: number, withLabel: boolean): string {
  const random = seededRandom(seed);
  const lines = [withLabel ? 'id,x1,x2,colour,y' : 'id,x1,x2,colour'];
  for (let i = 0; i < rows; i++) {
    const x1 = (random() * 10 - 5).toFixed(3);
    const x2 = (random() * 10 - 5).toFixed(3);
    const colour = colours[Math.floor(random() * 3)]!;
    const score = Number(x1) + Number(x2) + (colour === 'red' ? 2 : colour === 'blue' ? -2 : 0);
    const y = score > 1 ? 'high' : score < -1 ? 'low' : 'mid';
    lines.push(withLabel ? `${i},${x1},${x2},${colour},${y}` : `${i},${x1},${x2},${colour}`);
  }
  return `${lines.join('\n')}\n`;
}

const batch = (name: string, spec: Record<string, unknown>) =>
  client.create(latheKinds.batchPrediction.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'BatchPrediction',
    metadata: { name, namespace },
    spec: { model: { name: 'grades', version: 1 }, ...spec },
  });
const getBatch = (name: string) =>
  client.get<BatchPredictionObject>(latheKinds.batchPrediction.resource, namespace, name);

async function finished(name: string, timeoutMs = 300_000): Promise<BatchPredictionStatus> {
  return eventually(
    async () => {
      const status = (await getBatch(name)).status;
      expect(['Succeeded', 'Failed']).toContain(status?.phase);
      return status!;
    },
    { what: `BatchPrediction ${name} finished`, timeoutMs },
  );
}

/** The output rows of a finished run, parts in shard order, and its manifest. */
async function outputOf(status: BatchPredictionStatus) {
  const { bucket, key } = parseS3Uri(status.output!.manifest!);
  const manifest = BatchManifestSchema.parse(
    JSON.parse((await store.read(bucket, key)).toString('utf8')),
  );
  const prefix = key.slice(0, key.lastIndexOf('/') + 1);
  const rows: Record<string, unknown>[] = [];
  for (const part of manifest.parts) {
    const text = (await store.read(bucket, `${prefix}${part.path}`, 512 * 1024 * 1024)).toString(
      'utf8',
    );
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(part.rows);
    rows.push(...lines.map((l) => JSON.parse(l) as Record<string, unknown>));
  }
  return { manifest, rows };
}

beforeAll(async () => {
  await installCrds();
  await new Promise<void>((resolve) => server.listen(0, info.hostAddress, resolve));
  baseUrl = `http://${info.hostAddress}:${(server.address() as AddressInfo).port}`;
  namespace = await createTestNamespace('batch');
  manager = startTestManager(namespace, testControllers(), 'batch-itest');
  await store.write(info.minio.bucket, `sources/${namespace}/train.csv`, table(1500, 1, true));
  await client.create(latheKinds.dataset.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name: 'grades', namespace },
    spec: {
      source: { s3: { bucket: info.minio.bucket, key: `sources/${namespace}/train.csv` } },
      schema: { label: 'y' },
      preparation: { drop: ['id'] },
    },
  });
  await client.create(latheKinds.trainingJob.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: 'grades', namespace },
    spec: {
      datasetRef: { name: 'grades' },
      model: { builtin: { architecture: 'mlp', layers: [16] } },
      hyperparameters: { epochs: 20, batchSize: 32, learningRate: 0.02, seed: 3 },
      modelName: 'grades',
    },
  });
  await eventually(
    async () => {
      const mv = await client.get<KubeObject>(
        latheKinds.modelVersion.resource,
        namespace,
        'grades-v1',
      );
      expect(JSON.stringify(mv.status)).toContain('"ArtifactVerified"');
    },
    { what: 'ModelVersion grades-v1 verified', timeoutMs: 240_000 },
  );
}, 300_000);

afterAll(async () => {
  server.close();
  await manager?.stop();
  if (!process.env.KEEP) await deleteTestNamespace(namespace);
});

describe('BatchPrediction', () => {
  it('scores 100,000 rows in shards exactly as the online server does, row for row', async () => {
    const rows = 100_000;
    await store.write(
      info.minio.bucket,
      `sources/${namespace}/big/rows.csv`,
      table(rows, 7, false),
    );
    await batch('big', {
      input: { s3: { prefix: `sources/${namespace}/big/` } },
      passthroughColumns: ['id'],
      parallelism: 2,
      shards: 5,
    });
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'grades', namespace },
      spec: { model: { name: 'grades', version: 1 } },
    });
    const status = await finished('big');
    expect(status.phase, JSON.stringify(status.conditions)).toBe('Succeeded');
    expect(status).toMatchObject({
      model: { modelVersion: 'grades-v1' },
      shards: { total: 5, succeeded: 5, failed: 0 },
      rows: { written: rows, failed: 0 },
    });
    const { manifest, rows: output } = await outputOf(status);
    expect(manifest.rows).toBe(rows);
    expect(output.map((r) => r.id)).toEqual(Array.from({ length: rows }, (_, i) => String(i)));

    // The same rows through the Service, in requests of 1,000.
    await eventually(
      async () => {
        const isvc = await client.get<KubeObject>(
          latheKinds.inferenceService.resource,
          namespace,
          'grades',
        );
        expect(JSON.stringify(isvc.status)).toMatch(
          /"type":"Ready","status":"True"|"status":"True","type":"Ready"/,
        );
      },
      { what: 'grades served', timeoutMs: 180_000 },
    );
    const svc = await client.get<KubeObject>(builtin.service, namespace, 'grades');
    const url = `http://${(svc.spec as { clusterIP: string }).clusterIP}/v1/models/grades:predict`;
    const input = table(rows, 7, false).trim().split('\n').slice(1);
    for (let start = 0; start < rows; start += 1000) {
      const instances = input.slice(start, start + 1000).map((line) => {
        const [, x1, x2, colour] = line.split(',');
        return { x1: Number(x1), x2: Number(x2), colour };
      });
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances }),
      });
      expect(response.status).toBe(200);
      const { predictions } = (await response.json()) as {
        predictions: { label: string; probabilities: number[] }[];
      };
      for (const [k, online] of predictions.entries()) {
        const offline = output[start + k] as {
          label: string;
          probabilities: Record<string, number>;
        };
        expect(offline.label).toBe(online.label);
        const probabilities = Object.values(offline.probabilities);
        for (const [c, p] of online.probabilities.entries())
          expect(Math.abs(probabilities[c]! - p)).toBeLessThan(1e-5);
      }
    }
  }, 600_000);

  it('retries a killed shard alone, with every row once in the output', async () => {
    await store.write(
      info.minio.bucket,
      `sources/${namespace}/kill/rows.csv`,
      table(40_000, 9, false),
    );
    await batch('kill', {
      input: { s3: { prefix: `sources/${namespace}/kill/` } },
      passthroughColumns: ['id'],
      parallelism: 2,
      shards: 4,
    });
    const victim = await eventually(
      async () => {
        const pods = (await client.list<PodObject>(kinds.pod.resource, { namespace })).items.filter(
          (p) =>
            p.metadata?.labels?.['job-name'] === batchJobName({ metadata: { name: 'kill' } }) &&
            p.status?.phase === 'Running',
        );
        expect(pods.length).toBeGreaterThan(0);
        return pods[0]!;
      },
      { what: 'a shard pod running', timeoutMs: 120_000, intervalMs: 50 },
    );
    await client.delete(kinds.pod.resource, namespace, victim.metadata?.name ?? '');
    const status = await finished('kill');
    expect(status.phase, JSON.stringify(status.conditions)).toBe('Succeeded');
    const job = await client.get<KubeObject>(
      kinds.job.resource,
      namespace,
      batchJobName({ metadata: { name: 'kill' } }),
    );
    expect((job.status as { failed?: number }).failed ?? 0).toBeGreaterThanOrEqual(1);
    const { rows } = await outputOf(status);
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 40_000 }, (_, i) => String(i)));
  }, 600_000);

  it('scores a Dataset version, both splits, through its raw rows', async () => {
    await batch('dataset', {
      input: { datasetRef: { name: 'grades' } },
      passthroughColumns: ['y'],
      output: { format: 'csv', include: ['label'] },
      shards: 3,
    });
    const status = await finished('dataset');
    expect(status.phase, JSON.stringify(status.conditions)).toBe('Succeeded');
    const ds = await client.get<KubeObject>(latheKinds.dataset.resource, namespace, 'grades');
    const version = (ds.status as { currentVersion: string }).currentVersion;
    expect(status.input).toMatchObject({ dataset: 'grades', datasetVersion: version, objects: 2 });
    expect(status.rows?.written).toBe(1500);
    const { bucket, key } = parseS3Uri(status.output!.manifest!);
    const manifest = BatchManifestSchema.parse(
      JSON.parse((await store.read(bucket, key)).toString()),
    );
    const prefix = key.slice(0, key.lastIndexOf('/') + 1);
    const lines = (await store.read(bucket, `${prefix}${manifest.parts[0]!.path}`))
      .toString()
      .trim()
      .split('\n');
    // CSV has fixed columns: an error column, empty on rows that were scored.
    expect(lines[0]).toBe('y,label,error');
    // A model trained on these rows gets most of them right.
    let right = 0;
    let total = 0;
    for (const part of manifest.parts) {
      const text = (await store.read(bucket, `${prefix}${part.path}`))
        .toString()
        .trim()
        .split('\n')
        .slice(1);
      for (const line of text) {
        const [y, label, error] = line.split(',');
        expect(error).toBe('');
        total++;
        if (y === label) right++;
      }
    }
    expect(total).toBe(1500);
    expect(right / total).toBeGreaterThan(0.8);
  }, 300_000);

  it('explains 300 rows: values add up to the prediction, and match the Service’s :explain', async () => {
    const rows = 300;
    await store.write(
      info.minio.bucket,
      `sources/${namespace}/explain/rows.csv`,
      table(rows, 13, false),
    );
    await batch('explain', {
      input: { s3: { prefix: `sources/${namespace}/explain/` } },
      passthroughColumns: ['id'],
      output: { include: ['label', 'probabilities', 'explanations'] },
      shards: 2,
    });
    const status = await finished('explain');
    expect(status.phase, JSON.stringify(status.conditions)).toBe('Succeeded');
    const { rows: output } = await outputOf(status);
    expect(output.map((r) => r.id)).toEqual(Array.from({ length: rows }, (_, i) => String(i)));
    type Explained = {
      label: string;
      probabilities: Record<string, number>;
      explanation: {
        output: string;
        baseValue: number;
        prediction: number;
        values: Record<string, number>;
      };
    };
    for (const row of output as unknown as Explained[]) {
      const { output: explained, baseValue, prediction, values } = row.explanation;
      expect(explained).toBe(row.label);
      expect(Object.keys(values)).toEqual(['x1', 'x2', 'colour']);
      expect(Math.abs(prediction - row.probabilities[explained]!)).toBeLessThan(1e-5);
      const sum = baseValue + values.x1! + values.x2! + values.colour!;
      expect(Math.abs(sum - prediction)).toBeLessThan(1e-4);
    }

    // Row 0 through the Service's :explain (the same background rows, by default: 50).
    await client
      .create(latheKinds.inferenceService.resource, {
        apiVersion: 'lathe.dev/v1alpha1',
        kind: 'InferenceService',
        metadata: { name: 'grades', namespace },
        spec: { model: { name: 'grades', version: 1 } },
      })
      .catch((error: { statusCode?: number }) => {
        // The first case created it already.
        if (error.statusCode !== 409) throw error;
      });
    const svc = await eventually(
      async () => {
        const isvc = await client.get<KubeObject>(
          latheKinds.inferenceService.resource,
          namespace,
          'grades',
        );
        expect(JSON.stringify(isvc.status)).toMatch(
          /"type":"Ready","status":"True"|"status":"True","type":"Ready"/,
        );
        return client.get<KubeObject>(builtin.service, namespace, 'grades');
      },
      { what: 'grades served', timeoutMs: 180_000 },
    );
    const [, x1, x2, colour] = table(rows, 13, false).split('\n')[1]!.split(',');
    const response = await fetch(
      `http://${(svc.spec as { clusterIP: string }).clusterIP}/v1/models/grades:explain`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [{ x1: Number(x1), x2: Number(x2), colour }] }),
      },
    );
    expect(response.status).toBe(200);
    const online = (
      (await response.json()) as {
        explanations: {
          outputs: string[];
          baseValue: number[];
          values: Record<string, number[]>;
        }[];
      }
    ).explanations[0]!;
    const offline = (output[0] as unknown as Explained).explanation;
    const k = online.outputs.indexOf(offline.output);
    expect(Math.abs(online.baseValue[k]! - offline.baseValue)).toBeLessThan(1e-5);
    for (const column of ['x1', 'x2', 'colour'])
      expect(Math.abs(online.values[column]![k]! - offline.values[column]!)).toBeLessThan(1e-5);
  }, 300_000);

  it('writes bad records as error rows under the threshold, and fails over it with the count', async () => {
    const good = table(200, 11, false).trim().split('\n');
    const bad = [...good];
    for (const i of [5, 50, 150]) bad[i] = `${i - 1},not-a-number,1.0,red`;
    await store.write(
      info.minio.bucket,
      `sources/${namespace}/bad/rows.csv`,
      `${bad.join('\n')}\n`,
    );
    await batch('tolerant', {
      input: { s3: { key: `sources/${namespace}/bad/rows.csv` } },
      passthroughColumns: ['id'],
      maxFailedRecordsPercent: 5,
      shards: 2,
    });
    await batch('strict', {
      input: { s3: { key: `sources/${namespace}/bad/rows.csv` } },
      passthroughColumns: ['id'],
      maxFailedRecordsPercent: 0,
      shards: 1,
    });
    const tolerant = await finished('tolerant');
    expect(tolerant.phase, JSON.stringify(tolerant.conditions)).toBe('Succeeded');
    expect(tolerant.rows).toEqual({ written: 200, failed: 3 });
    const { rows } = await outputOf(tolerant);
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    const errors = rows.filter((r) => r.error !== undefined);
    expect(errors.map((r) => r.id)).toEqual(['4', '49', '149']);
    expect(String(errors[0]!.error)).toMatch(/x1/);
    const strict = await finished('strict');
    expect(strict.phase).toBe('Failed');
    const complete = strict.conditions?.find((c) => c.type === 'Complete');
    expect(complete).toMatchObject({ status: 'False', reason: 'TooManyFailedRecords' });
    expect(complete?.message).toMatch(/3 of 200/);
  }, 300_000);

  it('records the distribution of its inputs and predictions: low drift unshifted, high shifted', async () => {
    // The training table's x1 is uniform on [-5, 5]; the shifted rows' on [3, 13].
    const unshifted = table(4000, 21, false);
    const shifted = unshifted
      .trim()
      .split('\n')
      .map((line, i) => {
        if (i === 0) return line;
        const [id, x1, x2, colour] = line.split(',');
        return `${id},${(Number(x1) + 8).toFixed(3)},${x2},${colour}`;
      })
      .join('\n');
    await store.write(info.minio.bucket, `sources/${namespace}/drift/same.csv`, unshifted);
    await store.write(info.minio.bucket, `sources/${namespace}/drift/shifted.csv`, `${shifted}\n`);
    await batch('same', {
      input: { s3: { key: `sources/${namespace}/drift/same.csv` } },
      shards: 1,
    });
    const same = await finished('same');
    expect(same.phase, JSON.stringify(same.conditions)).toBe('Succeeded');
    // The shifted run finishes last: the newest evidence of grades-v1 for the policy below.
    await batch('shifted', {
      input: { s3: { key: `sources/${namespace}/drift/shifted.csv` } },
      shards: 2,
    });

    // By hand: every COUNT_STRIDE-th row of the one shard, binned by the training edges.
    const ds = await client.get<KubeObject>(latheKinds.dataset.resource, namespace, 'grades');
    const version = (ds.status as { currentVersion: string }).currentVersion;
    const stats = DatasetStatsSchema.parse(
      JSON.parse(
        (
          await store.read(info.minio.bucket, `datasets/${namespace}/grades/${version}/stats.json`)
        ).toString('utf8'),
      ),
    );
    const x1 = stats.distributions.find((d) => d.name === 'x1');
    if (!x1 || !('numeric' in x1)) throw new Error('stats.json has no numeric x1');
    const counted = unshifted
      .trim()
      .split('\n')
      .slice(1)
      .filter((_, i) => i % COUNT_STRIDE === 0)
      .map((line) => Number(line.split(',')[1]));
    const byHand = new Array(x1.numeric.edges.length + 1).fill(0);
    for (const v of counted) byHand[x1.numeric.edges.filter((e) => v >= e).length]++;
    const { manifest } = await outputOf(same);
    expect(manifest.distribution?.columns.find((c) => c.name === 'x1')).toEqual({
      name: 'x1',
      numeric: { edges: x1.numeric.edges, counts: byHand },
    });
    expect(same.drift).toMatchObject({ metric: 'psi', rows: counted.length });
    expect(same.drift!.value).toBeLessThan(0.1);
    expect(same.predictions).toMatchObject({ rows: counted.length, stride: COUNT_STRIDE });
    const fractions = Object.values(same.predictions!.classes!);
    expect(fractions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);

    const drifted = await finished('shifted');
    expect(drifted.phase, JSON.stringify(drifted.conditions)).toBe('Succeeded');
    expect(drifted.drift).toMatchObject({ metric: 'psi', feature: 'x1' });
    expect(drifted.drift!.value).toBeGreaterThan(1);
    // Larger x1, higher scores: more rows predicted high than in the unshifted run.
    expect(drifted.predictions!.classes!.high!).toBeGreaterThan(same.predictions!.classes!.high!);

    // A RetrainPolicy taking batch runs of its production version as drift evidence (no
    // InferenceService named) reads the shifted run and retrains.
    await client.patch(latheKinds.modelVersion.resource, namespace, 'grades-v1', 'merge', {
      spec: { stage: 'production' },
    });
    await client.create(latheKinds.retrainPolicy.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'RetrainPolicy',
      metadata: { name: 'batch-drift', namespace },
      spec: {
        template: {
          spec: {
            datasetRef: { name: 'grades' },
            model: { builtin: { architecture: 'mlp', layers: [16] } },
            hyperparameters: { epochs: 1 },
            modelName: 'grades',
          },
        },
        triggers: { drift: { source: 'batch', threshold: 0.5, checkInterval: '1m' } },
      },
    });
    try {
      await eventually(
        async () => {
          const policy = await client.get<KubeObject>(
            latheKinds.retrainPolicy.resource,
            namespace,
            'batch-drift',
          );
          expect((policy.status as { lastDrift?: unknown } | undefined)?.lastDrift).toMatchObject({
            batchPrediction: 'shifted',
            modelVersion: 'grades-v1',
            value: drifted.drift!.value,
            feature: 'x1',
            time: drifted.completionTime,
          });
          const runs = await client.list<KubeObject>(latheKinds.trainingJob.resource, {
            namespace,
            labelSelector: `${POLICY_LABEL}=batch-drift`,
          });
          expect(runs.items.map((tj) => tj.metadata?.labels?.['lathe.dev/trigger'])).toEqual([
            'drift',
          ]);
        },
        { what: 'a drift run started from the shifted BatchPrediction', timeoutMs: 90_000 },
      );
    } finally {
      await client.delete(latheKinds.retrainPolicy.resource, namespace, 'batch-drift');
    }
  }, 420_000);

  it('waits for a model or a Dataset that is not there, then runs when the model appears', async () => {
    await batch('no-model', {
      model: { name: 'nobody', version: 1 },
      input: { s3: { key: `sources/${namespace}/bad/rows.csv` } },
      maxFailedRecordsPercent: 100,
    });
    await batch('no-dataset', { input: { datasetRef: { name: 'absent' } } });
    for (const [name, reason] of [
      ['no-model', 'WaitingForModel'],
      ['no-dataset', 'WaitingForDataset'],
    ] as const) {
      await eventually(
        async () => {
          const status = (await getBatch(name)).status;
          expect(status?.phase).toBe('Pending');
          expect(status?.conditions?.find((c) => c.type === 'Reconciling')).toMatchObject({
            status: 'True',
            reason,
          });
        },
        { what: `${name} waiting` },
      );
    }
    // The model appears: a copy of grades-v1 registered by hand as nobody-v1.
    const source = await client.get<KubeObject>(
      latheKinds.modelVersion.resource,
      namespace,
      'grades-v1',
    );
    const spec = source.spec as { artifact: unknown; metrics?: unknown };
    await client.create(latheKinds.modelVersion.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'ModelVersion',
      metadata: { name: 'nobody-v1', namespace },
      spec: { modelName: 'nobody', version: 1, artifact: spec.artifact },
    });
    const status = await finished('no-model');
    expect(status.phase, JSON.stringify(status.conditions)).toBe('Succeeded');
    expect(status.model?.modelVersion).toBe('nobody-v1');
  }, 300_000);

  it('scores a CSV at an HTTP URL in 3 shards with Range requests, as the same file in the store', async () => {
    const rows = 6000;
    const csv = table(rows, 13, false);
    served.set('/rows.csv', Buffer.from(csv));
    await store.write(info.minio.bucket, `sources/${namespace}/http/rows.csv`, csv);
    await client.create(builtin.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'input-token', namespace },
      stringData: { authorization: TOKEN },
    });
    const common = { passthroughColumns: ['id'], parallelism: 3, shards: 3 };
    await batch('over-http', {
      input: {
        http: { url: `${baseUrl}/rows.csv`, headersSecretRef: { name: 'input-token' } },
      },
      ...common,
    });
    await batch('over-s3', {
      input: { s3: { key: `sources/${namespace}/http/rows.csv` } },
      ...common,
    });
    const overHttp = await finished('over-http');
    expect(overHttp.phase, JSON.stringify(overHttp.conditions)).toBe('Succeeded');
    expect(overHttp).toMatchObject({
      shards: { total: 3, succeeded: 3, failed: 0 },
      rows: { written: rows, failed: 0 },
    });
    // The operator never learns the size: only the shards ask the server.
    expect(overHttp.input).toEqual({ objects: 1 });
    const overS3 = await finished('over-s3');
    expect(overS3.phase, JSON.stringify(overS3.conditions)).toBe('Succeeded');
    const fromHttp = await outputOf(overHttp);
    const fromS3 = await outputOf(overS3);
    expect(fromHttp.manifest.parts.map((p) => p.rows)).toEqual(
      fromS3.manifest.parts.map((p) => p.rows),
    );
    expect(fromHttp.manifest.parts.map((p) => p.sha256)).toEqual(
      fromS3.manifest.parts.map((p) => p.sha256),
    );
    expect(fromHttp.rows.map((r) => r.id)).toEqual(
      Array.from({ length: rows }, (_, i) => String(i)),
    );
    // Each shard asked its own range (besides the one byte that tells the size).
    expect(new Set(rangesAsked.filter((r) => r !== 'bytes=0-0' && r !== 'bytes=0-')).size).toBe(2);
  }, 300_000);

  it('writes under a chosen output prefix, below the run’s UID; stalls on one outside the namespace', async () => {
    await store.write(
      info.minio.bucket,
      `sources/${namespace}/prefixed/rows.csv`,
      table(300, 17, false),
    );
    const input = { s3: { key: `sources/${namespace}/prefixed/rows.csv` } };
    await batch('prefixed', { input, output: { prefix: `batch/${namespace}/daily/` }, shards: 2 });
    await batch('elsewhere', { input, output: { prefix: 'batch/another-namespace/' } });
    const status = await finished('prefixed');
    expect(status.phase, JSON.stringify(status.conditions)).toBe('Succeeded');
    const uid = (await getBatch('prefixed')).metadata.uid;
    const prefix = `s3://${info.minio.bucket}/batch/${namespace}/daily/${uid}/`;
    expect(status.output).toEqual({ uri: prefix, manifest: `${prefix}manifest.json` });
    expect((await outputOf(status)).rows).toHaveLength(300);
    await eventually(
      async () => {
        const stalled = (await getBatch('elsewhere')).status;
        expect(stalled?.phase).toBe('Pending');
        expect(stalled?.conditions?.find((c) => c.type === 'Stalled')).toMatchObject({
          status: 'True',
          reason: 'OutputOutsideNamespace',
        });
      },
      { what: 'elsewhere stalled' },
    );
  }, 300_000);
});
