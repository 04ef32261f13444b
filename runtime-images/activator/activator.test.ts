/**
 * The activator over real HTTP: a plain Node server stands in for the inference server, a fake
 * API decides when its pod is ready.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { COLD_START_HEADER } from '../../contract/activator.js';
import { Activator, listen, retryAfterSeconds } from './activator.js';
import type { Endpoint } from './endpoints.js';
import type { ActivatorApi, InferenceServiceSettings } from './kube.js';

interface FakeApi extends ActivatorApi {
  activations: string[];
  endpoints: Endpoint[];
  /** Called on each activation request. */
  onActivation?: () => void;
}

function fakeApi(services: Record<string, InferenceServiceSettings>): FakeApi {
  const api: FakeApi = {
    activations: [],
    endpoints: [],
    async inferenceService(name) {
      return services[name];
    },
    async requestActivation(name) {
      api.activations.push(name);
      api.onActivation?.();
    },
    async readyEndpoints() {
      return api.endpoints;
    },
  };
  return api;
}

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** An echo server standing in for the inference server. */
async function backend(): Promise<Endpoint> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': 'backend' });
      res.end(
        JSON.stringify({
          path: req.url,
          body: Buffer.concat(chunks).toString(),
          ct: req.headers['content-type'],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { pod: 'server-0', host: '127.0.0.1', port: (server.address() as AddressInfo).port };
}

async function start(api: ActivatorApi, options: { queueSize?: number; timeoutMs?: number } = {}) {
  const activator = new Activator({
    namespace: 'team',
    api,
    queueSize: options.queueSize ?? 100,
    timeoutMs: options.timeoutMs ?? 10_000,
    pollIntervalMs: 10,
    activationIntervalMs: 50,
    maxBodyBytes: 1024,
  });
  const port = await listen(activator, 0, '127.0.0.1');
  closers.push(() => {
    activator.close();
    activator.server.closeAllConnections();
    return new Promise<void>((resolve) => activator.server.close(() => resolve()));
  });
  return { activator, url: `http://127.0.0.1:${port}` };
}

const predict = (url: string, name = 'iris', body = '{"instances":[[1,2,3,4]]}') =>
  fetch(`${url}/v1/models/${name}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });

describe('Activator', () => {
  it('holds 50 concurrent requests at zero, asks for a replica, and forwards all of them once one is ready', async () => {
    const api = fakeApi({ iris: {} });
    const server = await backend();
    let held = 0;
    const { activator, url } = await start(api);
    // The replica becomes ready once every request is held and a replica was asked for.
    api.onActivation = () => {
      held = activator.held().iris ?? 0;
    };
    const answers = Promise.all(
      Array.from({ length: 50 }, (_, i) => predict(url, 'iris', `{"i":${i}}`)),
    );
    const deadline = Date.now() + 5_000;
    while ((activator.held().iris ?? 0) < 50 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(activator.held().iris).toBe(50);
    api.endpoints = [server];
    const responses = await answers;
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    const bodies = await Promise.all(
      responses.map((r) => r.json() as Promise<{ body: string; path: string; ct: string }>),
    );
    expect(new Set(bodies.map((b) => b.body)).size).toBe(50);
    expect(bodies[0]).toMatchObject({ path: '/v1/models/iris:predict', ct: 'application/json' });
    for (const r of responses) {
      expect(Number(r.headers.get(COLD_START_HEADER))).toBeGreaterThanOrEqual(0);
      expect(r.headers.get('x-served-by')).toBe('backend');
    }
    expect(api.activations.length).toBeGreaterThanOrEqual(1);
    expect(api.activations.every((n) => n === 'iris')).toBe(true);
    expect(held).toBeGreaterThan(0);
    expect(activator.counts.forwardedAfterWait).toBe(50);
    expect(activator.counts.coldStarts.iris?.count).toBe(1);
    const metrics = await (await fetch(`${url}/activator/metrics`)).text();
    expect(metrics).toMatch(
      /lathe_inferenceservice_cold_start_seconds_count\{inferenceservice="iris"\} 1/,
    );
  });

  it('forwards at once, without the cold-start header, when a replica is ready', async () => {
    const api = fakeApi({ iris: {} });
    api.endpoints = [await backend()];
    const { url } = await start(api);
    const response = await predict(url);
    expect(response.status).toBe(200);
    expect(response.headers.get(COLD_START_HEADER)).toBeNull();
    expect(api.activations).toEqual([]);
  });

  it('answers 503 with Retry-After to a request beyond the queue, and holds the others', async () => {
    const api = fakeApi({ iris: { queueSize: 2 } });
    const server = await backend();
    const { activator, url } = await start(api);
    const first = [predict(url), predict(url)];
    const deadline = Date.now() + 5_000;
    while ((activator.held().iris ?? 0) < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const overflow = await predict(url);
    expect(overflow.status).toBe(503);
    expect(overflow.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await overflow.json()).toEqual({
      error: 'InferenceService iris is starting and already holds 2 requests',
    });
    api.endpoints = [server];
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
  });

  it('answers 503 with Retry-After to a request held past its timeout (never 504)', async () => {
    const api = fakeApi({ iris: { timeoutMs: 100 } });
    const { url } = await start(api);
    const response = await predict(url);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe(String(retryAfterSeconds(100)));
    expect(((await response.json()) as { error: string }).error).toMatch(
      /iris had no ready replica within/,
    );
  });

  it('answers 503, not 502, when the ready pod refuses the connection', async () => {
    const api = fakeApi({ iris: {} });
    const gone = await backend();
    await closers.pop()?.();
    api.endpoints = [gone];
    const { url } = await start(api);
    const response = await predict(url);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
  });

  it.each([
    ['an unknown InferenceService', '/v1/models/nope:predict', 404, /nope does not exist/],
    ['no InferenceService at all', '/', 404, /no InferenceService named/],
  ])('answers %s with %i', async (_case, path, status, message) => {
    const { url } = await start(fakeApi({ iris: {} }));
    const response = await fetch(`${url}${path}`, { headers: { host: '10.0.0.1' } });
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: string }).error).toMatch(message);
  });

  it('answers 413 to a body over the limit without asking for a replica', async () => {
    const api = fakeApi({ iris: {} });
    const { url } = await start(api);
    const response = await predict(url, 'iris', 'x'.repeat(2048));
    expect(response.status).toBe(413);
    expect(api.activations).toEqual([]);
  });

  it('answers held requests 503 when it shuts down', async () => {
    const api = fakeApi({ iris: {} });
    const { activator, url } = await start(api);
    const pending = predict(url);
    const deadline = Date.now() + 5_000;
    while ((activator.held().iris ?? 0) < 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    activator.close();
    expect((await pending).status).toBe(503);
  });

  it('serves its own health and metrics', async () => {
    const { url } = await start(fakeApi({}));
    expect((await fetch(`${url}/activator/healthz`)).status).toBe(200);
    expect(await (await fetch(`${url}/activator/metrics`)).text()).toMatch(
      /lathe_activator_requests_total\{outcome="overflow"\} 0/,
    );
  });
});
