/**
 * A chaos run's report as printed: the seed (to replay it), the planned faults and what
 * happened when, the time to converge, the operator's peak RSS against its limit, the counts
 * and every violation. Pure, so the benchmark and the test print the same thing.
 */
import type { ChaosReport } from './chaos.js';
import { faultDescriptions } from './plan.js';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const s = (ms: number | undefined) =>
  ms === undefined ? 'not reached' : `${(ms / 1000).toFixed(1)} s`;

/** Whether the run met every promise: all Current, nothing duplicated or lost, RSS within the limit. */
export function chaosPassed(report: ChaosReport): boolean {
  return (
    report.convergedMs !== undefined &&
    report.notConverged.length === 0 &&
    report.verdict.violations.length === 0 &&
    report.peakRssBytes > 0 &&
    report.peakRssBytes <= report.memoryLimitBytes
  );
}

/** The report's lines; `loadAverage` is `os.loadavg()` at the end (the machine is shared). */
export function formatChaosReport(report: ChaosReport, loadAverage: readonly number[]): string[] {
  const { mix, verdict } = report;
  const lines = [
    `Chaos run, seed ${report.seed} (repeat with --seed ${report.seed}), namespace ${report.namespace}`,
    `Objects: ${mix.datasets} Datasets, ${mix.trainingJobs} TrainingJobs, ${mix.modelVersions} ModelVersions, ${mix.inferenceServices} InferenceServices`,
    'Planned faults:',
    ...report.plan.map(
      (f) => `  ${s(f.atMs).padStart(9)}  ${f.kind}: ${faultDescriptions[f.kind]}`,
    ),
    'Timeline:',
    ...report.timeline.map((t) => `  ${s(t.atMs).padStart(9)}  ${t.line}`),
    `Created by ${s(report.createdMs)}; faults over by ${s(report.faultsOverMs)}; every object Current by ${s(report.convergedMs)}` +
      (report.convergedMs === undefined
        ? ''
        : ` (${s(report.convergedMs - Math.max(report.createdMs, report.faultsOverMs))} after the last create or fault)`),
    `Operator: peak RSS ${mib(report.peakRssBytes)} of a ${mib(report.memoryLimitBytes)} limit (${report.rssSamples} samples), ${report.replicaExits} replica exits (kills included)`,
    `Counts: ${verdict.counts.jobs} Jobs, ${verdict.counts.registeredModelVersions} ModelVersions registered by TrainingJobs, ` +
      `${verdict.counts.dataVersions} data versions (${report.partialDataVersions} cut-off version directories), ` +
      `${verdict.counts.verifiedEvents} ArtifactVerified events`,
    `Load average at the end: ${loadAverage.map((l) => l.toFixed(2)).join(', ')}`,
  ];
  if (report.notConverged.length) {
    lines.push(`Not converged (${report.notConverged.length}):`);
    lines.push(
      ...report.notConverged.slice(0, 20).map((n) => `  ${n.object} ${n.state}: ${n.reason}`),
    );
  }
  if (verdict.violations.length) {
    lines.push(`Violations (${verdict.violations.length}):`);
    lines.push(...verdict.violations.slice(0, 40).map((v) => `  ${v}`));
  }
  lines.push(
    chaosPassed(report)
      ? 'PASSED: converged, nothing duplicated or lost, memory within the limit'
      : 'FAILED',
  );
  return lines;
}
