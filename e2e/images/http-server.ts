/**
 * The `lathe.dev/test/http` image: a tiny HTTP server for tests of the process node.
 *
 * Listens on `${POD_IP:-0.0.0.0}:${PORT:-8080}` and answers:
 *   GET /healthz          200 "ok"
 *   GET /                 {"pod": POD_NAME, "ip": POD_IP}
 *   GET /env/<NAME>       the value of that environment variable (404 when unset)
 *   GET /file?path=<p>    the contents of a file (404 when unreadable), for volume tests
 * Exits 0 on SIGTERM once the server has closed.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';

const host = process.env.POD_IP || '0.0.0.0';
const port = Number(process.env.PORT || 8080);

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET') return send(res, 405, 'method not allowed\n');
  if (url.pathname === '/healthz') return send(res, 200, 'ok\n');
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
