/**
 * The HTTP source's address guard on the local cluster (issue 19: no Dataset is a way into the
 * cluster's or the cloud's internals).
 *
 * First the program as a child process on the host, where a listener on 127.0.0.1 is reachable,
 * so it can count that no request reached it: the cloud metadata address, loopback, the API
 * server's ClusterIP and a redirect from an allowed server (serving valid CSV, on the host
 * address pods reach) to a refused address all end in `SourceAddressRefused`; the install's
 * deny list refuses a private range and its allow list lets one address back in; user headers
 * stay with their origin.
 *
 * Then the same sources as Datasets, through the real controller and ingestion pods on the
 * process node: each ends `Ready=False`, `Stalled`, reason `SourceAddressRefused`, and is not
 * retried.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestEnv } from '../../contract/runtime-env.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
} from '../../e2e/cluster/testenv.js';
import {
  runtimeImage,
  startTestManager,
  testClient,
  testStore,
} from '../../e2e/testing/controllers.js';
import type { DatasetInput } from '../../operator/src/api/dataset.js';
import { datasetController } from '../../operator/src/controllers/dataset/reconcile.js';
import { type DatasetObject, latheKinds } from '../../operator/src/controllers/lathe-kinds.js';
import type { Manager } from '../../operator/src/runtime/manager.js';
import type { KubeObject } from '../../operator/src/runtime/resource.js';
import { runIngestProgram } from './child-process.js';

const info = clusterInfo();
const apiServerIP = info.network.kubernetesServiceIP;
const csv = 'x,y\n1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n';

/** A server that counts its requests (and the user header it saw) and answers from `routes`. */
function countingServer(routes: Record<string, (res: http.ServerResponse) => void> = {}) {
  const seen: { path: string; token: string | undefined }[] = [];
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push({ path: pathname, token: req.headers['x-token'] as string | undefined });
    const route = routes[pathname];
    if (route) route(res);
    else res.writeHead(200, { 'content-type': 'text/csv' }).end(csv);
  });
  return {
    seen,
    listen: async (host: string) => {
      await new Promise<void>((r) => server.listen(0, host, r));
      return `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
    },
    close: () => server.close(),
  };
}

const redirectTo = (location: string) => (res: http.ServerResponse) =>
  res.writeHead(302, { location }).end();

// The refused target on the host: nothing may ever reach it.
const loopback = countingServer();
// Another allowed origin, for the headers a redirect must not carry there.
const otherOrigin = countingServer();
// The allowed test server pods reach (the host's end of the cluster's link); its redirects
// are routed once the other servers' URLs are known (routes are read on each request).
const allowedRoutes: Record<string, (res: http.ServerResponse) => void> = {};
const allowed = countingServer(allowedRoutes);
let loopbackUrl: string;
let allowedUrl: string;
let otherOriginUrl: string;

beforeAll(async () => {
  loopbackUrl = await loopback.listen('127.0.0.1');
  otherOriginUrl = await otherOrigin.listen(info.hostAddress);
  allowedUrl = await allowed.listen(info.hostAddress);
  Object.assign(allowedRoutes, {
    '/to-loopback.csv': redirectTo(`${loopbackUrl}/x.csv`),
    '/to-metadata.csv': redirectTo('http://169.254.169.254/latest/meta-data/'),
    '/to-api-server.csv': redirectTo(`https://${apiServerIP}/api`),
    '/to-localhost.csv': redirectTo(`http://localhost:${new URL(loopbackUrl).port}/x.csv`),
    '/to-other-origin.csv': redirectTo(`${otherOriginUrl}/x.csv`),
    '/to-same-origin.csv': redirectTo('/x.csv'),
  });
});

afterAll(() => {
  loopback.close();
  otherOrigin.close();
  allowed.close();
});

function run(url: string, env: Record<string, string> = {}) {
  return runIngestProgram(
    { source: { http: { url } }, schema: { label: 'y' } },
    { store: info.minio, env: { KUBERNETES_SERVICE_HOST: apiServerIP, ...env } },
  );
}

describe('the ingestion program refuses internal addresses', () => {
  it.each([
    {
      name: 'the cloud metadata address',
      url: () => 'http://169.254.169.254/x.csv',
      message: () =>
        'http source http://169.254.169.254/x.csv: address 169.254.169.254 is refused (link-local)',
    },
    {
      name: 'loopback',
      url: () => `${loopbackUrl}/x.csv`,
      message: () => `http source ${loopbackUrl}/x.csv: address 127.0.0.1 is refused (loopback)`,
    },
    {
      name: "the API server's ClusterIP",
      url: () => `https://${apiServerIP}/`,
      message: () =>
        `http source https://${apiServerIP}/: address ${apiServerIP} is refused (the Kubernetes API server)`,
    },
    {
      name: 'a redirect from an allowed server to loopback',
      url: () => `${allowedUrl}/to-loopback.csv`,
      message: () => `http source ${loopbackUrl}/x.csv: address 127.0.0.1 is refused (loopback)`,
    },
    {
      name: 'a redirect to localhost, by name',
      url: () => `${allowedUrl}/to-localhost.csv`,
      message: () => 'is refused (loopback)',
    },
    {
      name: 'a redirect to the metadata address',
      url: () => `${allowedUrl}/to-metadata.csv`,
      message: () =>
        'http source http://169.254.169.254/latest/meta-data/: address 169.254.169.254 is refused (link-local)',
    },
    {
      name: "a redirect to the API server's ClusterIP",
      url: () => `${allowedUrl}/to-api-server.csv`,
      message: () => `address ${apiServerIP} is refused (the Kubernetes API server)`,
    },
  ])('$name: SourceAddressRefused, exit 1, no request reached it', async ({ url, message }) => {
    const result = await run(url());
    expect(result.result, result.output).toMatchObject({
      outcome: 'failed',
      reason: 'SourceAddressRefused',
    });
    expect((result.result as { message: string }).message).toContain(message());
    expect(result.code).toBe(1);
    expect(loopback.seen).toEqual([]);
  });

  it("applies the install's deny list, with allow beating it, and never allows loopback", async () => {
    const host = info.hostAddress;
    const denied = await run(`${allowedUrl}/x.csv`, {
      [IngestEnv.httpDenyCidrs]: `${info.network.serviceCidr},${host}/32`,
    });
    expect(denied.result).toMatchObject({
      reason: 'SourceAddressRefused',
      message: `http source ${allowedUrl}/x.csv: address ${host} is refused (denied by the install's policy, ${host}/32)`,
    });
    const before = allowed.seen.length;
    const allowedBack = await run(`${allowedUrl}/x.csv`, {
      [IngestEnv.httpDenyCidrs]: '10.0.0.0/8',
      [IngestEnv.httpAllowCidrs]: `${host}/32,127.0.0.0/8`,
    });
    expect(allowedBack.result, allowedBack.output).toMatchObject({ outcome: 'succeeded', rows: 6 });
    expect(allowed.seen.length).toBe(before + 1);
    const stillRefused = await run(`${loopbackUrl}/x.csv`, {
      [IngestEnv.httpAllowCidrs]: '127.0.0.0/8,0.0.0.0/0',
    });
    expect(stillRefused.result).toMatchObject({ reason: 'SourceAddressRefused' });
    expect(loopback.seen).toEqual([]);
  });

  it('sends user headers to their own origin only', async () => {
    const headersDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-headers-'));
    await writeFile(path.join(headersDir, 'x-token'), 'secret-token\n');
    const env = { [IngestEnv.httpHeadersDir]: headersDir };
    const same = await run(`${allowedUrl}/to-same-origin.csv`, env);
    expect(same.result, same.output).toMatchObject({ outcome: 'succeeded' });
    expect(allowed.seen.filter((s) => s.path === '/x.csv').at(-1)?.token).toBe('secret-token');

    const cross = await run(`${allowedUrl}/to-other-origin.csv`, env);
    expect(cross.result, cross.output).toMatchObject({ outcome: 'succeeded' });
    expect(allowed.seen.filter((s) => s.path === '/to-other-origin.csv').at(-1)?.token).toBe(
      'secret-token',
    );
    expect(otherOrigin.seen).toEqual([{ path: '/x.csv', token: undefined }]);
    await rm(headersDir, { recursive: true, force: true });
  });
});

describe('a Dataset with a refused HTTP source', () => {
  const { store, access } = testStore();
  const client = testClient();
  let namespace: string;
  let manager: Manager;

  beforeAll(async () => {
    await installCrds();
    namespace = await createTestNamespace('http-guard');
    manager = startTestManager(
      namespace,
      [datasetController({ store, access, image: runtimeImage('ingest') })],
      'http-guard-itest',
    );
  });
  afterAll(async () => {
    await manager?.stop();
    await deleteTestNamespace(namespace);
  });

  it('ends Ready=False, Stalled, SourceAddressRefused naming the address, not retried', async () => {
    const sources: Record<string, { url: string; refused: string }> = {
      metadata: { url: 'http://169.254.169.254/x.csv', refused: '169.254.169.254' },
      loopback: { url: `${loopbackUrl}/x.csv`, refused: '127.0.0.1' },
      'api-server': { url: `https://${apiServerIP}/`, refused: apiServerIP },
      redirect: { url: `${allowedUrl}/to-metadata.csv`, refused: '169.254.169.254' },
    };
    const servedBefore = allowed.seen.filter((s) => s.path === '/to-metadata.csv').length;
    for (const [name, { url }] of Object.entries(sources)) {
      const ds: DatasetInput = {
        apiVersion: 'lathe.dev/v1alpha1',
        kind: 'Dataset',
        metadata: { name, namespace },
        spec: { source: { http: { url } }, schema: { label: 'y' } } as DatasetInput['spec'],
      };
      await client.create(latheKinds.dataset.resource, ds as unknown as KubeObject);
    }
    for (const [name, { refused }] of Object.entries(sources)) {
      const ds = await eventually(
        async () => {
          const got = await client.get<DatasetObject>(latheKinds.dataset.resource, namespace, name);
          const conditions = got.status?.conditions ?? [];
          const ready = conditions.find((c) => c.type === 'Ready');
          expect(ready, JSON.stringify(got.status)).toMatchObject({
            status: 'False',
            reason: 'SourceAddressRefused',
          });
          expect(conditions.find((c) => c.type === 'Stalled')).toMatchObject({
            status: 'True',
            reason: 'SourceAddressRefused',
          });
          return got;
        },
        { what: `Dataset ${name} refused`, timeoutMs: 120_000 },
      );
      const ready = ds.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.message).toContain(`address ${refused} is refused`);
      expect(ds.status?.lastIngestion).toMatchObject({ reason: 'SourceAddressRefused' });
      expect(ds.status?.lastIngestion?.nextAttemptTime).toBeUndefined();
    }
    // The redirecting server was asked (by the pod), the loopback listener never.
    expect(allowed.seen.filter((s) => s.path === '/to-metadata.csv').length).toBeGreaterThanOrEqual(
      servedBefore + 1,
    );
    expect(loopback.seen).toEqual([]);
  });
});
