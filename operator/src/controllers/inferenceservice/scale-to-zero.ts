/**
 * Scale to zero, pure: when an InferenceService with `replicas.min: 0` runs no replica, where
 * its Service sends traffic, and the activator that holds the requests meanwhile.
 *
 * The Service keeps its name and ClusterIP; only its selector moves: to the activator's pods
 * (`ACTIVATOR_POD_LABELS`) while no server is ready, back to the servers once one is. Going
 * down is two-phase, so no request finds no endpoint: first the Service is switched to the
 * activator (replicas stay), and only on a later pass — the Service as found already selects
 * the activator and the activator is available — is the Deployment scaled to 0. A request that
 * arrives in between is forwarded by the activator to the still-running server, which counts it,
 * so the service is no longer idle and switches back.
 *
 * Coming up: the activator writes `lathe.dev/activation-requested-at`; a request more recent
 * than the idle period scales the primary to at least 1. The Service goes back to the servers
 * when a replica is ready, and the time from the request to that moment is the cold start,
 * recorded on the Service (`LAST_COLD_START_ANNOTATION`) so a wiped status is rebuilt from it.
 *
 * State that must survive a restart lives on the Service (its selector, `ZERO_SINCE_ANNOTATION`
 * and the last cold start); the idle clock lives in the step's memory, and losing it (a restart)
 * only delays a scale-down by one idle period — it never wakes a service at zero.
 */
import {
  ACTIVATOR_NAME,
  ACTIVATOR_POD_LABELS,
  ACTIVATOR_PORT,
  ActivatorEnv,
} from '../../../../contract/activator.js';
import type { InferenceService } from '../../api/inferenceservice.js';
import type {
  DeploymentObject,
  RoleBindingObject,
  RoleObject,
  ServiceAccountObject,
} from '../../runtime/builtin-kinds.js';
import type { OwnerReference } from '../../runtime/resource.js';
import { resourceRequirements } from '../shared/container.js';
import {
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from '../shared/pod-security.js';

/** Service annotation: since when the service has been at zero (RFC 3339); absent otherwise. */
export const ZERO_SINCE_ANNOTATION = 'lathe.dev/scaled-to-zero-since';
/** Service annotation: the last cold start, JSON `{"seconds":n,"at":"<RFC 3339>"}`. */
export const LAST_COLD_START_ANNOTATION = 'lathe.dev/last-cold-start';

/** `spec.replicas.scaleToZeroAfter` when unset. */
export const DEFAULT_SCALE_TO_ZERO_AFTER = '5m';

/** Whether `isvc` scales to zero: min 0 under Lathe's autoscaler (or none), without a canary. */
export function scalesToZero(isvc: InferenceService): boolean {
  return (
    isvc.spec.replicas.min === 0 &&
    isvc.spec.autoscaling?.mode !== 'hpa' &&
    isvc.spec.canary === undefined &&
    !isvc.metadata.deletionTimestamp
  );
}

export type Route = 'servers' | 'activator';

export interface ColdStart {
  seconds: number;
  at: string;
}

export interface ZeroInput {
  nowMs: number;
  idleAfterMs: number;
  /** Replicas the autoscaler (or the floor) asks for. */
  wanted: number | undefined;
  /** `spec.replicas` of the primary version's Deployment; undefined when there is none yet. */
  deploymentReplicas: number | undefined;
  /** Ready replicas of every served version (what the Service would route to). */
  readyReplicas: number;
  /** The activator's last request for a replica. */
  activationRequestedAtMs: number | undefined;
  /** The last request seen (a counter moved) or pod starting; undefined when never observed. */
  lastActivityMs: number | undefined;
  /** The Service as found selects the activator. */
  routedToActivator: boolean;
  /** The activator has an available replica. */
  activatorAvailable: boolean;
  /** The Service's annotations as found. */
  zeroSince: string | undefined;
  lastColdStart: ColdStart | undefined;
}

export interface ZeroDecision {
  primaryReplicas: number;
  route: Route;
  /** Scaled to zero (nothing runs; the activator holds requests). */
  atZero: boolean;
  /** What the Service carries: since when at zero, the last cold start. */
  zeroSince: string | undefined;
  lastColdStart: ColdStart | undefined;
  /** A cold start finished in this pass. */
  newColdStart: boolean;
}

/** Where traffic goes and how many replicas run (see the module header). Pure. */
export function decideZero(input: ZeroInput): ZeroDecision {
  const { nowMs, idleAfterMs } = input;
  const active = Math.max(1, input.wanted ?? 1);
  const requested = input.activationRequestedAtMs;
  // A time in the future (a skewed clock) counts as now, not as forever.
  const requestedRecently = requested !== undefined && nowMs - requested < idleAfterMs;
  const keep = {
    zeroSince: input.zeroSince,
    lastColdStart: input.lastColdStart,
    newColdStart: false,
  };
  const since = input.zeroSince ?? new Date(nowMs).toISOString();

  if (input.deploymentReplicas === 0) {
    if (!requestedRecently) {
      return { primaryReplicas: 0, route: 'activator', atZero: true, ...keep, zeroSince: since };
    }
    // Waking: replicas start; the activator holds requests until one is ready.
    return {
      primaryReplicas: active,
      route: 'activator',
      atZero: false,
      ...keep,
      zeroSince: since,
    };
  }

  const idle =
    input.lastActivityMs !== undefined &&
    nowMs - input.lastActivityMs >= idleAfterMs &&
    !requestedRecently;
  if (idle && input.activatorAvailable) {
    if (input.routedToActivator) {
      return { primaryReplicas: 0, route: 'activator', atZero: true, ...keep, zeroSince: since };
    }
    // First phase: the Service moves to the activator; replicas go on a later pass.
    return { primaryReplicas: active, route: 'activator', atZero: false, ...keep };
  }
  if (input.readyReplicas === 0) {
    // Nothing ready (a first rollout, a wake-up): the activator holds requests, when it can.
    return {
      primaryReplicas: active,
      route: input.activatorAvailable || input.routedToActivator ? 'activator' : 'servers',
      atZero: false,
      ...keep,
    };
  }
  // A replica is ready: the Service goes back to the servers. Coming from zero, that was a
  // cold start, timed from the activator's request.
  const coldStart =
    input.routedToActivator &&
    input.zeroSince !== undefined &&
    requested !== undefined &&
    requested >= Date.parse(input.zeroSince) - 1000
      ? {
          seconds: Math.max(0, round((nowMs - requested) / 1000)),
          at: new Date(nowMs).toISOString(),
        }
      : undefined;
  return {
    primaryReplicas: active,
    route: 'servers',
    atZero: false,
    zeroSince: undefined,
    lastColdStart: coldStart ?? input.lastColdStart,
    newColdStart: coldStart !== undefined,
  };
}

/** Parses the last-cold-start annotation; undefined when absent or not Lathe's JSON. */
export function parseColdStart(text: string | undefined): ColdStart | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<ColdStart>;
    if (
      typeof value.seconds === 'number' &&
      typeof value.at === 'string' &&
      !Number.isNaN(Date.parse(value.at))
    ) {
      return { seconds: value.seconds, at: value.at };
    }
  } catch {
    // A hand-edited annotation is ignored, not an error.
  }
  return undefined;
}

/** Milliseconds of an RFC 3339 annotation; undefined when absent or unparsable. */
export function timeAnnotationMs(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The Service's annotations for a decision. */
export function zeroAnnotations(decision: Pick<ZeroDecision, 'zeroSince' | 'lastColdStart'>) {
  return {
    ...(decision.zeroSince ? { [ZERO_SINCE_ANNOTATION]: decision.zeroSince } : {}),
    ...(decision.lastColdStart
      ? { [LAST_COLD_START_ANNOTATION]: JSON.stringify(decision.lastColdStart) }
      : {}),
  };
}

/** The activator's labels on its Deployment (its pods carry `ACTIVATOR_POD_LABELS`). */
export const activatorLabels = {
  ...ACTIVATOR_POD_LABELS,
  'app.kubernetes.io/component': 'activator',
};

/**
 * The activator's Deployment in `namespace`, owned (not controlled) by every InferenceService
 * there that scales to zero, so the garbage collector removes it with the last of them.
 */
export function desiredActivatorDeployment(
  namespace: string,
  owners: readonly OwnerReference[],
  options: { image: string; queueSize?: number; timeoutSeconds?: number },
): DeploymentObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: ACTIVATOR_NAME,
      namespace,
      labels: activatorLabels,
      ownerReferences: owners.map((o) => ({ ...o, controller: false, blockOwnerDeletion: false })),
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { ...ACTIVATOR_POD_LABELS } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: activatorLabels },
        spec: {
          serviceAccountName: ACTIVATOR_NAME,
          automountServiceAccountToken: true,
          securityContext: restrictedPodSecurityContext,
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: 'activator',
              image: options.image,
              env: [
                {
                  name: ActivatorEnv.namespace,
                  valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
                },
                { name: ActivatorEnv.port, value: String(ACTIVATOR_PORT) },
                { name: ActivatorEnv.queueSize, value: String(options.queueSize ?? 100) },
                { name: ActivatorEnv.timeoutSeconds, value: String(options.timeoutSeconds ?? 60) },
              ],
              ports: [{ name: 'http', containerPort: ACTIVATOR_PORT, protocol: 'TCP' }],
              readinessProbe: {
                httpGet: { path: '/activator/healthz', port: 'http' },
                periodSeconds: 2,
                failureThreshold: 3,
              },
              livenessProbe: {
                httpGet: { path: '/activator/healthz', port: 'http' },
                periodSeconds: 10,
                failureThreshold: 3,
              },
              resources: resourceRequirements({ cpu: '50m', memory: '128Mi' }),
              securityContext: restrictedContainerSecurityContext,
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
        },
      },
    },
  };
}

/**
 * The activator's ServiceAccount, Role and RoleBinding, owned by its Deployment (deleted with
 * it). The Role is all it may do: read and annotate InferenceServices (ask for a replica) and
 * list pods (find the ready servers) in its namespace.
 */
export function desiredActivatorIdentity(
  namespace: string,
  deployment: OwnerReference,
): { serviceAccount: ServiceAccountObject; role: RoleObject; roleBinding: RoleBindingObject } {
  const metadata = {
    name: ACTIVATOR_NAME,
    namespace,
    labels: activatorLabels,
    ownerReferences: [{ ...deployment, controller: false, blockOwnerDeletion: false }],
  };
  return {
    serviceAccount: { apiVersion: 'v1', kind: 'ServiceAccount', metadata },
    role: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata,
      rules: [
        { apiGroups: ['lathe.dev'], resources: ['inferenceservices'], verbs: ['get', 'patch'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      ],
    },
    roleBinding: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: ACTIVATOR_NAME },
      subjects: [{ kind: 'ServiceAccount', name: ACTIVATOR_NAME, namespace }],
    },
  };
}

const round = (n: number) => Math.round(n * 1000) / 1000;
