/**
 * Local-cluster benchmark: prints the cold build time of each component (as recorded when it
 * was built; `--cold` rebuilds into a throw-away cache to measure it now), the warm
 * `cluster:up` time, and pod-creation-to-Running latency on the process node.
 *
 *   npm run bench:cluster [-- --pods 20] [-- --cold]
 *
 * Figures, not assertions: this machine is shared and noisy.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { down, up } from '../e2e/cluster/cluster.js';
import {
  createTestNamespace,
  deleteTestNamespace,
  kubeConfig,
  repoRoot,
} from '../e2e/cluster/testenv.js';
import { percentile } from './stats.js';

const exec = promisify(execFile);
const args = process.argv.slice(2);
const podCount = Number(args[args.indexOf('--pods') + 1] ?? 20) || 20;

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

async function podLatency(): Promise<number[]> {
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const namespace = await createTestNamespace('bench');
  try {
    const latencies: number[] = [];
    // The namespace's default ServiceAccount must exist before pods are admitted.
    for (let i = 0; i < 100; i++) {
      if (
        await core.readNamespacedServiceAccount({ name: 'default', namespace }).then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < podCount; i++) {
      const name = `pod-${i}`;
      const created = Date.now();
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 1,
            containers: [
              { name: 'main', image: 'lathe.dev/test/busybox', command: ['sleep', '300'] },
            ],
          },
        },
      });
      for (;;) {
        const pod = await core.readNamespacedPod({ name, namespace });
        if (pod.status?.phase === 'Running') break;
        if (Date.now() - created > 60_000) throw new Error(`pod ${name} not Running after 60 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      latencies.push(Date.now() - created);
    }
    return latencies.sort((a, b) => a - b);
  } finally {
    await deleteTestNamespace(namespace);
  }
}

async function main(): Promise<void> {
  await recordedBuildTimes();
  if (args.includes('--cold')) await coldBuild();

  await down();
  const started = Date.now();
  await up({ log: () => {} });
  const warm = (Date.now() - started) / 1000;
  console.log(
    `Warm cluster:up (cached components, fresh PKI and data): ${warm.toFixed(1)} s (target < 30 s)`,
  );

  try {
    const latencies = await podLatency();
    console.log(
      `Pod creation to Running on the process node, ${latencies.length} pods one at a time: ` +
        `p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1)} ms`,
    );
  } finally {
    await down();
  }
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
