/**
 * The InferenceService controller: resolves the model version to serve (and the canary's),
 * plans the rollout (`rollout.ts`), applies one Deployment per served version, the Service, the
 * PodDisruptionBudget and in `hpa` mode the HorizontalPodAutoscaler, deletes what is no longer
 * served once its successor is available, and in `lathe` mode scales the primary version from
 * the load its pods report (`autoscale.ts`), read from each ready pod's `/metrics`.
 *
 * A promotion on any ModelVersion re-resolves every InferenceService that follows that model
 * (the ModelVersion watch maps it through the cache).
 */
import { durationMs } from '../../api/duration.js';
import type { OperatorConfig } from '../../config.js';
import { controllerReference } from '../../runtime/apply.js';
import { type DeploymentObject, kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import { findCondition } from '../../runtime/conditions.js';
import {
  defineController,
  done,
  owns,
  type ReconcileContext,
  requeueAfter,
  TerminalError,
  watches,
  watchesPodsOf,
} from '../../runtime/controller.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import { type InferenceServiceObject, latheKinds } from '../lathe-kinds.js';
import {
  desiredObjectStoreSecret,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import { type Resolution, resolveModelVersion } from '../shared/resolve-model-version.js';
import {
  type LoadSample,
  loadBetween,
  type PodLoad,
  parseLoadSample,
  type Recommendation,
  recommendReplicas,
  stabilisedReplicas,
} from './autoscale.js';
import {
  desiredAutoscaler,
  desiredDisruptionBudget,
  desiredService,
  desiredServingDeployment,
  SERVER_PORT,
  ServingLabel,
} from './desired.js';
import {
  deploymentFailure,
  planRollout,
  podFailure,
  type Role,
  type ServedDeployment,
} from './rollout.js';
import { inferenceServiceStatus } from './status.js';

/** How often the autoscaler reads the pods' load. */
export const SCRAPE_INTERVAL_MS = 5_000;
const SCRAPE_TIMEOUT_MS = 2_000;

export interface InferenceServiceControllerOptions {
  storeConfig: OperatorConfig['objectStore'];
  image: string;
  /** Reads a pod's `/metrics` (injectable for tests; default: HTTP to the pod IP). */
  fetchMetrics?: (url: string) => Promise<string>;
}

interface ScalerState {
  samples: Map<string, LoadSample>;
  history: Recommendation[];
}

export function inferenceServiceController(options: InferenceServiceControllerOptions) {
  /** Each InferenceService's autoscaler samples and recommendations (re-set on every use). */
  const scalers = new ExpiringMap<string, ScalerState>({
    maxEntries: 10_000,
    maxAgeMs: 60 * 60_000,
  });
  const fetchMetrics = options.fetchMetrics ?? defaultFetchMetrics;

  return defineController<InferenceServiceObject>({
    name: 'inferenceservice',
    for: latheKinds.inferenceService,
    owns: [
      owns(kinds.deployment, { deletes: true }),
      owns(kinds.service),
      owns(kinds.podDisruptionBudget),
      owns(kinds.horizontalPodAutoscaler, { deletes: true }),
    ],
    watches: [
      watchesPodsOf('InferenceService'),
      watches(latheKinds.modelVersion, (mv, caches) =>
        caches
          .reader(latheKinds.inferenceService)
          .list(mv.metadata?.namespace)
          .filter((isvc) => isvc.spec.model.name === mv.spec.modelName)
          .map((isvc) => ({
            namespace: isvc.metadata.namespace ?? '',
            name: isvc.metadata.name ?? '',
          })),
      ),
    ],
    permissions: objectStoreSecretPermissions,
    // Written by the RetrainPolicy controller that measures this service's drift.
    foreignStatusFields: ['drift'],
    async reconcile(isvc, ctx) {
      const storeConfig = options.storeConfig;
      const key = `${isvc.metadata.namespace}/${isvc.metadata.name}`;
      if (!storeConfig) {
        throw new TerminalError('The operator has no object store configured', {
          reason: 'StorageNotConfigured',
        });
      }
      const namespace = isvc.metadata.namespace ?? '';
      const name = isvc.metadata.name ?? '';
      const owner = controllerReference(isvc, latheKinds.inferenceService.resource);
      const modelVersions = ctx.reader(latheKinds.modelVersion).list(namespace);
      const spec = isvc.spec;
      const primary = resolveModelVersion(modelVersions, spec.model.name, {
        ...(spec.model.version !== undefined ? { version: spec.model.version } : {}),
        ...(spec.model.stage ? { stage: spec.model.stage } : {}),
      });
      const canary: Resolution | undefined = spec.canary
        ? resolveModelVersion(modelVersions, spec.model.name, {
            ...(spec.canary.version !== undefined ? { version: spec.canary.version } : {}),
            ...(spec.canary.stage ? { stage: spec.canary.stage } : {}),
          })
        : undefined;

      const pods = ctx
        .reader(kinds.pod)
        .list(namespace)
        .filter((p) => p.metadata?.labels?.['lathe.dev/inferenceservice'] === name);
      const existing = ctx.childrenOf(kinds.deployment, isvc).map((d) => served(d, pods));

      const hpa = spec.autoscaling?.mode === 'hpa';
      const target = primary.ok ? primary.modelVersion.spec.version : undefined;
      const currentPrimary = existing.find((d) => d.version === target);
      let load: (PodLoad & { replicas: number }) | undefined;
      let primaryReplicas: number | undefined = hpa ? undefined : spec.replicas.min;
      if (!hpa && spec.autoscaling && target !== undefined) {
        const readyPods = pods.filter(
          (p) => p.metadata?.labels?.[ServingLabel.version] === String(target) && isReady(p),
        );
        load = await measureLoad(key, readyPods, fetchMetrics, ctx);
        primaryReplicas = autoscale(key, {
          current: currentPrimary?.replicas ?? spec.replicas.min,
          load,
          target: spec.autoscaling.target,
          metric: spec.autoscaling.metric,
          min: spec.replicas.min,
          max: spec.replicas.max,
          windowMs: durationMs(spec.autoscaling.scaleDownStabilization),
          nowMs: ctx.now().getTime(),
        });
        if (currentPrimary && primaryReplicas !== currentPrimary.replicas) {
          await ctx.events.record(
            isvc,
            'Normal',
            'Scaled',
            'Autoscale',
            `Scaling version ${target} from ${currentPrimary.replicas} to ${primaryReplicas} replicas (${spec.autoscaling.metric} ${load ? (spec.autoscaling.metric === 'rps' ? load.requestsPerSecond : load.concurrency).toFixed(2) : 'unknown'}, target ${spec.autoscaling.target} per replica)`,
          );
        }
      }

      const plan = planRollout({
        primary: primary.ok
          ? { modelVersion: primary.modelVersion, version: primary.modelVersion.spec.version }
          : undefined,
        canary:
          canary?.ok && spec.canary
            ? {
                modelVersion: canary.modelVersion,
                version: canary.modelVersion.spec.version,
                percent: spec.canary.trafficPercent,
                replicas: spec.canary.replicas,
              }
            : undefined,
        primaryReplicas,
        bounds: { min: spec.replicas.min, max: spec.replicas.max },
        existing,
        unresolvedMessage: primary.ok ? '' : primary.message,
      });

      await ctx.apply(kinds.secret, desiredObjectStoreSecret(namespace, storeConfig));
      await ctx.apply(kinds.service, desiredService(isvc, owner));
      await ctx.apply(kinds.podDisruptionBudget, desiredDisruptionBudget(isvc, owner));
      for (const planned of plan.apply) {
        await ctx.apply(
          kinds.deployment,
          desiredServingDeployment(isvc, planned, {
            image: options.image,
            store: storeConfig,
            owner,
          }),
        );
      }
      for (const gone of plan.delete) {
        await ctx.delete(kinds.deployment, gone.deployment);
        ctx.log.info(
          { deployment: gone.deployment.metadata?.name },
          'Removed a version no longer served',
        );
      }
      if (hpa && target !== undefined) {
        await ctx.apply(kinds.horizontalPodAutoscaler, desiredAutoscaler(isvc, target, owner));
      } else {
        await ctx.prune(kinds.horizontalPodAutoscaler, isvc, []);
      }

      const remaining = existing.filter((d) => !plan.delete.includes(d));
      const status = inferenceServiceStatus(
        isvc,
        { primary, canary, plan, deployments: remaining, load },
        ctx.now(),
      );
      const before = findCondition(isvc.status?.conditions, 'Ready');
      await ctx.patchStatus(isvc, status);
      await recordRolloutEvents(isvc, before, plan, ctx);

      if (!hpa && spec.autoscaling) return requeueAfter(SCRAPE_INTERVAL_MS);
      return done();
    },
  });

  async function measureLoad(
    key: string,
    readyPods: readonly PodObject[],
    fetch: (url: string) => Promise<string>,
    ctx: ReconcileContext<InferenceServiceObject>,
  ): Promise<(PodLoad & { replicas: number }) | undefined> {
    const state = scalerOf(key);
    const nowMs = ctx.now().getTime();
    const loads = await Promise.all(
      readyPods.map(async (pod) => {
        const ip = pod.status?.podIP;
        const podName = pod.metadata?.name ?? '';
        if (!ip) return undefined;
        try {
          const sample = parseLoadSample(await fetch(`http://${ip}:${SERVER_PORT}/metrics`), nowMs);
          if (!sample) return undefined;
          const previous = state.samples.get(podName);
          state.samples.set(podName, sample);
          return previous ? loadBetween(previous, sample) : undefined;
        } catch (error) {
          ctx.log.debug({ err: error, pod: podName }, 'Could not read the load of a pod');
          return undefined;
        }
      }),
    );
    const live = new Set(readyPods.map((p) => p.metadata?.name ?? ''));
    for (const pod of state.samples.keys()) if (!live.has(pod)) state.samples.delete(pod);
    const measured = loads.filter((l): l is PodLoad => l !== undefined);
    if (measured.length === 0) return undefined;
    return {
      requestsPerSecond: measured.reduce((s, l) => s + l.requestsPerSecond, 0),
      concurrency: measured.reduce((s, l) => s + l.concurrency, 0),
      replicas: readyPods.length,
    };
  }

  function autoscale(
    key: string,
    input: {
      current: number;
      load: (PodLoad & { replicas: number }) | undefined;
      target: number;
      metric: 'concurrency' | 'rps' | 'cpu';
      min: number;
      max: number;
      windowMs: number;
      nowMs: number;
    },
  ): number {
    const state = scalerOf(key);
    // No measurement yet (pods starting, first scrape): hold what runs.
    if (!input.load || input.metric === 'cpu')
      return Math.min(input.max, Math.max(input.min, input.current));
    const total = input.metric === 'rps' ? input.load.requestsPerSecond : input.load.concurrency;
    state.history.push({
      atMs: input.nowMs,
      replicas: recommendReplicas(total, input.target, input.min, input.max),
    });
    state.history = state.history.filter((r) => input.nowMs - r.atMs <= input.windowMs);
    if (state.history.length === 0) return input.current;
    return stabilisedReplicas(input.current, state.history, input.nowMs, input.windowMs);
  }

  function scalerOf(key: string): ScalerState {
    const state = scalers.get(key) ?? { samples: new Map(), history: [] };
    scalers.set(key, state);
    return state;
  }
}

function isReady(pod: PodObject): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function served(d: DeploymentObject, pods: readonly PodObject[]): ServedDeployment {
  const labels = d.metadata?.labels ?? {};
  const version = Number(labels[ServingLabel.version]);
  const own = pods.filter((p) => p.metadata?.labels?.[ServingLabel.version] === String(version));
  const failure = deploymentFailure(d) ?? podFailure(own);
  return {
    deployment: d,
    version,
    role: (labels[ServingLabel.role] === 'canary' ? 'canary' : 'primary') as Role,
    replicas: d.spec?.replicas ?? 1,
    availableReplicas: d.status?.availableReplicas ?? 0,
    readyReplicas: d.status?.readyReplicas ?? 0,
    ...(failure ? { failure } : {}),
  };
}

async function recordRolloutEvents(
  isvc: InferenceServiceObject,
  before: ReturnType<typeof findCondition>,
  plan: ReturnType<typeof planRollout>,
  ctx: ReconcileContext<InferenceServiceObject>,
): Promise<void> {
  const rollout = plan.rollout;
  const was = before?.reason;
  if (rollout.state === 'RollingOut' && was !== 'RollingOut') {
    await ctx.events.record(isvc, 'Normal', 'RolloutStarted', 'Rollout', rollout.message);
  } else if (rollout.state === 'Stable' && was !== 'Serving') {
    await ctx.events.record(isvc, 'Normal', 'RolloutFinished', 'Rollout', rollout.message);
  } else if (rollout.state === 'Failed' && was !== rollout.reason) {
    await ctx.events.record(isvc, 'Warning', 'RolloutFailed', 'Rollout', rollout.message);
  }
}

async function defaultFetchMetrics(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return await response.text();
}
