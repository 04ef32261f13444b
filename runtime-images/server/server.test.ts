/**
 * The server in process, on loopback, with a really trained model loaded through the real
 * verification path from an in-memory store: protocol answers, errors, batching, metrics,
 * feedback (minted request IDs, the bearer token, first label wins, the label schema) and
 * draining, bounded by its deadline. (`server.itest.ts` and `feedback.itest.ts` run the real
 * program against MinIO.)
 */

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { manifestFor } from '../../contract/manifest.js';
import { ObjectNotFoundError } from '../../contract/object-store.js';
import { MANIFEST_FILE } from '../../contract/object-store-layout.js';
import { prepareRecord } from '../../contract/prepared-data.js';
import type { RowExplanation } from './explain.js';
import { FeedbackTokenFile } from './feedback-token.js';
import {
  expectedOutputs,
  type FixtureArtifact,
  fixtureRows,
  makeFixtureArtifact,
} from './fixture.js';
import { JsonLinesSink } from './json-lines-sink.js';
import { createServerMetrics } from './metrics.js';
import { ArtifactError, loadServedModel, type ServedModel } from './model.js';
import { InferenceServer } from './server.js';
import { loadTensorflow, type TensorflowJs } from './tensorflow.js';

/** An object store in memory: the `ArtifactReader` the loader needs. */
class MemoryStore {
  readonly objects = new Map<string, Buffer>();
  async read(bucket: string, key: string): Promise<Buffer> {
    const bytes = this.objects.get(`${bucket}/${key}`);
    if (!bytes) throw new ObjectNotFoundError(`s3://${bucket}/${key} does not exist`);
    return bytes;
  }
  async digestOf(bucket: string, key: string) {
    const bytes = await this.read(bucket, key);
    return {
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      sizeBytes: bytes.length,
    };
  }
  async write(bucket: string, key: string, body: Buffer): Promise<void> {
    this.objects.set(`${bucket}/${key}`, body);
  }
  put(prefix: string, artifact: Pick<FixtureArtifact, 'files' | 'manifest'>): void {
    for (const [path, bytes] of Object.entries(artifact.files))
      this.objects.set(`lathe/${prefix}${path}`, bytes);
    this.objects.set(`lathe/${prefix}${MANIFEST_FILE}`, artifact.manifest);
  }
}

let tf: TensorflowJs;
let artifact: FixtureArtifact;
const store = new MemoryStore();

beforeAll(async () => {
  ({ tf } = await loadTensorflow('cpu'));
  artifact = await makeFixtureArtifact(tf, { epochs: 20 });
  store.put('models/ns/iris/1/', artifact);
}, 60_000);

const load = (prefix: string, digest: string) =>
  loadServedModel(tf, store, { name: 'iris', version: '1', uri: `s3://lathe/${prefix}`, digest });

describe('loadServedModel', () => {
  it('loads a verified artifact whose outputs are the trained model’s', async () => {
    const model = await load('models/ns/iris/1/', artifact.digest);
    const rows = fixtureRows('classification', 4, 9);
    const features = Float32Array.from(rows.flatMap((r) => prepareRecord(artifact.schema, r)));
    const out = await model.predict(features, 4);
    const expected = expectedOutputs(tf, artifact, rows).flat();
    expect(Array.from(out)).toEqual(Array.from(Float32Array.from(expected)));
    expect(model.featureCount).toBe(6);
    expect(model.outputWidth).toBe(3);
  });

  it('refuses an artifact whose manifest is not the recorded digest', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(load('models/ns/iris/1/', wrong)).rejects.toMatchObject({
      name: 'ArtifactError',
      reason: 'DigestMismatch',
    });
  });

  it('refuses an artifact whose weights changed after the digest was recorded', async () => {
    const weights = Buffer.from(artifact.files['weights.bin']!);
    weights[0] = weights[0]! ^ 0xff;
    store.put('models/ns/iris/2/', {
      ...artifact,
      files: { ...artifact.files, 'weights.bin': weights },
    });
    const error = await load('models/ns/iris/2/', artifact.digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect(error).toMatchObject({ reason: 'FileMismatch' });
    expect((error as Error).message).toContain('weights.bin is');
  });

  it.each([
    {
      name: 'the preparation (schema.json) changed',
      change: (files: Record<string, Buffer>) => ({
        ...files,
        'schema.json': Buffer.from(`${files['schema.json']!.toString()} `),
      }),
      message: /^schema\.json is \d+ bytes with sha256:[0-9a-f]{64}; manifest\.json says/,
      version: 4,
    },
    {
      name: 'model.json changed',
      change: (files: Record<string, Buffer>) => ({
        ...files,
        'model.json': Buffer.from(`${files['model.json']!.toString()} `),
      }),
      message: /^model\.json is \d+ bytes/,
      version: 6,
    },
  ])('refuses an artifact when $name, naming the file', async ({ change, message, version }) => {
    store.put(`models/ns/iris/${version}/`, { ...artifact, files: change(artifact.files) });
    const error = await load(`models/ns/iris/${version}/`, artifact.digest).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ArtifactError);
    expect(error).toMatchObject({ reason: 'FileMismatch' });
    expect((error as Error).message).toMatch(message);
  });

  it('refuses an artifact missing a file it does not load (metrics.json), naming it', async () => {
    const withMetrics = { ...artifact.files, 'metrics.json': Buffer.from('{}\n') };
    const { manifest, digest } = manifestFor(withMetrics);
    store.put('models/ns/iris/5/', { files: artifact.files, manifest });
    const error = await load('models/ns/iris/5/', digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect(error).toMatchObject({
      reason: 'FileMismatch',
      message: 'metrics.json is listed in manifest.json but missing',
    });
  });

  it('downloads each file of the artifact once, background.json included', async () => {
    const reads: string[] = [];
    const counting = {
      read: (bucket: string, key: string) => {
        reads.push(key);
        return store.read(bucket, key);
      },
      digestOf: (bucket: string, key: string) => {
        reads.push(key);
        return store.digestOf(bucket, key);
      },
    };
    await loadServedModel(tf, counting, {
      name: 'iris',
      version: '1',
      uri: 's3://lathe/models/ns/iris/1/',
      digest: artifact.digest,
    });
    const files = ['manifest.json', ...Object.keys(artifact.files)];
    expect(files).toContain('background.json');
    expect(reads.sort()).toEqual(files.map((f) => `models/ns/iris/1/${f}`).sort());
  });

  it('refuses a model whose input does not match the preparation', async () => {
    const schema = JSON.parse(artifact.files['schema.json']!.toString());
    schema.features = schema.features.slice(0, 5);
    schema.inputs[2].other = false;
    const files = { ...artifact.files, 'schema.json': Buffer.from(JSON.stringify(schema)) };
    const { manifest, digest } = manifestFor(files);
    store.put('models/ns/iris/3/', { files, manifest });
    await expect(load('models/ns/iris/3/', digest)).rejects.toThrow(
      'the model takes input [null,6]; schema.json prepares 5 features per row',
    );
  });
});

describe('InferenceServer', () => {
  let server: InferenceServer;
  let base: string;
  let model: ServedModel;
  let forwardPasses = 0;
  let slowPassMs = 0;
  const metrics = createServerMetrics();
  const written = new Map<string, string>();
  const sinkOf = (kind: 'requests' | 'labels') =>
    new JsonLinesSink({
      kind,
      bucket: 'lathe',
      prefix: 'feedback/ns/iris/',
      writer: 'test',
      flushIntervalMs: 60_000,
      write: async (_b, key, body) => void written.set(key, body.toString()),
    });
  const requestLog = sinkOf('requests');
  const labelLog = sinkOf('labels');
  const tokenDir = mkdtempSync(path.join(os.tmpdir(), 'lathe-server-test-'));
  const tokenFile = path.join(tokenDir, 'token');
  writeFileSync(tokenFile, 'label-writer-token\n');
  const authorized = { authorization: 'Bearer label-writer-token' };

  beforeAll(async () => {
    server = new InferenceServer({
      modelName: 'iris',
      modelVersion: '1',
      port: 0,
      bindAddress: '127.0.0.1',
      batchMaxSize: 16,
      batchMaxLatencyMs: 5,
      maxRequestBytes: 64 * 1024,
      requestLogSampleRate: 1,
      shutdownDelayMs: 0,
      metrics,
      log: pino({ level: 'silent' }),
      requestLog,
      labelLog,
      feedbackToken: new FeedbackTokenFile(tokenFile),
    });
    const port = await server.listen();
    base = `http://127.0.0.1:${port}`;
    const loaded = await load('models/ns/iris/1/', artifact.digest);
    model = {
      ...loaded,
      predict: (features, rows) => {
        forwardPasses++;
        // A slow forward pass, as a large model's would be: requests arrive meanwhile.
        const until = performance.now() + slowPassMs;
        while (performance.now() < until);
        return loaded.predict(features, rows);
      },
    };
  });
  afterAll(async () => {
    await server.shutdown();
    rmSync(tokenDir, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const rows = fixtureRows('classification', 5, 42).map(({ species: _label, ...raw }) => raw);

  it('is live but not ready until the model is loaded', async () => {
    expect((await fetch(`${base}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(400);
    const v1 = await fetch(`${base}/v1/models/iris`);
    expect(v1.status).toBe(503);
    expect(await v1.json()).toEqual({ name: 'iris', ready: false });
    const predict = await post('/v1/models/iris:predict', { instances: rows });
    expect(predict.status).toBe(503);
    expect(await predict.json()).toEqual({ error: 'model "iris" is still loading' });
    server.setModel(model);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    expect((await fetch(`${base}/v2/models/iris/versions/1/ready`)).status).toBe(200);
    expect(await (await fetch(`${base}/v1/models/iris`)).json()).toEqual({
      name: 'iris',
      ready: true,
    });
  });

  it('answers V1 predict on raw records and prepared rows with the model’s own outputs', async () => {
    const expected = expectedOutputs(tf, artifact, rows);
    const response = await post('/v1/models/iris:predict', { instances: rows });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await response.json()) as {
      predictions: { label: string; probabilities: number[] }[];
    };
    expect(body.predictions.map((p) => p.probabilities)).toEqual(
      expected.map((row) => Array.from(Float32Array.from(row))),
    );
    const classes = artifact.schema.label.classes!;
    expect(body.predictions.map((p) => p.label)).toEqual(
      expected.map((row) => classes[row.indexOf(Math.max(...row))]),
    );
    const prepared = rows.map((r) => prepareRecord(artifact.schema, r));
    const again = (await (
      await post('/v1/models/iris:predict', { instances: prepared })
    ).json()) as typeof body;
    expect(again).toEqual(body);
  });

  it('answers V2 infer on per-column inputs and on a prepared tensor, echoing the id', async () => {
    const expected = expectedOutputs(tf, artifact, rows).flat();
    const tabular = await post('/v2/models/iris/versions/1/infer', {
      id: 'client-7',
      inputs: [
        { name: 'length', datatype: 'FP64', shape: [5], data: rows.map((r) => r.length) },
        { name: 'width', datatype: 'FP64', shape: [5], data: rows.map((r) => r.width) },
        { name: 'colour', datatype: 'BYTES', shape: [5], data: rows.map((r) => r.colour) },
        { name: 'fresh', datatype: 'BOOL', shape: [5, 1], data: rows.map((r) => [r.fresh]) },
      ],
    });
    expect(tabular.status).toBe(200);
    const body = (await tabular.json()) as {
      id: string;
      model_version: string;
      outputs: { name: string; data: unknown[] }[];
    };
    expect(body.id).toBe('client-7');
    // The request ID is the server's own: where a labelling client finds it.
    expect(body).toMatchObject({ parameters: { request_id: tabular.headers.get('x-request-id') } });
    expect(body.model_version).toBe('1');
    expect(body.outputs[0]!.data).toEqual(Array.from(Float32Array.from(expected)));
    const prepared = rows.flatMap((r) => prepareRecord(artifact.schema, r));
    const tensor = await post('/v2/models/iris/infer', {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [5, 6], data: prepared }],
    });
    const tensorBody = (await tensor.json()) as typeof body;
    expect(tensorBody.outputs).toEqual(body.outputs);
    expect(tensorBody.id).toBe(tensor.headers.get('x-request-id'));
    expect(tensorBody).not.toHaveProperty('parameters');
  });

  it('serves V2 metadata', async () => {
    expect(await (await fetch(`${base}/v2`)).json()).toEqual({
      name: 'lathe-server',
      version: '0.1.0',
      extensions: [],
    });
    const metadata = (await (await fetch(`${base}/v2/models/iris`)).json()) as {
      inputs: unknown[];
    };
    expect(metadata.inputs).toHaveLength(4);
  });

  it.each([
    [
      'unknown model',
      'POST',
      '/v1/models/rose:predict',
      { instances: [] },
      404,
      'model "rose" is not served here; this server serves "iris"',
    ],
    [
      'unknown version',
      'POST',
      '/v2/models/iris/versions/9/infer',
      { inputs: [] },
      404,
      'version "9" of model "iris" is not served here',
    ],
    [
      'unknown version (ready)',
      'GET',
      '/v2/models/iris/versions/9/ready',
      undefined,
      404,
      'version "9"',
    ],
    [
      'unknown path',
      'GET',
      '/v3/models',
      undefined,
      404,
      '/v3/models is not an endpoint of this server',
    ],
    [
      'wrong method',
      'GET',
      '/v1/models/iris:predict',
      undefined,
      405,
      'GET is not allowed on /v1/models/iris:predict; use POST',
    ],
    [
      'malformed JSON',
      'POST',
      '/v1/models/iris:predict',
      '{"instances": [',
      400,
      'the request body is not valid JSON',
    ],
    ['empty body', 'POST', '/v2/models/iris/infer', '', 400, 'the request body is empty'],
    [
      'wrong shape',
      'POST',
      '/v2/models/iris/infer',
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] },
      400,
      'prepared features must have shape [n, 6]',
    ],
    [
      'a bad cell',
      'POST',
      '/v1/models/iris:predict',
      { instances: [{ length: 'tall', width: 1, colour: 'red', fresh: null }] },
      400,
      'instances[0]: column length: "tall" is not a number',
    ],
  ])('answers %s with %s', async (_name, method, path, body, status, message) => {
    const response =
      method === 'POST' ? await post(path, body) : await fetch(`${base}${path}`, { method });
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: string }).error).toContain(message);
  });

  it('refuses a body over the limit with 413', async () => {
    const big = { instances: new Array(20_000).fill([0, 0, 0, 0, 0, 0]) };
    const response = await post('/v1/models/iris:predict', big);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toContain(
      'the limit is 65536 bytes',
    );
  });

  it('mints every request ID, keeping a client’s own only for correlation', async () => {
    const response = await post(
      '/v1/models/iris:predict',
      { instances: [rows[0]] },
      { 'x-request-id': 'abc-123' },
    );
    const minted = response.headers.get('x-request-id')!;
    expect(minted).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(response.headers.get('x-correlation-id')).toBe('abc-123');
    const again = await post(
      '/v1/models/iris:predict',
      { instances: [rows[0]] },
      { 'x-request-id': 'abc-123' },
    );
    expect(again.headers.get('x-request-id')).not.toBe(minted);
    // A label names the minted ID; the client's is no key.
    const byClientId = await post(
      '/v1/models/iris:feedback',
      { request_id: 'abc-123', labels: ['setosa'] },
      authorized,
    );
    expect(byClientId.status).toBe(400);
    await requestLog.flush();
    const logged = [...written.values()]
      .flatMap((text) => text.trim().split('\n'))
      .map((line) => JSON.parse(line) as { requestId: string; correlationId?: string })
      .find((record) => record.requestId === minted);
    expect(logged?.correlationId).toBe('abc-123');
  });

  it('runs concurrent requests in shared forward passes', async () => {
    // Forty kept-alive connections, then forty requests written at once: the server reads them
    // in one turn of its loop (the client shares the process, so it must not wait on it).
    const { Agent, request } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 40 });
    const url = new URL(base);
    const send = (method: string, path: string, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const headers = { 'content-type': 'application/json' };
        const req = request(
          { host: url.hostname, port: url.port, path, method, agent, headers },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    await Promise.all(Array.from({ length: 40 }, () => send('GET', '/v2/health/live')));
    const before = forwardPasses;
    slowPassMs = 2;
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        send('POST', '/v1/models/iris:predict', JSON.stringify({ instances: [rows[i % 5]] })),
      ),
    );
    slowPassMs = 0;
    agent.destroy();
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(forwardPasses - before).toBeLessThan(20);
  });

  it('counts requests by model, version, protocol and code, and observes latency and batches', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(
      /lathe_inference_requests_total\{model="iris",version="1",protocol="v1",code="200"\} \d+/,
    );
    expect(text).toMatch(
      /lathe_inference_requests_total\{model="iris",version="1",protocol="v1",code="400"\} [1-9]/,
    );
    expect(text).toMatch(
      /lathe_inference_requests_total\{model="iris",version="1",protocol="v2",code="404"\} 1/,
    );
    expect(text).toMatch(
      /lathe_inference_request_duration_seconds_count\{model="iris",version="1",protocol="v2"\} [1-9]/,
    );
    expect(text).toMatch(
      /lathe_inference_batch_requests_bucket\{le="1",model="iris",version="1"\} \d+/,
    );
    expect(text).toContain('lathe_inference_requests_in_flight{model="iris",version="1"} 0');
    expect(text).toContain('lathe_inference_model_ready{model="iris",version="1"} 1');
  });

  it('scores labels submitted for earlier requests and moves live accuracy', async () => {
    const response = await post('/v1/models/iris:predict', { instances: rows.slice(0, 2) });
    const id = response.headers.get('x-request-id')!;
    const predicted = (
      (await response.json()) as { predictions: { label: string }[] }
    ).predictions.map((p) => p.label);
    const right = await post(
      '/v1/models/iris:feedback',
      { request_id: id, labels: predicted },
      authorized,
    );
    expect(right.status).toBe(202);
    expect(await right.json()).toEqual({ request_id: id, rows: 2, matched: true, stored: true });
    const accuracy = async () =>
      Number(
        /lathe_feedback_live_accuracy\{[^}]*\} ([\d.]+)/.exec(
          await (await fetch(`${base}/metrics`)).text(),
        )?.[1],
      );
    expect(await accuracy()).toBe(1);
    // First label wins: a relabel is refused and counted, the score unchanged.
    const classes = artifact.schema.label.classes!;
    const wrong = predicted.map((label) => classes[(classes.indexOf(label) + 1) % classes.length]);
    const relabel = await post(
      '/v1/models/iris:feedback',
      { request_id: id, labels: wrong },
      authorized,
    );
    expect(relabel.status).toBe(409);
    expect(await relabel.json()).toEqual({
      error: `request ${id} already has a label; the first label stands`,
    });
    expect(await accuracy()).toBe(1);

    const second = await post('/v1/models/iris:predict', { instances: rows.slice(0, 2) });
    const secondId = second.headers.get('x-request-id')!;
    const count = await post(
      '/v1/models/iris:feedback',
      { request_id: secondId, labels: ['setosa'] },
      authorized,
    );
    expect(count.status).toBe(400);
    expect(((await count.json()) as { error: string }).error).toContain(
      'had 2 rows; 1 labels were given',
    );
    // A refused submission does not use up the request's one label.
    const fixed = await post(
      '/v1/models/iris:feedback',
      { request_id: secondId, labels: wrong },
      authorized,
    );
    expect(fixed.status).toBe(202);
    expect(await accuracy()).toBe(0.5);

    const elsewhere = '0f0f0f0f-0000-4000-8000-000000000000';
    const unknown = await post(
      '/v1/models/iris:feedback',
      { request_id: elsewhere, labels: ['setosa'] },
      authorized,
    );
    expect(await unknown.json()).toMatchObject({ matched: false, stored: true });
    const unknownAgain = await post(
      '/v1/models/iris:feedback',
      { request_id: elsewhere, labels: ['virginica'] },
      authorized,
    );
    expect(unknownAgain.status).toBe(409);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain(
      'lathe_feedback_refused_total{model="iris",version="1",reason="conflict"} 2',
    );
  });

  it.each([
    ['no token', {}, 401, 'feedback needs "Authorization: Bearer <token>"'],
    [
      'a wrong token',
      { authorization: 'Bearer label-writer-tokem' },
      401,
      'the bearer token is not valid',
    ],
    ['another scheme', { authorization: 'Basic bGFiZWw6d3JpdGVy' }, 401, 'Authorization: Bearer'],
  ])(
    'refuses feedback with %s (%i), before reading the body',
    async (_name, headers, status, message) => {
      const response = await post(
        '/v1/models/iris:feedback',
        { request_id: '0f0f0f0f-0000-4000-8000-000000000001', labels: ['setosa'] },
        headers,
      );
      expect(response.status).toBe(status);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="lathe-feedback"');
      expect(((await response.json()) as { error: string }).error).toContain(message);
    },
  );

  it.each([
    [
      'a label that is not a class',
      { labels: ['rose'] },
      'labels[0]: "rose" is not a class of the model; its classes are',
    ],
    ['an unknown field', { labels: ['setosa'], weight: 2 }, 'unknown field "weight"'],
  ])('refuses %s with 400', async (_name, fields, message) => {
    const predicted = await post('/v1/models/iris:predict', { instances: [rows[0]] });
    const response = await post(
      '/v1/models/iris:feedback',
      { request_id: predicted.headers.get('x-request-id'), ...fields },
      authorized,
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toContain(message);
  });

  it('writes sampled requests and labels as JSON Lines', async () => {
    await requestLog.flush();
    await labelLog.flush();
    const requests = [...written.entries()].filter(([key]) => key.includes('/requests/'));
    const labels = [...written.entries()].filter(([key]) => key.includes('/labels/'));
    const first = JSON.parse(requests[0]![1].split('\n')[0]!);
    expect(first).toMatchObject({ model: 'iris', modelVersion: '1', protocol: 'v1' });
    expect(first.records[0]).toEqual(rows[0]);
    expect(first.features[0]).toHaveLength(6);
    const label = JSON.parse(labels[0]![1].split('\n')[0]!);
    expect(label).not.toHaveProperty('correlationId');
    expect(label.labels).toHaveLength(2);
    expect(label.predictions).toHaveLength(2);
  });

  it('drains on shutdown: not ready at once, in-flight requests still answered', async () => {
    // A request whose body is still arriving when shutdown starts.
    const { request } = await import('node:http');
    const url = new URL(`${base}/v1/models/iris:predict`);
    const body = JSON.stringify({ instances: [rows[0]] });
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
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 300);
    });
    await new Promise((r) => setTimeout(r, 100));
    const stopped = server.shutdown();
    expect(server.ready).toBe(false);
    expect(await answered).toBe(200);
    await stopped;
  });
});

describe('InferenceServer limits', () => {
  let server: InferenceServer;
  let port: number;
  const logged: unknown[] = [];
  const raw = fixtureRows('classification', 3, 5).map(({ species: _label, ...r }) => r);

  beforeAll(async () => {
    server = new InferenceServer({
      modelName: 'iris',
      modelVersion: '1',
      port: 0,
      bindAddress: '127.0.0.1',
      batchMaxSize: 1,
      batchMaxLatencyMs: 0,
      maxRequestBytes: 64 * 1024,
      requestLogSampleRate: 0,
      shutdownDelayMs: 0,
      metrics: createServerMetrics(),
      log: pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line)) }),
      limits: {
        maxInFlight: 2,
        headersTimeoutMs: 300,
        bodyTimeoutMs: 300,
        requestTimeoutMs: 1000,
        keepAliveTimeoutMs: 5000,
      },
    });
    port = await server.listen();
    const loaded = await load('models/ns/iris/1/', artifact.digest);
    server.setModel({
      ...loaded,
      predict: (features, rows) => {
        if (rows === 3) throw new Error('secret internal detail');
        return loaded.predict(features, rows);
      },
    });
  });
  afterAll(async () => {
    await server.shutdown();
  });

  /** Writes `head` (and `body`) on a new connection; resolves with what came back when it closes or `until` matches. */
  const exchange = async (head: string, body = '', until?: RegExp) => {
    const { connect } = await import('node:net');
    return new Promise<{ text: string; ms: number }>((resolve, reject) => {
      const started = performance.now();
      const socket = connect(port, '127.0.0.1', () => socket.write(head + body));
      let text = '';
      const done = () => resolve({ text, ms: performance.now() - started });
      socket.on('data', (chunk) => {
        text += chunk;
        if (until?.test(text)) {
          socket.destroy();
          done();
        }
      });
      socket.on('close', done);
      socket.on('error', reject);
    });
  };
  const post = (body: string, contentType?: string) =>
    `POST /v1/models/iris:predict HTTP/1.1\r\nhost: x\r\n${contentType ? `content-type: ${contentType}\r\n` : ''}content-length: ${Buffer.byteLength(body)}\r\n\r\n`;

  it.each([
    ['text/plain', 'text/plain;charset=UTF-8'],
    ['no content type', undefined],
  ])('refuses a body sent as %s with 415', async (_name, contentType) => {
    const body = JSON.stringify({ instances: raw.slice(0, 1) });
    const { text } = await exchange(post(body, contentType), body, /\}$/);
    expect(text).toMatch(/^HTTP\/1\.1 415 /);
    expect(text).toContain('send the body as application/json');
  });

  it('disables feedback without a token: 403 saying how to enable it', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/v1/models/iris:feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer anything' },
      body: JSON.stringify({ request_id: '0f0f0f0f-0000-4000-8000-000000000000', label: 'setosa' }),
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: string }).error).toContain(
      'feedback is disabled on this server: no token is configured; to enable it, set spec.requestLogging.feedback.tokenSecretRef',
    );
  });

  it('answers an unexpected failure with 500, internal error and the request ID only', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/v1/models/iris:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: raw }),
    });
    expect(response.status).toBe(500);
    const requestId = response.headers.get('x-request-id');
    expect(await response.json()).toEqual({ error: 'internal error', request_id: requestId });
    expect(JSON.stringify(logged)).toContain('secret internal detail');
  });

  it('refuses predictions beyond the in-flight limit with 503 and Retry-After', async () => {
    const body = JSON.stringify({ instances: raw.slice(0, 1) });
    // Two requests whose bodies have not arrived yet hold both places.
    const held = [0, 1].map(() => exchange(post(body, 'application/json'), '{', /\}$/));
    await vi.waitFor(() => expect(server.requestsInFlight).toBe(2));
    const refused = await exchange(post(body, 'application/json'), body, /\}$/);
    expect(refused.text).toMatch(/^HTTP\/1\.1 503 /);
    expect(refused.text).toMatch(/retry-after: 1\r\n/i);
    expect(refused.text).toContain('predictions in flight');
    // Idle past the body timeout (the subject of the test), they are refused with 408 and the places free up.
    for (const { text, ms } of await Promise.all(held)) {
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
      expect(text).toContain('the request body did not arrive within 300 ms');
      expect(ms).toBeLessThan(1000);
    }
    const answered = await exchange(post(body, 'application/json'), body, /\]\}$/);
    expect(answered.text).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('answers headers that do not arrive in time with a JSON 408', async () => {
    const { text, ms } = await exchange('POST /v1/models/iris:predict HTTP/1.1\r\nhost: x\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('{"error":"the request did not arrive in time"}');
    expect(ms).toBeLessThan(1000);
  });

  it('keeps an idle kept-alive connection past the header timeout', async () => {
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<number>((resolve, reject) => {
        import('node:http').then(({ request }) => {
          const req = request(
            { host: '127.0.0.1', port, path: '/v2/health/live', agent },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end();
        });
      });
    expect(await get()).toBe(200);
    // Idle longer than the header timeout: the wait is what is tested.
    await new Promise((r) => setTimeout(r, 700));
    expect(await get()).toBe(200);
    agent.destroy();
  });
});

describe('InferenceServer shutdown', () => {
  it('answers a request still in flight at the drain deadline with 503 and stops in time', async () => {
    const server = new InferenceServer({
      modelName: 'iris',
      modelVersion: '1',
      port: 0,
      bindAddress: '127.0.0.1',
      batchMaxSize: 1,
      batchMaxLatencyMs: 0,
      maxRequestBytes: 64 * 1024,
      requestLogSampleRate: 0,
      shutdownDelayMs: 0,
      drainTimeoutMs: 300,
      metrics: createServerMetrics(),
      log: pino({ level: 'silent' }),
    });
    const port = await server.listen();
    server.setModel(await load('models/ns/iris/1/', artifact.digest));
    // A slow client: headers and the start of a body, the rest never comes.
    const { connect } = await import('node:net');
    const body = JSON.stringify({ instances: [[0, 0, 0, 0, 0, 0]] });
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', () => undefined);
    socket.write(
      `POST /v1/models/iris:predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await vi.waitFor(() => expect(server.requestsInFlight).toBe(1));
    const started = performance.now();
    const { unanswered } = await server.shutdown();
    const tookMs = performance.now() - started;
    expect(unanswered).toBe(1);
    // The drain deadline, then at most the half second connections get to close.
    expect(tookMs).toBeGreaterThanOrEqual(290);
    expect(tookMs).toBeLessThan(300 + 500 + 300);
    await closed;
    expect(text).toMatch(/^HTTP\/1\.1 503 /);
    expect(text).toMatch(/retry-after: 1\r\n/i);
    expect(text).toContain('the server is shutting down and could not finish this request in time');
  });
});

describe('InferenceServer explain', () => {
  const metrics = createServerMetrics();
  const servers: InferenceServer[] = [];
  let loaded: ServedModel;
  const rows = fixtureRows('classification', 3, 61).map(({ species: _label, ...raw }) => raw);
  const columns = ['length', 'width', 'colour', 'fresh'];

  /** A server on `model` with these explain limits; returns its base URL. */
  const serve = async (model: ServedModel, explain: Record<string, number> = {}) => {
    const server = new InferenceServer({
      modelName: 'iris',
      modelVersion: '1',
      port: 0,
      bindAddress: '127.0.0.1',
      batchMaxSize: 1,
      batchMaxLatencyMs: 0,
      maxRequestBytes: 256 * 1024,
      requestLogSampleRate: 0,
      shutdownDelayMs: 0,
      metrics,
      log: pino({ level: 'silent' }),
      explain: { maxRows: 4, backgroundRows: 20, ...explain },
    });
    servers.push(server);
    const port = await server.listen();
    server.setModel(model);
    return `http://127.0.0.1:${port}`;
  };
  const post = (url: string, body: unknown) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  let base: string;

  beforeAll(async () => {
    loaded = await load('models/ns/iris/1/', artifact.digest);
    base = await serve(loaded);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.shutdown()));
  });

  /**
   * Exact Shapley values by brute force over the 4! orderings of the columns: the mean marginal
   * contribution of each, v(S) the model's mean output over the background rows with S's
   * feature groups taken from the explained row.
   */
  function bruteForceShapley(x: number[], background: number[][]): Record<string, number[]> {
    const groups = [[0], [1], [2, 3, 4], [5]];
    const value = (members: Set<number>): number[] => {
      const features = background.flatMap((b) =>
        b.map((v, f) => (members.has(groups.findIndex((g) => g.includes(f))) ? x[f]! : v)),
      );
      const out = loaded.predict(Float32Array.from(features), background.length) as Float32Array;
      return [0, 1, 2].map(
        (k) => background.reduce((s, _, r) => s + out[r * 3 + k]!, 0) / background.length,
      );
    };
    const orders: number[][] = [];
    const permute = (prefix: number[], rest: number[]) => {
      if (rest.length === 0) orders.push(prefix);
      for (const [i, c] of rest.entries()) {
        permute(
          [...prefix, c],
          rest.filter((_, j) => j !== i),
        );
      }
    };
    permute([], [0, 1, 2, 3]);
    const phi = columns.map(() => [0, 0, 0]);
    for (const order of orders) {
      const members = new Set<number>();
      let before = value(members);
      for (const c of order) {
        members.add(c);
        const after = value(members);
        for (let k = 0; k < 3; k++) phi[c]![k]! += (after[k]! - before[k]!) / orders.length;
        before = after;
      }
    }
    return Object.fromEntries(columns.map((c, i) => [c, phi[i]!]));
  }

  it('answers V1 :explain with the predictions :predict gives and exact Shapley values per column', async () => {
    const response = await post(`${base}/v1/models/iris:explain`, { instances: rows });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      predictions: unknown[];
      explanations: RowExplanation[];
    };
    const predicted = (await (
      await post(`${base}/v1/models/iris:predict`, { instances: rows })
    ).json()) as { predictions: unknown[] };
    expect(Object.keys(body)).toEqual(['predictions', 'explanations']);
    expect(body.predictions).toEqual(predicted.predictions);
    expect(body.explanations).toHaveLength(3);
    // The 20 background rows are spread over the 100 stored.
    const stored = JSON.parse(artifact.files['background.json']!.toString()) as {
      rows: number[][];
    };
    const background = Array.from({ length: 20 }, (_, j) => stored.rows[j * 5]!);
    body.explanations.forEach((explanation, r) => {
      expect(explanation).toMatchObject({
        method: 'exact',
        backgroundRows: 20,
        outputs: ['setosa', 'versicolor', 'virginica'],
      });
      expect(explanation.prediction).toEqual(
        (body.predictions[r] as { probabilities: number[] }).probabilities,
      );
      const expected = bruteForceShapley(prepareRecord(artifact.schema, rows[r]!), background);
      for (const column of columns) {
        for (const [k, phi] of expected[column]!.entries()) {
          expect(explanation.values[column]![k]).toBeCloseTo(phi, 5);
        }
      }
      for (const residual of explanation.residual) expect(Math.abs(residual)).toBeLessThan(1e-6);
    });
  });

  it.each([
    { path: '/v2/models/iris/explain', id: undefined },
    { path: '/v2/models/iris/versions/1/explain', id: 'client-9' },
  ])('answers V2 $path with the /infer response and explanations', async ({ path, id }) => {
    const inputs = [
      { name: 'length', datatype: 'FP64', shape: [3], data: rows.map((r) => r.length) },
      { name: 'width', datatype: 'FP64', shape: [3], data: rows.map((r) => r.width) },
      { name: 'colour', datatype: 'BYTES', shape: [3], data: rows.map((r) => r.colour) },
      { name: 'fresh', datatype: 'BOOL', shape: [3], data: rows.map((r) => r.fresh) },
    ];
    const response = await post(`${base}${path}`, { ...(id ? { id } : {}), inputs });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      id: string;
      outputs: unknown[];
      explanations: RowExplanation[];
    };
    const inferred = (await (await post(`${base}/v2/models/iris/infer`, { inputs })).json()) as {
      outputs: unknown[];
    };
    expect(body.outputs).toEqual(inferred.outputs);
    expect(body.id).toBe(id ?? response.headers.get('x-request-id'));
    const v1 = (await (
      await post(`${base}/v1/models/iris:explain`, { instances: rows })
    ).json()) as { explanations: RowExplanation[] };
    expect(body.explanations).toEqual(v1.explanations);
  });

  it.each([
    { name: 'no instances', body: {} },
    { name: 'empty instances', body: { instances: [] } },
    { name: 'a left-out input', body: { instances: [{ length: 1, width: 2, colour: 'red' }] } },
    { name: 'a wrong-width prepared row', body: { instances: [[1, 2, 3]] } },
    { name: 'malformed JSON', body: '{"instances": [' },
  ])('refuses $name with the 400 :predict gives', async ({ body }) => {
    const explain = await post(`${base}/v1/models/iris:explain`, body);
    const predict = await post(`${base}/v1/models/iris:predict`, body);
    expect(explain.status).toBe(400);
    expect(await explain.json()).toEqual(await predict.json());
  });

  it('refuses a V2 body :infer refuses, with the same 400', async () => {
    const body = { inputs: [{ name: 'length', datatype: 'FP64', shape: [1], data: [1] }] };
    const explain = await post(`${base}/v2/models/iris/explain`, body);
    expect(explain.status).toBe(400);
    expect(await explain.json()).toEqual(
      await (await post(`${base}/v2/models/iris/infer`, body)).json(),
    );
  });

  it('refuses more rows than maxRows with a 400 naming the limit', async () => {
    const five = fixtureRows('classification', 5, 3).map(({ species: _l, ...raw }) => raw);
    const response = await post(`${base}/v1/models/iris:explain`, { instances: five });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error:
        'the request has 5 rows; explain takes at most 4 rows per request (spec.explain.maxRows)',
    });
    expect((await post(`${base}/v1/models/iris:predict`, { instances: five })).status).toBe(200);
  });

  it('allows only POST', async () => {
    const response = await fetch(`${base}/v1/models/iris:explain`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('answers 504 naming the limit when the explanation overruns its timeout', async () => {
    const slow = await serve(
      {
        ...loaded,
        predict: (features, n) => {
          const until = performance.now() + 20;
          while (performance.now() < until);
          return loaded.predict(features, n);
        },
      },
      { timeoutMs: 10, backgroundRows: 100 },
    );
    const started = performance.now();
    const response = await post(`${slow}/v1/models/iris:explain`, { instances: rows });
    expect(response.status).toBe(504);
    expect(((await response.json()) as { error: string }).error).toContain(
      'did not finish within 10 ms (spec.explain.timeoutSeconds)',
    );
    // The predictions' pass and one model call past the deadline, not the whole explanation.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('serves predictions from an artifact without a background, and answers explain 501', async () => {
    const { 'background.json': _background, ...files } = artifact.files;
    const { manifest, digest } = manifestFor(files);
    store.put('models/ns/iris/20/', { files, manifest });
    const old = await serve(await load('models/ns/iris/20/', digest));
    expect((await post(`${old}/v1/models/iris:predict`, { instances: rows })).status).toBe(200);
    const response = await post(`${old}/v1/models/iris:explain`, { instances: rows });
    expect(response.status).toBe(501);
    expect(((await response.json()) as { error: string }).error).toContain(
      'has no explanation background (background.json) in its artifact',
    );
  });

  it('refuses a background.json that differs from the manifest', async () => {
    store.put('models/ns/iris/21/', {
      ...artifact,
      files: {
        ...artifact.files,
        'background.json': Buffer.from(`${artifact.files['background.json']!.toString()} `),
      },
    });
    await expect(load('models/ns/iris/21/', artifact.digest)).rejects.toMatchObject({
      name: 'ArtifactError',
      reason: 'FileMismatch',
    });
  });

  it('refuses a background.json for other features than the model prepares, naming them', async () => {
    const background = JSON.parse(artifact.files['background.json']!.toString()) as {
      features: string[];
    };
    background.features[5] = 'stale';
    const files = { ...artifact.files, 'background.json': Buffer.from(JSON.stringify(background)) };
    const { manifest, digest } = manifestFor(files);
    store.put('models/ns/iris/22/', { files, manifest });
    const error = await load('models/ns/iris/22/', digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect(error).toMatchObject({ reason: 'ModelInvalid' });
    expect((error as Error).message).toMatch(
      /^background\.json has features length, .*, stale; schema\.json prepares length, .*, fresh$/,
    );
  });

  it('counts explain requests apart from predictions', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /lathe_explain_requests_total\{model="iris",version="1",protocol="v1",code="200"\} [1-9]/,
    );
    expect(text).toMatch(
      /lathe_explain_requests_total\{model="iris",version="1",protocol="v2",code="200"\} 2/,
    );
    expect(text).toMatch(
      /lathe_explain_requests_total\{model="iris",version="1",protocol="v1",code="504"\} 1/,
    );
    expect(text).toMatch(
      /lathe_explain_request_duration_seconds_count\{model="iris",version="1",protocol="v1"\} [1-9]/,
    );
    // The V2 explain requests are not in the prediction counter: only the two /infer calls.
    expect(text).toMatch(
      /lathe_inference_requests_total\{model="iris",version="1",protocol="v2",code="200"\} 2\n/,
    );
  });
});
