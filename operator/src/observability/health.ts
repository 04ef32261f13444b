/**
 * The operator's two small HTTP servers (node:http, no framework):
 * - metrics port: `GET /metrics` (the manager's prom-client registry);
 * - health port: `GET /healthz` (the process is alive) and `GET /readyz` (every informer has
 *   synced and the process is not shutting down). A replica that is not the leader is still
 *   ready, as in controller-runtime: readiness is about the cache, not leadership.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Returns `undefined` when healthy/ready; otherwise why not. */
export type Probe = () => string | undefined;

export interface ServerOptions {
  bindAddress: string;
  metricsPort: number;
  healthPort: number;
  registry: Registry;
  live: Probe;
  ready: Probe;
}

export interface RunningServers {
  metricsPort: number;
  healthPort: number;
  close(): Promise<void>;
}

export async function startServers(options: ServerOptions): Promise<RunningServers> {
  const metrics = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
      options.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': options.registry.contentType });
          res.end(body);
        },
        (error: unknown) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`Failed to collect metrics: ${String(error)}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('Not found\n');
  });
  const health = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const probe =
      path === '/healthz' ? options.live : path === '/readyz' ? options.ready : undefined;
    if (req.method !== 'GET' || !probe) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('Not found\n');
      return;
    }
    const problem = probe();
    res.writeHead(problem === undefined ? 200 : 503, { 'Content-Type': 'text/plain' });
    res.end(problem === undefined ? 'ok\n' : `${problem}\n`);
  });
  const metricsPort = await listen(metrics, options.bindAddress, options.metricsPort);
  let healthPort: number;
  try {
    healthPort = await listen(health, options.bindAddress, options.healthPort);
  } catch (error) {
    await closeServer(metrics);
    throw error;
  }
  return {
    metricsPort,
    healthPort,
    close: async () => {
      await Promise.all([closeServer(metrics), closeServer(health)]);
    },
  };
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
