/**
 * Faults at scale, at a size the test suite affords: 48 Lathe objects across the four kinds
 * (`workload.ts`: Datasets, TrainingJobs with real ingestion and training pods, ModelVersions,
 * InferenceServices with server pods) under two operator replicas with leader election, while,
 * at moments drawn from a seed, the leader is SIGKILLed, the API server restarted, MinIO
 * stopped for 30 s and the node's pods of the run SIGKILLed. Afterwards every object is Current,
 * nothing was done twice (Jobs, ModelVersions, data versions, verifications), no object-store
 * write was lost, and the operator's RSS stayed within the chart's limit.
 *
 * Deterministic where it matters: the seed is fixed (`LATHE_CHAOS_SEED` picks another, to
 * replay a benchmark's), timeouts are generous for a loaded 2-core machine, and the assertions
 * are on outcomes, never on timings. `npm run bench:chaos` is the same run at 1,000 objects.
 */
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStore } from '../../contract/object-store.js';
import { clusterInfo, deleteTestNamespace, installCrds } from '../cluster/testenv.js';
import { type ChaosReport, runChaos } from './chaos.js';
import { formatChaosReport } from './report.js';

const seed = Number(process.env.LATHE_CHAOS_SEED ?? 20261207);
let report: ChaosReport | undefined;

beforeAll(async () => {
  await installCrds();
});

afterAll(async () => {
  if (!report) return;
  const { minio } = clusterInfo();
  const store = new ObjectStore(minio);
  await deleteTestNamespace(report.namespace);
  for (const prefix of ['models', 'datasets', 'runs'])
    await store.removePrefix(minio.bucket, `${prefix}/${report.namespace}/`).catch(() => undefined);
});

describe('faults at scale', () => {
  it('converges 48 objects exactly once through a leader kill, an API server restart, MinIO down 30 s and killed pods', async () => {
    report = await runChaos({
      count: 48,
      seed,
      windowMs: 150_000,
      createOverMs: 60_000,
      convergeTimeoutMs: 1_200_000,
      entry: 'source',
      workers: 2,
      memoryLimitBytes: 384 * 2 ** 20,
      log: (line) => console.log(line),
    });
    console.log(formatChaosReport(report, os.loadavg()).join('\n'));

    expect(report.notConverged).toEqual([]);
    expect(report.verdict.violations).toEqual([]);
    // Every fault ran: each left its line in the timeline.
    for (const fault of report.plan)
      expect(report.timeline.some((t) => t.line.startsWith(`${fault.kind}: `))).toBe(true);
    // What the workload promises exists exactly once: a Job and a ModelVersion per
    // TrainingJob, a data version per Dataset.
    expect(report.verdict.counts.registeredModelVersions).toBe(report.mix.trainingJobs);
    expect(report.verdict.counts.dataVersions).toBe(report.mix.datasets);
    expect(report.rssSamples).toBeGreaterThan(10);
    expect(report.peakRssBytes).toBeGreaterThan(0);
    expect(report.peakRssBytes).toBeLessThanOrEqual(report.memoryLimitBytes);
  }, 1_800_000);
});
