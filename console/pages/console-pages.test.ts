/**
 * The model comparison, training and serving pages through the console's server: what a
 * viewer may get is shown with the object's own numbers; what they may not is a 404 that shows
 * nothing of it, and is never read from the object store or the sampler.
 */
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../access.js';
import type { AccessReviewer } from '../access-review.js';
import { staticConsoleCache } from '../cache.js';
import type { KindKey } from '../kinds.js';
import type { RunRecords } from '../run-records.js';
import { createConsoleServer } from '../server.js';
import type { ServingHistory } from '../serving/sampler.js';
import { latheObject } from '../testdata/objects.js';
import { pages } from './index.js';

const viewers: Record<string, Viewer> = {
  all: { username: 'viewer-a', groups: [] },
  models: { username: 'models-only', groups: [] },
};
/** viewer-a may get everything in team-a; models-only only ModelVersions there. */
const reviewer: AccessReviewer = {
  viewerOf: async (token) => viewers[token],
  mayGet: async (viewer, kind: KindKey, ns) =>
    ns === 'team-a' && (viewer.username === 'viewer-a' || kind === 'modelVersion'),
};

const modelVersion = (namespace: string, version: number, accuracy: number) =>
  latheObject('modelVersion', {
    namespace,
    name: `iris-v${version}`,
    spec: {
      modelName: 'iris',
      version,
      artifact: {
        uri: `s3://lathe/models/${namespace}/iris/${version}/`,
        format: 'tfjs',
        digest: `sha256:${'a'.repeat(64)}`,
      },
      metrics: { accuracy, loss: 0.25 },
      lineage: {
        dataset: { name: 'iris', version: 'abcdef012345' },
        trainingJob: { name: `run-${version}` },
      },
    },
  });
const trainingJob = (name: string, phase: string) =>
  latheObject('trainingJob', {
    namespace: 'team-a',
    name,
    spec: { modelName: 'iris', datasetRef: { name: 'iris' } },
    status: { phase, progress: { epoch: 3, totalEpochs: 10, loss: 0.4 } },
  });

const cache = staticConsoleCache({
  modelVersion: [
    modelVersion('team-a', 1, 0.9),
    modelVersion('team-a', 2, 0.9666666666666667),
    modelVersion('team-b', 1, 0.123456789),
  ],
  trainingJob: [trainingJob('run-2', 'Succeeded'), trainingJob('live', 'Running')],
  inferenceService: [
    latheObject('inferenceService', {
      namespace: 'team-a',
      name: 'iris',
      spec: { model: { name: 'iris' } },
      status: { replicas: 3 },
    }),
    latheObject('inferenceService', {
      namespace: 'team-b',
      name: 'secret',
      spec: { model: { name: 'iris' } },
      status: { replicas: 7 },
    }),
  ],
});

const history = (epochs: number) =>
  JSON.stringify({
    epochs: Array.from({ length: epochs }, (_, i) => ({
      epoch: i + 1,
      loss: 1 / (i + 1),
      metrics: {},
    })),
  });
const storeReads: string[] = [];
const runRecords: RunRecords = {
  async readText(key) {
    storeReads.push(key);
    if (key === 'runs/team-a/run-2/history.json') return history(7);
    if (key === 'runs/team-a/live/history.json') return history(3);
    return undefined;
  },
};
const servingAsked: string[] = [];
const serving = {
  history(namespace: string, name: string): ServingHistory {
    servingAsked.push(`${namespace}/${name}`);
    return {
      samples: [1, 2].map((i) => ({
        atMs: Date.UTC(2026, 11, 7, 10, 0, i * 20),
        replicas: 3,
        readyReplicas: 3,
        canaryPercent: 0,
        drift: undefined,
        podsRead: 3,
        podsFailed: 0,
        ...(i === 2
          ? { requestsPerSecond: 2.5, errorRate: 0, p50: 0.001, p95: 0.002, p99: 0.004 }
          : {}),
      })),
      overLimit: false,
      intervalMs: 20_000,
      capacity: 180,
      startedAtMs: Date.UTC(2026, 11, 7, 10, 0, 0),
    };
  },
};

let base = '';
const server = createConsoleServer({
  cache,
  reviewer,
  pages,
  runRecords,
  serving,
  log: pino({ level: 'silent' }),
  secureCookie: false,
  now: () => new Date('2026-12-07T10:05:00Z'),
});
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function get(path: string, token = 'all'): Promise<{ status: number; body: string }> {
  const res = await fetch(base + path, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.text() };
}

describe('model comparison page', () => {
  it('shows the versions’ metrics as spec.metrics has them, and the runs’ epochs', async () => {
    const { status, body } = await get('/models/team-a/iris');
    expect(status).toBe(200);
    expect(body).toContain('<title>Model iris · Lathe console</title>');
    expect(body).toContain(
      'data-metric="accuracy" data-value="0.9666666666666667" class="best">0.9667 ★',
    );
    expect(body).toContain('<td data-version="2" data-field="epochs">7</td>');
    expect(storeReads).toContain('runs/team-a/run-2/history.json');
  });

  it('is a 404 with nothing of the model where the viewer may not get ModelVersions', async () => {
    const { status, body } = await get('/models/team-b/iris');
    expect(status).toBe(404);
    expect(body).not.toContain('0.1235');
    expect(body).not.toContain('0.123456789');
  });

  it('reads no run history for a viewer who may not get TrainingJobs', async () => {
    const before = storeReads.length;
    const { status, body } = await get('/models/team-a/iris', 'models');
    expect(status).toBe(200);
    expect(body).toContain('No training history found');
    expect(storeReads.length).toBe(before);
  });
});

describe('training page', () => {
  it('lists every epoch of history.json and reloads while the run is live', async () => {
    const live = await get('/training/team-a/live');
    expect(live.status).toBe(200);
    expect(live.body).toContain('data-epochs="3"');
    expect(live.body).toContain('<meta http-equiv="refresh" content="5">');
    const done = await get('/training/team-a/run-2');
    expect(done.body).toContain('data-epochs="7"');
    expect(done.body).not.toContain('http-equiv="refresh"');
  });

  it('is a 404 for a viewer who may not get TrainingJobs', async () => {
    const before = storeReads.length;
    const { status, body } = await get('/training/team-a/live', 'models');
    expect(status).toBe(404);
    expect(body).not.toContain('data-progress');
    expect(storeReads.length).toBe(before);
  });
});

describe('serving page', () => {
  it('shows the status and what the sampler measured', async () => {
    const { status, body } = await get('/serving/team-a/iris');
    expect(status).toBe(200);
    expect(body).toContain('<dd data-field="replicas" data-value="3">3</dd>');
    expect(body).toContain('<b data-measured="requestsPerSecond" data-value="2.5">2.5</b>');
    expect(body).toContain('data-samples="2"');
  });

  it('is a 404 for another namespace, and the sampler is not asked', async () => {
    servingAsked.length = 0;
    const { status, body } = await get('/serving/team-b/secret');
    expect(status).toBe(404);
    expect(body).not.toContain('data-value="7"');
    expect(servingAsked).toEqual([]);
  });
});
