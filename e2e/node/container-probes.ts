/**
 * The probe loops of one container run: startup first, then liveness and readiness, each on
 * its own period after its initial delay. Results go through the pure state machine in
 * `probe-state.ts`; this file only keeps time and reports changes.
 */
import type * as k8s from '@kubernetes/client-node';
import { type ProbeTarget, runProbe } from './probe-run.js';
import {
  initialProbeState,
  nextProbeState,
  type ProbeKind,
  type ProbeState,
  probeTimingOf,
} from './probe-state.js';

export interface ProbeEvents {
  /** The startup probe passed (or there is none): liveness and readiness may run. */
  started(): void;
  /** The readiness result changed. */
  readiness(ready: boolean): void;
  /** Liveness or startup failed for good: the container must be restarted. */
  failed(kind: 'liveness' | 'startup', message: string): void;
}

/** Runs the probes of a container until `stop()`. */
export class ContainerProbes {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private started: boolean;

  constructor(
    container: k8s.V1Container,
    private readonly target: ProbeTarget,
    private readonly events: ProbeEvents,
  ) {
    this.started = !container.startupProbe;
    if (container.startupProbe) this.loop('startup', container.startupProbe);
    if (container.livenessProbe) this.loop('liveness', container.livenessProbe);
    if (container.readinessProbe) this.loop('readiness', container.readinessProbe);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private after(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private loop(kind: ProbeKind, probe: k8s.V1Probe): void {
    const timing = probeTimingOf(probe, kind);
    let state: ProbeState = initialProbeState(kind);
    const attempt = async () => {
      if (this.stopped) return;
      // Liveness and readiness wait for the startup probe, as on the kubelet.
      if (kind !== 'startup' && !this.started) {
        this.after(timing.periodMs, attempt);
        return;
      }
      const ok = await runProbe(probe, this.target, timing.timeoutMs).catch(() => false);
      if (this.stopped) return;
      const before = state;
      state = nextProbeState(state, ok, timing);
      if (kind === 'startup') {
        if (state.passing) {
          this.started = true;
          this.events.started();
          return; // a startup probe stops once it passed
        }
        if (state.consecutiveFailures >= timing.failureThreshold) {
          this.events.failed('startup', `Startup probe failed ${state.consecutiveFailures} times`);
          return;
        }
      } else if (kind === 'liveness' && before.passing && !state.passing) {
        this.events.failed('liveness', `Liveness probe failed ${state.consecutiveFailures} times`);
        return;
      } else if (kind === 'readiness' && before.passing !== state.passing) {
        this.events.readiness(state.passing);
      }
      this.after(timing.periodMs, attempt);
    };
    this.after(timing.initialDelayMs, attempt);
  }
}
