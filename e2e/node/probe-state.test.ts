import { describe, expect, it } from 'vitest';
import {
  initialProbeState,
  nextProbeState,
  type ProbeKind,
  type ProbeTiming,
  probeTimingOf,
} from './probe-state.js';

function run(kind: ProbeKind, timing: ProbeTiming, outcomes: string): boolean[] {
  let state = initialProbeState(kind);
  return [...outcomes].map((o) => {
    state = nextProbeState(state, o === '+', timing);
    return state.passing;
  });
}

const timing = (successThreshold: number, failureThreshold: number): ProbeTiming => ({
  initialDelayMs: 0,
  periodMs: 1000,
  timeoutMs: 1000,
  successThreshold,
  failureThreshold,
});

describe('nextProbeState', () => {
  it.each<[ProbeKind, ProbeTiming, string, boolean[]]>([
    ['readiness', timing(1, 3), '+', [true]],
    ['readiness', timing(2, 3), '++', [false, true]],
    ['readiness', timing(2, 3), '+-+', [false, false, false]],
    ['readiness', timing(1, 3), '+--', [true, true, true]],
    ['readiness', timing(1, 3), '+---', [true, true, true, false]],
    ['readiness', timing(1, 1), '+-+', [true, false, true]],
    ['readiness', timing(1, 3), '--+-', [false, false, true, true]],
    ['liveness', timing(1, 3), '---', [true, true, false]],
    ['liveness', timing(1, 3), '--+---', [true, true, true, true, true, false]],
    ['startup', timing(1, 3), '-+', [false, true]],
  ])('%s %o on %s', (kind, t, outcomes, expected) => {
    expect(run(kind, t, outcomes)).toEqual(expected);
  });
});

describe('probeTimingOf', () => {
  it('applies the API defaults', () => {
    expect(probeTimingOf({}, 'readiness')).toEqual({
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });
  it('forces successThreshold 1 for liveness', () => {
    expect(probeTimingOf({ successThreshold: 3, periodSeconds: 2 }, 'liveness')).toMatchObject({
      successThreshold: 1,
      periodMs: 2_000,
    });
  });
});
