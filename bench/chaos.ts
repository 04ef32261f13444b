/**
 * Faults at scale: N Lathe objects (default 1,000) across Datasets, TrainingJobs,
 * ModelVersions and InferenceServices, while the operator leader is killed, the API server
 * restarted, MinIO stopped for 30 s and the node's pods killed, at moments drawn from a seed;
 * then every object must be Current, nothing duplicated or lost, and the operator's RSS within
 * its limit (`e2e/chaos/`, the same run as the cluster test at ~50 objects).
 *
 *   npm run bench:chaos [-- --objects 1000 --seed N --window-s 300 --create-over-s 240
 *                          --converge-timeout-s 3600 --leader-kills 2 --workers 4 --keep]
 *
 * Runs the build (`npm run build`) and the operator as its image does. Prints the seed, the
 * fault timeline, the time to converge, the peak RSS, the counts and the load average; exits 1
 * when a promise was broken.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { ObjectStore } from '../contract/object-store.js';
import { runChaos } from '../e2e/chaos/chaos.js';
import { freshSeed } from '../e2e/chaos/plan.js';
import { chaosPassed, formatChaosReport } from '../e2e/chaos/report.js';
import { isHealthy, up } from '../e2e/cluster/cluster.js';
import { clusterInfo, deleteTestNamespace, installCrds, repoRoot } from '../e2e/cluster/testenv.js';
import { imageNodeFlags } from './operators.js';

const args = process.argv.slice(2);
function numberArg(name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at === -1) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a number ≥ 0 (got ${args[at + 1]})`);
  return value;
}

async function main(): Promise<void> {
  const count = numberArg('--objects', 1000);
  const seed = numberArg('--seed', freshSeed());
  const windowMs = numberArg('--window-s', 300) * 1000;
  if (!(await isHealthy())) await up();
  const built = await promisify(execFile)('npm', ['run', 'build'], { cwd: repoRoot }).catch(
    (e: Error) => e,
  );
  if (built instanceof Error) throw new Error(`npm run build failed: ${built.message}`);
  await installCrds();
  console.log(
    `Chaos benchmark: ${count} objects, seed ${seed}, faults within ${windowMs / 1000} s; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );
  const report = await runChaos({
    count,
    seed,
    windowMs,
    createOverMs: numberArg('--create-over-s', (windowMs * 0.8) / 1000) * 1000,
    faultCounts: { 'kill-leader': numberArg('--leader-kills', 2) },
    convergeTimeoutMs: numberArg('--converge-timeout-s', 3600) * 1000,
    entry: 'dist',
    workers: numberArg('--workers', 4),
    nodeFlags: imageNodeFlags,
    memoryLimitBytes: 384 * 2 ** 20,
    log: (line) => console.log(line),
  });
  console.log(`\n${formatChaosReport(report, os.loadavg()).join('\n')}`);
  if (!args.includes('--keep')) {
    const { minio } = clusterInfo();
    const store = new ObjectStore(minio);
    await deleteTestNamespace(report.namespace);
    for (const prefix of ['models', 'datasets', 'runs'])
      await store
        .removePrefix(minio.bucket, `${prefix}/${report.namespace}/`)
        .catch(() => undefined);
  }
  process.exit(chaosPassed(report) ? 0 : 1);
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
