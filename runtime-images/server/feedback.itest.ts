/**
 * Feedback that can be trusted, and a shutdown bounded in time, on the real server program
 * (`main.ts`) over real HTTP against the local cluster's MinIO: request IDs minted by the
 * server (a client's kept only as a correlation ID), the bearer token read from a file (401,
 * 403 when none is configured, a rotated token taking effect), the first label winning (409),
 * labels bounded to the model's classes; and on SIGTERM a slow request cut off with 503 at the
 * drain deadline, the buffered labels still written, the process gone well within its bounds.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedbackLabelsSchema, SampledRequestSchema } from '../../contract/feedback-log.js';
import { ObjectStore } from '../../contract/object-store.js';
import { feedbackPrefix, modelVersionPrefix } from '../../contract/object-store-layout.js';
import { ServeEnv } from '../../contract/runtime-env.js';
import { clusterInfo, eventually } from '../../e2e/cluster/testenv.js';
import {
  type ServerProgram,
  startServerProgram,
  stopServerProgram,
  waitForServer,
} from '../../e2e/testing/server-program.js';
import {
  type FixtureArtifact,
  fixtureRows,
  makeFixtureArtifact,
  uploadFixtureArtifact,
} from './fixture.js';
import { loadTensorflow } from './tensorflow.js';

const { minio } = clusterInfo();
const store = new ObjectStore(minio);
const namespace = `itest-${randomBytes(3).toString('hex')}`;
const MINTED = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let artifact: FixtureArtifact;
let workDir: string;
let tokenFile: string;

type RunningServer = ServerProgram;

/** Starts the server on this test's model (the wasm backend), and waits until it is ready. */
async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const server = await startServerProgram({
    namespace,
    version: 1,
    digest: artifact.digest,
    workDir,
    env: { [ServeEnv.backend]: 'wasm', [ServeEnv.podName]: 'iris-v1-feedback-test', ...env },
  });
  await waitForServer(server);
  return server;
}
const stop = stopServerProgram;

/** Replaces the token file as the kubelet updates a Secret volume: a new file renamed over it. */
async function writeToken(token: string): Promise<void> {
  await writeFile(`${tokenFile}.new`, `${token}\n`);
  await rename(`${tokenFile}.new`, tokenFile);
}

const rows = fixtureRows('classification', 4, 21).map(({ species: _label, ...raw }) => raw);

async function post(
  server: RunningServer,
  p: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${server.base}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function labelLines(prefix: string) {
  const all = [];
  for (const key of await store.list(minio.bucket, `${prefix}labels/`)) {
    const text = (await store.read(minio.bucket, key)).toString();
    for (const line of text.trim().split('\n'))
      all.push(FeedbackLabelsSchema.parse(JSON.parse(line)));
  }
  return all;
}

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-feedback-itest-'));
  tokenFile = path.join(workDir, 'token');
  await writeToken('first-token');
  const { tf } = await loadTensorflow('wasm');
  artifact = await makeFixtureArtifact(tf, { epochs: 5 });
  await uploadFixtureArtifact(
    store,
    minio.bucket,
    modelVersionPrefix(namespace, 'iris', 1),
    artifact,
  );
}, 120_000);

afterAll(async () => {
  await store.removePrefix(minio.bucket, `models/${namespace}/`);
  await store.removePrefix(minio.bucket, `feedback/${namespace}/`);
  await rm(workDir, { recursive: true, force: true });
});

describe('feedback on the server program', () => {
  let server: RunningServer;
  const prefix = `${feedbackPrefix(namespace, 'iris')}trusted/`;
  beforeAll(async () => {
    server = await startServer({
      [ServeEnv.feedbackTokenFile]: tokenFile,
      [ServeEnv.requestLogSampleRate]: '1',
      [ServeEnv.requestLogFlushIntervalMs]: '200',
      [ServeEnv.feedbackUri]: `s3://${minio.bucket}/${prefix}`,
      [ServeEnv.shutdownDelayMs]: '0',
    });
  }, 120_000);
  afterAll(() => stop(server));

  it('mints request IDs; a client’s own is only a correlation ID in the answer and the log', async () => {
    const response = await post(
      server,
      '/v1/models/iris:predict',
      { instances: rows.slice(0, 1) },
      { 'x-request-id': 'client-chosen-1' },
    );
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(MINTED);
    expect(response.headers.get('x-correlation-id')).toBe('client-chosen-1');
    const logged = await eventually(
      async () => {
        for (const key of await store.list(minio.bucket, `${prefix}requests/`)) {
          const text = (await store.read(minio.bucket, key)).toString();
          for (const line of text.trim().split('\n')) {
            const record = SampledRequestSchema.parse(JSON.parse(line));
            if (record.requestId === requestId) return record;
          }
        }
        throw new Error(`request ${requestId} is not in the log yet`);
      },
      { timeoutMs: 20_000, what: 'the sampled request in the store' },
    );
    expect(logged.correlationId).toBe('client-chosen-1');
    // The client's ID is no key a label can attach to.
    const byClientId = await post(
      server,
      '/v1/models/iris:feedback',
      { request_id: 'client-chosen-1', labels: ['setosa'] },
      { authorization: 'Bearer first-token' },
    );
    expect(byClientId.status).toBe(400);
  });

  it('takes a label only with the bearer token, and only the first for a request', async () => {
    const predicted = await post(server, '/v1/models/iris:predict', {
      instances: rows.slice(0, 2),
    });
    const requestId = predicted.headers.get('x-request-id')!;
    const submit = (labels: unknown, headers: Record<string, string>) =>
      post(server, '/v1/models/iris:feedback', { request_id: requestId, labels }, headers);
    const classes = artifact.schema.label.classes!;

    const anonymous = await submit([classes[0], classes[0]], {});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
    const wrong = await submit([classes[0], classes[0]], { authorization: 'Bearer first-tokem' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'the bearer token is not valid' });

    const notAClass = await submit(['rose', classes[0]], { authorization: 'Bearer first-token' });
    expect(notAClass.status).toBe(400);
    expect(((await notAClass.json()) as { error: string }).error).toBe(
      `labels[0]: "rose" is not a class of the model; its classes are ${classes.map((c) => JSON.stringify(c)).join(', ')}`,
    );

    const first = await submit([classes[0], classes[1]], { authorization: 'Bearer first-token' });
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({
      request_id: requestId,
      rows: 2,
      matched: true,
      stored: true,
    });
    const relabel = await submit([classes[2], classes[2]], { authorization: 'Bearer first-token' });
    expect(relabel.status).toBe(409);
    const metrics = await (await fetch(`${server.base}/metrics`)).text();
    expect(metrics).toContain(
      'lathe_feedback_refused_total{model="iris",version="1",reason="conflict"} 1',
    );
    expect(metrics).toContain(
      'lathe_feedback_refused_total{model="iris",version="1",reason="unauthorized"} 2',
    );
    const stored = await eventually(
      async () => {
        const mine = (await labelLines(prefix)).filter((l) => l.requestId === requestId);
        if (mine.length === 0) throw new Error('the label is not in the store yet');
        return mine;
      },
      { timeoutMs: 20_000, what: 'the label in the store' },
    );
    expect(stored.map((l) => l.labels)).toEqual([[classes[0], classes[1]]]);
  });

  it('follows a rotated token without a restart', async () => {
    await writeToken('second-token');
    const predicted = await post(server, '/v1/models/iris:predict', {
      instances: rows.slice(0, 1),
    });
    const body = { request_id: predicted.headers.get('x-request-id'), labels: ['setosa'] };
    const old = await post(server, '/v1/models/iris:feedback', body, {
      authorization: 'Bearer first-token',
    });
    expect(old.status).toBe(401);
    const rotated = await post(server, '/v1/models/iris:feedback', body, {
      authorization: 'Bearer second-token',
    });
    expect(rotated.status).toBe(202);
  });
});

describe('the server program without a feedback token', () => {
  it('refuses every label with 403, saying how to enable feedback', async () => {
    const server = await startServer({ [ServeEnv.shutdownDelayMs]: '0' });
    try {
      const predicted = await post(server, '/v1/models/iris:predict', {
        instances: rows.slice(0, 1),
      });
      const response = await post(
        server,
        '/v1/models/iris:feedback',
        { request_id: predicted.headers.get('x-request-id'), labels: ['setosa'] },
        { authorization: 'Bearer anything' },
      );
      expect(response.status).toBe(403);
      expect(((await response.json()) as { error: string }).error).toContain(
        'set spec.requestLogging.feedback.tokenSecretRef on the InferenceService',
      );
    } finally {
      await stop(server);
    }
  }, 120_000);
});

describe('shutdown of the server program', () => {
  it('cuts a slow request off with 503 at the drain deadline, writes the buffered labels, exits 0 in time', async () => {
    const prefix = `${feedbackPrefix(namespace, 'iris')}shutdown/`;
    const shutdownDelayMs = 300;
    const drainTimeoutMs = 1500;
    const server = await startServer({
      [ServeEnv.feedbackTokenFile]: tokenFile,
      [ServeEnv.feedbackUri]: `s3://${minio.bucket}/${prefix}`,
      // Nothing is written on the interval: only the shutdown's flush can write the label.
      [ServeEnv.requestLogFlushIntervalMs]: '3600000',
      [ServeEnv.shutdownDelayMs]: String(shutdownDelayMs),
      [ServeEnv.drainTimeoutMs]: String(drainTimeoutMs),
      [ServeEnv.flushTimeoutMs]: '5000',
    });
    try {
      await writeToken('shutdown-token');
      const predicted = await post(server, '/v1/models/iris:predict', {
        instances: rows.slice(0, 1),
      });
      const requestId = predicted.headers.get('x-request-id')!;
      const labelled = await post(
        server,
        '/v1/models/iris:feedback',
        { request_id: requestId, labels: ['setosa'] },
        { authorization: 'Bearer shutdown-token' },
      );
      expect(await labelled.json()).toMatchObject({ stored: true });

      // A slow client: the headers and a few bytes of a body whose rest never comes.
      const body = JSON.stringify({ instances: rows.slice(0, 1) });
      const socket = connect(server.port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk));
      socket.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      await new Promise<void>((resolve) =>
        socket.write(
          `POST /v1/models/iris:predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
          () => resolve(),
        ),
      );
      await eventually(
        async () => {
          const metrics = await (await fetch(`${server.base}/metrics`)).text();
          expect(metrics).toContain(
            'lathe_inference_requests_in_flight{model="iris",version="1"} 1',
          );
        },
        { timeoutMs: 5_000, what: 'the slow request in flight' },
      );

      const signalled = performance.now();
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      const tookMs = performance.now() - signalled;
      // Delay and drain deadline, a flush to MinIO, and the process's own exit.
      expect(tookMs).toBeGreaterThanOrEqual(shutdownDelayMs + drainTimeoutMs - 100);
      expect(tookMs).toBeLessThan(shutdownDelayMs + drainTimeoutMs + 5000);
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 503 /);
      expect(answer).toMatch(/retry-after: 1\r\n/i);
      expect(server.output()).toContain('"unanswered":1');

      const stored = (await labelLines(prefix)).filter((l) => l.requestId === requestId);
      expect(stored.map((l) => l.labels)).toEqual([['setosa']]);
    } finally {
      await stop(server);
    }
  }, 120_000);
});
