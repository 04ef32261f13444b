import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiTransport, credentialsPerRequest } from './api-transport.js';

let server: http.Server | undefined;
afterEach(async () => {
  const running = server;
  server = undefined;
  if (!running) return;
  running.closeAllConnections();
  await new Promise((resolve) => running.close(resolve));
});

/** A server answering with `handler`; returns its URL. */
async function serve(handler: http.RequestListener): Promise<string> {
  server = http.createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function kubeConfigFor(url: string, user: Partial<k8s.User>): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', ...user }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('credentialsPerRequest', () => {
  it.each([
    ['a static token', { name: 'u', token: 't' }, false],
    ['a client certificate file', { name: 'u', certFile: '/c', keyFile: '/k' }, false],
    [
      'the in-cluster token file',
      { name: 'u', authProvider: { name: 'tokenFile', config: { tokenFile: '/t' } } },
      false,
    ],
    ['an exec plugin', { name: 'u', exec: { command: 'aws' } }, true],
    ['an OIDC auth provider', { name: 'u', authProvider: { name: 'oidc', config: {} } }, true],
    ['no user', undefined, false],
  ])('%s: %s', (_what, user, expected) => {
    expect(credentialsPerRequest(user as k8s.User | undefined)).toBe(expected);
  });
});

describe('ApiTransport', () => {
  it('reuses the credentials for their lifetime, then applies them again', async () => {
    const seen: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.end('{}');
    });
    const kc = kubeConfigFor(url, { token: 'first' });
    let now = 0;
    const transport = new ApiTransport(kc, { credentialTtlMs: 1_000, now: () => now });
    await transport.send('GET', '/api', undefined, 5_000);
    // A changed token (a rotated file would read the same way) is not seen within the TTL...
    kc.users[0] = { ...kc.users[0]!, token: 'second' };
    now = 999;
    await transport.send('GET', '/api', undefined, 5_000);
    // ...and is after it.
    now = 1_000;
    await transport.send('GET', '/api', undefined, 5_000);
    expect(seen).toEqual(['Bearer first', 'Bearer first', 'Bearer second']);
  });

  it('keeps the path of the server URL and sends the body with its type', async () => {
    const seen: string[] = [];
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${req.headers['content-type']} ${body}`);
        res.statusCode = 201;
        res.end('{"ok":true}');
      });
    });
    const transport = new ApiTransport(kubeConfigFor(`${url}/k8s/clusters/one/`, { token: 't' }));
    const response = await transport.send(
      'PATCH',
      '/api/v1/namespaces/a?fieldManager=m',
      { text: '{"x":"é"}', contentType: 'application/apply-patch+yaml' },
      5_000,
    );
    expect(response).toEqual({ statusCode: 201, statusMessage: 'Created', text: '{"ok":true}' });
    expect(seen).toEqual([
      'PATCH /k8s/clusters/one/api/v1/namespaces/a?fieldManager=m application/apply-patch+yaml {"x":"é"}',
    ]);
  });

  it('splits a stream into lines however the chunks fall, multi-byte characters included', async () => {
    const body = Buffer.from('{"a":"ü"}\n\n{"b":2}\n{"c":"tail"}', 'utf8');
    const url = await serve(async (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      // One byte at a time: lines and the two bytes of "ü" are cut across chunks.
      for (const byte of body) {
        res.write(Buffer.from([byte]));
        await new Promise((r) => setImmediate(r));
      }
      res.end();
    });
    const lines: string[] = [];
    const ended = await new Promise<Error | null>((resolve) => {
      void new ApiTransport(kubeConfigFor(url, {})).stream(
        '/watch',
        (line) => lines.push(line),
        resolve,
      );
    });
    expect(ended).toBeNull();
    expect(lines).toEqual(['{"a":"ü"}', '{"b":2}', '{"c":"tail"}']);
  });

  it("ends a refused stream with the HTTP status and the server's message", async () => {
    const url = await serve((_req, res) => {
      res.statusCode = 410;
      res.end(JSON.stringify({ kind: 'Status', code: 410, message: 'too old resource version' }));
    });
    const ended = await new Promise<Error | null>((resolve) => {
      void new ApiTransport(kubeConfigFor(url, {})).stream('/watch', () => undefined, resolve);
    });
    expect(ended).toMatchObject({ statusCode: 410, message: 'too old resource version' });
  });

  it('ends an aborted stream once, without an error, and delivers nothing after', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200);
      res.write('{"n":1}\n');
    });
    const lines: string[] = [];
    const ends: (Error | null)[] = [];
    const transport = new ApiTransport(kubeConfigFor(url, {}));
    let handle: { abort(): void } | undefined;
    await new Promise<void>((resolve) => {
      void transport
        .stream(
          '/watch',
          (line) => {
            lines.push(line);
            resolve();
          },
          (error) => ends.push(error),
        )
        .then((h) => {
          handle = h;
        });
    });
    handle?.abort();
    await new Promise((r) => setTimeout(r, 50));
    expect(lines).toEqual(['{"n":1}']);
    expect(ends).toEqual([null]);
  });
});
