/**
 * The ingestion program as a real child process, against the local cluster's MinIO and
 * PostgreSQL and a real HTTP server in this process: every source, both formats, unchanged
 * data keeping its version, failed validation, and each failure reason.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DatasetStatsSchema } from '../../contract/dataset-stats.js';
import { sha256Digest, verifyArtifact } from '../../contract/manifest.js';
import { ObjectStore } from '../../contract/object-store.js';
import { datasetVersionPrefix, s3Uri } from '../../contract/object-store-layout.js';
import {
  encodeLabel,
  PreparedSchemaSchema,
  preparedLine,
  prepareTestRawRecord,
} from '../../contract/prepared-data.js';
import { clusterInfo, repoRoot } from '../../e2e/cluster/testenv.js';
import type { DatasetInput } from '../../operator/src/api/dataset.js';
import { type IngestRun, type RunOptions, runIngestProgram } from './child-process.js';

const iris = () => readFile(path.join(repoRoot, 'examples/data/iris.csv'), 'utf8');

function runIngest(spec: DatasetInput['spec'], options: Omit<RunOptions, 'store'> = {}) {
  return runIngestProgram(spec, { ...options, store: clusterInfo().minio });
}

function succeeded(run: IngestRun) {
  if (run.result.outcome !== 'succeeded') {
    throw new Error(`ingestion failed: ${JSON.stringify(run.result)}\n${run.output}`);
  }
  expect(run.code).toBe(0);
  return run.result;
}

function failed(run: IngestRun) {
  if (run.result.outcome !== 'failed')
    throw new Error(`expected a failure: ${JSON.stringify(run.result)}`);
  return run.result;
}

/** A local HTTP server: fixed bodies by path, one that wants a bearer token, and 404s. */
function startServer(files: Record<string, () => Promise<string> | string>) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/private.csv' && req.headers.authorization !== 'Bearer letmein') {
      res.writeHead(401).end('unauthorized\n');
      return;
    }
    const file = files[url.pathname];
    if (!file) {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv' }).end(await file());
  });
  return {
    server,
    url: async (p: string) => {
      // Not loopback: the program refuses it (address-policy.ts). Pods reach this address too.
      const host = clusterInfo().hostAddress;
      if (!server.listening) await new Promise<void>((r) => server.listen(0, host, r));
      return `http://${host}:${(server.address() as AddressInfo).port}${p}`;
    },
  };
}

describe('the ingestion program', () => {
  const { minio, postgres } = clusterInfo();
  const store = new ObjectStore(minio);
  const namespace = `itest-${randomBytes(3).toString('hex')}`;
  const { server, url } = startServer({
    '/iris.csv': iris,
    '/private.csv': iris,
    '/iris.jsonl': async () =>
      (await iris())
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => {
          const [a, b, c, d, species] = l.split(',');
          return JSON.stringify({
            sepal_length: +a!,
            sepal_width: +b!,
            petal_length: +c!,
            petal_width: +d!,
            species,
          });
        })
        .join('\n'),
  });
  const db = new pg.Client({ connectionString: postgres.uri });
  const table = `flowers_${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    await db.connect();
    await db.query(
      `CREATE TABLE ${table} (id serial PRIMARY KEY, sepal_length numeric, sepal_width float8, petal_length real, petal_width numeric, species text)`,
    );
    const rows = (await iris())
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    for (const r of rows) {
      await db.query(
        `INSERT INTO ${table} (sepal_length, sepal_width, petal_length, petal_width, species) VALUES ($1,$2,$3,$4,$5)`,
        r,
      );
    }
  });
  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await db.end();
    server.close();
    await store.removePrefix(minio.bucket, `datasets/${namespace}/`);
  });

  it('ingests CSV over HTTP into a verifiable version, and keeps the version for unchanged data', async () => {
    const spec = {
      source: { http: { url: await url('/iris.csv') } },
      schema: { label: 'species' },
      validation: {
        minRows: 100,
        columns: [{ name: 'species', allowedValues: ['setosa', 'versicolor', 'virginica'] }],
      },
    };
    const first = succeeded(await runIngest(spec, { namespace, name: 'iris' }));
    expect(first).toMatchObject({ rows: 150, trainRows: 120, testRows: 30, reused: false });
    expect(first.version).toMatch(/^[0-9a-f]{16}$/);

    const prefix = datasetVersionPrefix(namespace, 'iris', first.version);
    const manifest = await store.read(minio.bucket, `${prefix}manifest.json`);
    const verified = await verifyArtifact(store, {
      uri: s3Uri(minio.bucket, prefix),
      digest: sha256Digest(manifest),
    });
    expect(verified).toMatchObject({ verified: true, files: 6 });
    const schema = PreparedSchemaSchema.parse(
      JSON.parse((await store.read(minio.bucket, `${prefix}schema.json`)).toString()),
    );
    expect(schema.label.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    // The raw test split: the test rows as read, line for line with test.csv.
    const testCsv = (await store.read(minio.bucket, `${prefix}test.csv`)).toString();
    const testRaw = (await store.read(minio.bucket, `${prefix}test.raw.jsonl`)).toString();
    const raw = testRaw
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const prepared = testCsv.trim().split('\n').slice(1);
    expect(raw).toHaveLength(30);
    expect(prepared).toHaveLength(30);
    // The source's rows, numbers as numbers ("3.0" is 3).
    const irisRows = new Set(
      (await iris())
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => JSON.stringify(l.split(',').map((c, j) => (j < 4 ? Number(c) : c)))),
    );
    for (const [i, row] of raw.entries()) {
      expect(Object.keys(row)).toEqual([
        'sepal_length',
        'sepal_width',
        'petal_length',
        'petal_width',
        'species',
      ]);
      const values = Object.values(row);
      expect(values.slice(0, 4).every((v) => typeof v === 'number')).toBe(true);
      expect(irisRows.has(JSON.stringify(values))).toBe(true);
      expect(
        preparedLine(prepareTestRawRecord(schema, row), encodeLabel(schema, row.species)),
      ).toBe(prepared[i]);
    }
    const stats = DatasetStatsSchema.parse(
      JSON.parse((await store.read(minio.bucket, `${prefix}stats.json`)).toString()),
    );
    expect(stats.labels).toEqual({ setosa: 50, versicolor: 50, virginica: 50 });
    expect(stats.distributions).toHaveLength(4);

    const again = succeeded(await runIngest(spec, { namespace, name: 'iris' }));
    expect(again).toMatchObject({ version: first.version, reused: true });
    // Another Dataset with the same data and preparation gets the same version.
    const twin = succeeded(await runIngest(spec, { namespace, name: 'iris-twin' }));
    expect(twin).toMatchObject({ version: first.version, reused: false });
  });

  it('ingests JSON Lines over HTTP, sending the headers of the mounted Secret', async () => {
    const jsonl = succeeded(
      await runIngest(
        {
          source: { http: { url: await url('/iris.jsonl') } },
          format: 'jsonl',
          schema: { label: 'species' },
        },
        { namespace },
      ),
    );
    expect(jsonl.rows).toBe(150);

    const spec = {
      source: { http: { url: await url('/private.csv'), headersSecretRef: { name: 'h' } } },
      schema: { label: 'species' },
    };
    const refused = failed(await runIngest(spec, { namespace }));
    expect(refused.reason).toBe('SourceUnauthorized');
    expect(refused.message).toContain('401');
    const headers = await mkdtemp(path.join(os.tmpdir(), 'lathe-headers-'));
    try {
      await writeFile(path.join(headers, 'Authorization'), 'Bearer letmein\n');
      const run = await runIngest(spec, {
        namespace,
        env: { LATHE_SOURCE_HTTP_HEADERS_DIR: headers },
      });
      expect(succeeded(run).rows).toBe(150);
      expect(run.output).not.toContain('letmein');
    } finally {
      await rm(headers, { recursive: true, force: true });
    }
  });

  it.each([
    ['dataset-iris.yaml', 'classification', 150],
    ['dataset-diabetes.yaml', 'regression', 442],
  ])('ingests examples/%s as is, from the copy cluster:up uploaded', async (file, task, rows) => {
    const manifest = parse(await readFile(path.join(repoRoot, 'examples', file), 'utf8'));
    const run = succeeded(
      await runIngest(manifest.spec, { namespace, name: manifest.metadata.name }),
    );
    expect(run.rows).toBe(rows);
    const prefix = datasetVersionPrefix(namespace, manifest.metadata.name, run.version);
    const schema = PreparedSchemaSchema.parse(
      JSON.parse((await store.read(minio.bucket, `${prefix}schema.json`)).toString()),
    );
    expect(schema.task).toBe(task);
  });

  it('reports a 404 as SourceNotFound, and exits 1', async () => {
    const run = await runIngest(
      { source: { http: { url: await url('/nothing.csv') } }, schema: { label: 'y' } },
      { namespace },
    );
    expect(failed(run)).toMatchObject({ reason: 'SourceNotFound' });
    expect(failed(run).message).toContain('404');
    expect(run.code).toBe(1);
  });

  it('reads an S3 object and every object under a prefix, in key order', async () => {
    const base = `sources/${namespace}/itest/`;
    const text = await iris();
    const [header, ...rows] = text.trim().split('\n');
    await store.write(minio.bucket, `${base}whole/iris.csv`, text);
    await store.write(
      minio.bucket,
      `${base}parts/part-0.csv`,
      `${header}\n${rows.slice(0, 75).join('\n')}\n`,
    );
    await store.write(
      minio.bucket,
      `${base}parts/part-1.csv`,
      `${header}\n${rows.slice(75).join('\n')}\n`,
    );
    try {
      const whole = succeeded(
        await runIngest(
          {
            source: { s3: { bucket: minio.bucket, key: `${base}whole/iris.csv` } },
            schema: { label: 'species' },
          },
          { namespace },
        ),
      );
      const parts = succeeded(
        await runIngest(
          {
            source: { s3: { bucket: minio.bucket, prefix: `${base}parts/` } },
            schema: { label: 'species' },
          },
          { namespace },
        ),
      );
      expect(parts.rows).toBe(150);
      // The same rows in the same order: the same version.
      expect(parts.version).toBe(whole.version);

      const missing = failed(
        await runIngest(
          {
            source: { s3: { bucket: minio.bucket, key: `${base}nope.csv` } },
            schema: { label: 'y' },
          },
          { namespace },
        ),
      );
      expect(missing.reason).toBe('SourceNotFound');
      const denied = await runIngest(
        {
          source: {
            s3: {
              bucket: minio.bucket,
              key: `${base}whole/iris.csv`,
              credentialsSecretRef: { name: 's' },
            },
          },
          schema: { label: 'y' },
        },
        {
          namespace,
          env: {
            LATHE_SOURCE_S3_ACCESS_KEY: 'not-a-user',
            LATHE_SOURCE_S3_SECRET_KEY: 'wrong-secret-key-42',
          },
        },
      );
      expect(failed(denied).reason).toBe('SourceUnauthorized');
      expect(denied.output + failed(denied).message).not.toContain('wrong-secret-key-42');
    } finally {
      await store.removePrefix(minio.bucket, base);
    }
  });

  it('runs a PostgreSQL query read-only, and names each failure', async () => {
    const ref = { name: 'pg' };
    const query = `SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM ${table} ORDER BY id`;
    const env = { LATHE_SOURCE_POSTGRES_URI: postgres.uri };
    const ok = succeeded(
      await runIngest(
        { source: { postgres: { connectionSecretRef: ref, query } }, schema: { label: 'species' } },
        { namespace, env },
      ),
    );
    expect(ok).toMatchObject({ rows: 150, trainRows: 120 });

    const cases: [string, Record<string, string>, string, string][] = [
      [
        query,
        {
          LATHE_SOURCE_POSTGRES_URI: postgres.uri.replace(
            `:${encodeURIComponent(postgres.password)}@`,
            ':bad-password-123@',
          ),
        },
        'SourceUnauthorized',
        'password authentication failed',
      ],
      ['SELEC 1', env, 'QueryFailed', 'syntax error'],
      ['SELECT * FROM no_such_table', env, 'SourceNotFound', 'does not exist'],
      [`DELETE FROM ${table} RETURNING species`, env, 'QueryFailed', 'read-only transaction'],
    ];
    for (const [q, e, reason, message] of cases) {
      const run = await runIngest(
        {
          source: { postgres: { connectionSecretRef: ref, query: q } },
          schema: { label: 'species' },
        },
        { namespace, env: e },
      );
      expect(failed(run)).toMatchObject({ reason });
      expect(failed(run).message).toContain(message);
      expect(run.output + failed(run).message).not.toContain(postgres.password);
      expect(run.output).not.toContain('bad-password-123');
    }
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(rows[0].n).toBe(150);
  });

  it('fails validation naming the rule, the column and the value, and uploads nothing', async () => {
    const run = await runIngest(
      {
        source: { http: { url: await url('/iris.csv') } },
        schema: { label: 'species' },
        validation: { columns: [{ name: 'petal_length', max: 5 }] },
      },
      { namespace, name: 'invalid' },
    );
    expect(failed(run)).toMatchObject({
      reason: 'ValidationFailed',
      rule: 'max',
      column: 'petal_length',
      observed: '6.9',
    });
    expect(run.code).toBe(1);
    expect(await store.list(minio.bucket, `datasets/${namespace}/invalid/`)).toEqual([]);
  });

  it('reports an unreachable object store as StorageUnavailable, and exits 75 to be retried', async () => {
    const run = await runIngest(
      { source: { http: { url: await url('/iris.csv') } }, schema: { label: 'species' } },
      { namespace, env: { LATHE_OBJECT_STORE_ENDPOINT: 'http://127.0.0.1:1' } },
    );
    expect(failed(run).reason).toBe('StorageUnavailable');
    expect(failed(run).message).toContain('ECONNREFUSED');
    expect(run.code).toBe(75);
  });
});
