/**
 * The serving page's view of one InferenceService: what its status says now (as `kubectl get
 * inferenceservice -o yaml` shows it) and the series the console's sampler kept (`sampler.ts`).
 * Pure.
 */
import type { InferenceServiceObject } from '../../operator/src/controllers/lathe-kinds.js';
import type { ChartSeries } from '../svg-chart.js';
import type { ServingFigures, ServingSample } from './readings.js';
import type { ServingHistory } from './sampler.js';

export interface ServingView {
  namespace: string;
  name: string;
  model: string;
  status: InferenceServiceObject['status'];
  /** The newest sample's figures measured from the servers' metrics, and when. */
  latest: (ServingFigures & { atMs: number }) | undefined;
  sampling: {
    /** Undefined: this console does not sample (no sampler configured). */
    startedAtMs: number | undefined;
    intervalMs: number;
    capacity: number;
    samples: number;
    overLimit: boolean;
    enabled: boolean;
  };
  charts: {
    replicas: ChartSeries[];
    canary: ChartSeries[];
    requests: ChartSeries[];
    latency: ChartSeries[];
    errors: ChartSeries[];
    drift: ChartSeries[];
  };
}

/** The view of `isvc` with its sampled history (`undefined`: no sampler). */
export function servingView(
  isvc: InferenceServiceObject,
  history: ServingHistory | undefined,
): ServingView {
  const samples = history?.samples ?? [];
  const series = (name: string, y: (s: ServingSample) => number | undefined): ChartSeries => ({
    name,
    points: samples.map((s) => ({ x: s.atMs, y: y(s) ?? Number.NaN })),
  });
  const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);
  const measured = [...samples].reverse().find((s) => s.requestsPerSecond !== undefined);
  return {
    namespace: isvc.metadata.namespace ?? '',
    name: isvc.metadata.name ?? '',
    model: isvc.spec.model.name,
    status: isvc.status,
    latest: measured
      ? {
          atMs: measured.atMs,
          requestsPerSecond: measured.requestsPerSecond,
          errorRate: measured.errorRate,
          p50: measured.p50,
          p95: measured.p95,
          p99: measured.p99,
        }
      : undefined,
    sampling: {
      startedAtMs: history?.startedAtMs,
      intervalMs: history?.intervalMs ?? 0,
      capacity: history?.capacity ?? 0,
      samples: samples.length,
      overLimit: history?.overLimit ?? false,
      enabled: history !== undefined,
    },
    charts: {
      replicas: [series('replicas', (s) => s.replicas), series('ready', (s) => s.readyReplicas)],
      canary: [series('canary %', (s) => s.canaryPercent)],
      requests: [series('requests/s', (s) => s.requestsPerSecond)],
      latency: [
        series('p50', (s) => ms(s.p50)),
        series('p95', (s) => ms(s.p95)),
        series('p99', (s) => ms(s.p99)),
      ],
      errors: [series('5xx %', (s) => (s.errorRate === undefined ? undefined : s.errorRate * 100))],
      drift: [series('drift', (s) => s.drift)],
    },
  };
}
