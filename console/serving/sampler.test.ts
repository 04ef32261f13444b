import { describe, expect, it } from 'vitest';
import type { InferenceServiceObject } from '../../operator/src/controllers/lathe-kinds.js';
import { type ServingPod, ServingSampler } from './sampler.js';

function isvc(name: string, replicas = 1): InferenceServiceObject {
  return {
    metadata: { name, namespace: 'team-a' },
    spec: { model: { name: 'iris' } },
    status: { replicas },
  } as InferenceServiceObject;
}

/** Metrics text of a server that has answered `requests` requests, all fast. */
const metricsText = (requests: number) =>
  [
    `lathe_inference_requests_total{model="iris",version="1",protocol="v1",code="200"} ${requests}`,
    `lathe_inference_request_duration_seconds_bucket{le="0.01"} ${requests}`,
    `lathe_inference_request_duration_seconds_bucket{le="+Inf"} ${requests}`,
  ].join('\n');

function harness(options: {
  services: InferenceServiceObject[];
  pods: Record<string, ServingPod[]>;
  maxServices?: number;
}) {
  let now = 0;
  const served = new Map<string, number>();
  const scraped: string[] = [];
  const sampler = new ServingSampler({
    services: () => options.services,
    podsOf: (s) => options.pods[s.metadata.name!] ?? [],
    metricsUrl: (ip) => ip,
    scrape: async (ip) => {
      scraped.push(ip);
      const count = served.get(ip);
      if (count === undefined) throw new Error('connection refused');
      return metricsText(count);
    },
    capacity: 3,
    intervalMs: 10_000,
    ...(options.maxServices ? { maxServices: options.maxServices } : {}),
    nowMs: () => now,
  });
  return {
    sampler,
    served,
    scraped,
    at: (ms: number) => {
      now = ms;
    },
  };
}

describe('ServingSampler', () => {
  it('measures the request rate between two rounds, summed over pods', async () => {
    const h = harness({
      services: [isvc('iris', 2)],
      pods: {
        iris: [
          { name: 'a', ip: 'a' },
          { name: 'b', ip: 'b' },
        ],
      },
    });
    h.served.set('a', 100).set('b', 10);
    h.at(1_000);
    await h.sampler.sampleOnce();
    h.served.set('a', 150).set('b', 60);
    h.at(11_000);
    await h.sampler.sampleOnce();
    const { samples, startedAtMs } = h.sampler.history('team-a', 'iris');
    expect(startedAtMs).toBe(1_000);
    expect(samples).toHaveLength(2);
    expect(samples[0]).toMatchObject({ atMs: 1_000, replicas: 2, podsRead: 2, podsFailed: 0 });
    expect(samples[0]!.requestsPerSecond).toBeUndefined();
    expect(samples[1]).toMatchObject({ atMs: 11_000, requestsPerSecond: 10, errorRate: 0 });
    expect(samples[1]!.p99).toBeLessThanOrEqual(0.01);
  });

  it('counts a pod it cannot read, and keeps its last reading for the next round', async () => {
    const h = harness({ services: [isvc('iris')], pods: { iris: [{ name: 'a', ip: 'a' }] } });
    h.served.set('a', 0);
    await h.sampler.sampleOnce();
    h.served.delete('a');
    h.at(10_000);
    await h.sampler.sampleOnce();
    h.served.set('a', 40);
    h.at(20_000);
    await h.sampler.sampleOnce();
    const samples = h.sampler.history('team-a', 'iris').samples;
    expect(samples.map((s) => [s.podsRead, s.podsFailed])).toEqual([
      [1, 0],
      [0, 1],
      [1, 0],
    ]);
    expect(samples[2]!.requestsPerSecond).toBe(2);
  });

  it('keeps `capacity` samples, and forgets a service that is gone', async () => {
    const services = [isvc('iris'), isvc('wine')];
    const h = harness({ services, pods: {} });
    for (let i = 0; i < 5; i++) {
      h.at(i * 10_000);
      await h.sampler.sampleOnce();
    }
    expect(h.sampler.history('team-a', 'iris').samples.map((s) => s.atMs)).toEqual([
      20_000, 30_000, 40_000,
    ]);
    services.pop();
    await h.sampler.sampleOnce();
    expect(h.sampler.history('team-a', 'wine').samples).toEqual([]);
  });

  it('samples at most maxServices, and says which are left out', async () => {
    const h = harness({
      services: [isvc('c'), isvc('a'), isvc('b')],
      pods: { c: [{ name: 'c', ip: 'c' }] },
      maxServices: 2,
    });
    await h.sampler.sampleOnce();
    expect(h.sampler.history('team-a', 'a').samples).toHaveLength(1);
    expect(h.sampler.history('team-a', 'c')).toMatchObject({ samples: [], overLimit: true });
    expect(h.scraped).toEqual([]);
  });
});
