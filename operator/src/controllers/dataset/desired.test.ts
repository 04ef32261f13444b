import { describe, expect, it } from 'vitest';
import { DEFAULT_TERMINATION_MESSAGE_PATH } from '../../../../contract/results.js';
import { IngestEnv, RESULT_PATH_ENV } from '../../../../contract/runtime-env.js';
import { type Dataset, type DatasetInput, DatasetSchema } from '../../api/dataset.js';
import type { JobObject } from '../../runtime/builtin-kinds.js';
import { programView } from '../shared/kubelet-expansion.js';
import { credentialsSecretName } from '../shared/object-store-access.js';
import { DEFAULT_INGEST_RESOURCES, desiredIngestJob, INGEST_DEADLINE_SECONDS } from './desired.js';
import { type PlannedRun, RunAnnotation } from './runs.js';

const store = {
  endpoint: 'http://minio.lathe-system:9000',
  bucket: 'lathe',
  region: 'us-east-1',
  accessKey: 'ak',
  secretKey: 'sk',
};
const owner = {
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'Dataset',
  name: 'iris',
  uid: 'uid-1',
  controller: true,
  blockOwnerDeletion: true,
};
const run: PlannedRun = {
  jobName: 'iris-ingest-abc123',
  trigger: 'Requested',
  generation: 3,
  attempt: 2,
  request: 'r1',
};

function dataset(spec: Partial<DatasetInput['spec']>): Dataset {
  return DatasetSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name: 'iris', namespace: 'ns', generation: 3 },
    spec: { source: { http: { url: 'http://x/iris.csv' } }, schema: { label: 'species' }, ...spec },
  });
}

const jobOf = (spec: Partial<DatasetInput['spec']>) =>
  desiredIngestJob(dataset(spec), run, { image: 'lathe/ingest:1', store, owner });
const container = (job: JobObject) => job.spec!.template.spec!.containers[0]!;
const env = (job: JobObject) =>
  Object.fromEntries((container(job).env ?? []).map((e) => [e.name, e]));
const volumes = (job: JobObject) => (job.spec!.template.spec!.volumes ?? []).map((v) => v.name);

describe('desiredIngestJob', () => {
  it('names, labels, annotates and owns the Job as the run says; runs once with a deadline', () => {
    const job = jobOf({});
    expect(job.metadata).toMatchObject({
      name: 'iris-ingest-abc123',
      namespace: 'ns',
      labels: {
        'app.kubernetes.io/managed-by': 'lathe',
        'lathe.dev/dataset': 'iris',
        'app.kubernetes.io/component': 'ingest',
      },
      annotations: {
        [RunAnnotation.generation]: '3',
        [RunAnnotation.trigger]: 'Requested',
        [RunAnnotation.attempt]: '2',
        [RunAnnotation.request]: 'r1',
      },
      ownerReferences: [owner],
    });
    expect(job.spec).toMatchObject({
      backoffLimit: 0,
      activeDeadlineSeconds: INGEST_DEADLINE_SECONDS,
    });
    expect(job.spec!.template.metadata?.labels).toEqual(job.metadata!.labels);
    expect(job.spec!.template.spec).toMatchObject({
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
    });
    expect(container(job)).toMatchObject({
      image: 'lathe/ingest:1',
      terminationMessagePolicy: 'FallbackToLogsOnError',
    });
  });

  it('passes the spec, the location and the store, its credentials only by Secret reference', () => {
    const job = jobOf({});
    const e = env(job);
    expect(e[IngestEnv.namespace]?.value).toBe('ns');
    expect(e[IngestEnv.name]?.value).toBe('iris');
    expect(JSON.parse(e[IngestEnv.spec]?.value ?? '{}')).toEqual(dataset({}).spec);
    expect(e[RESULT_PATH_ENV]?.value).toBe(DEFAULT_TERMINATION_MESSAGE_PATH);
    const text = JSON.stringify(job);
    expect(text).not.toContain('"sk"');
    expect(text).not.toContain('"ak"');
    // The pod's own credentials: the Dataset's Secret, as env and as a rotating directory.
    expect(env(job).LATHE_OBJECT_STORE_SECRET_KEY).toEqual({
      name: 'LATHE_OBJECT_STORE_SECRET_KEY',
      valueFrom: {
        secretKeyRef: { name: credentialsSecretName('iris', 'ingest'), key: 'secretKey' },
      },
    });
    expect(job.spec!.template.spec!.volumes).toContainEqual({
      name: 'object-store-credentials',
      secret: { secretName: 'iris-ingest-store', defaultMode: 0o444 },
    });
  });

  it.each<{
    name: string;
    spec: Partial<DatasetInput['spec']>;
    env: Record<string, unknown>;
    volumes: string[];
  }>([
    {
      name: 'HTTP without headers: no source credentials',
      spec: {},
      env: {
        [IngestEnv.s3AccessKey]: undefined,
        [IngestEnv.postgresUri]: undefined,
        [IngestEnv.httpHeadersDir]: undefined,
      },
      volumes: ['work', 'tmp', 'object-store-credentials'],
    },
    {
      name: 'HTTP headers: their Secret mounted, its directory named',
      spec: { source: { http: { url: 'http://x/a.csv', headersSecretRef: { name: 'hdrs' } } } },
      env: { [IngestEnv.httpHeadersDir]: { value: '/var/run/lathe/source-headers' } },
      volumes: ['work', 'tmp', 'object-store-credentials', 'source-headers'],
    },
    {
      name: 'S3 with credentials: the keys from their Secret',
      spec: {
        source: { s3: { bucket: 'data', key: 'a.csv', credentialsSecretRef: { name: 'aws' } } },
      },
      env: {
        [IngestEnv.s3AccessKey]: {
          valueFrom: { secretKeyRef: { name: 'aws', key: 'AWS_ACCESS_KEY_ID' } },
        },
        [IngestEnv.s3SecretKey]: {
          valueFrom: { secretKeyRef: { name: 'aws', key: 'AWS_SECRET_ACCESS_KEY' } },
        },
      },
      volumes: ['work', 'tmp', 'object-store-credentials'],
    },
    {
      name: 'PostgreSQL: the URI from its Secret key',
      spec: {
        source: {
          postgres: { connectionSecretRef: { name: 'db', key: 'dsn' }, query: 'SELECT 1' },
        },
      },
      env: {
        [IngestEnv.postgresUri]: { valueFrom: { secretKeyRef: { name: 'db', key: 'dsn' } } },
      },
      volumes: ['work', 'tmp', 'object-store-credentials'],
    },
  ])('$name', ({ spec, env: want, volumes: wantVolumes }) => {
    const job = jobOf(spec);
    const e = env(job);
    for (const [name, value] of Object.entries(want)) {
      if (value === undefined) expect(e[name]).toBeUndefined();
      else expect(e[name]).toMatchObject(value as object);
    }
    expect(volumes(job)).toEqual(wantVolumes);
  });

  it.each<{
    name: string;
    resources: DatasetInput['spec']['resources'];
    want: object;
    heapMb: number;
  }>([
    {
      name: 'the defaults, the heap three quarters of the memory',
      resources: undefined,
      want: {
        requests: { cpu: DEFAULT_INGEST_RESOURCES.cpu, memory: DEFAULT_INGEST_RESOURCES.memory },
        limits: { memory: DEFAULT_INGEST_RESOURCES.memory },
      },
      heapMb: 384,
    },
    {
      name: 'a larger memory limit, a larger heap',
      resources: { memory: '2Gi' },
      want: { limits: { memory: '2Gi' } },
      heapMb: 1536,
    },
    {
      name: 'a small memory limit, the heap at its floor',
      resources: { memory: '64Mi' },
      want: { limits: { memory: '64Mi' } },
      heapMb: 64,
    },
  ])('resources: $name', ({ resources, want, heapMb }) => {
    const job = jobOf(resources ? { resources } : {});
    expect(container(job).resources).toMatchObject(want);
    expect(env(job).NODE_OPTIONS?.value).toBe(`--max-old-space-size=${heapMb}`);
  });
});

describe('desiredIngestJob: the spec reaches the program literally', () => {
  it.each([
    [
      'an HTTP URL',
      { source: { http: { url: 'http://x/iris.csv?k=$(LATHE_OBJECT_STORE_SECRET_KEY)' } } },
    ],
    [
      'an S3 key',
      { source: { s3: { bucket: 'data', key: '$(LATHE_OBJECT_STORE_SECRET_KEY).csv' } } },
    ],
  ] as const)(
    '%s with $(LATHE_OBJECT_STORE_SECRET_KEY) is not expanded by the kubelet',
    (_, spec) => {
      const ds = dataset(spec as Partial<DatasetInput['spec']>);
      const job = desiredIngestJob(ds, run, { image: 'lathe/ingest:1', store, owner });
      const view = programView(container(job), () => 'the-operator-secret');
      expect(JSON.parse(view.env[IngestEnv.spec] ?? '')).toEqual(
        JSON.parse(JSON.stringify(ds.spec)),
      );
      expect(view.env[IngestEnv.spec]).toContain('$(LATHE_OBJECT_STORE_SECRET_KEY)');
      expect(view.env[IngestEnv.spec]).not.toContain('the-operator-secret');
    },
  );
});

describe('desiredIngestJob: the HTTP source address policy', () => {
  const httpSource = {
    denyCIDRs: ['10.96.0.0/12', '10.244.0.0/16'],
    allowCIDRs: ['10.96.0.20/32'],
    apiServerAddresses: ['10.96.0.1'],
  };
  it.each([
    {
      name: 'an HTTP source gets every list the install set',
      spec: {},
      policy: httpSource,
      want: {
        [IngestEnv.httpDenyCidrs]: { value: '10.96.0.0/12,10.244.0.0/16' },
        [IngestEnv.httpAllowCidrs]: { value: '10.96.0.20/32' },
        [IngestEnv.httpApiServerAddresses]: { value: '10.96.0.1' },
      },
      absent: [],
    },
    {
      name: 'an empty list is left out',
      spec: {},
      policy: { ...httpSource, allowCIDRs: [] },
      want: { [IngestEnv.httpDenyCidrs]: { value: '10.96.0.0/12,10.244.0.0/16' } },
      absent: [IngestEnv.httpAllowCidrs],
    },
    {
      name: 'another kind of source gets none',
      spec: { source: { s3: { bucket: 'data', key: 'a.csv' } } },
      policy: httpSource,
      want: {},
      absent: [IngestEnv.httpDenyCidrs, IngestEnv.httpAllowCidrs, IngestEnv.httpApiServerAddresses],
    },
  ])('$name', ({ spec, policy, want, absent }) => {
    const job = desiredIngestJob(dataset(spec as Partial<DatasetInput['spec']>), run, {
      image: 'lathe/ingest:1',
      store,
      owner,
      httpSource: policy,
    });
    expect(env(job)).toMatchObject(want);
    for (const name of absent) expect(env(job)[name]).toBeUndefined();
  });
});
