/**
 * The scale-to-zero step (after the autoscaler, before the Deployments): for an InferenceService
 * with `replicas.min: 0`, how many replicas the primary runs and where its Service routes
 * (`scale-to-zero.ts` decides); for every InferenceService, that its namespace's activator exists
 * exactly while some service there scales to zero.
 *
 * One activator per namespace, not one per cluster: its Role then reaches only its own
 * namespace's InferenceServices and pods, a NetworkPolicy of the namespace covers it, and a
 * tenant's cold starts never queue behind another's. It is owned (not controlled) by every
 * service that scales to zero — found through a field index — so the garbage collector removes
 * it with the last of them, and a pass of any of them that finds none left deletes it. Its
 * ServiceAccount, Role and RoleBinding are owned by its Deployment and go with it.
 *
 * Idle means no request was counted by any ready server (the same `/metrics` counter the
 * autoscaler reads) for `spec.replicas.scaleToZeroAfter`. The idle clock is in this process's
 * memory (`ExpiringMap`), as the autoscaler's readings are: a restart restarts the clock, so it
 * delays a scale-down by one idle period and never wakes a service at zero.
 */
import {
  ACTIVATION_REQUESTED_AT,
  ACTIVATOR_NAME,
  ACTIVATOR_POD_LABELS,
} from '../../../../contract/activator.js';
import { durationMs } from '../../api/duration.js';
import type { PermissionRule } from '../../rbac/permissions.js';
import { controllerReference } from '../../runtime/apply.js';
import { kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import { indexField, owns } from '../../runtime/controller.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../runtime/labels.js';
import type { Step } from '../../runtime/steps.js';
import { type InferenceServiceObject, latheKinds } from '../lathe-kinds.js';
import { scrapeMetrics, serverMetricsUrl } from '../shared/server-metrics.js';
import { parseLoadSample } from './autoscale.js';
import { ServingLabel } from './desired.js';
import { podsOfService } from './indexes.js';
import {
  DEFAULT_SCALE_TO_ZERO_AFTER,
  decideZero,
  desiredActivatorDeployment,
  desiredActivatorIdentity,
  LAST_COLD_START_ANNOTATION,
  parseColdStart,
  scalesToZero,
  timeAnnotationMs,
  ZERO_SINCE_ANNOTATION,
} from './scale-to-zero.js';
import type { ServingFacts } from './status.js';

/** InferenceServices that scale to zero, by namespace (value `true`). */
export const SCALES_TO_ZERO_INDEX = 'inferenceservice.scales-to-zero';

/** The index the step finds its namespace's scaled-to-zero services by. */
export const scaleToZeroIndexes = [
  indexField(latheKinds.inferenceService, SCALES_TO_ZERO_INDEX, (isvc) => [
    scalesToZero(isvc) ? 'true' : undefined,
  ]),
];

/** The activator's identity, which the step writes (and RBAC derives from). */
export const scaleToZeroOwns = [
  owns(kinds.serviceAccount),
  owns(kinds.role),
  owns(kinds.roleBinding),
];

/**
 * What the operator must hold to grant the activator its Role (RBAC forbids granting what one
 * does not have): get and patch InferenceServices, list pods.
 */
export const scaleToZeroPermissions: PermissionRule[] = [
  { apiGroups: ['lathe.dev'], resources: ['inferenceservices'], verbs: ['get', 'patch'] },
];

/** How often a pod's request counter is read for the idle clock. */
const SCRAPE_SPACING_MS = 2_500;
/** How soon a service waking up or going down is looked at again. */
const TRANSITION_REQUEUE_MS = 1_000;
const IDLE_REQUEUE_MS = 5_000;

interface IdleClock {
  counts: Map<string, number>;
  lastActivityMs: number;
  lastScrapeMs: number;
}

export function scaleToZeroStep(options: {
  /** The activator image; without one, no service scales to zero. */
  image: string | undefined;
  fetchMetrics?: (url: string) => Promise<string>;
}): Step<InferenceServiceObject, ServingFacts> {
  const fetchMetrics = options.fetchMetrics ?? scrapeMetrics;
  const clocks = new ExpiringMap<string, IdleClock>({
    maxEntries: 10_000,
    maxAgeMs: 24 * 3_600_000,
  });
  return {
    name: 'scale to zero',
    async run(isvc, ctx, facts) {
      const namespace = isvc.metadata.namespace ?? '';
      const key = `${namespace}/${isvc.metadata.name}`;
      const nowMs = ctx.now().getTime();
      const activator = await keepActivator(isvc, ctx, options.image);
      if (!scalesToZero(isvc) || !options.image) {
        clocks.delete(key);
        return { facts: { zero: undefined } };
      }

      const version = facts.primary?.ok ? facts.primary.modelVersion.spec.version : undefined;
      const deployments = ctx.childrenOf(kinds.deployment, isvc);
      const primary = deployments.find(
        (d) => d.metadata?.labels?.[ServingLabel.version] === String(version),
      );
      const deploymentReplicas = primary ? (primary.spec?.replicas ?? 1) : undefined;
      const readyReplicas = deployments.reduce((n, d) => n + (d.status?.readyReplicas ?? 0), 0);
      const service = ctx
        .childrenOf(kinds.service, isvc)
        .find((s) => s.metadata?.name === isvc.metadata.name);
      const routedToActivator =
        service?.spec?.selector?.['app.kubernetes.io/name'] ===
        ACTIVATOR_POD_LABELS['app.kubernetes.io/name'];

      let clock = clocks.get(key, nowMs);
      if (deploymentReplicas === undefined || deploymentReplicas === 0) {
        clocks.delete(key);
        clock = undefined;
      } else {
        clock ??= { counts: new Map(), lastActivityMs: nowMs, lastScrapeMs: 0 };
        const ready = podsOfService(isvc, ctx).filter(isReady);
        // Replicas still starting keep the service awake: they were asked for.
        if (readyReplicas < deploymentReplicas) clock.lastActivityMs = nowMs;
        if (nowMs - clock.lastScrapeMs >= SCRAPE_SPACING_MS) {
          if (await requestsCounted(clock, ready, fetchMetrics)) clock.lastActivityMs = nowMs;
          clock.lastScrapeMs = nowMs;
        }
        clocks.set(key, clock, nowMs);
      }

      const annotations = service?.metadata?.annotations ?? {};
      const idleAfter = isvc.spec.replicas.scaleToZeroAfter ?? DEFAULT_SCALE_TO_ZERO_AFTER;
      const decision = decideZero({
        nowMs,
        idleAfterMs: durationMs(idleAfter),
        wanted: facts.scale?.primaryReplicas,
        deploymentReplicas,
        readyReplicas,
        activationRequestedAtMs: timeAnnotationMs(
          isvc.metadata.annotations?.[ACTIVATION_REQUESTED_AT],
        ),
        lastActivityMs: clock?.lastActivityMs,
        routedToActivator,
        activatorAvailable: (activator?.status?.availableReplicas ?? 0) > 0,
        zeroSince: annotations[ZERO_SINCE_ANNOTATION],
        lastColdStart: parseColdStart(annotations[LAST_COLD_START_ANNOTATION]),
      });

      if (primary && decision.atZero && deploymentReplicas !== 0) {
        await ctx.events.record(
          isvc,
          'Normal',
          'ScaledToZero',
          'ScaleToZero',
          `Scaling version ${version} to zero after ${idleAfter} without requests; the activator holds new requests`,
        );
      }
      if (decision.newColdStart && decision.lastColdStart) {
        await ctx.events.record(
          isvc,
          'Normal',
          'ColdStarted',
          'ScaleToZero',
          `Version ${version} ready ${decision.lastColdStart.seconds}s after the activator asked for a replica`,
        );
      }
      const waking = decision.route === 'activator' && !decision.atZero;
      return {
        facts: {
          scale: { primaryReplicas: decision.primaryReplicas },
          zero: decision,
        },
        conditions: [
          decision.atZero
            ? {
                type: 'ScaledToZero',
                status: 'True',
                reason: 'Idle',
                message: `No replica runs since ${decision.zeroSince}; the activator holds requests and starts one`,
              }
            : {
                type: 'ScaledToZero',
                status: 'False',
                reason: waking ? 'Activating' : 'Serving',
                message: waking
                  ? 'Starting a replica; the activator holds requests until it is ready'
                  : `Replicas serve; scaled to zero after ${idleAfter} without requests`,
              },
        ],
        requeueAfterMs: waking ? TRANSITION_REQUEUE_MS : IDLE_REQUEUE_MS,
      };
    },
  };
}

/**
 * Keeps the namespace's activator in line with its services that scale to zero; returns its
 * Deployment as found (for its availability), or undefined when there is none.
 */
async function keepActivator(
  isvc: InferenceServiceObject,
  ctx: Parameters<Step<InferenceServiceObject, ServingFacts>['run']>[1],
  image: string | undefined,
) {
  const namespace = isvc.metadata.namespace ?? '';
  const found = ctx.reader(kinds.deployment).get(namespace, ACTIVATOR_NAME);
  const owners = image
    ? ctx
        .byField(latheKinds.inferenceService, SCALES_TO_ZERO_INDEX, namespace, 'true')
        .filter(scalesToZero)
        .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
        .map((s) => controllerReference(s, latheKinds.inferenceService.resource))
    : [];
  const managed = found?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
  if (owners.length === 0) {
    if (found && managed) await ctx.delete(kinds.deployment, found);
    return undefined;
  }
  const desired = desiredActivatorDeployment(namespace, owners, { image: image ?? '' });
  const same =
    found &&
    managed &&
    sameOwners(found.metadata?.ownerReferences, owners) &&
    found.spec?.template?.spec?.containers?.[0]?.image === image &&
    found.spec?.template?.spec?.serviceAccountName === ACTIVATOR_NAME;
  if (same) return found;
  const applied = await ctx.apply(kinds.deployment, desired);
  const identity = desiredActivatorIdentity(
    namespace,
    controllerReference(applied, kinds.deployment.resource),
  );
  await ctx.apply(kinds.serviceAccount, identity.serviceAccount);
  await ctx.apply(kinds.role, identity.role);
  await ctx.apply(kinds.roleBinding, identity.roleBinding);
  ctx.log.info({ owners: owners.map((o) => o.name) }, 'Applied the namespace activator');
  return found ?? applied;
}

function sameOwners(
  found: readonly { uid: string }[] | undefined,
  wanted: readonly { uid: string }[],
) {
  const a = (found ?? []).map((o) => o.uid).sort();
  const b = wanted.map((o) => o.uid).sort();
  return a.length === b.length && a.every((uid, i) => uid === b[i]);
}

/** Reads each ready pod's request counter; true when one moved (or a pod is new). */
async function requestsCounted(
  clock: IdleClock,
  ready: readonly PodObject[],
  fetchMetrics: (url: string) => Promise<string>,
): Promise<boolean> {
  let moved = false;
  const live = new Set<string>();
  await Promise.all(
    ready.map(async (pod) => {
      const name = pod.metadata?.name ?? '';
      const ip = pod.status?.podIP;
      if (!ip) return;
      live.add(name);
      try {
        const sample = parseLoadSample(await fetchMetrics(serverMetricsUrl(ip)), 0);
        if (!sample) return;
        if (clock.counts.get(name) !== sample.count) moved = true;
        clock.counts.set(name, sample.count);
      } catch {
        // An unreadable pod proves nothing either way; the clock runs on.
      }
    }),
  );
  for (const pod of clock.counts.keys()) if (!live.has(pod)) clock.counts.delete(pod);
  return moved;
}

function isReady(pod: PodObject): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
