/**
 * The autoscale step: how many replicas the primary version runs. In `lathe` mode it reads
 * each ready pod's `/metrics` and decides with `autoscale.ts`; in `hpa` mode the
 * HorizontalPodAutoscaler owns the replicas; otherwise the floor, `spec.replicas.min`.
 *
 * Load is a rate, so it needs two readings of each pod's counters: the last reading of each pod
 * and the recommendations of the stabilisation window stay in this process's memory, bounded
 * in size and age (`ExpiringMap`), as the HPA controller keeps its own. Losing them (a restart)
 * costs one scrape interval of measurement and delays a scale-down by one window; it never
 * changes what runs by itself. Nothing of it is read from or written to the status.
 */
import { durationMs } from '../../api/duration.js';
import { kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import type { Step, StepPart } from '../../runtime/steps.js';
import type { InferenceServiceObject } from '../lathe-kinds.js';
import { scrapeMetrics, serverMetricsUrl } from '../shared/server-metrics.js';
import {
  decideReplicas,
  type LoadSample,
  loadBetween,
  type MeasuredLoad,
  type PodLoad,
  parseLoadSample,
  type Recommendation,
  scrapeDue,
  totalLoad,
} from './autoscale.js';
import { ServingLabel } from './desired.js';
import { podsOfService } from './indexes.js';
import type { ServingFacts } from './status.js';

/** How often the autoscaler reads the pods' load. */
export const SCRAPE_INTERVAL_MS = 5_000;
/** A pod is not read again sooner than this (reconciles between two scrapes reuse its load). */
const MIN_SCRAPE_SPACING_MS = SCRAPE_INTERVAL_MS / 2;

/** What the autoscaler remembers of one InferenceService. */
interface ScalerMemory {
  /** Per pod: its last reading and the load measured up to it. */
  pods: Map<string, { sample: LoadSample; load: PodLoad | undefined }>;
  history: Recommendation[];
  observingSinceMs: number;
}

type Part = StepPart<ServingFacts>;

/** The autoscale step (see the module header). `fetchMetrics` reads a pod's `/metrics`. */
export function autoscaleStep(
  fetchMetrics: (url: string) => Promise<string> = scrapeMetrics,
): Step<InferenceServiceObject, ServingFacts> {
  const scalers = new ExpiringMap<string, ScalerMemory>({
    maxEntries: 10_000,
    maxAgeMs: 60 * 60_000,
  });
  return {
    name: 'autoscale',
    async run(isvc, ctx, facts): Promise<Part> {
      const { autoscaling, replicas } = isvc.spec;
      if (autoscaling?.mode === 'hpa') return { facts: { scale: { primaryReplicas: undefined } } };
      const floor: Part = { facts: { scale: { primaryReplicas: replicas.min } } };
      if (!autoscaling) return floor;
      const version = facts.primary?.ok ? facts.primary.modelVersion.spec.version : undefined;
      const requeue = { requeueAfterMs: SCRAPE_INTERVAL_MS };
      if (version === undefined) return { ...floor, ...requeue };

      const key = `${isvc.metadata.namespace}/${isvc.metadata.name}`;
      const nowMs = ctx.now().getTime();
      const memory = scalers.get(key, nowMs) ?? {
        pods: new Map(),
        history: [],
        observingSinceMs: nowMs,
      };
      const deployment = ctx
        .childrenOf(kinds.deployment, isvc)
        .find((d) => d.metadata?.labels?.[ServingLabel.version] === String(version));
      const current = deployment ? (deployment.spec?.replicas ?? 1) : replicas.min;
      const readyPods = podsOfService(isvc, ctx).filter(
        (p) => p.metadata?.labels?.[ServingLabel.version] === String(version) && isReady(p),
      );
      const load = await measureLoad(memory, readyPods, nowMs, fetchMetrics, ctx);
      const decision = decideReplicas({
        current,
        load,
        metric: autoscaling.metric,
        target: autoscaling.target,
        min: replicas.min,
        max: replicas.max,
        windowMs: durationMs(autoscaling.scaleDownStabilization),
        nowMs,
        history: memory.history,
        observingSinceMs: memory.observingSinceMs,
      });
      memory.history = decision.history;
      scalers.set(key, memory, nowMs);

      if (deployment && decision.replicas !== current) {
        const measured = load
          ? (autoscaling.metric === 'rps' ? load.requestsPerSecond : load.concurrency).toFixed(2)
          : 'unknown';
        await ctx.events.record(
          isvc,
          'Normal',
          'Scaled',
          'Autoscale',
          `Scaling version ${version} from ${current} to ${decision.replicas} replicas (${autoscaling.metric} ${measured}, target ${autoscaling.target} per replica)`,
        );
      }
      return {
        facts: { scale: { primaryReplicas: decision.replicas }, ...(load ? { load } : {}) },
        ...requeue,
      };
    },
  };
}

/** The summed load of `readyPods`, reading each pod that is due; forgets pods that are gone. */
async function measureLoad(
  memory: ScalerMemory,
  readyPods: readonly PodObject[],
  nowMs: number,
  fetchMetrics: (url: string) => Promise<string>,
  ctx: ReconcileContext<InferenceServiceObject>,
): Promise<MeasuredLoad | undefined> {
  const loads = await Promise.all(
    readyPods.map(async (pod) => {
      const name = pod.metadata?.name ?? '';
      const known = memory.pods.get(name);
      if (known && !scrapeDue(known.sample, nowMs, MIN_SCRAPE_SPACING_MS)) return known.load;
      const ip = pod.status?.podIP;
      if (!ip) return undefined;
      try {
        const text = await fetchMetrics(serverMetricsUrl(ip));
        const sample = parseLoadSample(text, nowMs);
        if (!sample) return undefined;
        const load = known ? loadBetween(known.sample, sample) : undefined;
        memory.pods.set(name, { sample, load });
        return load;
      } catch (error) {
        ctx.log.debug({ err: error, pod: name }, 'Could not read the load of a pod');
        return undefined;
      }
    }),
  );
  const live = new Set(readyPods.map((p) => p.metadata?.name ?? ''));
  for (const pod of memory.pods.keys()) if (!live.has(pod)) memory.pods.delete(pod);
  return totalLoad(loads, readyPods.length);
}

function isReady(pod: PodObject): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
