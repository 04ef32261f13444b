/**
 * Service networking on the local cluster: pods in their own network namespaces, the real
 * kube-proxy routing ClusterIPs to ready endpoints, CoreDNS, the `kubernetes` Service, and host
 * servers reached at one address from the host and from pods.
 *
 * Requests from inside a pod go through the `lathe.dev/test/http` image's client endpoints
 * (`/fetch`, `/resolve`, `/kube`): the test asks a pod to make them.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClusterInfo,
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubeConfig,
  kubectlOrThrow,
} from '../cluster/testenv.js';

const exec = promisify(execFile);

let core: k8s.CoreV1Api;
let namespace: string;
let info: ClusterInfo;
let serviceIP: string;
let client: string;

type Reply = { status: number; body: string } | { error: string };

/** One GET on a connection of its own (a Service balances connections, not requests). */
function getOnce(url: string, init: http.RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve) => {
    const req = http.request(url, { agent: false, timeout: 5_000, ...init }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) => resolve({ error: error.message }));
    req.end();
  });
}

async function getJson<T>(url: string): Promise<T> {
  const reply = await getOnce(url);
  if ('error' in reply) throw new Error(`${url}: ${reply.error}`);
  if (reply.status !== 200) throw new Error(`${url}: HTTP ${reply.status} ${reply.body}`);
  return JSON.parse(reply.body) as T;
}

/** `count` GETs of `url` from inside the client pod. */
function fetchFromPod(url: string, count = 1): Promise<Reply[]> {
  return getJson(`http://${client}:8080/fetch?url=${encodeURIComponent(url)}&count=${count}`);
}

/** The pod names that answered, one per reply; an error reply fails. */
function answeringPods(replies: Reply[]): string[] {
  return replies.map((r) => {
    if ('error' in r || r.status !== 200) throw new Error(`a request failed: ${JSON.stringify(r)}`);
    return (JSON.parse(r.body) as { pod: string }).pod;
  });
}

async function fromHost(count: number): Promise<string[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < count; i++) replies.push(await getOnce(`http://${serviceIP}/`));
  return answeringPods(replies);
}

async function readyPods(): Promise<k8s.V1Pod[]> {
  const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
  return pods.items.filter((p) =>
    p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
}

const httpContainer = (probePath: string) => `
      - name: http
        image: lathe.dev/test/http
        ports: [{name: http, containerPort: 8080}]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        readinessProbe: {httpGet: {path: ${probePath}, port: http}, periodSeconds: 1, failureThreshold: 1}`;

beforeAll(async () => {
  info = clusterInfo();
  core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  namespace = await createTestNamespace('net');
  await eventually(() => core.readNamespacedServiceAccount({ name: 'default', namespace }), {
    what: 'default service account',
  });
  await kubectlOrThrow(['apply', '-n', namespace, '-f', '-'], {
    input: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:${httpContainer('/ready')}
---
apiVersion: v1
kind: Pod
metadata: {name: never-ready, labels: {app: web}}
spec:
  containers:${httpContainer('/no-such-path')}
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  containers:${httpContainer('/healthz')}
---
apiVersion: v1
kind: Pod
metadata: {name: host-net}
spec:
  hostNetwork: true
  containers:
  - name: http
    image: lathe.dev/test/http
    env:
    - {name: PORT, value: '18081'}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    readinessProbe: {httpGet: {path: /healthz, port: 18081}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: default-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: default}]
`,
  });
  serviceIP = (await core.readNamespacedService({ name: 'web', namespace })).spec?.clusterIP ?? '';
  await eventually(
    async () => {
      const ready = await readyPods();
      if (ready.length !== 2) throw new Error(`${ready.length}/2 web pods Ready`);
      const all = await core.listNamespacedPod({ namespace });
      const running = all.items.filter((p) => p.status?.phase === 'Running' && p.status.podIP);
      if (running.length !== 5) throw new Error(`${running.length}/5 pods Running with an IP`);
      client = (await core.readNamespacedPod({ name: 'client', namespace })).status?.podIP ?? '';
      await getJson(`http://${client}:8080/`);
      // kube-proxy has programmed the Service once it answers.
      answeringPods(await fetchFromPod(`http://${serviceIP}/`));
    },
    { timeoutMs: 90_000, what: 'pods Ready and the Service answering' },
  );
});

afterAll(async () => {
  if (namespace) await deleteTestNamespace(namespace);
});

describe('pod networking', () => {
  it('gives each pod an address from the pod CIDR in a namespace of its own', async () => {
    const pods = (await core.listNamespacedPod({ namespace })).items.filter(
      (p) => !p.spec?.hostNetwork,
    );
    const ips = pods.map((p) => p.status?.podIP ?? '');
    expect(new Set(ips).size).toBe(pods.length);
    const prefix = info.network.podCidr.replace(/\.0\/24$/, '.');
    for (const pod of pods) {
      expect(pod.status?.podIP?.startsWith(prefix)).toBe(true);
      expect(pod.status?.hostIP).toBe(info.network.nodeAddress);
    }
    const hosts = await getOnce(`http://${client}:8080/file?path=/etc/hosts`);
    expect(hosts).toMatchObject({ status: 200 });
    expect((hosts as { body: string }).body).toContain(`${client}\tclient`);
    const { stdout } = await exec('ip', ['-j', 'netns', 'list']);
    const netns = (JSON.parse(stdout) as { name: string }[]).map((n) => n.name);
    for (const pod of pods) {
      expect(netns).toContain(`lathe${info.network.slot}-pod-${pod.metadata?.uid}`);
    }
  });

  it('runs a hostNetwork pod in the node’s namespace, at the node address', async () => {
    const pod = await core.readNamespacedPod({ name: 'host-net', namespace });
    expect(pod.status?.podIP).toBe(info.network.nodeAddress);
    const base = `http://${info.network.nodeAddress}:18081`;
    expect(await getJson(`${base}/`)).toMatchObject({ pod: 'host-net' });
    // dnsPolicy ClusterFirst on the host network falls back to the node's resolver, as on a kubelet.
    const resolvConf = await getOnce(`${base}/file?path=/etc/resolv.conf`);
    expect((resolvConf as { body: string }).body).not.toContain(info.network.clusterDnsIP);
  });

  it('routes a ClusterIP only to Ready pods, from the host and from another pod', async () => {
    const ready = (await readyPods()).map((p) => p.metadata?.name).sort();
    expect(ready).not.toContain('never-ready');
    // Connections until both ready pods answered (kube-proxy may still be applying the
    // EndpointSlice the pods' readiness changed); the unready pod must never answer.
    const seenFromHost = new Set<string>();
    const seenFromPod = new Set<string>();
    await eventually(
      async () => {
        for (const pod of await fromHost(20)) seenFromHost.add(pod);
        const fromPod = answeringPods(await fetchFromPod(`http://${serviceIP}/`, 20));
        for (const pod of fromPod) seenFromPod.add(pod);
        expect([...seenFromHost].sort()).toEqual(ready);
        expect([...seenFromPod].sort()).toEqual(ready);
      },
      { timeoutMs: 30_000, what: 'both ready pods answering the Service, and only they' },
    );
  });

  it('stops sending traffic to a pod that turns unready', async () => {
    const [leaving, staying] = await readyPods();
    const leavingIP = leaving?.status?.podIP;
    const reply = await getOnce(`http://${leavingIP}:8080/ready?ready=false`, { method: 'POST' });
    expect(reply).toMatchObject({ status: 200 });
    await eventually(
      async () => {
        const answered = new Set([
          ...(await fromHost(20)),
          ...answeringPods(await fetchFromPod(`http://${serviceIP}/`, 20)),
        ]);
        if (answered.has(leaving?.metadata?.name ?? '')) {
          throw new Error(`${leaving?.metadata?.name} still receives traffic`);
        }
        expect([...answered]).toEqual([staying?.metadata?.name]);
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'unready pod out of the Service' },
    );
  });

  it('resolves Service names through CoreDNS, with the resolv.conf a kubelet writes', async () => {
    const resolve = (name: string) =>
      getJson<{ addresses?: string[]; error?: string }>(
        `http://${client}:8080/resolve?name=${encodeURIComponent(name)}`,
      );
    for (const name of ['web', `web.${namespace}`, `web.${namespace}.svc.cluster.local`]) {
      expect(await resolve(name)).toEqual({ addresses: [serviceIP] });
    }
    expect(await resolve('kubernetes.default')).toEqual({
      addresses: [info.network.kubernetesServiceIP],
    });
    expect(await resolve('minio.lathe-system')).toEqual({
      addresses: [info.hostServices.minio?.clusterIP],
    });
    expect((await resolve(`missing.${namespace}.svc.cluster.local`)).error).toMatch(/ENOTFOUND/);
    const resolvConf = await getOnce(`http://${client}:8080/file?path=/etc/resolv.conf`);
    expect(resolvConf).toEqual({
      status: 200,
      body: [
        `search ${namespace}.svc.cluster.local svc.cluster.local cluster.local`,
        `nameserver ${info.network.clusterDnsIP}`,
        'options ndots:5',
        '',
      ].join('\n'),
    });
  });

  it('reaches the API server through the `kubernetes` Service with its service-account token', async () => {
    const env = await getOnce(`http://${client}:8080/env/KUBERNETES_SERVICE_HOST`);
    expect(env).toEqual({ status: 200, body: info.network.kubernetesServiceIP });
    const kube = (path: string) =>
      getJson<Reply>(`http://${client}:8080/kube?path=${encodeURIComponent(path)}`);
    // TLS is verified against the service account's ca.crt, at the Service's IP.
    const pods = await kube(`/api/v1/namespaces/${namespace}/pods`);
    expect(pods).toMatchObject({ status: 200 });
    const names = (JSON.parse((pods as { body: string }).body) as k8s.V1PodList).items.map(
      (p) => p.metadata?.name,
    );
    expect(names).toContain('client');
    // Who the API server thinks it is: the pod's service account, and no more.
    const secrets = await kube('/api/v1/namespaces/kube-system/secrets');
    expect(secrets).toMatchObject({ status: 403 });
    expect((secrets as { body: string }).body).toContain(
      `system:serviceaccount:${namespace}:default`,
    );
  });

  it('reaches MinIO at the one endpoint the cluster records, from the host and from a pod', async () => {
    const health = `${info.minio.endpoint}/minio/health/live`;
    expect(await getOnce(health)).toMatchObject({ status: 200 });
    expect(await fetchFromPod(health)).toMatchObject([{ status: 200 }]);
    const byName = `http://${info.hostServices.minio?.dnsName}:9000/minio/health/live`;
    expect(await fetchFromPod(byName)).toMatchObject([{ status: 200 }]);
    const secret = await core.readNamespacedSecret({
      name: 'lathe-object-store',
      namespace: 'lathe-system',
    });
    expect(Buffer.from(secret.data?.endpoint ?? '', 'base64').toString()).toBe(info.minio.endpoint);
  });

  it('lets a pod reach a test server bound to the host address', async () => {
    const server = http.createServer((_req, res) => res.end('from the host\n'));
    await new Promise<void>((resolve) => server.listen(0, info.hostAddress, resolve));
    try {
      const url = `http://${info.hostAddress}:${(server.address() as net.AddressInfo).port}/`;
      expect(await fetchFromPod(url)).toEqual([{ status: 200, body: 'from the host\n' }]);
      expect(await getOnce(url)).toEqual({ status: 200, body: 'from the host\n' });
    } finally {
      server.close();
    }
  });

  it('keeps kube-proxy’s rules in the node namespace, none in the host’s', async () => {
    const inNode = await exec('ip', [
      'netns',
      'exec',
      info.network.nodeNetns,
      'nft',
      'list',
      'tables',
    ]);
    expect(inNode.stdout).toContain('table ip kube-proxy');
    const inHost = await exec('nft', ['list', 'tables']);
    expect(inHost.stdout).not.toContain('kube-proxy');
  });
});
