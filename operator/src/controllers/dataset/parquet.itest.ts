/**
 * Parquet Datasets, run by the real Dataset controller on the local cluster (ingestion Jobs on
 * the process node): the iris table as Parquet over HTTP, as one MinIO object and as a prefix
 * of objects gets the very version the same table as CSV gets; a corrupt file and a nested
 * column the Dataset uses stall it with a message that says what is wrong, and a Dataset whose
 * source turns bad keeps the version it had. A Parquet URL passes the HTTP source's address
 * guard like any other.
 *
 * The Parquet files are written here from examples/data/iris.csv with hyparquet-writer; the
 * example examples/dataset-diabetes-parquet.yaml (pyarrow's file) gets the version of its CSV.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
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
import type { Manager } from '../../runtime/manager.js';
import type { KubeObject } from '../../runtime/resource.js';
import { type DatasetObject, latheKinds } from '../lathe-kinds.js';
import { datasetController } from './reconcile.js';
import { REFRESH_ANNOTATION } from './runs.js';

const info = clusterInfo();
const { store, access } = testStore();
const client = testClient();
const bucket = info.minio.bucket;
let namespace: string;
let manager: Manager;
let baseUrl: string;
const files = new Map<string, Buffer | string>();
let irisCsv: string;
let irisRows: string[][];

/** An HTTP server on the host address, which pods reach. */
const server = http.createServer((req, res) => {
  const body = files.get(new URL(req.url ?? '/', 'http://x').pathname);
  if (body === undefined) res.writeHead(404).end('not found\n');
  else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
});

/** Rows [from, to) of iris as Parquet: four DOUBLE columns and a STRING, `rowGroupSize` rows a group. */
function irisParquet(from: number, to: number, rowGroupSize = 40): Buffer {
  const rows = irisRows.slice(from, to);
  const numeric = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
  const columnData = [
    ...numeric.map((name, j) => ({
      name,
      data: rows.map((r) => Number(r[j])),
      type: 'DOUBLE' as const,
    })),
    { name: 'species', data: rows.map((r) => r[4]!), type: 'STRING' as const },
  ];
  return Buffer.from(parquetWriteBuffer({ columnData, rowGroupSize }));
}

/** iris with a LIST column `tags` (a three-level list of strings) beside the flat ones. */
function irisWithTags(): Buffer {
  const columnData = [
    { name: 'petal_length', data: irisRows.map((r) => Number(r[2])) },
    { name: 'tags', data: irisRows.map((r) => [r[4]!.slice(0, 3)]) },
    { name: 'species', data: irisRows.map((r) => r[4]!) },
  ];
  const schema = [
    { name: 'root', num_children: 3 },
    { name: 'petal_length', type: 'DOUBLE' as const, repetition_type: 'REQUIRED' as const },
    {
      name: 'tags',
      repetition_type: 'OPTIONAL' as const,
      converted_type: 'LIST' as const,
      num_children: 1,
    },
    { name: 'list', repetition_type: 'REPEATED' as const, num_children: 1 },
    {
      name: 'element',
      type: 'BYTE_ARRAY' as const,
      converted_type: 'UTF8' as const,
      repetition_type: 'OPTIONAL' as const,
    },
    {
      name: 'species',
      type: 'BYTE_ARRAY' as const,
      converted_type: 'UTF8' as const,
      repetition_type: 'REQUIRED' as const,
    },
  ];
  return Buffer.from(parquetWriteBuffer({ columnData, schema }));
}

function dataset(name: string, spec: Partial<DatasetInput['spec']>): DatasetInput {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name, namespace },
    spec: { format: 'parquet', schema: { label: 'species' }, ...spec } as DatasetInput['spec'],
  };
}

const createDataset = (ds: DatasetInput) =>
  client.create(latheKinds.dataset.resource, ds as unknown as KubeObject);
const get = (name: string) =>
  client.get<DatasetObject>(latheKinds.dataset.resource, namespace, name);
const condition = (ds: DatasetObject, type: string) =>
  ds.status?.conditions?.find((c) => c.type === type);

async function readyDataset(name: string): Promise<DatasetObject> {
  return await eventually(
    async () => {
      const ds = await get(name);
      expect(condition(ds, 'Ready'), JSON.stringify(ds.status?.lastIngestion)).toMatchObject({
        status: 'True',
      });
      expect(ds.status?.ingestedGeneration).toBe(ds.metadata.generation);
      return ds;
    },
    { what: `Dataset ${name} Ready`, timeoutMs: 120_000 },
  );
}

async function stalledDataset(name: string, reason: string): Promise<DatasetObject> {
  return await eventually(
    async () => {
      const ds = await get(name);
      expect(condition(ds, 'Stalled')).toMatchObject({ status: 'True', reason });
      return ds;
    },
    { what: `Dataset ${name} Stalled with ${reason}`, timeoutMs: 120_000 },
  );
}

const sources = () => `sources/${namespace}/parquet`;

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('parquet');
  irisCsv = await readFile(path.join(repoRoot, 'examples/data/iris.csv'), 'utf8');
  irisRows = irisCsv
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  files.set('/iris.csv', irisCsv);
  files.set('/iris.parquet', irisParquet(0, 150));
  await store.write(bucket, `${sources()}/iris.parquet`, irisParquet(0, 150, 150));
  await store.write(bucket, `${sources()}/parts/_SUCCESS`, '');
  await store.write(bucket, `${sources()}/parts/part-0.parquet`, irisParquet(0, 70));
  await store.write(bucket, `${sources()}/parts/part-1.parquet`, irisParquet(70, 150, 25));
  const corrupt = irisParquet(0, 150);
  await store.write(
    bucket,
    `${sources()}/corrupt.parquet`,
    corrupt.subarray(0, corrupt.length - 9),
  );
  await store.write(bucket, `${sources()}/tags.parquet`, irisWithTags());
  await new Promise<void>((resolve) => server.listen(0, info.hostAddress, resolve));
  baseUrl = `http://${info.hostAddress}:${(server.address() as AddressInfo).port}`;
  manager = startTestManager(
    namespace,
    [datasetController({ store, access, image: runtimeImage('ingest') })],
    'parquet-itest',
  );
});

afterAll(async () => {
  await manager?.stop();
  server.close();
  await store.removePrefix(bucket, `${sources()}/`);
  await deleteTestNamespace(namespace);
});

describe('a Parquet Dataset', () => {
  it('gets the version of the same table as CSV, over HTTP and from an S3 object and prefix', async () => {
    await createDataset(
      dataset('csv', { format: 'csv', source: { http: { url: `${baseUrl}/iris.csv` } } }),
    );
    await createDataset(dataset('http', { source: { http: { url: `${baseUrl}/iris.parquet` } } }));
    await createDataset(
      dataset('object', { source: { s3: { bucket, key: `${sources()}/iris.parquet` } } }),
    );
    await createDataset(
      dataset('prefix', { source: { s3: { bucket, prefix: `${sources()}/parts/` } } }),
    );
    const fromCsv = await readyDataset('csv');
    expect(fromCsv.status).toMatchObject({ rows: 150, trainRows: 120, testRows: 30 });
    for (const name of ['http', 'object', 'prefix']) {
      const ds = await readyDataset(name);
      expect(ds.status?.currentVersion, name).toBe(fromCsv.status?.currentVersion);
      expect(ds.status?.labels).toEqual({ setosa: 50, versicolor: 50, virginica: 50 });
    }
  });

  it('reads the example diabetes.parquet into the version of diabetes.csv', async () => {
    for (const file of ['dataset-diabetes.yaml', 'dataset-diabetes-parquet.yaml']) {
      const example = parse(
        await readFile(path.join(repoRoot, 'examples', file), 'utf8'),
      ) as DatasetInput;
      await createDataset({ ...example, metadata: { ...example.metadata, namespace } });
    }
    const fromCsv = await readyDataset('diabetes');
    const fromParquet = await readyDataset('diabetes-parquet');
    expect(fromParquet.status?.rows).toBe(442);
    expect(fromParquet.status?.currentVersion).toBe(fromCsv.status?.currentVersion);
  });

  it("goes through the HTTP source's address guard", async () => {
    await createDataset(
      dataset('metadata', { source: { http: { url: 'http://169.254.169.254/x.parquet' } } }),
    );
    const ds = await stalledDataset('metadata', 'SourceAddressRefused');
    expect(condition(ds, 'Stalled')?.message).toContain('169.254.169.254 is refused (link-local)');
  });

  it('stalls on a corrupt file, saying so', async () => {
    await createDataset(
      dataset('corrupt', { source: { s3: { bucket, key: `${sources()}/corrupt.parquet` } } }),
    );
    const ds = await stalledDataset('corrupt', 'InvalidData');
    expect(condition(ds, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidData' });
    expect(condition(ds, 'Stalled')?.message).toContain(
      `s3://${bucket}/${sources()}/corrupt.parquet is not a readable Parquet file`,
    );
    expect(ds.status?.currentVersion).toBeUndefined();
  });

  it('names a nested column it would use, and reads the file once the column is dropped', async () => {
    const source = { s3: { bucket, key: `${sources()}/tags.parquet` } };
    await createDataset(dataset('tags', { source }));
    const stalled = await stalledDataset('tags', 'InvalidData');
    expect(condition(stalled, 'Stalled')?.message).toContain(
      'column tags is a nested column (LIST)',
    );
    await client.patch(latheKinds.dataset.resource, namespace, 'tags', 'merge', {
      spec: { preparation: { drop: ['tags'] } },
    });
    const ready = await readyDataset('tags');
    expect(ready.status?.columns?.map((c) => c.name)).toEqual(['petal_length', 'species']);
  });

  it('keeps its version when its source turns bad', async () => {
    const key = `${sources()}/changing.parquet`;
    await store.write(bucket, key, irisParquet(0, 150));
    await createDataset(dataset('changing', { source: { s3: { bucket, key } } }));
    const before = await readyDataset('changing');
    const version = before.status?.currentVersion;
    await store.write(bucket, key, Buffer.from('not parquet at all'));
    await client.patch(latheKinds.dataset.resource, namespace, 'changing', 'merge', {
      metadata: { annotations: { [REFRESH_ANNOTATION]: 'after-corruption' } },
    });
    const after = await eventually(
      async () => {
        const ds = await get('changing');
        expect(ds.status?.lastIngestion).toMatchObject({ trigger: 'Requested', phase: 'Failed' });
        return ds;
      },
      { what: 'the failed run', timeoutMs: 120_000 },
    );
    expect(JSON.stringify(after.status?.conditions)).toContain('is not a readable Parquet file');
    expect(after.status?.currentVersion).toBe(version);
    const kept = await store.list(bucket, `datasets/${namespace}/changing/${version}/`);
    expect(kept.map((k) => k.split('/').at(-1))).toContain('manifest.json');
  });
});
