/**
 * Operator benchmark: memory per cached object, reconcile throughput and apply→status latency
 * of Lathe against a minimal controller-runtime operator in Go (the peer, `bench/go-peer/`),
 * on the same API server with the same objects, one after the other; then Lathe's restart test
 * at scale.
 *
 *   npm run bench:operator [-- --sizes 1000,10000,50000 --restart-objects 1000
 *                              --peer-qps -1 --peer-burst 0 --workers 2 --throughput-rounds 3
 *                              --only peer,lathe,restart,jobs --heap-snapshots DIR
 *                              --lathe-node-flags "--max-semi-space-size=4"]
 *
 * Lathe runs with its image's Node.js flags unless `--lathe-node-flags` says otherwise ("" for
 * none).
 *
 * - Comparison (`peer`, `lathe`): each operator watches a fresh namespace; ModelVersions are
 *   created (16 at a time) up to each size in turn. The work per object is the same on both
 *   sides: Lathe runs with no object store configured (no object-store reads), so its
 *   ModelVersion controller writes `Stalled/StorageNotConfigured` status and a Warning event;
 *   the peer writes the same status with server-side apply and records the same event. Printed
 *   per operator: RSS idle and at each size, the cost per object (least-squares slope of RSS
 *   over objects), throughput (objects whose status was written, per second, from the first
 *   create) and p50/p99 latency from each create returning to its status appearing in a watch,
 *   the client QPS/burst each used, and which side limited the throughput (from CPU use of
 *   the API server, etcd, the operator and the machine).
 * - Order-balanced throughput (with both `peer` and `lathe`): the order of two runs on one API
 *   server matters (the second finds etcd larger and fragmented by the first's deletes), and the
 *   comparison above always runs the peer first. So `--throughput-rounds` more rounds run both
 *   through every size, Lathe first in even rounds, the peer first in odd ones (an odd count
 *   balances the order exactly: peer, lathe | lathe, peer | peer, lathe | lathe, peer);
 *   printed per size: each run's objects/s and the ratio of the means, the CPU per object of
 *   each operator and of the API server (CPU seconds of the phase / objects), and peak RSS, the
 *   comparison's runs included. The machine's load average is printed with the figures.
 *
 * Where the operator's CPU goes: pass `--lathe-node-flags "--max-semi-space-size=4 --cpu-prof
 * --cpu-prof-dir=DIR"` (with `--only lathe`); each Lathe run leaves a profile in DIR when it
 * stops, and `npx tsx bench/cpu-profile-summary.ts DIR/CPU….cpuprofile --objects N` prints its
 * self time by area and by frame under load.
 * - Restart (`restart`): Lathe with MinIO and leader election verifies N ModelVersions while a
 *   second replica is started and the first stopped (SIGTERM) 40% of the way through — the
 *   Helm e2e test's `rollout restart`, at a size too slow for the test suite. Every object must
 *   end Ready with the artifact's digest and carry exactly one `ArtifactVerified` event; the
 *   benchmark exits 1 if not.
 * - Baseline (`jobs`, off unless asked): the built-in Job controller, Job → Pod.
 *
 * `--heap-snapshots DIR` takes a V8 heap snapshot of Lathe idle and at each size and prints
 * where the bytes per object go (`heap-summary.ts`); a snapshot leaves RSS inflated, so such a
 * run is for the breakdown, not for the RSS figures. Figures, not assertions: the machine is
 * shared and noisy; compare the two operators within one run.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { manifestFor } from '../contract/manifest.js';
import { ObjectStore } from '../contract/object-store.js';
import { isHealthy, up } from '../e2e/cluster/cluster.js';
import { recordedPid } from '../e2e/cluster/processes.js';
import {
  clusterInfo,
  createTestNamespace,
  eventually,
  installCrds,
  kubeConfig,
  kubectl,
  repoRoot,
  stateDir,
} from '../e2e/cluster/testenv.js';
import { latheKinds, type ModelVersionObject } from '../operator/src/controllers/lathe-kinds.js';
import { HttpKubeClient } from '../operator/src/runtime/kube-client.js';
import { summarizeSnapshots } from './heap-summary.js';
import {
  buildPeer,
  imageNodeFlags,
  type RunningOperator,
  startLathe,
  startPeer,
} from './operators.js';
import {
  apiRequestCounts,
  countsSince,
  cpuPerObjectMs,
  cpuSeconds,
  limitOf,
  linearFit,
  machineCpu,
  type PhaseCpu,
  rssMiB,
} from './resources.js';
import { percentile } from './stats.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const numbers = (text: string) => text.split(',').map((s) => Number(s.trim()));
const sizes = numbers(option('--sizes') ?? '1000,10000').sort((a, b) => a - b);
const restartObjects = Number(option('--restart-objects') ?? 1000);
const peerQps = Number(option('--peer-qps') ?? -1);
const peerBurst = Number(option('--peer-burst') ?? 0);
const workers = Number(option('--workers') ?? 2);
const throughputRounds = Number(option('--throughput-rounds') ?? 3);
const only = new Set((option('--only') ?? 'peer,lathe,restart').split(','));
const heapSnapshots = option('--heap-snapshots');
const latheNodeFlags = (option('--lathe-node-flags') ?? imageNodeFlags.join(' '))
  .split(' ')
  .filter(Boolean);
const concurrency = 16;
const settleMs = 5_000;

for (const [name, value] of Object.entries({ restartObjects, peerQps, peerBurst, workers })) {
  if (!Number.isFinite(value)) throw new Error(`--${name}: not a number`);
}
if (!Number.isInteger(throughputRounds) || throughputRounds < 0)
  throw new Error('--throughput-rounds: a whole number, 0 for none');
if (sizes.some((s) => !Number.isInteger(s) || s <= 0))
  throw new Error('--sizes: positive whole numbers separated by commas, e.g. 1000,10000');

// Clients of the local cluster, made by main() once it is up (a stopped cluster's files would
// name a port nobody listens on).
let kc: k8s.KubeConfig;
/** The benchmark's creates and lists: one keep-alive connection pool, so the load generator
 * does not cost the API server a TLS handshake per object (client-node's generated APIs make
 * a new agent per request). */
let api: HttpKubeClient;
let core: k8s.CoreV1Api;
const digestOfNothing = `sha256:${'0'.repeat(64)}`;

interface Phase {
  objects: number;
  created: number;
  seconds: number;
  p50: number;
  p99: number;
  rss: number;
  cpu: PhaseCpu;
}

interface OperatorRun {
  name: string;
  settings: string;
  idleRss: number;
  phases: Phase[];
  /** API requests per object during the first size, largest first. */
  requestsPerObject: [string, number][];
}

/** The machine's load average, printed with every figure (the machine is shared). */
function loadAverage(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

/** The API server's request counters (admin credentials, through kubectl). */
async function apiRequests(): Promise<Map<string, number>> {
  const result = await kubectl(['get', '--raw', '/metrics']);
  if (result.code !== 0)
    throw new Error(`Reading the API server's metrics failed: ${result.stderr}`);
  return apiRequestCounts(result.stdout);
}

/** Creates ModelVersions `from`..`to`-1, 16 at a time; returns when each create returned. */
async function createModelVersions(
  namespace: string,
  from: number,
  to: number,
  artifact: { uri: string; digest: string },
  onEach?: (i: number) => Promise<void>,
): Promise<Map<string, number>> {
  const created = new Map<string, number>();
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) {
        const i = next++;
        const name = `mv-${i}`;
        await api.create(latheKinds.modelVersion.resource, {
          apiVersion: 'lathe.dev/v1alpha1',
          kind: 'ModelVersion',
          metadata: { name, namespace },
          spec: { modelName: 'bench', version: i + 1, artifact: { ...artifact, format: 'tfjs' } },
        });
        created.set(name, Date.now());
        await onEach?.(i);
      }
    }),
  );
  return created;
}

type Status = { observedGeneration?: number; conditions?: { type: string; status: string }[] };

/**
 * Watches the ModelVersions of `namespace` and records, per name, the first time `done` held.
 * A watch the server closes is started again (its replay of current state is harmless: only
 * the first time counts).
 */
async function watchStatuses(namespace: string, done: (status: Status | undefined) => boolean) {
  const seen = new Map<string, number>();
  let stopped = false;
  let controller: AbortController | undefined;
  const start = async (): Promise<void> => {
    if (stopped) return;
    controller = await new k8s.Watch(kc).watch(
      `/apis/lathe.dev/v1alpha1/namespaces/${namespace}/modelversions`,
      {},
      (_type, obj: { metadata?: { name?: string }; status?: Status }) => {
        const name = obj.metadata?.name;
        if (name && !seen.has(name) && done(obj.status)) seen.set(name, Date.now());
      },
      () => void setTimeout(() => void start().catch(() => undefined), 500),
    );
  };
  await start();
  return {
    seen,
    stop: () => {
      stopped = true;
      controller?.abort();
    },
  };
}

async function waitForAll(seen: Map<string, number>, names: Iterable<string>, what: string) {
  const wanted = [...names];
  await eventually(
    () => {
      const missing = wanted.filter((n) => !seen.has(n));
      if (missing.length > 0)
        throw new Error(`${missing.length} of ${wanted.length} left, e.g. ${missing[0]}`);
    },
    { timeoutMs: Math.max(600_000, wanted.length * 200), intervalMs: 500, what },
  );
}

async function cpuSnapshot(operatorPid: number) {
  const [apiServer, etcd] = await Promise.all([
    recordedPid(stateDir, 'kube-apiserver'),
    recordedPid(stateDir, 'etcd'),
  ]);
  const self = process.cpuUsage();
  return {
    at: Date.now(),
    client: (self.user + self.system) / 1e6,
    apiServer: await cpuSeconds(apiServer),
    etcd: await cpuSeconds(etcd),
    operator: await cpuSeconds(operatorPid),
    machine: await machineCpu(),
  };
}

async function cpuSince(
  before: Awaited<ReturnType<typeof cpuSnapshot>>,
  operatorPid: number,
  singleThreaded: boolean,
): Promise<PhaseCpu> {
  const after = await cpuSnapshot(operatorPid);
  const wall = (after.at - before.at) / 1000;
  const cores = cpus().length;
  return {
    apiServer: (after.apiServer - before.apiServer) / wall,
    etcd: (after.etcd - before.etcd) / wall,
    operator: (after.operator - before.operator) / wall,
    client: (after.client - before.client) / wall,
    machine: (after.machine.busy - before.machine.busy) / wall,
    cores,
    singleThreaded,
    wallSeconds: wall,
  };
}

async function deleteNamespaceAndWait(namespace: string): Promise<void> {
  const startedAt = Date.now();
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await eventually(
    async () => {
      const gone = await core.readNamespace({ name: namespace }).then(
        () => false,
        () => true,
      );
      if (!gone) throw new Error(`namespace ${namespace} still terminating`);
    },
    { timeoutMs: 3_600_000, intervalMs: 2_000, what: `namespace ${namespace} deleted` },
  );
  console.log(
    `  (deleted namespace ${namespace} in ${((Date.now() - startedAt) / 1000).toFixed(0)} s)`,
  );
}

/** Waits for a new, complete heap snapshot in `dir` after SIGUSR2. */
async function heapSnapshot(operator: RunningOperator, dir: string): Promise<string> {
  const before = new Set(await readdir(dir));
  operator.signal('SIGUSR2');
  return await eventually(
    async () => {
      const fresh = (await readdir(dir)).filter(
        (f) => f.endsWith('.heapsnapshot') && !before.has(f),
      );
      if (fresh.length === 0) throw new Error('no snapshot yet');
      const file = path.join(dir, fresh[0]!);
      const size = (await stat(file)).size;
      await new Promise((r) => setTimeout(r, 2_000));
      if ((await stat(file)).size !== size || size === 0) throw new Error('still writing');
      return file;
    },
    { timeoutMs: 300_000, intervalMs: 1_000, what: 'heap snapshot' },
  );
}

/** Runs one operator through every size in a fresh namespace. */
async function comparisonRun(
  name: string,
  settings: string,
  singleThreaded: boolean,
  start: (namespace: string) => Promise<RunningOperator>,
  snapshotDir?: string,
  runSizes: readonly number[] = sizes,
): Promise<OperatorRun> {
  const namespace = await createTestNamespace(`bench-${name}`);
  const statuses = await watchStatuses(namespace, (s) => s?.observedGeneration !== undefined);
  const operator = await start(namespace);
  const snapshots: string[] = [];
  const run: OperatorRun = { name, settings, idleRss: 0, phases: [], requestsPerObject: [] };
  try {
    await new Promise((r) => setTimeout(r, settleMs));
    run.idleRss = await rssMiB(operator.pid);
    if (snapshotDir) snapshots.push(await heapSnapshot(operator, snapshotDir));
    let from = 0;
    for (const size of runSizes) {
      const requestsBefore = from === 0 ? await apiRequests() : undefined;
      const cpuBefore = await cpuSnapshot(operator.pid);
      const startedAt = Date.now();
      const created = await createModelVersions(namespace, from, size, {
        uri: 's3://lathe/bench/none/',
        digest: digestOfNothing,
      });
      await waitForAll(statuses.seen, created.keys(), `${name}: statuses at ${size}`);
      const finishedAt = Math.max(...[...created.keys()].map((n) => statuses.seen.get(n) ?? 0));
      const cpu = await cpuSince(cpuBefore, operator.pid, singleThreaded);
      if (requestsBefore) {
        // Settle first, so the writes that trail the last status (events) are counted.
        await new Promise((r) => setTimeout(r, settleMs));
        run.requestsPerObject = countsSince(requestsBefore, await apiRequests()).map(
          ([what, n]) => [what, n / size],
        );
      }
      const latencies = [...created]
        .map(([n, at]) => Math.max(0, (statuses.seen.get(n) ?? at) - at))
        .sort((a, b) => a - b);
      await new Promise((r) => setTimeout(r, settleMs));
      const phase: Phase = {
        objects: size,
        created: size - from,
        seconds: (finishedAt - startedAt) / 1000,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        rss: await rssMiB(operator.pid),
        cpu,
      };
      run.phases.push(phase);
      const perObject = cpuPerObjectMs(cpu, phase.created);
      console.log(
        `  ${name} at ${size}: ${(phase.created / phase.seconds).toFixed(1)} objects/s, p50 ${phase.p50} ms, p99 ${phase.p99} ms, RSS ${phase.rss.toFixed(0)} MiB, CPU per object ${perObject.operator.toFixed(2)} ms (API server ${perObject.apiServer.toFixed(2)} ms), ${loadAverage()}`,
      );
      if (snapshotDir) snapshots.push(await heapSnapshot(operator, snapshotDir));
      from = size;
    }
  } finally {
    statuses.stop();
    await operator.stop();
    await deleteNamespaceAndWait(namespace);
  }
  if (snapshots.length > 1) {
    const counts = [0, ...runSizes];
    for (let i = 1; i < snapshots.length; i++) {
      console.log(`\nHeap of ${name}, ${counts[i - 1]} → ${counts[i]} objects:`);
      for (const line of summarizeSnapshots(snapshots[i - 1]!, snapshots[i]!, {
        objects: counts[i]! - counts[i - 1]!,
        holders: [
          '#items',
          '#invalid',
          '#indices',
          '#lastStatusWrites',
          '#seen',
          '#queue',
          '#dirty',
          '#failures',
          'waits',
        ],
        top: 12,
      }))
        console.log(`  ${line}`);
    }
  }
  return run;
}

/** KiB of RSS per object: least squares over idle and every size. */
function slopeKiB(run: OperatorRun): number {
  const fit = linearFit([
    { x: 0, y: run.idleRss },
    ...run.phases.map((p) => ({ x: p.objects, y: p.rss })),
  ]);
  return fit.slope * 1024;
}

/**
 * KiB of RSS per object between the two largest sizes: the steady cost of one more object,
 * without the one-off growth from idle to a working heap (young generation, compiled code).
 */
function marginalKiB(run: OperatorRun): number {
  const [a, b] = run.phases.slice(-2);
  if (!a || !b) return Number.NaN;
  return ((b.rss - a.rss) / (b.objects - a.objects)) * 1024;
}

function printComparison(runs: OperatorRun[]): void {
  const pad = (s: string, n = 34) => s.padEnd(n);
  const line = (label: string, cells: string[]) =>
    console.log(`${pad(label, 30)}${cells.map((c) => pad(c)).join('')}`);
  console.log('\nMemory and throughput, same API server, same objects, one after the other:');
  line(
    '',
    runs.map((r) => r.name),
  );
  for (const r of runs) console.log(`  ${r.name}: ${r.settings}`);
  line(
    'RSS idle',
    runs.map((r) => `${r.idleRss.toFixed(0)} MiB`),
  );
  for (const size of sizes) {
    line(
      `RSS at ${size}`,
      runs.map((r) => {
        const p = r.phases.find((x) => x.objects === size);
        return p ? `${p.rss.toFixed(0)} MiB` : '-';
      }),
    );
  }
  line(
    'cost per object, fit',
    runs.map((r) => `${slopeKiB(r).toFixed(2)} KiB`),
  );
  if (sizes.length > 1)
    line(
      `cost per object ${sizes.at(-2)}→${sizes.at(-1)}`,
      runs.map((r) => `${marginalKiB(r).toFixed(2)} KiB`),
    );
  for (const size of sizes) {
    line(
      `throughput ${size === sizes[0] ? `at ${size}` : `to ${size}`}`,
      runs.map((r) => {
        const p = r.phases.find((x) => x.objects === size);
        return p ? `${(p.created / p.seconds).toFixed(1)}/s p50 ${p.p50} p99 ${p.p99} ms` : '-';
      }),
    );
  }
  for (const size of sizes) {
    line(
      `CPU per object ${size === sizes[0] ? `at ${size}` : `to ${size}`}`,
      runs.map((r) => {
        const p = r.phases.find((x) => x.objects === size);
        if (!p) return '-';
        const ms = cpuPerObjectMs(p.cpu, p.created);
        return `${ms.operator.toFixed(2)} ms (API server ${ms.apiServer.toFixed(2)})`;
      }),
    );
  }
  console.log(loadAverage());
  const [peer, lathe] = [
    runs.find((r) => r.name === 'go-peer'),
    runs.find((r) => r.name === 'lathe'),
  ];
  if (peer && lathe) {
    const first = (r: OperatorRun) => r.phases[0]!.created / r.phases[0]!.seconds;
    const marginal =
      sizes.length > 1
        ? `, ×${(marginalKiB(lathe) / marginalKiB(peer)).toFixed(2)} from ${sizes.at(-2)} to ${sizes.at(-1)}`
        : '';
    console.log(
      `Lathe / Go peer: cost per object ×${(slopeKiB(lathe) / slopeKiB(peer)).toFixed(2)} (fit)${marginal}; throughput at ${sizes[0]} ×${(first(lathe) / first(peer)).toFixed(2)}`,
    );
  }
  for (const r of runs) {
    const p = r.phases[0];
    if (p) console.log(`Limit of ${r.name} at ${p.objects}: ${limitOf(p.cpu)}`);
  }
  for (const r of runs) {
    const shown = r.requestsPerObject.filter(([, n]) => n >= 0.05);
    const total = r.requestsPerObject.reduce((sum, [, n]) => sum + n, 0);
    console.log(
      `API requests per object up to ${sizes[0]}, ${r.name} (with the benchmark's own creates): ${total.toFixed(2)} — ${shown.map(([what, n]) => `${what} ${n.toFixed(2)}`).join(', ')}`,
    );
  }
}

/**
 * More rounds of both operators through every size, Lathe first in even rounds and the peer
 * first in odd ones, so neither gains from running on the fresher API server; prints, per size,
 * each run's throughput, the ratio of the means, CPU per object and peak RSS, the comparison's
 * runs included.
 */
async function balancedThroughput(
  comparison: readonly OperatorRun[],
  rounds: number,
  peer: () => Promise<OperatorRun>,
  lathe: () => Promise<OperatorRun>,
): Promise<void> {
  const runs = [...comparison];
  console.log(`\nThroughput at ${sizes.join(', ')}, ${rounds} more rounds in alternating order:`);
  for (let round = 0; round < rounds; round++) {
    const [first, second] = round % 2 === 0 ? [lathe, peer] : [peer, lathe];
    for (const run of [first, second]) runs.push(await run());
  }
  console.log(`Order of the runs: ${runs.map((r) => r.name).join(', ')}`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const size of sizes) {
    const figures = (name: string) => {
      const phases = runs
        .filter((r) => r.name === name)
        .flatMap((r) => r.phases.filter((p) => p.objects === size));
      const rates = phases.map((p) => p.created / p.seconds);
      const cpu = phases.map((p) => cpuPerObjectMs(p.cpu, p.created));
      return {
        rates,
        rate: mean(rates),
        operatorMs: mean(cpu.map((c) => c.operator)),
        apiServerMs: mean(cpu.map((c) => c.apiServer)),
        peakRss: Math.max(...phases.map((p) => p.rss)),
      };
    };
    const [p, l] = [figures('go-peer'), figures('lathe')];
    const what =
      size === sizes[0] ? `at ${size}` : `from ${sizes[sizes.indexOf(size) - 1]} to ${size}`;
    console.log(`Throughput ${what}:`);
    for (const [name, f] of [
      ['go-peer', p],
      ['lathe  ', l],
    ] as const)
      console.log(
        `  ${name} ${f.rates.map((r) => r.toFixed(1)).join(', ')} objects/s, mean ${f.rate.toFixed(1)}; CPU per object ${f.operatorMs.toFixed(2)} ms (API server ${f.apiServerMs.toFixed(2)} ms); peak RSS ${f.peakRss.toFixed(0)} MiB`,
      );
    console.log(
      `  Lathe / Go peer throughput ${what}, order-balanced: ×${(l.rate / p.rate).toFixed(2)}; CPU per object ×${(l.operatorMs / p.operatorMs).toFixed(2)}`,
    );
  }
  console.log(loadAverage());
}

/** Lathe verifies `count` real artifacts while its replica is replaced 40% of the way in. */
async function restartTest(count: number): Promise<boolean> {
  const { minio } = clusterInfo();
  const store = new ObjectStore(minio);
  const namespace = await createTestNamespace('bench-restart');
  const prefix = `bench/${namespace}/model/`;
  const files = {
    'model.json': Buffer.from('{"modelTopology":{}}'),
    'weights.bin': Buffer.alloc(64 * 1024, 7),
  };
  const { manifest, digest } = manifestFor(files);
  for (const [file, bytes] of Object.entries(files))
    await store.write(minio.bucket, `${prefix}${file}`, bytes);
  await store.write(minio.bucket, `${prefix}manifest.json`, manifest);
  const ready = await watchStatuses(
    namespace,
    (s) => s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
  );
  const options = { namespace, workers, nodeFlags: latheNodeFlags, objectStore: true };
  const operators: RunningOperator[] = [
    await startLathe({ ...options, leaderIdentity: 'bench-replica-1' }),
  ];
  const restartAt = Math.floor(count * 0.4);
  let ok = false;
  try {
    const startedAt = Date.now();
    const created = await createModelVersions(
      namespace,
      0,
      count,
      { uri: `s3://${minio.bucket}/${prefix}`, digest },
      async (i) => {
        if (i !== restartAt) return;
        // As `kubectl rollout restart`: the new replica starts, then the old one is stopped.
        operators.push(await startLathe({ ...options, leaderIdentity: 'bench-replica-2' }));
        await operators[0]!.stop();
        console.log(`  replaced the operator after object ${i} was created`);
      },
    );
    await waitForAll(ready.seen, created.keys(), 'restart: every ModelVersion Ready');
    const seconds = (Math.max(...ready.seen.values()) - startedAt) / 1000;
    const list = await api.list<ModelVersionObject>(latheKinds.modelVersion.resource, {
      namespace,
    });
    const wrongDigest = list.items.filter((mv) => mv.status?.verifiedDigest !== digest);
    const events = await kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace });
    const verified = new Map<string, number>();
    for (const event of events.items.filter((e) => e.reason === 'ArtifactVerified')) {
      const name = event.regarding?.name ?? '';
      verified.set(name, (verified.get(name) ?? 0) + (event.series?.count ?? 1));
    }
    const notOnce = [...created.keys()].filter((n) => verified.get(n) !== 1);
    ok = wrongDigest.length === 0 && notOnce.length === 0;
    console.log(
      `Restart test: ${count} ModelVersions verified against MinIO, operator replaced at ${restartAt}: ` +
        `${count - wrongDigest.length}/${count} Ready with the digest, ` +
        `${count - notOnce.length}/${count} with exactly one ArtifactVerified event ` +
        `(${(count / seconds).toFixed(1)} objects/s) — ${ok ? 'exactly once' : 'VIOLATED'}`,
    );
    if (notOnce.length > 0)
      console.log(
        `  not once: ${notOnce
          .slice(0, 10)
          .map((n) => `${n}=${verified.get(n) ?? 0}`)
          .join(', ')}`,
      );
  } finally {
    ready.stop();
    for (const operator of operators) await operator.stop();
    await store.removePrefix(minio.bucket, prefix);
    await deleteNamespaceAndWait(namespace);
  }
  return ok;
}

/** The built-in Job controller on the same API server: Job → Pod. */
async function jobBaseline(count: number): Promise<void> {
  const namespace = await createTestNamespace('bench-jobs');
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const seen = new Map<string, number>();
  const watch = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    {},
    (_type, pod: k8s.V1Pod) => {
      const job = pod.metadata?.labels?.['job-name'];
      if (job && !seen.has(job)) seen.set(job, Date.now());
    },
    () => undefined,
  );
  try {
    const startedAt = Date.now();
    const created = new Map<string, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const name = `job-${next++}`;
          await batch.createNamespacedJob({
            namespace,
            body: {
              metadata: { name },
              spec: {
                template: {
                  spec: {
                    restartPolicy: 'Never',
                    automountServiceAccountToken: false,
                    nodeSelector: { 'lathe.dev/bench': 'nowhere' },
                    containers: [{ name: 'c', image: 'lathe.dev/test/busybox', command: ['true'] }],
                  },
                },
              },
            },
          });
          created.set(name, Date.now());
        }
      }),
    );
    await waitForAll(seen, created.keys(), 'job pods created');
    const latencies = [...created].map(([n, at]) => (seen.get(n) ?? at) - at).sort((a, b) => a - b);
    const seconds = (Math.max(...seen.values()) - startedAt) / 1000;
    console.log(
      `Baseline, built-in Job controller (Job → Pod): ${(count / seconds).toFixed(1)} objects/s, p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`,
    );
  } finally {
    watch.abort();
    await deleteNamespaceAndWait(namespace);
  }
}

async function main(): Promise<void> {
  if (!(await isHealthy())) await up();
  kc = kubeConfig();
  api = new HttpKubeClient(kc);
  core = kc.makeApiClient(k8s.CoreV1Api);
  const built = await promisify(execFile)('npm', ['run', 'build'], { cwd: repoRoot }).catch(
    (e: Error) => e,
  );
  if (built instanceof Error) throw new Error(`npm run build failed: ${built.message}`);
  await installCrds();
  console.log(
    `Operator benchmark: sizes ${sizes.join(', ')}; ${concurrency} concurrent creates; ${workers} workers each; restart test at ${restartObjects}; ${cpus().length} cores, ${loadAverage()}`,
  );
  if (only.has('jobs')) await jobBaseline(sizes[0]!);

  const runs: OperatorRun[] = [];
  const binary = only.has('peer') ? await buildPeer() : undefined;
  const qps = peerQps < 0 ? 'no client-side limit (QPS < 0)' : `QPS ${peerQps}, burst ${peerBurst}`;
  const peerRun = (runSizes?: readonly number[]) =>
    comparisonRun(
      'go-peer',
      `controller-runtime v0.21.0, unstructured cache without managedFields, ${qps}, ${workers} workers, GOGC default`,
      false,
      (namespace) =>
        startPeer({ binary: binary!, namespace, workers, qps: peerQps, burst: peerBurst }),
      undefined,
      runSizes,
    );
  const latheRun = (runSizes?: readonly number[], snapshotDir?: string) =>
    comparisonRun(
      'lathe',
      `no client-side rate limit (one keep-alive HTTP/1.1 agent), no object store, ${workers} workers, node flags: ${latheNodeFlags.join(' ') || 'none'}`,
      true,
      (namespace) =>
        startLathe({
          namespace,
          workers,
          nodeFlags: latheNodeFlags,
          objectStore: false,
          heapSnapshotDir: snapshotDir,
        }),
      snapshotDir,
      runSizes,
    );
  if (only.has('peer')) runs.push(await peerRun());
  if (only.has('lathe')) {
    const snapshotDir = heapSnapshots ? path.resolve(heapSnapshots) : undefined;
    if (snapshotDir) await mkdir(snapshotDir, { recursive: true });
    runs.push(await latheRun(undefined, snapshotDir));
    if (snapshotDir)
      console.log('(heap snapshots were taken: the RSS figures of this run are inflated by them)');
  }
  if (runs.length > 0) printComparison(runs);
  if (only.has('peer') && only.has('lathe') && throughputRounds > 0) {
    await balancedThroughput(
      runs,
      throughputRounds,
      () => peerRun(),
      () => latheRun(),
    );
  }
  if (only.has('restart') && restartObjects > 0) {
    console.log('');
    if (!(await restartTest(restartObjects))) process.exitCode = 1;
  }
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
