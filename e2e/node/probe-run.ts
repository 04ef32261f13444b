/**
 * One probe attempt: HTTP GET (2xx/3xx passes), TCP connect, or a command in the container's
 * sandbox (exit 0 passes). An HTTP or TCP probe without `host` targets the pod IP.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type * as k8s from '@kubernetes/client-node';

export interface ProbeTarget {
  podIP: string;
  container: k8s.V1Container;
  /** Runs argv in the container's sandbox; exit code, or undefined on timeout. */
  exec(argv: string[], timeoutMs: number): Promise<number | undefined>;
}

/** A numeric port, or a named one looked up in the container's ports. */
export function resolvePort(port: number | string, container: k8s.V1Container): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function httpProbe(
  action: k8s.V1HTTPGetAction,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<boolean> {
  const port = resolvePort(action.port, target.container);
  if (port === undefined) return Promise.resolve(false);
  const client = action.scheme === 'HTTPS' ? https : http;
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.33' };
  for (const h of action.httpHeaders ?? []) headers[h.name] = h.value;
  return new Promise((resolve) => {
    const req = client.request(
      {
        host: action.host || target.podIP,
        port,
        path: action.path || '/',
        method: 'GET',
        headers,
        timeout: timeoutMs,
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400);
      },
    );
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpProbe(
  action: k8s.V1TCPSocketAction,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<boolean> {
  const port = resolvePort(action.port, target.container);
  if (port === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = net.connect({ host: action.host || target.podIP, port });
    socket.setTimeout(timeoutMs);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** Runs one attempt of `probe`; true when it passed. Unsupported (gRPC) probes pass. */
export async function runProbe(
  probe: k8s.V1Probe,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<boolean> {
  if (probe.httpGet) return httpProbe(probe.httpGet, target, timeoutMs);
  if (probe.tcpSocket) return tcpProbe(probe.tcpSocket, target, timeoutMs);
  if (probe.exec?.command?.length) return (await target.exec(probe.exec.command, timeoutMs)) === 0;
  return true;
}
