import { describe, expect, it } from 'vitest';
import type { ChaosReport } from './chaos.js';
import { chaosPassed, formatChaosReport } from './report.js';

const report: ChaosReport = {
  seed: 42,
  namespace: 'chaos-abc',
  mix: { datasets: 2, trainingJobs: 4, inferenceServices: 1, modelVersions: 41 },
  plan: [{ kind: 'kill-leader', atMs: 12_000 }],
  timeline: [{ atMs: 12_050, line: 'kill-leader: killed chaos-operator-1' }],
  createdMs: 30_000,
  faultsOverMs: 45_000,
  convergedMs: 100_000,
  peakRssBytes: 200 * 2 ** 20,
  memoryLimitBytes: 384 * 2 ** 20,
  rssSamples: 100,
  replicaExits: 1,
  notConverged: [],
  verdict: {
    violations: [],
    counts: { jobs: 6, registeredModelVersions: 4, dataVersions: 2, verifiedEvents: 45 },
  },
  partialDataVersions: 0,
};

describe('chaosPassed', () => {
  it.each<[string, Partial<ChaosReport>, boolean]>([
    ['all promises kept', {}, true],
    [
      'not converged',
      {
        convergedMs: undefined,
        notConverged: [{ object: 'Dataset/d', state: 'InProgress', reason: 'x' }],
      },
      false,
    ],
    [
      'a violation',
      { verdict: { ...report.verdict, violations: ['TrainingJob t has 2 Jobs'] } },
      false,
    ],
    ['over the memory limit', { peakRssBytes: 400 * 2 ** 20 }, false],
    ['no RSS sampled at all', { peakRssBytes: 0 }, false],
  ])('%s → %s', (_, change, passed) => {
    expect(chaosPassed({ ...report, ...change })).toBe(passed);
  });
});

describe('formatChaosReport', () => {
  it('prints the seed, the faults, the times, the memory, the counts and the load', () => {
    const text = formatChaosReport(report, [1.5, 1.25, 1]).join('\n');
    expect(text).toContain('seed 42 (repeat with --seed 42)');
    expect(text).toContain('12.0 s  kill-leader: SIGKILL the operator replica holding the Lease');
    expect(text).toContain('12.1 s  kill-leader: killed chaos-operator-1');
    expect(text).toContain(
      'every object Current by 100.0 s (55.0 s after the last create or fault)',
    );
    expect(text).toContain('peak RSS 200 MiB of a 384 MiB limit');
    expect(text).toContain('6 Jobs, 4 ModelVersions registered by TrainingJobs, 2 data versions');
    expect(text).toContain('Load average at the end: 1.50, 1.25, 1.00');
    expect(text).toMatch(/PASSED/);
  });

  it('lists what did not converge and every violation, and says FAILED', () => {
    const text = formatChaosReport(
      {
        ...report,
        convergedMs: undefined,
        notConverged: [
          {
            object: 'InferenceService/i',
            state: 'InProgress',
            reason: 'Ready=False ModelNotReady',
          },
        ],
        verdict: { ...report.verdict, violations: ['Dataset d ingested 2 times'] },
      },
      [0, 0, 0],
    ).join('\n');
    expect(text).toContain('every object Current by not reached');
    expect(text).toContain('InferenceService/i InProgress: Ready=False ModelNotReady');
    expect(text).toContain('Dataset d ingested 2 times');
    expect(text.endsWith('FAILED')).toBe(true);
  });
});
