import { describe, expect, it } from 'vitest';
import { createServerMetrics } from '../../runtime-images/server/metrics.js';
import {
  figuresBetween,
  type PodReading,
  podReading,
  SampleRing,
  statusFigures,
} from './readings.js';

const labels = { model: 'iris', version: '1', protocol: 'v1' } as const;

/** The server's own metrics registry after `ok` 200s and `failed` 500s taking `seconds` each. */
async function serverText(ok: number, failed: number, seconds: number): Promise<string> {
  const metrics = createServerMetrics();
  metrics.requests.inc({ ...labels, code: '200' }, ok);
  if (failed > 0) metrics.requests.inc({ ...labels, code: '500' }, failed);
  metrics.requests.inc({ ...labels, code: '400' }, 0);
  for (let i = 0; i < ok + failed; i++) metrics.latency.observe(labels, seconds);
  metrics.explainRequests.inc({ ...labels, code: '200' }, 1000);
  return await metrics.registry.metrics();
}

const reading = (
  atMs: number,
  requests: number,
  errors: number,
  fast: number,
  slow: number,
): PodReading => ({
  atMs,
  requests,
  errors,
  latency: [
    { le: 0.01, count: fast },
    { le: 0.1, count: fast + slow },
    { le: Infinity, count: fast + slow },
  ],
});

describe('podReading', () => {
  it('reads the inference server’s counters, leaving explain requests out', async () => {
    const r = podReading(await serverText(7, 3, 0.003), 1_000);
    expect(r).toMatchObject({ atMs: 1_000, requests: 10, errors: 3 });
    expect(r.latency.find((b) => b.le === 0.0025)!.count).toBe(0);
    expect(r.latency.find((b) => b.le === 0.005)!.count).toBe(10);
    expect(r.latency.at(-1)).toEqual({ le: Infinity, count: 10 });
  });

  it('throws on a page that is not metrics', () => {
    expect(() => podReading('<html>oops</html>', 0)).toThrow(/not a Prometheus sample/);
  });
});

describe('figuresBetween', () => {
  it.each([
    {
      case: 'one pod: 100 requests in 10 s, 5 of them 5xx, 90% fast',
      pods: [{ before: reading(0, 100, 0, 0, 0), after: reading(10_000, 200, 5, 90, 10) }],
      figures: {
        requestsPerSecond: 10,
        errorRate: 0.05,
        p50: 0.005555555555555556,
        p95: 0.055,
        p99: 0.091,
      },
    },
    {
      case: 'two pods are summed',
      pods: [
        { before: reading(0, 0, 0, 0, 0), after: reading(10_000, 50, 0, 50, 0) },
        { before: reading(0, 0, 0, 0, 0), after: reading(5_000, 50, 0, 0, 50) },
      ],
      figures: { requestsPerSecond: 15, errorRate: 0, p50: 0.01, p95: 0.091, p99: 0.0982 },
    },
    {
      case: 'a restarted server counts from zero',
      pods: [{ before: reading(0, 500, 9, 400, 100), after: reading(10_000, 20, 0, 20, 0) }],
      figures: { requestsPerSecond: 2, errorRate: 0, p50: 0.005, p95: 0.0095, p99: 0.0099 },
    },
    {
      case: 'no requests: a rate of 0 and no percentiles',
      pods: [{ before: reading(0, 10, 0, 10, 0), after: reading(10_000, 10, 0, 10, 0) }],
      figures: { requestsPerSecond: 0 },
    },
    {
      case: 'a pod read for the first time adds nothing yet',
      pods: [{ before: undefined, after: reading(10_000, 10, 0, 10, 0) }],
      figures: {},
    },
  ])('$case', ({ pods, figures }) => {
    const got = figuresBetween(pods);
    expect(Object.keys(got).sort()).toEqual(Object.keys(figures).sort());
    for (const [key, value] of Object.entries(figures)) {
      expect(got[key as keyof typeof got]).toBeCloseTo(value, 6);
    }
  });
});

describe('statusFigures', () => {
  it('takes replicas, canary share and drift from the status', () => {
    const isvc = {
      status: {
        replicas: 2,
        servedVersions: [
          {
            version: 3,
            modelVersion: 'iris-v3',
            role: 'primary',
            replicas: 2,
            readyReplicas: 2,
            trafficPercent: 80,
          },
          {
            version: 4,
            modelVersion: 'iris-v4',
            role: 'canary',
            replicas: 1,
            readyReplicas: 0,
            trafficPercent: 20,
          },
        ],
        drift: {
          time: '2026-12-07T10:00:00Z',
          metric: 'psi',
          value: 0.31,
          samples: 200,
          retrainPolicy: 'p',
        },
      },
    } as Parameters<typeof statusFigures>[0];
    expect(statusFigures(isvc)).toEqual({
      replicas: 2,
      readyReplicas: 2,
      canaryPercent: 20,
      drift: 0.31,
    });
    expect(statusFigures({} as Parameters<typeof statusFigures>[0])).toEqual({
      replicas: undefined,
      readyReplicas: 0,
      canaryPercent: 0,
      drift: undefined,
    });
  });
});

describe('SampleRing', () => {
  it('keeps the newest `capacity` items, oldest first', () => {
    const ring = new SampleRing<number>(3);
    expect(ring.toArray()).toEqual([]);
    for (const n of [1, 2]) ring.push(n);
    expect(ring.toArray()).toEqual([1, 2]);
    for (const n of [3, 4, 5]) ring.push(n);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.size).toBe(3);
  });

  it('refuses no capacity', () => {
    expect(() => new SampleRing(0)).toThrow('capacity must be at least 1');
  });
});
