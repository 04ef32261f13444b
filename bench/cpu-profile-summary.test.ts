import { describe, expect, it } from 'vitest';
import { type CpuProfile, summarizeCpuProfile } from './cpu-profile-summary.js';

const frame = (id: number, functionName: string, url = '') => ({
  id,
  callFrame: { functionName, url, lineNumber: 9 },
});
const nodes = [
  frame(1, '(idle)'),
  frame(2, 'socketOnData', 'node:_http_client'),
  frame(3, 'parse', 'file:///repo/node_modules/zod/v4/core/schemas.js'),
  frame(4, 'reconcile', 'file:///repo/dist/operator/src/runtime/steps.js'),
  frame(5, '(garbage collector)'),
];

/** A profile of `seconds` whole seconds, each a list of node ids sampled every 1 ms. */
function profileOf(seconds: number[][], gapUs = 1000): CpuProfile {
  const samples = seconds.flatMap((ids) =>
    Array.from({ length: 1000 }, (_, i) => ids[i % ids.length]!),
  );
  return { nodes, samples, timeDeltas: samples.map(() => gapUs) };
}

describe('summarizeCpuProfile', () => {
  it('leaves out start-up, up to the first quiet second, and groups self time by area', () => {
    const profile = profileOf([[4], [1], [2, 3, 4, 5], [1]]);
    const summary = summarizeCpuProfile(profile, { skipStartup: true, top: 10 });
    expect(summary.busyMs).toBeCloseTo(1000, 0);
    expect(Object.fromEntries(summary.areas.map((a) => [a.name, Math.round(a.ms)]))).toEqual({
      'Node HTTP/1.1 client': 250,
      zod: 250,
      'Lathe runtime': 250,
      'garbage collection': 250,
    });
    expect(summary.frames.map((f) => f.name)).toContain(
      'reconcile (dist/operator/src/runtime/steps.js:10)',
    );
  });

  it('counts every sample with --whole', () => {
    const summary = summarizeCpuProfile(profileOf([[4], [1], [2]]), { skipStartup: false, top: 1 });
    expect(summary.busyMs).toBeCloseTo(2000, 0);
    expect(summary.frames).toHaveLength(1);
  });

  it('charges each sample the nominal interval, not the gap a descheduled thread left', () => {
    const profile = profileOf([[1], [2]]);
    // One gap of 50 ms: the thread was off the CPU, not 50 ms in socketOnData.
    profile.timeDeltas[1500] = 50_000;
    const summary = summarizeCpuProfile(profile, { skipStartup: false, top: 5 });
    expect(summary.busyMs).toBeCloseTo(1000, 0);
  });
});
