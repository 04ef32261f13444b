/**
 * Operator benchmark: reconcile throughput and latency, memory with many objects cached, and
 * the built-in Job controller on the same API server as the baseline.
 *
 *   npm run bench:operator [-- --objects 1000 --cached 10000]
 *
 * - Baseline: N Jobs are created; the latency is from each create call returning to its Pod
 *   appearing in a watch (the Job controller's work). The pods are left unschedulable so the
 *   node's process start does not count.
 * - Lathe: N ModelVersions naming one real artifact in MinIO are created; the latency is from
 *   each create call returning to `Ready=True` appearing in a watch (the operator verified the
 *   artifact — three object-store reads — and patched status).
 * - Memory: ModelVersions are added up to `--cached`, all reconciled, then the operator's RSS
 *   is read from /proc.
 *
 * The operator is built (`npm run build`) and runs as a separate process exactly as in its
 * image (`node dist/operator/src/main.js`), so its RSS is its own. Figures, not assertions: this machine is shared and noisy.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { isHealthy, up } from '../e2e/cluster/cluster.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  kubeConfig,
  repoRoot,
} from '../e2e/cluster/testenv.js';
import { manifestFor } from '../operator/src/contract/manifest.js';
import { ObjectStore } from '../operator/src/storage/object-store.js';
import { percentile } from './stats.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const objects = flag('--objects', 1000);
const cached = flag('--cached', 10_000);
const concurrency = 16;

function summary(
  label: string,
  latencies: Map<string, number>,
  startedAt: number,
  finishedAt: number,
): string {
  const sorted = [...latencies.values()].sort((a, b) => a - b);
  const seconds = (finishedAt - startedAt) / 1000;
  return `${label.padEnd(44)} ${String(sorted.length).padStart(6)} objects  ${(sorted.length / seconds).toFixed(1).padStart(7)} /s  p50 ${String(percentile(sorted, 50)).padStart(5)} ms  p99 ${String(percentile(sorted, 99)).padStart(6)} ms`;
}

/** Runs `create(i)` for i in [from, to) with bounded concurrency; records when each returned. */
async function createAll(
  from: number,
  to: number,
  create: (i: number) => Promise<string>,
): Promise<Map<string, number>> {
  const created = new Map<string, number>();
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) {
        const i = next++;
        const name = await create(i);
        created.set(name, Date.now());
      }
    }),
  );
  return created;
}

/** Watches `path` and records, per key, the first time `done(obj)` held. */
async function watchUntil(
  kc: k8s.KubeConfig,
  watchPath: string,
  keyOf: (obj: k8s.KubernetesObject) => string | undefined,
  done: (obj: k8s.KubernetesObject) => boolean,
) {
  const seen = new Map<string, number>();
  const controller = await new k8s.Watch(kc).watch(
    watchPath,
    {},
    (_type, obj: k8s.KubernetesObject) => {
      const key = keyOf(obj);
      if (key && !seen.has(key) && done(obj)) seen.set(key, Date.now());
    },
    () => {},
  );
  return { seen, stop: () => controller.abort() };
}

async function waitForCount(
  seen: Map<string, number>,
  count: number,
  what: string,
  timeoutMs: number,
) {
  await eventually(
    () => {
      if (seen.size < count) throw new Error(`${seen.size}/${count} ${what}`);
    },
    { timeoutMs, intervalMs: 200, what },
  );
}

function latenciesOf(created: Map<string, number>, seen: Map<string, number>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [name, at] of created) {
    const doneAt = seen.get(name);
    if (doneAt !== undefined) result.set(name, Math.max(0, doneAt - at));
  }
  return result;
}

async function baselineJobs(kc: k8s.KubeConfig): Promise<string> {
  const namespace = await createTestNamespace('bench-jobs');
  const batch = kc.makeApiClient(k8s.BatchV1Api);
  const watch = await watchUntil(
    kc,
    `/api/v1/namespaces/${namespace}/pods`,
    (pod) => pod.metadata?.labels?.['job-name'],
    () => true,
  );
  try {
    const startedAt = Date.now();
    const created = await createAll(0, objects, async (i) => {
      const name = `job-${i}`;
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
      return name;
    });
    await waitForCount(watch.seen, objects, 'job pods created', 600_000);
    const finishedAt = Math.max(...watch.seen.values());
    return summary(
      'Baseline: Job controller, Job → Pod',
      latenciesOf(created, watch.seen),
      startedAt,
      finishedAt,
    );
  } finally {
    watch.stop();
    await deleteTestNamespace(namespace);
  }
}

function startOperator(namespace: string): ChildProcess {
  const { minio, kubeconfigPath } = clusterInfo();
  return spawn(process.execPath, [path.join(repoRoot, 'dist/operator/src/main.js')], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      KUBECONFIG: kubeconfigPath,
      LATHE_LOG_LEVEL: 'warn',
      LATHE_LEADER_ELECT: 'false',
      LATHE_WATCH_NAMESPACES: namespace,
      LATHE_BIND_ADDRESS: '127.0.0.1',
      LATHE_METRICS_PORT: '0',
      LATHE_HEALTH_PORT: '0',
      LATHE_OBJECT_STORE_ENDPOINT: minio.endpoint,
      LATHE_OBJECT_STORE_BUCKET: minio.bucket,
      LATHE_OBJECT_STORE_ACCESS_KEY: minio.accessKey,
      LATHE_OBJECT_STORE_SECRET_KEY: minio.secretKey,
    },
  });
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kib / 1024;
}

async function lathe(kc: k8s.KubeConfig): Promise<string[]> {
  const { minio } = clusterInfo();
  const namespace = await createTestNamespace('bench-lathe');
  const store = new ObjectStore(minio);
  const prefix = `bench/${namespace}/model/`;
  const files = {
    'model.json': Buffer.from('{"modelTopology":{}}'),
    'weights.bin': Buffer.alloc(64 * 1024, 7),
  };
  const { manifest, digest } = manifestFor(files);
  for (const [file, bytes] of Object.entries(files))
    await store.write(minio.bucket, `${prefix}${file}`, bytes);
  await store.write(minio.bucket, `${prefix}manifest.json`, manifest);

  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const create = async (i: number) => {
    const name = `mv-${i}`;
    await custom.createNamespacedCustomObject({
      group: 'lathe.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'modelversions',
      body: {
        apiVersion: 'lathe.dev/v1alpha1',
        kind: 'ModelVersion',
        metadata: { name },
        spec: {
          modelName: 'bench',
          version: i + 1,
          artifact: { uri: `s3://${minio.bucket}/${prefix}`, format: 'tfjs', digest },
        },
      },
    });
    return name;
  };
  const isReady = (obj: k8s.KubernetesObject) =>
    (
      (obj as { status?: { conditions?: { type: string; status: string }[] } }).status
        ?.conditions ?? []
    ).some((c) => c.type === 'Ready' && c.status === 'True');

  const operator = startOperator(namespace);
  const watch = await watchUntil(
    kc,
    `/apis/lathe.dev/v1alpha1/namespaces/${namespace}/modelversions`,
    (obj) => obj.metadata?.name,
    isReady,
  );
  const lines: string[] = [];
  try {
    await new Promise((r) => setTimeout(r, 3_000)); // let the operator start and sync
    const idleRss = await rssMiB(operator.pid!);
    const startedAt = Date.now();
    const created = await createAll(0, objects, create);
    await waitForCount(watch.seen, objects, 'ModelVersions Ready', 900_000);
    const finishedAt = Math.max(...watch.seen.values());
    lines.push(
      summary(
        'Lathe: ModelVersion apply → Ready (verified)',
        latenciesOf(created, watch.seen),
        startedAt,
        finishedAt,
      ),
    );

    if (cached > objects) {
      await createAll(objects, cached, create);
      await waitForCount(watch.seen, cached, 'ModelVersions Ready', 1_800_000);
    }
    const total = Math.max(cached, objects);
    lines.push(
      `Operator RSS: ${idleRss.toFixed(0)} MiB idle, ${(await rssMiB(operator.pid!)).toFixed(0)} MiB with ${total} ModelVersions cached and reconciled`,
    );
  } finally {
    watch.stop();
    operator.kill('SIGTERM');
    await store.removePrefix(minio.bucket, prefix);
    await deleteTestNamespace(namespace);
  }
  return lines;
}

async function main(): Promise<void> {
  if (!(await isHealthy())) await up();
  const built = await promisify(execFile)('npm', ['run', 'build'], { cwd: repoRoot }).catch(
    (e: Error) => e,
  );
  if (built instanceof Error) throw new Error(`npm run build failed: ${built.message}`);
  await installCrds();
  const kc = kubeConfig();
  console.log(
    `Reconcile benchmark, ${objects} objects, ${concurrency} concurrent creates, same API server:`,
  );
  const baseline = await baselineJobs(kc);
  console.log(baseline);
  for (const line of await lathe(kc)) console.log(line);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
