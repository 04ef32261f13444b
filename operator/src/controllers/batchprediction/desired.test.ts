import { describe, expect, it } from 'vitest';
import { batchManifestOf } from '../../../../contract/batch.js';
import { type BatchPrediction, BatchPredictionSchema } from '../../api/batchprediction.js';
import {
  type BatchRun,
  batchJobName,
  batchSemiSpaceMb,
  desiredBatchJob,
  shardCount,
} from './desired.js';
import {
  batchPhase,
  batchReadiness,
  batchStatusFields,
  completeCondition,
  indexCount,
  predictionsStatus,
} from './status.js';

const grant = { read: ['models/ml/iris/3/'], write: ['batch/ml/score/u1/'] };
const store = {
  endpoint: 'http://minio',
  bucket: 'lathe',
  region: 'r',
  accessKey: 'a',
  secretKey: 's',
};
const owner = {
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'BatchPrediction',
  name: 'score',
  uid: 'u1',
  controller: true,
  blockOwnerDeletion: true,
};

function batch(spec: Record<string, unknown> = {}): BatchPrediction {
  return BatchPredictionSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'BatchPrediction',
    metadata: { name: 'score', namespace: 'ml', uid: 'u1' },
    spec: { model: { name: 'iris' }, input: { datasetRef: { name: 'iris' } }, ...spec },
  });
}

const run: BatchRun = {
  modelVersion: 'iris-v3',
  modelUri: 's3://lathe/models/ml/iris/3/',
  modelDigest: `sha256:${'b'.repeat(64)}`,
  modelFormat: 'tfjs',
  dataset: { name: 'iris', version: 'abc' },
  input: {
    objects: [
      { uri: 's3://lathe/datasets/ml/iris/abc/train.raw.jsonl', sizeBytes: 800, format: 'jsonl' },
      { uri: 's3://lathe/datasets/ml/iris/abc/test.raw.jsonl', sizeBytes: 200, format: 'jsonl' },
    ],
    csv: { delimiter: ',', header: true },
  },
  outputUri: 's3://lathe/batch/ml/score/u1/',
  shards: 4,
};

describe('desiredBatchJob', () => {
  it('is an Indexed Job of one completion per shard, retried per shard, pinning the run', () => {
    const bp = batch({ parallelism: 3, shards: 4, retriesPerShard: 1, passthroughColumns: ['id'] });
    const job = desiredBatchJob(bp, run, { image: 'trainer:1', store, owner, grant });
    expect(job.metadata?.name).toBe(batchJobName(bp));
    expect(job.spec).toMatchObject({
      completionMode: 'Indexed',
      completions: 4,
      parallelism: 3,
      backoffLimitPerIndex: 1,
    });
    // Bad data is not retried (1), an operator bug stops the run (2), the rest is retried.
    expect(job.spec?.podFailurePolicy?.rules.map((r) => [r.action, r.onExitCodes?.values])).toEqual(
      [
        ['FailJob', [2]],
        ['FailIndex', [1]],
      ],
    );
    const container = job.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual(['batch']);
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    expect(JSON.parse(String(env.LATHE_BATCH_INPUT))).toEqual(run.input);
    expect(JSON.parse(String(env.LATHE_BATCH_OUTPUT))).toEqual({
      format: 'jsonl',
      include: ['label', 'probabilities'],
      passthroughColumns: ['id'],
    });
    expect(env).toMatchObject({
      LATHE_BATCH_MODEL_DIGEST: run.modelDigest,
      LATHE_BATCH_MODEL_FORMAT: 'tfjs',
      LATHE_BATCH_SHARDS: '4',
      LATHE_BATCH_MAX_FAILED_RECORDS_PERCENT: '0',
      // 1Gi: semi-spaces of 64 MiB, taken from the old space's 768.
      NODE_OPTIONS: '--max-old-space-size=640 --max-semi-space-size=64',
    });
    expect(job.metadata?.annotations).toMatchObject({
      'lathe.dev/batch-model-version': 'iris-v3',
      'lathe.dev/batch-dataset-version': 'abc',
      'lathe.dev/batch-input-bytes': '1000',
    });
    expect(JSON.parse(job.metadata?.annotations?.['lathe.dev/batch-grant'] ?? '')).toEqual(grant);
    expect(JSON.stringify(job)).not.toContain('"s"');
    // Without training statistics the shards count predictions only: no statistics to read.
    expect(env.LATHE_BATCH_STATS_URI).toBeUndefined();
  });

  it('gives the shards the training statistics to count inputs over, and pins them', () => {
    const statsUri = 's3://lathe/datasets/ml/iris/abc/stats.json';
    const job = desiredBatchJob(batch(), { ...run, statsUri }, { image: 't', store, owner, grant });
    const env = job.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'LATHE_BATCH_STATS_URI')?.value).toBe(statsUri);
    expect(job.metadata?.annotations?.['lathe.dev/batch-stats-uri']).toBe(statsUri);
  });

  it('sizes the young generation by the memory limit, 16 to 64 MiB', () => {
    expect(['256Mi', '512Mi', '768Mi', '1Gi', '8Gi'].map(batchSemiSpaceMb)).toEqual([
      16, 32, 48, 64, 64,
    ]);
  });

  it.each([
    [{ include: ['label', 'explanations'] }, { backgroundRows: 50, kernelSamples: 2048 }],
    [
      { include: ['explanations'], explanations: { kernelSamples: 100, topK: 5 } },
      { backgroundRows: 50, kernelSamples: 100, topK: 5 },
    ],
  ])('passes the explanation options of %j, with the server’s defaults', (output, expected) => {
    const job = desiredBatchJob(batch({ output }), run, { image: 'i', store, owner, grant });
    const env = job.spec?.template.spec?.containers[0]?.env ?? [];
    const value = env.find((e) => e.name === 'LATHE_BATCH_OUTPUT')?.value;
    expect(JSON.parse(String(value)).explanations).toEqual(expected);
  });

  it('refuses explanation options without explanations in include (the CRD rule)', () => {
    expect(() => batch({ output: { include: ['label'], explanations: { topK: 3 } } })).toThrow(
      'spec.output.explanations is set only when spec.output.include has explanations',
    );
  });

  it('runs no more pods at once than there are shards; shards default to parallelism', () => {
    expect(shardCount(batch({ parallelism: 5 }))).toBe(5);
    const job = desiredBatchJob(
      batch({ parallelism: 8 }),
      { ...run, shards: 2 },
      { image: 'i', store, owner, grant },
    );
    expect(job.spec?.parallelism).toBe(2);
  });

  it("gives an HTTP input's shards the headers Secret as a volume (no values in the Job) and the install's policy", () => {
    const bp = batch({
      input: {
        http: { url: 'https://data.example/t.csv', headersSecretRef: { name: 'tok' } },
      },
    });
    const { dataset: _, ...s3Run } = run;
    const httpRun: BatchRun = {
      ...s3Run,
      input: {
        objects: [{ uri: 'https://data.example/t.csv', format: 'csv' }],
        csv: { delimiter: ',', header: true },
      },
    };
    const httpSource = { denyCIDRs: ['10.96.0.0/12'], allowCIDRs: [], apiServerAddresses: [] };
    const job = desiredBatchJob(bp, httpRun, { image: 'i', store, owner, grant, httpSource });
    const pod = job.spec!.template.spec!;
    const env = Object.fromEntries(pod.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(env.LATHE_BATCH_HTTP_HEADERS_DIR).toBe('/var/run/lathe/input-headers');
    expect(env.LATHE_HTTP_SOURCE_DENY_CIDRS).toBe('10.96.0.0/12');
    expect(env).not.toHaveProperty('LATHE_HTTP_SOURCE_ALLOW_CIDRS');
    expect(pod.volumes).toContainEqual({ name: 'input-headers', secret: { secretName: 'tok' } });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({
      name: 'input-headers',
      mountPath: '/var/run/lathe/input-headers',
      readOnly: true,
    });
    // The size is the shards' to learn: no total is pinned, and the status has none.
    expect(job.metadata?.annotations).not.toHaveProperty('lathe.dev/batch-input-bytes');
    expect(batchStatusFields({ job }).input).toEqual({ objects: 1 });

    // An S3 or dataset input gets neither.
    const plain = desiredBatchJob(batch(), run, { image: 'i', store, owner, grant, httpSource });
    const plainEnv = plain.spec!.template.spec!.containers[0]!.env!.map((e) => e.name);
    expect(plainEnv).not.toContain('LATHE_BATCH_HTTP_HEADERS_DIR');
    expect(plainEnv).not.toContain('LATHE_HTTP_SOURCE_DENY_CIDRS');
  });
});

describe('BatchPrediction spec', () => {
  const parsed = (spec: Record<string, unknown>) =>
    BatchPredictionSchema.safeParse({
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'BatchPrediction',
      metadata: { name: 'score', namespace: 'ml' },
      spec: { model: { name: 'iris' }, ...spec },
    });

  it('reads an HTTP input with the S3 input’s format and CSV defaults', () => {
    const result = parsed({
      input: { http: { url: 'https://data.example/t.jsonl', format: 'jsonl' } },
    });
    expect(result.success && result.data.spec.input.http).toEqual({
      url: 'https://data.example/t.jsonl',
      format: 'jsonl',
      csv: { delimiter: ',', header: true },
    });
  });

  it.each([
    [
      { http: { url: 'https://x/t.csv' }, s3: { key: 'sources/ml/t.csv' } },
      'exactly one of datasetRef, s3 or http',
    ],
    [{}, 'exactly one of datasetRef, s3 or http'],
    [{ http: { url: 'ftp://x/t.csv' } }, 'must be an http:// or https:// URL'],
  ])('refuses the input %j', (input, message) => {
    const result = parsed({ input });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(message);
  });

  it.each([
    ['batch/ml/daily/', true],
    ['batch/ml/', true],
    ['batch/ml', false],
    ['sources/ml/out/', false],
    ['batch/ml/../other/', false],
    ['batch/ml/./x/', false],
    ['batch/ml//x/', false],
  ])('output prefix %s is valid: %s', (prefix, valid) => {
    const result = parsed({ input: { datasetRef: { name: 'iris' } }, output: { prefix } });
    expect(result.success).toBe(valid);
  });
});

describe('BatchPrediction status', () => {
  const job = desiredBatchJob(batch(), run, { image: 'i', store, owner, grant });
  const marker = (shard: number, rows: number, failedRecords = 0) => ({
    formatVersion: 1 as const,
    shard,
    part: `part-0000${shard}.jsonl`,
    rows,
    failedRecords,
    sizeBytes: 10,
    sha256: 'a'.repeat(64),
    modelDigest: run.modelDigest,
  });

  it('counts shard indexes as Kubernetes lists them', () => {
    expect(indexCount(undefined)).toBe(0);
    expect(indexCount('3')).toBe(1);
    expect(indexCount('0-2,5,7-8')).toBe(6);
  });

  it('is Pending with the reason it waits, then Running with the progress of its markers', () => {
    const notStarted = { state: 'progressing' as const, reason: 'WaitingForModel', message: 'm' };
    expect(batchPhase({ notStarted })).toBe('Pending');
    expect(batchReadiness({ notStarted })).toEqual(notStarted);
    const running = {
      job: { ...job, status: { active: 2, succeeded: 1 } },
      markers: [marker(0, 40, 1)],
    };
    expect(batchStatusFields(running)).toMatchObject({
      phase: 'Running',
      shards: { total: 4, succeeded: 1, failed: 0, active: 2 },
      rows: { written: 40, failed: 1 },
      model: { modelVersion: 'iris-v3' },
      input: { dataset: 'iris', datasetVersion: 'abc', objects: 2, sizeBytes: 1000 },
      output: { uri: run.outputUri },
    });
    expect(completeCondition(running).status).toBe('Unknown');
  });

  it('succeeds only once the manifest is written, and fails with the shard’s reason', () => {
    const complete = {
      ...job,
      status: { succeeded: 4, conditions: [{ type: 'Complete', status: 'True' }] },
    } as typeof job;
    const markers = [0, 1, 2, 3].map((i) => marker(i, 10));
    expect(batchPhase({ job: complete, markers })).toBe('Running');
    const done = { job: complete, markers, manifestUri: `${run.outputUri}manifest.json` };
    expect(batchReadiness(done)).toMatchObject({ state: 'ready', reason: 'Succeeded' });
    expect(completeCondition(done)).toMatchObject({ status: 'True' });
    // The manifest's merged counts and drift give status.drift and status.predictions.
    const manifest = {
      ...batchManifestOf(markers, {
        model: { modelVersion: 'iris-v3', digest: '' },
        format: 'jsonl',
      }),
      distribution: {
        rows: 40,
        stride: 4,
        columns: [],
        predictions: { classes: { setosa: 10, versicolor: 30, virginica: 0 } },
      },
      drift: {
        metric: 'psi' as const,
        value: 0.31,
        feature: 'petal_length',
        rows: 40,
        features: [],
      },
    };
    expect(batchStatusFields({ ...done, manifest })).toMatchObject({
      drift: { metric: 'psi', value: 0.31, feature: 'petal_length', rows: 40 },
      predictions: {
        rows: 40,
        stride: 4,
        classes: { versicolor: 0.75, setosa: 0.25, virginica: 0 },
      },
    });
    expect(batchStatusFields(done)).not.toHaveProperty('drift');
    const failedJob = {
      ...job,
      status: { failedIndexes: '2', conditions: [{ type: 'Failed', status: 'True' }] },
    } as typeof job;
    const failure = { reason: 'TooManyFailedRecords', message: 'Shard 2: 7 of 10 records failed' };
    const failed = { job: failedJob, markers: [], failure };
    expect(batchStatusFields(failed)).toMatchObject({ phase: 'Failed', shards: { failed: 1 } });
    expect(batchReadiness(failed)).toEqual({ state: 'stalled', ...failure });
    expect(completeCondition(failed)).toMatchObject({
      status: 'False',
      reason: 'TooManyFailedRecords',
    });
  });

  it('summarises predictions: class fractions, the 20 most frequent, or a regression', () => {
    const many = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`c${i}`, i]));
    const classes = predictionsStatus({ classes: many }, 300, 1).classes!;
    expect(Object.keys(classes)).toHaveLength(20);
    expect(classes.c24).toBeCloseTo(24 / 300, 4);
    expect(classes).not.toHaveProperty('c0');
    expect(predictionsStatus({ regression: { count: 4, sum: 10, min: -1, max: 6 } }, 4, 1)).toEqual(
      {
        rows: 4,
        stride: 1,
        regression: { count: 4, mean: 2.5, min: -1, max: 6 },
      },
    );
  });
});
