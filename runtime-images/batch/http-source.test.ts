import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressPolicy } from '../ingest/address-policy.js';
import { IngestFailure } from '../ingest/failure.js';
import { type HttpTransport, nodeTransport } from '../ingest/guarded-http.js';
import { httpBytesFrom, httpSizeOf, parseContentRange } from './http-source.js';

const FILE = Buffer.from(Array.from({ length: 500 }, (_, i) => `row-${i}\n`).join(''));

/** What the server saw, per request. */
const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
let failuresLeft = 0;

/** A real server: `/ranged` honours Range, `/whole` ignores it, and a few other behaviours. */
const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  seen.push({ path, headers: req.headers });
  if (path === '/moved') {
    res.writeHead(302, { location: '/ranged' }).end();
    return;
  }
  if (path === '/loop') {
    res.writeHead(302, { location: '/loop' }).end();
    return;
  }
  if (path === '/flaky' && failuresLeft > 0) {
    failuresLeft--;
    res.writeHead(503).end();
    return;
  }
  if (path === '/forbidden') {
    res.writeHead(403).end();
    return;
  }
  if (path === '/whole') {
    res.writeHead(200, { 'content-length': FILE.length }).end(FILE);
    return;
  }
  if (path === '/streamed') {
    res.writeHead(200); // chunked: no length
    res.end(FILE);
    return;
  }
  if (path !== '/ranged' && path !== '/flaky') {
    res.writeHead(404).end();
    return;
  }
  const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (!match) {
    res.writeHead(200, { 'content-length': FILE.length }).end(FILE);
    return;
  }
  const first = Number(match[1]);
  if (first >= FILE.length) {
    res.writeHead(416, { 'content-range': `bytes */${FILE.length}` }).end();
    return;
  }
  const last = match[2] ? Math.min(Number(match[2]), FILE.length - 1) : FILE.length - 1;
  res
    .writeHead(206, { 'content-range': `bytes ${first}-${last}/${FILE.length}` })
    .end(FILE.subarray(first, last + 1));
});

let port = 0;
/**
 * The guarded GET refuses loopback whatever the policy says: the test host name resolves to a
 * documentation address that the policy judges, and the connection goes to the local server.
 */
const transport: HttpTransport = {
  resolve: async () => [{ address: '192.0.2.10', family: 4 }],
  get: (url, _address, headers) =>
    nodeTransport.get(url, { address: '127.0.0.1', family: 4 }, headers),
};
const policy: AddressPolicy = { apiServer: [], deny: [], allow: [] };
const options = {
  headers: { authorization: 'Bearer secret-token' },
  policy,
  log: pino({ level: 'silent' }),
  transport,
  retryDelayMs: () => 1,
};
const url = (path: string) => `http://source.test:${port}${path}`;

async function bytesOf(path: string, offset: number, o = options): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of httpBytesFrom(url(path), offset, o)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function failureOf(promise: Promise<unknown>): Promise<IngestFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IngestFailure);
  return error as IngestFailure;
}

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('httpBytesFrom', () => {
  it.each([
    ['a server that honours Range', '/ranged'],
    ['a server that ignores Range (the bytes before the offset dropped)', '/whole'],
    ['a streamed answer without a length', '/streamed'],
    ['a redirect', '/moved'],
  ])('reads from the offset to the end from %s', async (_, path) => {
    for (const offset of [0, 1, 777, FILE.length - 1]) {
      expect((await bytesOf(path, offset)).equals(FILE.subarray(offset))).toBe(true);
    }
  });

  it('asks for the range and sends the headers of the Secret', async () => {
    seen.length = 0;
    await bytesOf('/ranged', 42);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.range).toBe('bytes=42-');
    expect(seen[0]!.headers.authorization).toBe('Bearer secret-token');
    expect(seen[0]!.headers['accept-encoding']).toBe('identity');
  });

  it('keeps the range (and the headers, same origin) across a redirect', async () => {
    seen.length = 0;
    await bytesOf('/moved', 10);
    expect(seen.map((s) => [s.path, s.headers.range, s.headers.authorization])).toEqual([
      ['/moved', 'bytes=10-', 'Bearer secret-token'],
      ['/ranged', 'bytes=10-', 'Bearer secret-token'],
    ]);
  });

  it('reads nothing past the end (416)', async () => {
    expect(await bytesOf('/ranged', FILE.length)).toHaveLength(0);
  });

  it.each([
    ['/missing', 'SourceNotFound', /answered 404 Not Found/],
    [
      '/forbidden',
      'SourceUnauthorized',
      /403 Forbidden \(check spec\.input\.http\.headersSecretRef\)/,
    ],
    ['/loop', 'SourceUnavailable', /redirected more than 5 times/],
  ])('fails %s with %s', async (path, reason, message) => {
    const failure = await failureOf(bytesOf(path, 0));
    expect(failure.reason).toBe(reason);
    expect(failure.message).toMatch(message);
  });

  it('retries a 503 and reads once it passes, gives up after the attempts with the status', async () => {
    failuresLeft = 2;
    expect((await bytesOf('/flaky', 5)).equals(FILE.subarray(5))).toBe(true);
    failuresLeft = 10;
    const failure = await failureOf(bytesOf('/flaky', 5));
    expect(failure.reason).toBe('SourceUnavailable');
    expect(failure.message).toMatch(/answered 503 Service Unavailable \(after 4 attempts\)/);
    failuresLeft = 0;
  });

  it("refuses an address the install's policy denies, without a request", async () => {
    seen.length = 0;
    // The test host's address is the API server's: refused whatever the lists say.
    const denied = { ...options, policy: { apiServer: ['192.0.2.10'], deny: [], allow: [] } };
    const failure = await failureOf(bytesOf('/ranged', 0, denied));
    expect(failure.reason).toBe('SourceAddressRefused');
    expect(seen).toHaveLength(0);
  });
});

describe('httpSizeOf', () => {
  it.each([
    ['/ranged', FILE.length],
    ['/whole', FILE.length],
    ['/moved', FILE.length],
    ['/streamed', undefined],
  ])('%s is %s bytes', async (path, size) => {
    expect(await httpSizeOf(url(path), options)).toBe(size);
  });

  it('fails a missing file with SourceNotFound', async () => {
    expect((await failureOf(httpSizeOf(url('/missing'), options))).reason).toBe('SourceNotFound');
  });
});

describe('parseContentRange', () => {
  it.each([
    ['bytes 0-0/1234', { first: 0, total: 1234 }],
    ['bytes 10-99/*', { first: 10, total: undefined }],
    ['bytes */0', { first: undefined, total: 0 }],
    ['items 0-1/2', undefined],
    [undefined, undefined],
  ])('%s', (value, parsed) => {
    expect(parseContentRange(value)).toEqual(parsed);
  });
});
