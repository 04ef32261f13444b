/**
 * The ingestion image as the operator will run it: a Job on the local cluster's process node,
 * credentials from Secrets (secretKeyRef for the object store and PostgreSQL, a Secret volume
 * for HTTP headers), an emptyDir as scratch, and the result read from the pod's termination
 * message. The exit codes meet a real Job controller: a failing query fails the Job at once
 * through a podFailurePolicy. A feedback Dataset runs in the very Job the Dataset controller
 * builds (`desiredIngestJob`), showing that it needs nothing beyond the object store's access.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedbackLabelsSchema } from '../../contract/feedback-log.js';
import { ObjectStore } from '../../contract/object-store.js';
import { feedbackFileKey, feedbackPrefix } from '../../contract/object-store-layout.js';
import { type IngestResult, parseResult } from '../../contract/results.js';
import { IngestEnv, ObjectStoreEnv } from '../../contract/runtime-env.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  kubeConfig,
  kubectl,
} from '../../e2e/cluster/testenv.js';
import { scopedCredentialsSecret } from '../../e2e/testing/controllers.js';
import { type DatasetInput, DatasetSpecSchema } from '../../operator/src/api/dataset.js';
import { desiredIngestJob } from '../../operator/src/controllers/dataset/desired.js';
import { type DatasetObject, latheKinds } from '../../operator/src/controllers/lathe-kinds.js';
import {
  CredentialRole,
  grants,
} from '../../operator/src/controllers/shared/object-store-access.js';
import { controllerReference } from '../../operator/src/runtime/apply.js';

let namespace: string;
let core: k8s.CoreV1Api;
let batch: k8s.BatchV1Api;
const { minio, postgres } = clusterInfo();
const table = `pod_rows_${Date.now().toString(36)}`;
const server = http.createServer((req, res) => {
  if (req.headers.authorization !== 'Bearer pod-token') res.writeHead(401).end();
  else res.writeHead(200).end('x,y\n1,a\n2,b\n3,a\n4,b\n5,a\n');
});

async function apply(object: unknown): Promise<void> {
  const result = await kubectl(['apply', '-n', namespace, '-f', '-'], {
    input: JSON.stringify(object),
  });
  if (result.code !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
}

const fromSecret = (name: string, secret: string, key: string) => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key } },
});

/** The Job the Dataset controller would make for `spec`. */
function ingestionJob(name: string, spec: DatasetInput['spec']) {
  const source = DatasetSpecSchema.parse(spec).source;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      backoffLimit: 3,
      podFailurePolicy: {
        rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [1, 2] } }],
      },
      template: {
        spec: {
          restartPolicy: 'Never',
          volumes: [
            { name: 'work', emptyDir: {} },
            ...(source.http ? [{ name: 'headers', secret: { secretName: 'headers' } }] : []),
          ],
          containers: [
            {
              name: 'ingest',
              image: 'ghcr.io/lathe-dev/lathe-ingest:0.1.0',
              env: [
                { name: IngestEnv.namespace, value: namespace },
                { name: IngestEnv.name, value: name },
                { name: IngestEnv.spec, value: JSON.stringify(DatasetSpecSchema.parse(spec)) },
                { name: IngestEnv.workDir, value: '/work' },
                { name: ObjectStoreEnv.endpoint, value: minio.endpoint },
                fromSecret(ObjectStoreEnv.accessKey, 'store', 'accessKey'),
                fromSecret(ObjectStoreEnv.secretKey, 'store', 'secretKey'),
                ...(source.postgres ? [fromSecret(IngestEnv.postgresUri, 'pg', 'uri')] : []),
                ...(source.http ? [{ name: IngestEnv.httpHeadersDir, value: '/headers' }] : []),
              ],
              volumeMounts: [
                { name: 'work', mountPath: '/work' },
                ...(source.http
                  ? [{ name: 'headers', mountPath: '/headers', readOnly: true }]
                  : []),
              ],
            },
          ],
        },
      },
    },
  };
}

/** Waits for the Job to finish; returns its final condition and its pod's result. */
async function finished(
  name: string,
): Promise<{ condition: k8s.V1JobCondition; result: IngestResult; exitCode: number }> {
  const condition = await eventually(
    async () => {
      const job = await batch.readNamespacedJob({ name, namespace });
      const done = job.status?.conditions?.find(
        (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
      );
      if (!done) throw new Error(`Job ${name} not finished: ${JSON.stringify(job.status)}`);
      return done;
    },
    { timeoutMs: 120_000, what: `Job ${name} finished` },
  );
  const pods = await core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` });
  const terminated = pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated;
  const result = parseResult('ingest', terminated?.message);
  if (!result)
    throw new Error(`no result in the termination message: ${JSON.stringify(terminated)}`);
  return { condition, result, exitCode: terminated?.exitCode ?? -1 };
}

beforeAll(async () => {
  const kc = kubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  batch = kc.makeApiClient(k8s.BatchV1Api);
  namespace = await createTestNamespace('ingest-pod');
  await eventually(() => core.readNamespacedServiceAccount({ name: 'default', namespace }), {
    what: 'default service account',
  });
  for (const [name, data] of [
    ['store', { accessKey: minio.accessKey, secretKey: minio.secretKey }],
    ['pg', { uri: postgres.uri }],
    ['headers', { Authorization: 'Bearer pod-token' }],
  ] as const) {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name }, stringData: data },
    });
  }
  const db = new pg.Client({ connectionString: postgres.uri });
  await db.connect();
  await db.query(
    `CREATE TABLE ${table} AS SELECT g AS x, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END AS y FROM generate_series(1, 60) g`,
  );
  await db.end();
  // On the host address, which pods reach (they have network namespaces of their own).
  await new Promise<void>((r) => server.listen(0, clusterInfo().hostAddress, r));
  await installCrds();
});

afterAll(async () => {
  server.close();
  const db = new pg.Client({ connectionString: postgres.uri });
  await db.connect();
  await db.query(`DROP TABLE IF EXISTS ${table}`);
  await db.end();
  if (namespace) {
    await new ObjectStore(minio).removePrefix(minio.bucket, `datasets/${namespace}/`);
    await new ObjectStore(minio).removePrefix(minio.bucket, `feedback/${namespace}/`);
    await deleteTestNamespace(namespace);
  }
});

describe('the ingestion image in a Job', () => {
  it('reads PostgreSQL with the Secret’s URI and reports the version', async () => {
    const spec = {
      source: {
        postgres: { connectionSecretRef: { name: 'pg' }, query: `SELECT x, y FROM ${table}` },
      },
      schema: { label: 'y' },
    };
    await apply(ingestionJob('from-postgres', spec));
    const { condition, result, exitCode } = await finished('from-postgres');
    expect(condition.type).toBe('Complete');
    expect(exitCode).toBe(0);
    expect(result).toMatchObject({ outcome: 'succeeded', rows: 60, trainRows: 48, testRows: 12 });
    const version = (result as { version: string }).version;
    expect(
      await new ObjectStore(minio).exists(
        minio.bucket,
        `datasets/${namespace}/from-postgres/${version}/manifest.json`,
      ),
    ).toBe(true);
  });

  it('sends the headers of the mounted Secret over HTTP', async () => {
    const url = `http://${clusterInfo().hostAddress}:${(server.address() as AddressInfo).port}/data.csv`;
    await apply(
      ingestionJob('from-http', {
        source: { http: { url, headersSecretRef: { name: 'headers' } } },
        schema: { label: 'y' },
        split: { testFraction: 0.4 },
      }),
    );
    const { condition, result } = await finished('from-http');
    expect(condition.type).toBe('Complete');
    expect(result).toMatchObject({ outcome: 'succeeded', rows: 5 });
  });

  it('fails the Job at once on a failing query, with the reason in the termination message', async () => {
    const spec = {
      source: {
        postgres: { connectionSecretRef: { name: 'pg' }, query: 'SELECT * FROM nowhere_at_all' },
      },
      schema: { label: 'y' },
    };
    await apply(ingestionJob('bad-query', spec));
    const { condition, result, exitCode } = await finished('bad-query');
    expect(condition).toMatchObject({ type: 'Failed', reason: 'PodFailurePolicy' });
    expect(exitCode).toBe(1);
    expect(result).toMatchObject({ outcome: 'failed', reason: 'SourceNotFound' });
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'job-name=bad-query' });
    expect(pods.items).toHaveLength(1);
    // The termination message carries no credential.
    expect(JSON.stringify(result)).not.toContain(postgres.password);
  });

  it('runs the Job the Dataset controller makes for a feedback source', async () => {
    // 40 labelled rows, stored by a server replica with their records, for InferenceService
    // "iris" of the namespace.
    const time = new Date(Date.now() - 60_000);
    const lines = Array.from({ length: 20 }, (_, i) =>
      FeedbackLabelsSchema.parse({
        requestId: `request-${i}`,
        time: new Date(time.getTime() + i).toISOString(),
        model: 'iris',
        modelVersion: '1',
        labels: i % 2 ? ['a', 'b'] : ['b', 'a'],
        records: [{ x: i }, { x: i + 0.5 }],
        features: [[i], [i + 0.5]],
        predictions: [
          { label: 'a', probabilities: [1, 0] },
          { label: 'a', probabilities: [1, 0] },
        ],
      }),
    );
    const key = feedbackFileKey(feedbackPrefix(namespace, 'iris'), 'labels', time, 'iris-1', 0);
    await new ObjectStore(minio).write(
      minio.bucket,
      key,
      lines.map((l) => `${JSON.stringify(l)}\n`).join(''),
    );

    // The Dataset, as the API server validates and stores it, and the controller's Job for it.
    await apply({
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'Dataset',
      metadata: { name: 'from-feedback' },
      spec: {
        source: { feedback: { inferenceServiceRef: { name: 'iris' }, since: '24h' } },
        schema: { label: 'y' },
      },
    });
    const got = await kubectl(['get', 'dataset', 'from-feedback', '-n', namespace, '-o', 'json']);
    const ds: DatasetObject = latheKinds.dataset.parse(JSON.parse(got.stdout));
    const store = { ...minio, region: 'us-east-1' };
    await apply(
      await scopedCredentialsSecret(
        namespace,
        'from-feedback',
        CredentialRole.ingestion,
        grants.ingestion(namespace, 'from-feedback'),
      ),
    );
    const run = {
      jobName: 'from-feedback-ingest',
      trigger: 'SpecChanged' as const,
      generation: 1,
      attempt: 1,
      request: '',
    };
    await apply(
      desiredIngestJob(ds, run, {
        image: 'ghcr.io/lathe-dev/lathe-ingest:0.1.0',
        store,
        owner: controllerReference(ds, latheKinds.dataset.resource),
      }),
    );
    const { condition, result } = await finished('from-feedback-ingest');
    expect(condition.type).toBe('Complete');
    expect(result).toMatchObject({ outcome: 'succeeded', rows: 40, trainRows: 32, testRows: 8 });
  });
});
