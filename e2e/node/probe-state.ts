/**
 * The probe result state machine of the kubelet's prober: a result flips only after
 * `successThreshold` consecutive successes or `failureThreshold` consecutive failures.
 *
 * Readiness and startup start failed (a container is not ready or started until a probe says
 * so); liveness starts succeeded (a container is alive until probes say otherwise).
 */
import type * as k8s from '@kubernetes/client-node';

export type ProbeKind = 'readiness' | 'liveness' | 'startup';

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export interface ProbeState {
  passing: boolean;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
}

/** A probe's timing with the API defaults (period 10 s, timeout 1 s, thresholds 1 and 3). */
export function probeTimingOf(probe: k8s.V1Probe, kind: ProbeKind): ProbeTiming {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: Math.max(1, probe.periodSeconds ?? 10) * 1000,
    timeoutMs: Math.max(1, probe.timeoutSeconds ?? 1) * 1000,
    // The API requires 1 for liveness and startup probes.
    successThreshold: kind === 'readiness' ? Math.max(1, probe.successThreshold ?? 1) : 1,
    failureThreshold: Math.max(1, probe.failureThreshold ?? 3),
  };
}

export function initialProbeState(kind: ProbeKind): ProbeState {
  return { passing: kind === 'liveness', consecutiveSuccesses: 0, consecutiveFailures: 0 };
}

/** The state after one probe outcome. */
export function nextProbeState(
  state: ProbeState,
  succeeded: boolean,
  timing: ProbeTiming,
): ProbeState {
  if (succeeded) {
    const successes = state.consecutiveSuccesses + 1;
    return {
      passing: state.passing || successes >= timing.successThreshold,
      consecutiveSuccesses: successes,
      consecutiveFailures: 0,
    };
  }
  const failures = state.consecutiveFailures + 1;
  return {
    passing: state.passing && failures < timing.failureThreshold,
    consecutiveSuccesses: 0,
    consecutiveFailures: failures,
  };
}
