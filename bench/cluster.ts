/**
 * Local-cluster benchmark: prints the cold build time of each component (as recorded when it
 * was built; `--cold` rebuilds into a throw-away cache to measure it now), then for each node
 * (the process node and the real kubelet on containerd) the warm `cluster:up` time,
 * pod-creation-to-Running latency (a network namespace and veth per pod included; on the real
 * node a container from an image already pulled), pod-creation-to-Ready of an HTTP pod with a
 * readiness probe, and the latency of a request through a Service's ClusterIP (kube-proxy's
 * DNAT in the node namespace) against the same request sent to a pod IP directly, from the host.
 *
 *   npm run bench:cluster [-- --pods 20] [-- --requests 1000] [-- --cold] [-- --node kubelet]
 *
 * Figures, not assertions: this machine is shared and noisy.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { down, up } from '../e2e/cluster/cluster.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  kubeConfig,
  repoRoot,
} from '../e2e/cluster/testenv.js';
import { type NodeKind, nodeKinds, requestedNodeKind } from '../e2e/kubelet/config.js';
import { pushImagesTo } from '../e2e/kubelet/install.js';
import { readManifest } from '../scripts/images/cli.js';
import { percentile } from './stats.js';

const exec = promisify(execFile);
const args = process.argv.slice(2);
function numberArg(name: string, fallback: number): number {
  const at = args.indexOf(name);
  return at === -1 ? fallback : Number(args[at + 1]) || fallback;
}
const podCount = numberArg('--pods', 20);
const requestCount = numberArg('--requests', 1000);

async function recordedBuildTimes(): Promise<void> {
  const root = path.join(
    process.env.LATHE_CACHE_DIR ?? path.join(os.homedir(), '.cache/lathe'),
    'components',
  );
  const entries = (await readdir(root).catch(() => [] as string[])).filter(
    (e) => !e.startsWith('.') && !e.endsWith('.lock'),
  );
  let total = 0;
  console.log('Cold build (recorded when each component was first built):');
  for (const entry of entries.sort()) {
    const seconds = Number(
      await readFile(path.join(root, entry, 'build-seconds'), 'utf8').catch(() => 'NaN'),
    );
    total += Number.isFinite(seconds) ? seconds : 0;
    console.log(`  ${entry.padEnd(58)} ${Number.isFinite(seconds) ? `${seconds} s` : 'unknown'}`);
  }
  console.log(`  ${'total'.padEnd(58)} ${total} s`);
}

async function coldBuild(): Promise<void> {
  const cache = await mkdtemp(path.join(os.tmpdir(), 'lathe-cold-'));
  const started = Date.now();
  await exec('bash', [path.join(repoRoot, 'e2e/cluster/build-components.sh')], {
    env: { ...process.env, LATHE_CACHE_DIR: cache },
    maxBuffer: 64 * 1024 * 1024,
  });
  console.log(
    `Cold build now (Go module cache as it is): ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  await rm(cache, { recursive: true, force: true });
}

async function waitForDefaultServiceAccount(core: k8s.CoreV1Api, namespace: string) {
  for (let i = 0; i < 100; i++) {
    const found = await core.readNamespacedServiceAccount({ name: 'default', namespace }).then(
      () => true,
      () => false,
    );
    if (found) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function isReady(pod: k8s.V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Creates pods one at a time; the time from each create until `done(pod)`. */
async function podLatencies(
  core: k8s.CoreV1Api,
  namespace: string,
  count: number,
  spec: (name: string) => k8s.V1Pod,
  done: (pod: k8s.V1Pod) => boolean,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const body = spec(`pod-${i}`);
    const name = body.metadata?.name ?? '';
    const created = Date.now();
    await core.createNamespacedPod({ namespace, body });
    for (;;) {
      const pod = await core.readNamespacedPod({ name, namespace });
      if (done(pod)) break;
      if (Date.now() - created > 60_000) throw new Error(`pod ${name} not done after 60 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    latencies.push(Date.now() - created);
  }
  return latencies.sort((a, b) => a - b);
}

/**
 * The two pods measured, per node: a sleeper and an HTTP server on port 8080. The process node
 * runs its test programs by image name; the real node runs Lathe's server image (pulled from the
 * cluster's registry beforehand) with Node.js one-liners doing the same.
 */
interface BenchImages {
  sleeper: Pick<k8s.V1Container, 'image' | 'command'>;
  http: Pick<k8s.V1Container, 'image' | 'command'>;
}

const processNodeImages: BenchImages = {
  sleeper: { image: 'lathe.dev/test/busybox', command: ['sleep', '300'] },
  http: { image: 'lathe.dev/test/http' },
};

function realNodeImages(serverImage: string): BenchImages {
  return {
    sleeper: { image: serverImage, command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'] },
    http: {
      image: serverImage,
      command: [
        'node',
        '-e',
        "require('node:http').createServer((_, res) => res.end('ok')).listen(8080)",
      ],
    },
  };
}

let images: BenchImages = processNodeImages;

const sleeper = (name: string): k8s.V1Pod => ({
  metadata: { name: `sleep-${name}` },
  spec: {
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'main', ...images.sleeper }],
  },
});

const httpPod = (name: string, labels: Record<string, string> = {}): k8s.V1Pod => ({
  metadata: { name: `http-${name}`, labels },
  spec: {
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'http',
        ...images.http,
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
      },
    ],
  },
});

/** One GET; with `agent` undefined, on a connection of its own. Resolves to its latency in ms. */
function timedGet(url: string, agent?: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.get(url, { agent: agent ?? false }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: HTTP ${res.statusCode}`));
        else resolve(Number(process.hrtime.bigint() - started) / 1e6);
      });
    });
    req.on('error', reject);
  });
}

/** `count` sequential GETs of `url`; sorted latencies. */
async function latencies(url: string, count: number, keepAlive: boolean): Promise<number[]> {
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
  try {
    const times: number[] = [];
    for (let i = 0; i < count; i++) times.push(await timedGet(url, agent));
    return times.sort((a, b) => a - b);
  } finally {
    agent?.destroy();
  }
}

function summary(sorted: number[], unit = 'ms', digits = 0): string {
  const f = (v: number) => v.toFixed(digits);
  return `p50 ${f(percentile(sorted, 50))} ${unit}, p99 ${f(percentile(sorted, 99))} ${unit}, max ${f(sorted.at(-1) ?? Number.NaN)} ${unit}`;
}

/**
 * A Service over two ready HTTP pods; the host calls it `requestCount` times through its
 * ClusterIP and as many times at one pod's IP, interleaved in rounds so drift in the shared
 * machine's load hits both alike.
 */
async function serviceLatency(core: k8s.CoreV1Api, namespace: string): Promise<void> {
  for (const i of [0, 1]) {
    await core.createNamespacedPod({ namespace, body: httpPod(`svc-${i}`, { app: 'bench' }) });
  }
  const service = await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: 'bench' },
      spec: { selector: { app: 'bench' }, ports: [{ port: 80, targetPort: 'http' }] },
    },
  });
  let podIP = '';
  for (let i = 0; ; i++) {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=bench' });
    const ready = pods.items.filter(isReady);
    if (ready.length === 2) {
      podIP = ready[0]?.status?.podIP ?? '';
      break;
    }
    if (i > 600) throw new Error('Service pods not Ready after 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const direct = `http://${podIP}:8080/`;
  const viaService = `http://${service.spec?.clusterIP}/`;
  // Until kube-proxy has programmed both endpoints, and to warm up both paths.
  for (let i = 0; i < 50; i++) {
    await timedGet(viaService).catch(() => new Promise((r) => setTimeout(r, 100)));
    await timedGet(direct);
  }
  for (const keepAlive of [false, true]) {
    const rounds = 10;
    const directTimes: number[] = [];
    const serviceTimes: number[] = [];
    for (let r = 0; r < rounds; r++) {
      directTimes.push(...(await latencies(direct, requestCount / rounds, keepAlive)));
      serviceTimes.push(...(await latencies(viaService, requestCount / rounds, keepAlive)));
    }
    directTimes.sort((a, b) => a - b);
    serviceTimes.sort((a, b) => a - b);
    const how = keepAlive ? 'one kept-alive connection' : 'a new connection per request';
    console.log(`HTTP GET from the host, ${directTimes.length} requests each, ${how}:`);
    console.log(`  direct to a pod IP         ${summary(directTimes, 'ms', 3)}`);
    console.log(`  through the ClusterIP      ${summary(serviceTimes, 'ms', 3)}`);
    console.log(
      `  ratio Service / direct     p50 ${(percentile(serviceTimes, 50) / percentile(directTimes, 50)).toFixed(2)}, ` +
        `p99 ${(percentile(serviceTimes, 99) / percentile(directTimes, 99)).toFixed(2)}`,
    );
  }
}

async function podBenchmarks(): Promise<void> {
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const namespace = await createTestNamespace('bench');
  try {
    await waitForDefaultServiceAccount(core, namespace);
    // The first pod of an image pulls it: not what is measured.
    await podLatencies(
      core,
      namespace,
      1,
      (n) => sleeper(`warm-${n}`),
      (pod) => pod.status?.phase === 'Running',
    );
    const running = await podLatencies(
      core,
      namespace,
      podCount,
      sleeper,
      (pod) => pod.status?.phase === 'Running',
    );
    console.log(
      `Pod creation to Running (network namespace, veth, address included), ${running.length} pods one at a time: ${summary(running)}`,
    );
    const ready = await podLatencies(core, namespace, podCount, httpPod, isReady);
    console.log(
      `Pod creation to Ready (HTTP server, readiness probe every 1 s), ${ready.length} pods one at a time: ${summary(ready)}`,
    );
    await serviceLatency(core, namespace);
  } finally {
    await deleteTestNamespace(namespace);
  }
}

async function main(): Promise<void> {
  await recordedBuildTimes();
  if (args.includes('--cold')) await coldBuild();

  // One node when asked for (`--node kubelet`), else both, the process node first.
  const kinds: readonly NodeKind[] = args.some((a) => a.startsWith('--node'))
    ? [requestedNodeKind(args, undefined)]
    : nodeKinds;
  for (const nodeKind of kinds) {
    console.log(
      `\n=== ${nodeKind === 'kubelet' ? 'Real node (kubelet on containerd)' : 'Process node'}`,
    );
    await down();
    const started = Date.now();
    await up({ log: () => {}, nodeKind });
    const warm = (Date.now() - started) / 1000;
    console.log(
      `Warm cluster:up (cached components, fresh PKI, data and network): ${warm.toFixed(1)} s (target < 10 s)`,
    );
    try {
      const { registry } = clusterInfo();
      if (registry) {
        const pushStarted = Date.now();
        await pushImagesTo(registry, () => undefined);
        console.log(
          `Images pushed to the cluster's registry in ${((Date.now() - pushStarted) / 1000).toFixed(1)} s`,
        );
        const server = readManifest().images.find((image) => image.name === 'server');
        if (!server) throw new Error('the server image is not built: npm run images');
        images = realNodeImages(`${registry}/lathe/lathe-server:${server.tag}`);
      } else {
        images = processNodeImages;
      }
      await podBenchmarks();
    } finally {
      await down();
    }
  }
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
