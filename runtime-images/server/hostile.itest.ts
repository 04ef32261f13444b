/**
 * The real server program (`main.ts`) under a hostile client, over real HTTP on loopback, with
 * short timeouts: malformed and non-finite JSON, strings in numeric tensors, wrong widths and
 * shapes, 10,000-deep nesting, wrong content types, a 50 MB body, endless and trickled chunked
 * bodies, slow headers on 16 connections, left-out inputs, unknown models and versions,
 * duplicate names, malformed, mistyped and oversized `:explain` / `/explain` requests, and more
 * predictions in flight than the limit. Every case must get a 4xx (413 for size, 503 with
 * Retry-After for overload) with a JSON error, no 5xx, within the configured timeouts, while
 * valid requests keep being answered, and predictions and explanations are answered after.
 *
 * The battery and its raw-socket client are shared with the same test through an
 * InferenceService's Service (`e2e/testing/hostile-battery.ts`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStore } from '../../contract/object-store.js';
import { modelVersionPrefix } from '../../contract/object-store-layout.js';
import { ServeEnv } from '../../contract/runtime-env.js';
import { clusterInfo, eventually } from '../../e2e/cluster/testenv.js';
import {
  type BatteryTarget,
  exchange,
  expectBatteryRefusedInTime,
  head,
  json,
  rows,
  validPrediction,
} from '../../e2e/testing/hostile-battery.js';
import {
  type ServerProgram,
  startServerProgram,
  stopServerProgram,
  waitForServer,
} from '../../e2e/testing/server-program.js';
import { makeFixtureArtifact, uploadFixtureArtifact } from './fixture.js';
import { loadTensorflow } from './tensorflow.js';

const HEADERS_TIMEOUT_MS = 1000;
const BODY_TIMEOUT_MS = 1500;
const REQUEST_TIMEOUT_MS = 3000;
const MAX_IN_FLIGHT = 16;
const EXPLAIN_MAX_ROWS = 4;

const { minio } = clusterInfo();
const store = new ObjectStore(minio);
const namespace = `hostile-${randomBytes(3).toString('hex')}`;
let server: ServerProgram;
let workDir: string;

beforeAll(async () => {
  const { tf } = await loadTensorflow('wasm');
  const artifact = await makeFixtureArtifact(tf, { epochs: 2 });
  await uploadFixtureArtifact(
    store,
    minio.bucket,
    modelVersionPrefix(namespace, 'iris', 1),
    artifact,
  );
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-hostile-'));
  server = await startServerProgram({
    namespace,
    version: 1,
    digest: artifact.digest,
    workDir,
    env: {
      [ServeEnv.batchMaxSize]: '16',
      [ServeEnv.shutdownDelayMs]: '0',
      [ServeEnv.headersTimeoutMs]: String(HEADERS_TIMEOUT_MS),
      [ServeEnv.bodyTimeoutMs]: String(BODY_TIMEOUT_MS),
      [ServeEnv.requestTimeoutMs]: String(REQUEST_TIMEOUT_MS),
      [ServeEnv.maxInFlight]: String(MAX_IN_FLIGHT),
      [ServeEnv.maxRowsPerRequest]: '1000',
      [ServeEnv.maxTensorElements]: '20000',
      [ServeEnv.explainMaxRows]: String(EXPLAIN_MAX_ROWS),
    },
  });
  await waitForServer(server);
}, 120_000);

afterAll(async () => {
  if (server) await stopServerProgram(server);
  await store.removePrefix(minio.bucket, `models/${namespace}/`);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const V1 = '/v1/models/iris:predict';

/** This test's server and the limits it was started with. */
const target = (): BatteryTarget => ({
  host: '127.0.0.1',
  port: server.port,
  model: 'iris',
  headersTimeoutMs: HEADERS_TIMEOUT_MS,
  bodyTimeoutMs: BODY_TIMEOUT_MS,
  maxRowsPerRequest: 1000,
  maxTensorElements: 20_000,
  explainMaxRows: EXPLAIN_MAX_ROWS,
});

describe('the inference server under hostile input', () => {
  it('answers every hostile case with a 4xx and a JSON error in time, and valid requests meanwhile', async () => {
    await expectBatteryRefusedInTime(target());
    expect(server.output()).not.toMatch(/Maximum call stack|"level":"error"/);
  }, 60_000);

  it('refuses predictions beyond the in-flight limit with 503 and Retry-After, then serves again', async () => {
    const body = JSON.stringify({ instances: rows });
    const holding = Array.from({ length: MAX_IN_FLIGHT }, () =>
      exchange(target(), head(V1, undefined), { kind: 'trickle', body, bytes: 1, everyMs: 200 }),
    );
    await eventually(
      async () => {
        const metrics = await (await fetch(`${server.base}/metrics`)).text();
        const inFlight = /lathe_inference_requests_in_flight\{[^}]*\} (\d+)/.exec(metrics)?.[1];
        if (Number(inFlight) < MAX_IN_FLIGHT) throw new Error(`${inFlight} in flight`);
      },
      { timeoutMs: 5000, what: `${MAX_IN_FLIGHT} predictions in flight` },
    );
    const refused = await exchange(
      target(),
      json(V1, { instances: rows }).head,
      json(V1, { instances: rows }).sending,
    );
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body).error).toContain('predictions in flight');
    for (const held of await Promise.all(holding)) expect(held.status).toBe(408);
    expect(await validPrediction(target())).toBe(200);
  }, 30_000);
});
