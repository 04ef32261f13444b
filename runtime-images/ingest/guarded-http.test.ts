import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseCidrList } from '../../contract/cidr.js';
import type { AddressPolicy } from './address-policy.js';
import { IngestFailure } from './failure.js';
import {
  guardedGet,
  type HopResponse,
  type HttpTransport,
  MAX_REDIRECTS,
  nodeTransport,
} from './guarded-http.js';

const policy: AddressPolicy = {
  apiServer: ['10.96.0.1'],
  deny: parseCidrList('10.96.0.0/12'),
  allow: [],
};

/** A world of host names and answers by URL; records every connection it was asked for. */
function fakeTransport(
  dns: Record<string, string[]>,
  answers: Record<string, { status: number; location?: string }>,
) {
  const connections: { url: string; address: string; headers: Record<string, string> }[] = [];
  const transport: HttpTransport = {
    async resolve(host) {
      const addresses = dns[host];
      if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), {});
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
    async get(url: URL, address: LookupAddress, headers): Promise<HopResponse> {
      connections.push({ url: url.href, address: address.address, headers });
      const answer = answers[url.href] ?? { status: 404 };
      return {
        status: answer.status,
        statusText: '',
        headers: answer.location ? { location: answer.location } : {},
        body: (async function* () {})(),
        discard: () => undefined,
      };
    },
  };
  return { transport, connections };
}

async function failureOf(promise: Promise<unknown>): Promise<IngestFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IngestFailure);
  return error as IngestFailure;
}

const dns = {
  'data.example': ['203.0.113.5'],
  'cdn.example': ['203.0.113.6'],
  'metadata.example': ['169.254.169.254'],
  'split.example': ['203.0.113.7', '127.0.0.1'],
  'kube.example': ['10.96.0.1'],
  'svc.example': ['10.100.0.4'],
  'six.example': ['::1'],
};

describe('guardedGet', () => {
  it.each([
    ['http://169.254.169.254/x.csv', 'address 169.254.169.254 is refused (link-local)'],
    ['http://127.0.0.1:8080/x.csv', 'address 127.0.0.1 is refused (loopback)'],
    ['http://[::1]/x.csv', 'address ::1 is refused (loopback)'],
    ['http://[::ffff:169.254.169.254]/', 'address ::ffff:a9fe:a9fe is refused (link-local)'],
    ['http://0.0.0.0:9000/', 'address 0.0.0.0 is refused (unspecified)'],
    ['https://10.96.0.1/', 'address 10.96.0.1 is refused (the Kubernetes API server)'],
    ['http://metadata.example/latest', 'address 169.254.169.254 is refused (link-local)'],
    ['http://six.example/', 'address ::1 is refused (loopback)'],
    ['http://split.example/x.csv', 'address 127.0.0.1 is refused (loopback)'],
    ['http://kube.example/', 'address 10.96.0.1 is refused (the Kubernetes API server)'],
    [
      'http://svc.example/',
      "address 10.100.0.4 is refused (denied by the install's policy, 10.96.0.0/12)",
    ],
  ])('refuses %s before connecting', async (url, why) => {
    const { transport, connections } = fakeTransport(dns, {});
    const failure = await failureOf(guardedGet(url, {}, policy, transport));
    expect(failure.reason).toBe('SourceAddressRefused');
    expect(failure.message).toMatch(/^http source http/);
    expect(failure.message).toContain(why);
    expect(connections).toEqual([]);
  });

  it('names the URL without user-info or query in a refusal', async () => {
    const { transport } = fakeTransport(dns, {});
    const failure = await failureOf(
      guardedGet('http://u:pw@169.254.169.254/x.csv?token=s', {}, policy, transport),
    );
    expect(failure.message).toBe(
      'http source http://169.254.169.254/x.csv?…: address 169.254.169.254 is refused (link-local)',
    );
  });

  it('checks every redirect hop, connecting to none that is refused', async () => {
    const { transport, connections } = fakeTransport(dns, {
      'http://data.example/x.csv': { status: 302, location: 'http://cdn.example/x.csv' },
      'http://cdn.example/x.csv': {
        status: 307,
        location: 'http://169.254.169.254/latest/meta-data',
      },
    });
    const failure = await failureOf(guardedGet('http://data.example/x.csv', {}, policy, transport));
    expect(failure).toMatchObject({
      reason: 'SourceAddressRefused',
      message:
        'http source http://169.254.169.254/latest/meta-data: address 169.254.169.254 is refused (link-local)',
    });
    expect(connections.map((c) => c.address)).toEqual(['203.0.113.5', '203.0.113.6']);
  });

  it.each([
    ['file:///etc/passwd', 'the scheme file: is refused (only http and https)'],
    ['ftp://data.example/x.csv', 'the scheme ftp: is refused'],
  ])('refuses a redirect to %s', async (location, why) => {
    const { transport } = fakeTransport(dns, {
      'http://data.example/x.csv': { status: 301, location },
    });
    const failure = await failureOf(guardedGet('http://data.example/x.csv', {}, policy, transport));
    expect(failure.reason).toBe('SourceAddressRefused');
    expect(failure.message).toContain(why);
  });

  it('follows relative redirects, and stops after MAX_REDIRECTS', async () => {
    const answers: Record<string, { status: number; location?: string }> = {};
    for (let i = 0; i < 10; i++) {
      answers[`http://data.example/${i}`] = { status: 302, location: `/${i + 1}` };
    }
    answers['http://data.example/3'] = { status: 200 };
    const ok = fakeTransport(dns, answers);
    const { response, url } = await guardedGet('http://data.example/0', {}, policy, ok.transport);
    expect([response.status, url.href]).toEqual([200, 'http://data.example/3']);

    delete answers['http://data.example/3'];
    answers['http://data.example/3'] = { status: 302, location: '/4' };
    const loop = fakeTransport(dns, answers);
    const failure = await failureOf(
      guardedGet('http://data.example/0', {}, policy, loop.transport),
    );
    expect(failure).toMatchObject({
      reason: 'SourceUnavailable',
      message: `GET http://data.example/0 redirected more than ${MAX_REDIRECTS} times`,
    });
    expect(loop.connections).toHaveLength(MAX_REDIRECTS + 1);
  });

  it.each([
    {
      name: 'same origin: the headers follow',
      location: 'http://data.example/y.csv',
      sent: [true, true],
    },
    { name: 'another host: dropped', location: 'http://cdn.example/y.csv', sent: [true, false] },
    {
      name: 'another port: dropped',
      location: 'http://data.example:8080/y.csv',
      sent: [true, false],
    },
    {
      name: 'another scheme: dropped',
      location: 'https://data.example/y.csv',
      sent: [true, false],
    },
    {
      name: 'the default port written out is the same origin',
      location: 'http://data.example:80/y.csv',
      sent: [true, true],
    },
    {
      name: 'once dropped, never sent again, even back at the origin',
      location: 'http://cdn.example/back',
      sent: [true, false, false],
    },
  ])('user headers on a redirect: $name', async ({ location, sent }) => {
    const { transport, connections } = fakeTransport(dns, {
      'http://data.example/x.csv': { status: 302, location },
      'http://cdn.example/back': { status: 302, location: 'http://data.example/z.csv' },
      'http://data.example/z.csv': { status: 200 },
      'http://data.example/y.csv': { status: 200 },
      'http://data.example:8080/y.csv': { status: 200 },
      'https://data.example/y.csv': { status: 200 },
      'http://cdn.example/y.csv': { status: 200 },
    });
    await guardedGet('http://data.example/x.csv', { authorization: 'Bearer t' }, policy, transport);
    expect(connections.map((c) => c.headers.authorization === 'Bearer t')).toEqual(sent);
  });

  it('a host that does not resolve is SourceUnavailable (retried)', async () => {
    const { transport } = fakeTransport(dns, {});
    const failure = await failureOf(guardedGet('http://nowhere.example/', {}, policy, transport));
    expect(failure.reason).toBe('SourceUnavailable');
    expect(failure.message).toContain('nowhere.example could not be resolved');
  });
});

describe('nodeTransport', () => {
  it('connects to the checked address, whatever the host name resolves to', async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.headers.host} ${req.url} ${req.headers['x-token']}`);
      res.writeHead(200).end('a,b\n1,2\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      // `.invalid` never resolves: only the checked address can have been used.
      const response = await nodeTransport.get(
        new URL(`http://data.invalid:${port}/x.csv`),
        { address: '127.0.0.1', family: 4 },
        { 'x-token': 't' },
      );
      let body = '';
      for await (const chunk of response.body) body += chunk;
      expect([response.status, body]).toEqual([200, 'a,b\n1,2\n']);
      expect(seen).toEqual([`data.invalid:${port} /x.csv t`]);
    } finally {
      server.close();
    }
  });
});
