/**
 * The console against a real API server: its informers, TokenReview and SubjectAccessReview.
 * Two ServiceAccounts: `viewer` may get and list Lathe's kinds in namespace A (a Role), and
 * `stranger` may do nothing. The viewer sees A's objects and none of B's; the stranger sees
 * nothing; a request without a token, or with a token the API server does not accept, gets the
 * sign-in page and no data.
 */
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  kubeConfig,
  kubectl,
  kubectlOrThrow,
} from '../e2e/cluster/testenv.js';
import { latheResources } from '../operator/src/rbac/lathe-kind-permissions.js';
import { HttpKubeClient } from '../operator/src/runtime/kube-client.js';
import { KubeAccessReviewer } from './access-review.js';
import { InformerConsoleCache } from './cache.js';
import { pages } from './pages/index.js';
import { createConsoleServer } from './server.js';

const log = pino({ level: 'silent' });
let a = '';
let b = '';
let base = '';
let viewerToken = '';
let strangerToken = '';
let cache: InformerConsoleCache;
let server: ReturnType<typeof createConsoleServer>;

const dataset = (name: string) => ({
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'Dataset',
  metadata: { name },
  spec: { source: { http: { url: 'https://example.com/data.csv' } }, schema: { label: 'y' } },
});
const trainingJob = (name: string) => ({
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'TrainingJob',
  metadata: { name },
  spec: {
    datasetRef: { name: 'data' },
    model: { builtin: { architecture: 'linear' } },
    modelName: `model-${name}`,
  },
});

async function apply(namespace: string, obj: unknown): Promise<void> {
  const applied = await kubectl(['-n', namespace, 'apply', '-f', '-'], {
    input: JSON.stringify(obj),
  });
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
}

beforeAll(async () => {
  await installCrds();
  a = await createTestNamespace('console-a');
  b = await createTestNamespace('console-b');
  await apply(a, dataset('data-in-a'));
  await apply(a, trainingJob('run-in-a'));
  await apply(b, dataset('data-in-b'));
  await apply(b, trainingJob('run-in-b'));
  await kubectlOrThrow(['-n', a, 'create', 'serviceaccount', 'viewer']);
  await kubectlOrThrow(['-n', a, 'create', 'serviceaccount', 'stranger']);
  await kubectlOrThrow([
    '-n',
    a,
    'create',
    'role',
    'lathe-viewer',
    '--verb=get,list',
    `--resource=${latheResources.map((r) => `${r}.lathe.dev`).join(',')}`,
  ]);
  await kubectlOrThrow([
    '-n',
    a,
    'create',
    'rolebinding',
    'lathe-viewer',
    '--role=lathe-viewer',
    `--serviceaccount=${a}:viewer`,
  ]);
  viewerToken = (await kubectlOrThrow(['-n', a, 'create', 'token', 'viewer'])).trim();
  strangerToken = (await kubectlOrThrow(['-n', a, 'create', 'token', 'stranger'])).trim();

  const client = new HttpKubeClient(kubeConfig());
  cache = new InformerConsoleCache({ client, log, namespaces: [a, b] });
  cache.start();
  server = createConsoleServer({
    cache,
    reviewer: new KubeAccessReviewer({ request: (m, p, o) => client.request(m, p, o), log }),
    pages,
    runRecords: undefined,
    log,
    secureCookie: false,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await eventually(
    () => {
      if (cache.reader('trainingJob').list().length !== 2) throw new Error('caches not filled yet');
    },
    { what: 'the console caches' },
  );
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await cache?.stop();
  if (a) await deleteTestNamespace(a);
  if (b) await deleteTestNamespace(b);
});

const page = async (path: string, token?: string) => {
  const res = await fetch(base + path, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: await res.text() };
};

describe('the console on a real API server', () => {
  it("shows the viewer namespace A's objects and none of B's, on every page", async () => {
    const home = await page('/', viewerToken);
    expect(home.status).toBe(200);
    expect(home.body).toContain('data-name="data-in-a"');
    expect(home.body).toContain('data-name="run-in-a"');
    expect(home.body).toContain(`<option value="${a}"`);
    for (const path of ['/', '/lineage', '/decisions', `/?namespace=${b}`]) {
      const { body } = await page(path, viewerToken);
      expect(body).not.toContain('data-in-b');
      expect(body).not.toContain('run-in-b');
      expect(body).not.toContain(`<option value="${b}"`);
    }
    expect((await page('/lineage', viewerToken)).body).toContain('model-run-in-a');
    expect((await page(`/objects/datasets/${a}/data-in-a`, viewerToken)).status).toBe(200);
    expect((await page(`/objects/datasets/${b}/data-in-b`, viewerToken)).status).toBe(404);
  });

  it('shows a ServiceAccount without rights nothing', async () => {
    for (const path of ['/', '/lineage', '/decisions']) {
      const { status, body } = await page(path, strangerToken);
      expect(status).toBe(200);
      expect(body).not.toMatch(/data-in-|run-in-/);
    }
    expect((await page(`/objects/datasets/${a}/data-in-a`, strangerToken)).status).toBe(404);
  });

  it.each([
    ['no token', undefined],
    ['a token the API server does not accept', 'not-a-token'],
    ['a tampered token', `${'x'}${viewerToken.slice(1)}`],
  ])('answers %s with 401 and no data', async (_, token) => {
    for (const path of ['/', `/objects/datasets/${a}/data-in-a`, '/lineage']) {
      const { status, body } = await page(path, token);
      expect(status).toBe(401);
      expect(body).toContain('name="token"');
      expect(body).not.toContain('data-name=');
      expect(body).not.toContain('run-in-a');
    }
  });

  it('signs a browser in with the token in an HttpOnly cookie', async () => {
    const res = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: viewerToken }).toString(),
    });
    expect(res.status).toBe(303);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const home = await fetch(`${base}/`, { headers: { Cookie: cookie } });
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('data-in-a');
  });
});
