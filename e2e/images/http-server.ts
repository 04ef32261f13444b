/**
 * The `lathe.dev/test/http` image: a tiny HTTP server for tests of the process node, which
 * doubles as a client *inside* the pod (its network namespace, resolver and service account),
 * since there is no `kubectl exec`.
 *
 * Listens on `${POD_IP:-0.0.0.0}:${PORT:-8080}` and answers:
 *   GET  /healthz             200 "ok"
 *   GET  /ready               200 "ready", or 503 once made unready
 *   POST /ready?ready=false   makes /ready answer 503 (true: 200 again), for readiness tests
 *   GET  /                    {"pod": POD_NAME, "ip": POD_IP}
 *   GET  /env/<NAME>          the value of that environment variable (404 when unset)
 *   GET  /file?path=<p>       the contents of a file (404 when unreadable), for volume tests
 *   GET  /fetch?url=<u>&count=<n>
 *                             GETs <u> n times (default 1) from inside the pod, each on a new
 *                             connection; [{"status", "body"} | {"error"}] per attempt
 *   GET  /resolve?name=<n>    the pod resolver's addresses for n: {"addresses"} or {"error"}
 *   GET  /kube?path=<p>       GETs <p> from the API server at KUBERNETES_SERVICE_HOST/PORT
 *                             with the pod's service-account token, verifying its CA:
 *                             {"status", "body"} or {"error"}
 * Exits 0 on SIGTERM once the server has closed.
 */
import dns from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';

const host = process.env.POD_IP || '0.0.0.0';
const port = Number(process.env.PORT || 8080);
const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';
let ready = true;

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

function sendJson(res: http.ServerResponse, body: unknown): void {
  send(res, 200, JSON.stringify(body), 'application/json');
}

/** One GET on a connection of its own, so a Service balances every attempt anew. */
function getOnce(
  url: string,
  options: https.RequestOptions = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const req = client.get(url, { ...options, agent: false, timeout: 5_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 5 s')));
    req.on('error', reject);
  });
}

async function attempt<T>(work: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await work();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { error: e.code ? `${e.code}: ${e.message}` : e.message };
  }
}

async function kubeGet(path: string) {
  const [token, ca] = await Promise.all([
    readFile(`${serviceAccountDir}/token`, 'utf8'),
    readFile(`${serviceAccountDir}/ca.crt`),
  ]);
  const server = `https://${process.env.KUBERNETES_SERVICE_HOST}:${process.env.KUBERNETES_SERVICE_PORT}`;
  return getOnce(`${server}${path}`, { ca, headers: { authorization: `Bearer ${token.trim()}` } });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'POST' && url.pathname === '/ready') {
    ready = url.searchParams.get('ready') !== 'false';
    return send(res, 200, `ready=${ready}\n`);
  }
  if (req.method !== 'GET') return send(res, 405, 'method not allowed\n');
  if (url.pathname === '/healthz') return send(res, 200, 'ok\n');
  if (url.pathname === '/ready')
    return ready ? send(res, 200, 'ready\n') : send(res, 503, 'unready\n');
  if (url.pathname === '/') {
    const body = JSON.stringify({
      pod: process.env.POD_NAME ?? null,
      ip: process.env.POD_IP ?? null,
    });
    return send(res, 200, body, 'application/json');
  }
  if (url.pathname.startsWith('/env/')) {
    const value = process.env[decodeURIComponent(url.pathname.slice('/env/'.length))];
    return value === undefined ? send(res, 404, 'not set\n') : send(res, 200, value);
  }
  if (url.pathname === '/file') {
    const file = url.searchParams.get('path');
    if (!file) return send(res, 400, 'path is required\n');
    try {
      return send(res, 200, await readFile(file, 'utf8'));
    } catch (error) {
      return send(res, 404, `${(error as Error).message}\n`);
    }
  }
  if (url.pathname === '/fetch') {
    const target = url.searchParams.get('url');
    const count = Number(url.searchParams.get('count') ?? 1);
    if (!target || !Number.isInteger(count) || count < 1 || count > 1000) {
      return send(res, 400, 'url is required and count must be an integer in 1..1000\n');
    }
    const results = [];
    for (let i = 0; i < count; i++) results.push(await attempt(() => getOnce(target)));
    return sendJson(res, results);
  }
  if (url.pathname === '/resolve') {
    const name = url.searchParams.get('name');
    if (!name) return send(res, 400, 'name is required\n');
    return sendJson(
      res,
      await attempt(async () => ({
        addresses: (await dns.lookup(name, { all: true, family: 4 })).map((a) => a.address),
      })),
    );
  }
  if (url.pathname === '/kube') {
    const path = url.searchParams.get('path');
    if (!path?.startsWith('/')) return send(res, 400, 'path must start with /\n');
    return sendJson(res, await attempt(() => kubeGet(path)));
  }
  return send(res, 404, 'not found\n');
});

server.listen(port, host, () => {
  console.log(JSON.stringify({ msg: 'Listening', host, port }));
});

process.on('SIGTERM', () => {
  console.log(JSON.stringify({ msg: 'Received SIGTERM; closing' }));
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
