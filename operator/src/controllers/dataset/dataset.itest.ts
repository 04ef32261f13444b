/**
 * The Dataset controller, run in-process by the real manager, on the local cluster: real
 * ingestion Jobs on the process node reading from a real HTTP server, MinIO and PostgreSQL.
 *
 * A version from each source with its statistics in status; unchanged data keeps its version;
 * a failed validation names the rule and the column; a missing source is retried and recovers
 * by itself; MinIO stopped during an ingestion gives StorageUnavailable and recovers when it
 * restarts; a source larger than the ingestion pod's memory limit is ingested; a feedback
 * Dataset waits (SourceNotFound) until its InferenceService has labelled feedback, then gets
 * a version of the labelled rows.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedbackLabelsSchema, SampledRequestSchema } from '../../../../contract/feedback-log.js';
import { feedbackFileKey, feedbackPrefix } from '../../../../contract/object-store-layout.js';
import { restartComponent } from '../../../../e2e/cluster/cluster.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  repoRoot,
} from '../../../../e2e/cluster/testenv.js';
import {
  runtimeImage,
  startTestManager,
  testClient,
  testStore,
} from '../../../../e2e/testing/controllers.js';
import type { DatasetInput } from '../../api/dataset.js';
import { type JobObject, kinds } from '../../runtime/builtin-kinds.js';
import type { Manager } from '../../runtime/manager.js';
import { builtin, type KubeObject } from '../../runtime/resource.js';
import { type DatasetObject, latheKinds } from '../lathe-kinds.js';
import { datasetController } from './reconcile.js';
import { ingestJobName, REFRESH_ANNOTATION } from './runs.js';

const info = clusterInfo();
const { store, access } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager;
let baseUrl: string;
const files = new Map<string, () => AsyncIterable<string> | string>();
let irisCsv: string;

/** An HTTP server on the host address, which pods reach: fixed bodies, streamed generators, 404s. */
const server = http.createServer(async (req, res) => {
  const body = files.get(new URL(req.url ?? '/', 'http://x').pathname);
  if (!body) {
    res.writeHead(404).end('not found\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/csv' });
  const produced = body();
  if (typeof produced === 'string') {
    res.end(produced);
    return;
  }
  for await (const chunk of produced) {
    if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
  }
  res.end();
});

function dataset(name: string, spec: Partial<DatasetInput['spec']>): DatasetInput {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name, namespace },
    spec: {
      source: { http: { url: `${baseUrl}/iris.csv` } },
      schema: { label: 'species' },
      ...spec,
    } as DatasetInput['spec'],
  };
}

const createDataset = (ds: DatasetInput) =>
  client.create(latheKinds.dataset.resource, ds as unknown as KubeObject);
const get = (name: string) =>
  client.get<DatasetObject>(latheKinds.dataset.resource, namespace, name);
const condition = (ds: DatasetObject, type: string) =>
  ds.status?.conditions?.find((c) => c.type === type);

async function readyDataset(name: string, timeoutMs = 120_000): Promise<DatasetObject> {
  return await eventually(
    async () => {
      const ds = await get(name);
      expect(condition(ds, 'Ready'), JSON.stringify(ds.status?.lastIngestion)).toMatchObject({
        status: 'True',
      });
      expect(ds.status?.ingestedGeneration).toBe(ds.metadata.generation);
      return ds;
    },
    { what: `Dataset ${name} Ready`, timeoutMs },
  );
}

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('dataset');
  irisCsv = await readFile(path.join(repoRoot, 'examples/data/iris.csv'), 'utf8');
  files.set('/iris.csv', () => irisCsv);
  await new Promise<void>((resolve) => server.listen(0, info.hostAddress, resolve));
  baseUrl = `http://${info.hostAddress}:${(server.address() as AddressInfo).port}`;
  manager = startTestManager(
    namespace,
    [datasetController({ store, access, image: runtimeImage('ingest') })],
    'dataset-itest',
  );
});

afterAll(async () => {
  await manager?.stop();
  server.close();
  await deleteTestNamespace(namespace);
});

describe('Dataset', () => {
  it('ingests an HTTP source into a version, with statistics and labels in status', async () => {
    await createDataset(dataset('iris', { validation: { minRows: 100 } }));
    const ds = await readyDataset('iris');
    expect(ds.status).toMatchObject({
      rows: 150,
      trainRows: 120,
      testRows: 30,
      labels: { setosa: 50, versicolor: 50, virginica: 50 },
      lastIngestion: { phase: 'Succeeded', trigger: 'SpecChanged' },
    });
    expect(ds.status?.currentVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(ds.status?.versions?.[0]?.version).toBe(ds.status?.currentVersion);
    expect(ds.status?.columns?.find((c) => c.name === 'petal_length')).toMatchObject({
      missing: 0,
      min: 1,
      max: 6.9,
    });
    expect(condition(ds, 'Validated')).toMatchObject({
      status: 'True',
      reason: 'ValidationPassed',
    });
    const keys = await store.list(
      info.minio.bucket,
      `datasets/${namespace}/iris/${ds.status?.currentVersion}/`,
    );
    expect(keys.map((k) => k.split('/').at(-1)).sort()).toEqual(
      expect.arrayContaining([
        'manifest.json',
        'schema.json',
        'stats.json',
        'test.csv',
        'test.raw.jsonl',
        'train.csv',
      ]),
    );
  });

  it('keeps the version of unchanged data when asked to read the source again', async () => {
    const before = await get('iris');
    await client.patch(latheKinds.dataset.resource, namespace, 'iris', 'merge', {
      metadata: { annotations: { [REFRESH_ANNOTATION]: 'again-1' } },
    });
    const after = await eventually(
      async () => {
        const ds = await get('iris');
        expect(ds.status?.lastIngestion).toMatchObject({
          trigger: 'Requested',
          phase: 'Succeeded',
        });
        return ds;
      },
      { what: 'the requested run', timeoutMs: 120_000 },
    );
    expect(after.status?.currentVersion).toBe(before.status?.currentVersion);
    expect(after.status?.versions).toHaveLength(1);
    const events = await client.list<
      KubeObject & { reason?: string; regarding?: { name?: string } }
    >(builtin.event, { namespace });
    expect(
      events.items.some((e) => e.reason === 'VersionUnchanged' && e.regarding?.name === 'iris'),
    ).toBe(true);
  });

  it('gives the same version to the same data from S3 and from PostgreSQL', async () => {
    const db = new pg.Client({ connectionString: info.postgres.uri });
    await db.connect();
    try {
      await db.query(`DROP TABLE IF EXISTS ${namespace.replaceAll('-', '_')}`);
      await db.query(
        `CREATE TABLE ${namespace.replaceAll('-', '_')} (sepal_length float8, sepal_width float8, petal_length float8, petal_width float8, species text)`,
      );
      for (const line of irisCsv.trim().split('\n').slice(1)) {
        const [a, b, c, d, species] = line.split(',');
        await db.query(`INSERT INTO ${namespace.replaceAll('-', '_')} VALUES ($1,$2,$3,$4,$5)`, [
          a,
          b,
          c,
          d,
          species,
        ]);
      }
    } finally {
      await db.end();
    }
    await client.create(builtin.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'warehouse', namespace },
      stringData: { uri: info.postgres.uri },
    });
    await createDataset(
      dataset('iris-s3', {
        source: { s3: { bucket: info.minio.bucket, key: 'shared/examples/iris.csv' } },
      }),
    );
    await createDataset(
      dataset('iris-sql', {
        source: {
          postgres: {
            connectionSecretRef: { name: 'warehouse' },
            query: `SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM ${namespace.replaceAll('-', '_')}`,
          },
        },
        schema: {
          label: 'species',
          columns: [
            { name: 'sepal_length', type: 'number' },
            { name: 'sepal_width', type: 'number' },
            { name: 'petal_length', type: 'number' },
            { name: 'petal_width', type: 'number' },
            { name: 'species', type: 'categorical' },
          ],
        },
      }),
    );
    const [fromHttp, fromS3, fromSql] = [
      await get('iris'),
      await readyDataset('iris-s3'),
      await readyDataset('iris-sql'),
    ];
    expect(fromS3.status?.currentVersion).toBe(fromHttp.status?.currentVersion);
    expect(fromSql.status?.rows).toBe(150);
    expect(fromSql.status?.labels).toEqual({ setosa: 50, versicolor: 50, virginica: 50 });
  });

  it('names the rule and the column of a failed validation, and stalls', async () => {
    await createDataset(
      dataset('iris-strict', { validation: { columns: [{ name: 'petal_length', max: 5 }] } }),
    );
    const ds = await eventually(
      async () => {
        const d = await get('iris-strict');
        expect(condition(d, 'Stalled')).toMatchObject({
          status: 'True',
          reason: 'ValidationFailed',
        });
        return d;
      },
      { what: 'validation failure', timeoutMs: 120_000 },
    );
    expect(condition(ds, 'Validated')).toMatchObject({
      status: 'False',
      reason: 'ValidationFailed',
    });
    expect(condition(ds, 'Validated')?.message).toContain('petal_length');
    expect(condition(ds, 'Validated')?.message).toContain('max');
    expect(ds.status?.currentVersion).toBeUndefined();
  });

  it('retries a missing source with backoff and recovers by itself once it appears', async () => {
    await createDataset(dataset('late', { source: { http: { url: `${baseUrl}/late.csv` } } }));
    const waiting = await eventually(
      async () => {
        const d = await get('late');
        expect(condition(d, 'Reconciling')).toMatchObject({
          status: 'True',
          reason: 'SourceNotFound',
        });
        return d;
      },
      { what: 'SourceNotFound', timeoutMs: 120_000 },
    );
    expect(condition(waiting, 'Reconciling')?.message).toMatch(/404|not found/i);
    expect(waiting.status?.lastIngestion?.nextAttemptTime).toBeDefined();
    files.set('/late.csv', () => irisCsv);
    const ready = await readyDataset('late', 180_000);
    expect(ready.status?.lastIngestion?.trigger).toBe('Retry');
  });

  it('learns from the labelled feedback of an InferenceService once there is some', async () => {
    await createDataset(
      dataset('from-feedback', {
        source: { feedback: { inferenceServiceRef: { name: 'iris' }, since: '24h' } },
      }),
    );
    const waiting = await eventually(
      async () => {
        const d = await get('from-feedback');
        expect(condition(d, 'Reconciling')).toMatchObject({
          status: 'True',
          reason: 'SourceNotFound',
        });
        return d;
      },
      { what: 'SourceNotFound', timeoutMs: 120_000 },
    );
    expect(condition(waiting, 'Reconciling')?.message).toContain(
      `InferenceService ${namespace}/iris has no labelled feedback`,
    );

    // The service's replicas store what the inference server stores: the 150 flowers as
    // sampled requests of one row, and a label for each, the first 100 with their records
    // (the replica that served the request took the label), the rest without.
    const flowers = irisCsv
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => {
        const [a, b, c, d, species] = line.split(',');
        const record = { sepal_length: +a!, sepal_width: +b!, petal_length: +c!, petal_width: +d! };
        return { record, species: species! };
      });
    const prefix = feedbackPrefix(namespace, 'iris');
    const time = new Date(Date.now() - 60_000);
    const rows = (record: Record<string, number>) => ({
      records: [record],
      features: [[0, 0, 0, 0]],
      predictions: [{ label: 'setosa', probabilities: [1, 0, 0] }],
    });
    const requests = flowers.map((f, i) =>
      SampledRequestSchema.parse({
        requestId: `${namespace}-${i}`,
        time: time.toISOString(),
        model: 'iris',
        modelVersion: '1',
        protocol: 'v2',
        ...rows(f.record),
      }),
    );
    const labels = flowers.map((f, i) =>
      FeedbackLabelsSchema.parse({
        requestId: `${namespace}-${i}`,
        time: new Date(time.getTime() + 1000).toISOString(),
        model: 'iris',
        modelVersion: '1',
        labels: [f.species],
        ...(i < 100 ? rows(f.record) : { records: null, features: null, predictions: null }),
      }),
    );
    const jsonLines = (lines: object[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');
    await store.write(
      info.minio.bucket,
      feedbackFileKey(prefix, 'requests', time, 'iris-pod-a', 0),
      jsonLines(requests),
    );
    await store.write(
      info.minio.bucket,
      feedbackFileKey(prefix, 'labels', new Date(time.getTime() + 1000), 'iris-pod-b', 0),
      jsonLines(labels),
    );
    try {
      const ready = await readyDataset('from-feedback', 180_000);
      expect(ready.status).toMatchObject({
        rows: 150,
        labels: { setosa: 50, versicolor: 50, virginica: 50 },
        lastIngestion: { trigger: 'Retry', phase: 'Succeeded' },
      });
      expect(ready.status?.columns?.map((c) => c.name).sort()).toEqual([
        'petal_length',
        'petal_width',
        'sepal_length',
        'sepal_width',
        'species',
      ]);
    } finally {
      await store.removePrefix(info.minio.bucket, prefix);
    }
  });

  it('reports StorageUnavailable while MinIO is down during an ingestion, and recovers', async () => {
    const restarted = restartComponent('minio', 25_000);
    try {
      await createDataset(
        dataset('outage', { source: { http: { url: `${baseUrl}/iris.csv` } }, split: { seed: 3 } }),
      );
      await eventually(
        async () =>
          expect(condition(await get('outage'), 'Reconciling')?.reason).toBe('StorageUnavailable'),
        { what: 'StorageUnavailable', timeoutMs: 90_000 },
      );
    } finally {
      await restarted;
    }
    await readyDataset('outage', 180_000);
  });

  it("ingests a source larger than the ingestion pod's memory limit", async () => {
    const rows = 2_000_000;
    let served = 0;
    files.set('/big.csv', async function* () {
      let chunk = 'a,b,c,d,e,category,label\n';
      for (let i = 0; i < rows; i++) {
        chunk += `${i % 997},${(i * 7919) % 1009},${((i % 13) / 7).toFixed(6)},${((i % 101) * 1.5).toFixed(3)},${(i % 7) - 3.25},c${i % 5},${i % 3 === 0 ? 'yes' : 'no'}\n`;
        if (chunk.length > 64 * 1024) {
          served += chunk.length;
          yield chunk;
          chunk = '';
        }
      }
      served += chunk.length;
      yield chunk;
    });
    await createDataset(
      dataset('big', {
        source: { http: { url: `${baseUrl}/big.csv` } },
        schema: { label: 'label' },
        resources: { memory: '64Mi' },
      }),
    );
    const ds = await readyDataset('big', 300_000);
    expect(ds.status?.rows).toBe(rows);
    // What the pod read is larger than its memory limit (and its heap, three quarters of it).
    expect(served).toBeGreaterThan(64 * 2 ** 20);
  });

  it('shows Ready=False with ChildConflict while a Job name is taken by an object Lathe does not manage', async () => {
    files.set('/conflict.csv', () => irisCsv);
    await createDataset(
      dataset('conflict', { source: { http: { url: `${baseUrl}/conflict.csv` } } }),
    );
    const ready = await readyDataset('conflict');
    // The Job the next requested run will be, made by someone else: no managed-by label.
    const request = 'conflict-1';
    const jobName = ingestJobName('conflict', ready.metadata.generation ?? 0, 'Requested', request);
    await client.create(kinds.job.resource, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: jobName, namespace },
      spec: {
        suspend: true,
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [{ name: 'impostor', image: 'busybox', command: ['true'] }],
          },
        },
      },
    } satisfies JobObject);
    await annotate('conflict', request);
    const conflicted = await eventually(
      async () => {
        const ds = await get('conflict');
        expect(condition(ds, 'Ready')).toMatchObject({ status: 'False', reason: 'ChildConflict' });
        expect(condition(ds, 'Reconciling')).toMatchObject({
          status: 'True',
          reason: 'ChildConflict',
        });
        return ds;
      },
      { what: 'Ready=False ChildConflict', timeoutMs: 60_000 },
    );
    expect(condition(conflicted, 'Ready')?.message).toContain(`Job ${namespace}/${jobName}`);
    // The data did not go anywhere; only the controller cannot do what it was asked.
    expect(conflicted.status?.currentVersion).toBe(ready.status?.currentVersion);

    await client.delete(kinds.job.resource, namespace, jobName, {
      propagationPolicy: 'Background',
    });
    const recovered = await eventually(
      async () => {
        const ds = await readyDataset('conflict', 5_000);
        expect(ds.status?.lastIngestion).toMatchObject({
          jobName,
          trigger: 'Requested',
          phase: 'Succeeded',
        });
        return ds;
      },
      { what: 'recovery after the impostor is gone', timeoutMs: 120_000 },
    );
    expect(condition(recovered, 'Reconciling')).toBeUndefined();
    const job = await client.get<JobObject>(kinds.job.resource, namespace, jobName);
    expect(job.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('lathe');
  });

  describe('a Dataset with a history of versions', () => {
    const name = 'history';
    const prefix = () => `datasets/${namespace}/${name}/`;
    const lines = () => irisCsv.trim().split('\n');
    /** Iris without its last `n` rows: another version. */
    const irisWithout = (n: number) =>
      `${lines()
        .slice(0, lines().length - n)
        .join('\n')}\n`;
    const storedVersions = async () =>
      [
        ...new Set(
          (await store.list(info.minio.bucket, prefix())).map((k) => k.split('/').at(-2) ?? ''),
        ),
      ].sort();
    const jobNames = async () =>
      (
        await client.list<JobObject>(kinds.job.resource, {
          namespace,
          labelSelector: `lathe.dev/dataset=${name}`,
        })
      ).items
        .map((j) => j.metadata?.name ?? '')
        .sort();

    /** Serves other data, asks for a refresh, and waits for the version it makes. */
    async function newVersion(rowsLess: number, request: string): Promise<DatasetObject> {
      const before = (await get(name)).status?.currentVersion;
      files.set('/history.csv', () => irisWithout(rowsLess));
      await annotate(name, request);
      return await eventually(
        async () => {
          const ds = await readyDataset(name, 5_000);
          expect(ds.status?.lastIngestion).toMatchObject({
            trigger: 'Requested',
            phase: 'Succeeded',
          });
          expect(ds.status?.currentVersion).not.toBe(before);
          expect(ds.status?.rows).toBe(150 - rowsLess);
          return ds;
        },
        { what: `the version of ${150 - rowsLess} rows`, timeoutMs: 120_000 },
      );
    }

    let first: string;
    let second: string;

    it('rebuilds a wiped status the same, from the Jobs and the store, starting nothing and deleting nothing', async () => {
      files.set('/history.csv', () => irisCsv);
      await createDataset(
        dataset(name, {
          source: { http: { url: `${baseUrl}/history.csv` } },
          versionHistoryLimit: 2,
        }),
      );
      first = (await readyDataset(name)).status?.currentVersion ?? '';
      const before = await newVersion(10, 'two');
      second = before.status?.currentVersion ?? '';
      expect(before.status?.versions?.map((v) => v.version)).toEqual([second, first]);
      expect(before.status?.versions?.map((v) => v.rows)).toEqual([140, 150]);
      const jobsBefore = await jobNames();
      const keysBefore = (await store.list(info.minio.bucket, prefix())).sort();
      expect(await storedVersions()).toEqual([first, second].sort());

      const wiped = await client.patch<DatasetObject>(
        latheKinds.dataset.resource,
        namespace,
        name,
        'merge',
        { status: null },
        { subresource: 'status' },
      );
      expect(wiped.status?.currentVersion).toBeUndefined();
      const { conditions: _, ...fields } = before.status ?? {};
      const rebuilt = await eventually(
        async () => {
          const ds = await get(name);
          const { conditions: __, ...now } = ds.status ?? {};
          expect(now).toEqual(fields);
          expect(condition(ds, 'Ready')).toMatchObject({
            status: 'True',
            reason: 'VersionAvailable',
          });
          expect(condition(ds, 'Validated')?.status).toBe('True');
          return ds;
        },
        { what: 'the status rebuilt', timeoutMs: 60_000 },
      );
      expect(rebuilt.status?.currentVersion).toBe(second);
      expect(await jobNames()).toEqual(jobsBefore);
      expect((await store.list(info.minio.bucket, prefix())).sort()).toEqual(keysBefore);
    });

    it('deletes the versions beyond versionHistoryLimit from the store, oldest first, except one a TrainingJob pins', async () => {
      await client.create(latheKinds.trainingJob.resource, {
        apiVersion: 'lathe.dev/v1alpha1',
        kind: 'TrainingJob',
        metadata: { name: 'pins-first', namespace },
        spec: {
          datasetRef: { name, version: first },
          model: { builtin: { architecture: 'linear', backend: 'tensorflow' } },
          modelName: 'history',
        },
      });
      const third = (await newVersion(20, 'three')).status?.currentVersion ?? '';
      const afterThird = await get(name);
      expect(afterThird.status?.versions?.map((v) => v.version)).toEqual([third, second]);
      expect(await storedVersions()).toEqual([first, second, third].sort());

      const fourth = await newVersion(30, 'four');
      const latest = fourth.status?.currentVersion ?? '';
      expect(fourth.status?.versions?.map((v) => v.version)).toEqual([latest, third]);
      await eventually(
        async () => expect(await storedVersions()).toEqual([first, third, latest].sort()),
        { what: `version ${second} deleted, ${first} kept`, timeoutMs: 30_000 },
      );
    });
  });
});

/** Sets the refresh annotation: the next run reads the source again. */
async function annotate(name: string, request: string): Promise<void> {
  await client.patch(latheKinds.dataset.resource, namespace, name, 'merge', {
    metadata: { annotations: { [REFRESH_ANNOTATION]: request } },
  });
}
