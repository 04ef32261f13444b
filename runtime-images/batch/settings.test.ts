import { describe, expect, it } from 'vitest';
import { batchSettingsFromEnv } from './settings.js';

const digest = `sha256:${'a'.repeat(64)}`;
const env = (overrides: Record<string, string | undefined> = {}) => ({
  LATHE_BATCH_MODEL_URI: 's3://lathe/models/ns/m/1/',
  LATHE_BATCH_MODEL_DIGEST: digest,
  LATHE_BATCH_INPUT: JSON.stringify({
    objects: [{ uri: 's3://lathe/sources/ns/a.csv', sizeBytes: 10, format: 'csv' }],
  }),
  LATHE_BATCH_OUTPUT: JSON.stringify({ format: 'jsonl', include: ['label'] }),
  LATHE_BATCH_OUTPUT_URI: 's3://lathe/batch/ns/bp/uid/',
  LATHE_BATCH_SHARDS: '4',
  JOB_COMPLETION_INDEX: '3',
  LATHE_OBJECT_STORE_ENDPOINT: 'http://minio:9000',
  LATHE_OBJECT_STORE_ACCESS_KEY: 'ak',
  LATHE_OBJECT_STORE_SECRET_KEY: 'sk',
  ...overrides,
});

describe('batchSettingsFromEnv', () => {
  it('reads the shard, with defaults', () => {
    expect(batchSettingsFromEnv(env())).toMatchObject({
      modelDigest: digest,
      input: { csv: { delimiter: ',', header: true } },
      output: { format: 'jsonl', include: ['label'], passthroughColumns: [] },
      shards: 4,
      shardIndex: 3,
      maxFailedRecordsPercent: 0,
      backend: 'auto',
      gpus: 0,
      objectStore: { endpoint: 'http://minio:9000', bucket: 'lathe' },
    });
  });

  it('reads the training statistics, when given', () => {
    expect(batchSettingsFromEnv(env()).statsUri).toBeUndefined();
    const statsUri = 's3://lathe/datasets/ns/d/v1/stats.json';
    expect(batchSettingsFromEnv(env({ LATHE_BATCH_STATS_URI: statsUri })).statsUri).toBe(statsUri);
  });

  it('reads an HTTP input (no size: the shard learns it), its headers and address policy', () => {
    const settings = batchSettingsFromEnv(
      env({
        LATHE_BATCH_INPUT: JSON.stringify({
          objects: [{ uri: 'https://data.example/t.csv?sig=1', format: 'csv' }],
        }),
        LATHE_BATCH_HTTP_HEADERS_DIR: '/var/run/lathe/input-headers',
        LATHE_HTTP_SOURCE_DENY_CIDRS: '10.96.0.0/12',
      }),
    );
    expect(settings.input.objects).toEqual([
      { uri: 'https://data.example/t.csv?sig=1', format: 'csv' },
    ]);
    expect(settings.httpHeadersDir).toBe('/var/run/lathe/input-headers');
    expect(settings.httpPolicy.deny.map((c) => c.text)).toEqual(['10.96.0.0/12']);
  });

  it.each([
    [
      { LATHE_BATCH_STATS_URI: 's3://lathe/datasets/ns/d/v1/' },
      'LATHE_BATCH_STATS_URI: must be an s3://<bucket>/<key> URI of an object',
    ],
    [
      { JOB_COMPLETION_INDEX: '4' },
      'JOB_COMPLETION_INDEX: shard 4 is not in 0..3 (LATHE_BATCH_SHARDS is 4)',
    ],
    [{ JOB_COMPLETION_INDEX: undefined }, 'JOB_COMPLETION_INDEX: '],
    [{ LATHE_BATCH_SHARDS: '0' }, 'LATHE_BATCH_SHARDS: '],
    [
      { LATHE_BATCH_MODEL_DIGEST: 'abc' },
      'LATHE_BATCH_MODEL_DIGEST: must be sha256:<64 lowercase hex digits>',
    ],
    [{ LATHE_BATCH_MAX_FAILED_RECORDS_PERCENT: '101' }, 'LATHE_BATCH_MAX_FAILED_RECORDS_PERCENT: '],
    [{ LATHE_BATCH_INPUT: '{' }, 'LATHE_BATCH_INPUT: not JSON'],
    [
      {
        LATHE_BATCH_INPUT: JSON.stringify({
          objects: [{ uri: 'ftp://x/a.csv', sizeBytes: 1, format: 'csv' }],
        }),
      },
      'LATHE_BATCH_INPUT: objects.0.uri: must be an s3://<bucket>/<key> URI of an object or an http(s):// URL',
    ],
    [
      {
        LATHE_BATCH_INPUT: JSON.stringify({
          objects: [{ uri: 's3://lathe/sources/ns/a.csv', format: 'csv' }],
        }),
      },
      'LATHE_BATCH_INPUT: objects.0.sizeBytes: an S3 object needs its size',
    ],
    [{ LATHE_HTTP_SOURCE_DENY_CIDRS: '10.0.0.0/99' }, 'LATHE_HTTP_SOURCE_DENY_CIDRS: '],
    [
      {
        LATHE_BATCH_INPUT: JSON.stringify({
          objects: [{ uri: 's3://lathe/a.csv', sizeBytes: 1, format: 'csv' }],
          csv: { header: false },
        }),
      },
      'LATHE_BATCH_INPUT: columns: CSV without a header (csv.header: false) needs the column names',
    ],
    [
      {
        LATHE_BATCH_OUTPUT: JSON.stringify({
          format: 'csv',
          include: ['label'],
          passthroughColumns: ['label'],
        }),
      },
      'LATHE_BATCH_OUTPUT: passthroughColumns.0: "label" is an output column\'s name',
    ],
    [
      {
        LATHE_BATCH_OUTPUT: JSON.stringify({
          format: 'csv',
          include: ['explanations'],
          passthroughColumns: ['shap_id'],
          explanations: { backgroundRows: 50, kernelSamples: 2048 },
        }),
      },
      'LATHE_BATCH_OUTPUT: passthroughColumns.0: "shap_id" is an output column\'s name',
    ],
    [
      { LATHE_BATCH_OUTPUT: JSON.stringify({ format: 'jsonl', include: ['explanations'] }) },
      'LATHE_BATCH_OUTPUT: explanations: is required when include has explanations',
    ],
    [
      { LATHE_BATCH_OUTPUT: JSON.stringify({ format: 'csv', include: [] }) },
      'LATHE_BATCH_OUTPUT: include: ',
    ],
    [
      { LATHE_BATCH_OUTPUT_URI: 'batch/ns/' },
      'LATHE_BATCH_OUTPUT_URI: must be an s3://<bucket>/<prefix>/ URI',
    ],
  ])('names the variable of %j', (overrides, message) => {
    expect(() => batchSettingsFromEnv(env(overrides))).toThrow(message);
  });
});
