import { describe, expect, it } from 'vitest';
import type { InferenceServiceObject } from '../../operator/src/controllers/lathe-kinds.js';
import type { ServingSample } from './readings.js';
import type { ServingHistory } from './sampler.js';
import { renderServing } from './serving-page.js';
import { servingView } from './serving-view.js';

const isvc = {
  metadata: { name: 'iris', namespace: 'team-a' },
  spec: { model: { name: 'iris' } },
  status: {
    url: 'http://iris.team-a.svc.cluster.local',
    replicas: 2,
    servedVersions: [
      {
        version: 3,
        modelVersion: 'iris-v3',
        role: 'primary',
        replicas: 2,
        readyReplicas: 2,
        trafficPercent: 90,
      },
      {
        version: 4,
        modelVersion: 'iris-v4',
        role: 'canary',
        replicas: 1,
        readyReplicas: 1,
        trafficPercent: 10,
      },
    ],
    load: { requestsPerSecond: 12.345678, concurrency: 0.5, p95LatencyMs: 4.2 },
    drift: {
      time: '2026-12-07T10:00:00Z',
      metric: 'psi',
      value: 0.2345,
      feature: 'petal',
      samples: 500,
      retrainPolicy: 'nightly',
    },
  },
} as InferenceServiceObject;

const start = Date.UTC(2026, 11, 7, 10, 0, 0);
const sample = (i: number, figures: Partial<ServingSample> = {}): ServingSample => ({
  atMs: start + i * 20_000,
  replicas: 2,
  readyReplicas: 3,
  canaryPercent: 10,
  drift: 0.2345,
  podsRead: 3,
  podsFailed: 0,
  ...figures,
});
const history = (samples: ServingSample[]): ServingHistory => ({
  samples,
  overLimit: false,
  intervalMs: 20_000,
  capacity: 180,
  startedAtMs: start,
});

describe('renderServing', () => {
  it('shows the status as kubectl has it', () => {
    const page = renderServing(servingView(isvc, history([])), start).text;
    expect(page).toContain('<dd data-field="replicas" data-value="2">2</dd>');
    expect(page).toContain('<a href="/objects/inferenceservices/team-a/iris"><b>iris</b></a>');
    expect(page).toMatch(
      /<tr data-version="4">.*<td data-field="role">canary<\/td>.*data-field="trafficPercent" data-value="10">10%<\/td>/s,
    );
    expect(page).toContain('<b data-load="requestsPerSecond" data-value="12.345678">12.3457</b>');
    expect(page).toContain('<b data-drift="value" data-value="0.2345">0.2345</b>');
  });

  it('shows the newest measured figures, exact in data-value', () => {
    const samples = [
      sample(0),
      sample(1, { requestsPerSecond: 4.5, errorRate: 0.02, p50: 0.0012, p95: 0.0049, p99: 0.0099 }),
      sample(2),
    ];
    const page = renderServing(servingView(isvc, history(samples)), start + 60_000).text;
    expect(page).toContain('<b data-measured="requestsPerSecond" data-value="4.5">4.5</b>');
    expect(page).toContain('<b data-measured="errorRate" data-value="0.02">2%</b>');
    expect(page).toContain('<b data-measured="p95" data-value="0.0049">4.9 ms</b>');
    expect(page).toContain('(at 10:00:20 UTC');
    expect(page).toContain('data-samples="3"');
    expect(page).toContain('since <time datetime="2026-12-07T10:00:00.000Z">');
    expect(page).toContain('(1 min)');
    for (const id of ['replicas', 'canary', 'requests', 'latency', 'errors', 'drift']) {
      expect(page).toMatch(new RegExp(`<svg [^>]*id="${id}-chart"`));
    }
    expect(page.match(/<g class="chart-series" data-series="p\d\d">/g)).toHaveLength(3);
  });

  it('says why there is no rate yet, or no history at all', () => {
    expect(renderServing(servingView(isvc, history([sample(0)])), start).text).toContain(
      'id="measured-empty"',
    );
    const none = renderServing(servingView(isvc, undefined), start).text;
    expect(none).toContain('This console does not sample the servers');
    const over = renderServing(servingView(isvc, { ...history([]), overLimit: true }), start).text;
    expect(over).toContain('Not sampled');
  });

  it('says when no version is served yet', () => {
    const bare = { ...isvc, status: {} } as InferenceServiceObject;
    const page = renderServing(servingView(bare, history([])), start).text;
    expect(page).toContain('No version is served yet.');
    expect(page).toContain('<dd data-field="replicas">—</dd>');
  });
});
