import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  legacySaltedHash,
  namespacePiiKey,
  PII_HASH_SCHEME,
  piiHash,
  piiHashing,
} from '../../contract/pii-hash.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import { JsonLinesSink } from './json-lines-sink.js';
import { createServerMetrics } from './metrics.js';
import type { ServedModel } from './model.js';
import { loggableRecord, loggableRecords, piiRedactionOf } from './pii.js';
import { InferenceServer } from './server.js';

const key = Buffer.from(namespacePiiKey('test-master-key-0123456789', 'ns'), 'hex');
const ann = piiHash(key, 'ann@x.org');

/** `email` hashed with the namespace key, `name` dropped as PII, `age` an ordinary input. */
const schema: PreparedSchema = {
  formatVersion: 1,
  task: 'classification',
  label: { name: 'churn', type: 'categorical', classes: ['yes', 'no'] },
  inputs: [
    {
      name: 'email',
      type: 'categorical',
      kind: 'categorical',
      impute: null,
      encoding: 'oneHot',
      categories: [ann],
      other: true,
      hash: PII_HASH_SCHEME,
    },
    {
      name: 'age',
      type: 'number',
      kind: 'numeric',
      impute: 40,
      scale: { method: 'none' },
    },
  ],
  features: [`email=${ann}`, 'email=__other__', 'age'],
  piiDropped: ['name'],
};

describe('loggableRecord', () => {
  const redaction = piiRedactionOf(schema, piiHashing(key));

  it.each([
    {
      name: 'hashes a PII column with the namespace key and leaves out a dropped one',
      record: { email: 'ann@x.org', name: 'Ann', age: 31 },
      logged: { email: ann, age: 31 },
    },
    {
      name: 'hashes the category text, as preparation does (trimmed)',
      record: { email: '  ann@x.org ', age: 31 },
      logged: { email: ann, age: 31 },
    },
    {
      name: 'keeps a value already hashed as it is (never hashed twice)',
      record: { email: ann },
      logged: { email: ann },
    },
    {
      name: 'keeps a missing value as sent: it is no personal data',
      record: { email: null, age: 'NA' },
      logged: { email: null, age: 'NA' },
    },
    {
      name: 'leaves out keys that are not the model’s inputs (a client ID, the label, a name)',
      record: { email: 'ann@x.org', id: 'r-1', churn: 'yes', full_name: 'Ann Lee' },
      logged: { email: ann },
    },
    { name: 'a row sent prepared has no record', record: null, logged: null },
  ])('$name', ({ record, logged }) => {
    expect(loggableRecord(redaction, record)).toEqual(logged);
  });

  it('hashes an old version’s salted column with its salt', () => {
    const salted: PreparedSchema = {
      ...schema,
      inputs: [{ ...(schema.inputs[0] as object), hash: undefined, hashSalt: 's1' } as never],
      piiDropped: undefined,
    };
    const old = piiRedactionOf(salted, piiHashing(undefined));
    expect(loggableRecord(old, { email: 'ann@x.org' })).toEqual({
      email: legacySaltedHash('s1', 'ann@x.org'),
    });
  });

  it('keeps only the inputs of a model without PII columns, as sent', () => {
    const plain = { ...schema, inputs: [schema.inputs[1]!], piiDropped: undefined };
    const redaction = piiRedactionOf(plain, piiHashing(key));
    const name = schema.inputs[1]!.name;
    expect(loggableRecords(redaction, [{ [name]: 1, extra: 'x' }, null])).toEqual([
      { [name]: 1 },
      null,
    ]);
  });
});

describe('InferenceServer with PII columns', () => {
  const written = new Map<string, string>();
  const sinkOf = (kind: 'requests' | 'labels') =>
    new JsonLinesSink({
      kind,
      bucket: 'lathe',
      prefix: 'feedback/ns/churn/',
      writer: 'test',
      flushIntervalMs: 60_000,
      write: async (_b, objectKey, body) => void written.set(objectKey, body.toString()),
    });
  const requestLog = sinkOf('requests');
  const labelLog = sinkOf('labels');
  let server: InferenceServer;
  let base: string;
  const hashing = piiHashing(key);
  /** Predicts `yes` exactly when the email is the known (hashed) one. */
  const model: ServedModel = {
    name: 'churn',
    version: '1',
    digest: 'sha256:0',
    format: 'tfjs',
    schema,
    featureCount: 3,
    outputWidth: 2,
    piiHashing: hashing,
    piiRedaction: piiRedactionOf(schema, hashing),
    predict: (features, rows) => {
      const out = new Float32Array(rows * 2);
      for (let r = 0; r < rows; r++) {
        out[r * 2] = features[r * 3]!;
        out[r * 2 + 1] = 1 - features[r * 3]!;
      }
      return out;
    },
  };

  beforeAll(async () => {
    server = new InferenceServer({
      modelName: 'churn',
      modelVersion: '1',
      port: 0,
      bindAddress: '127.0.0.1',
      batchMaxSize: 4,
      batchMaxLatencyMs: 1,
      maxRequestBytes: 64 * 1024,
      requestLogSampleRate: 1,
      shutdownDelayMs: 0,
      metrics: createServerMetrics(),
      log: pino({ level: 'silent' }),
      requestLog,
      labelLog,
      feedbackToken: {
        authorize: async (header) =>
          header === 'Bearer t'
            ? { allowed: true }
            : { allowed: false, status: 401, message: 'wrong token' },
      },
    });
    base = `http://127.0.0.1:${await server.listen()}`;
    server.setModel(model);
  });
  afterAll(() => server.shutdown());

  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      body: JSON.stringify(body),
    });

  it('predicts on the keyed hash and writes no raw PII value to the request log or labels', async () => {
    const instances = [
      { email: 'ann@x.org', name: 'Ann Smith', age: 31 },
      { email: 'bob@x.org', name: 'Bob Jones', age: 45 },
    ];
    const predicted = await post('/v1/models/churn:predict', { instances });
    expect(predicted.status).toBe(200);
    const id = predicted.headers.get('x-request-id')!;
    const body = (await predicted.json()) as { predictions: { label: string }[] };
    expect(body.predictions.map((p) => p.label)).toEqual(['yes', 'no']);
    expect(
      (await post('/v1/models/churn:feedback', { request_id: id, labels: ['yes', 'no'] })).status,
    ).toBe(202);
    await requestLog.flush();
    await labelLog.flush();

    const all = [...written.values()].join('');
    for (const raw of ['ann@x.org', 'bob@x.org', 'Ann Smith', 'Bob Jones']) {
      expect(all).not.toContain(raw);
    }
    const [request] = [...written]
      .filter(([k]) => k.includes('/requests/'))
      .map(([, v]) => JSON.parse(v));
    expect(request.records).toEqual([
      { email: ann, age: 31 },
      { email: piiHash(key, 'bob@x.org'), age: 45 },
    ]);
    const [label] = [...written]
      .filter(([k]) => k.includes('/labels/'))
      .map(([, v]) => JSON.parse(v));
    expect(label.records).toEqual(request.records);
  });
});
