/**
 * The children of an InferenceService: one Deployment per served version, the Service in
 * front of them, a PodDisruptionBudget, and in `hpa` mode a HorizontalPodAutoscaler. Pure:
 * the InferenceService, the planned versions and the operator's configuration in.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import { ACTIVATOR_POD_LABELS } from '../../../../contract/activator.js';
import { feedbackPrefix, s3Uri } from '../../../../contract/object-store-layout.js';
import { ServeEnv } from '../../../../contract/runtime-env.js';
import type { InferenceService } from '../../api/inferenceservice.js';
import type {
  DeploymentObject,
  HorizontalPodAutoscalerObject,
  PodDisruptionBudgetObject,
  ServiceObject,
  Wire,
} from '../../runtime/builtin-kinds.js';
import { childLabels } from '../../runtime/labels.js';
import type { OwnerReference } from '../../runtime/resource.js';
import { gpuTolerations, nodeHeapEnv, resourceRequirements } from '../shared/container.js';
import { literalEnv } from '../shared/kubelet-literal.js';
import {
  CredentialRole,
  type ObjectStoreConfig,
  objectStorePodAccess,
} from '../shared/object-store-access.js';
import { piiKeyEnv } from '../shared/pii-key.js';
import {
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from '../shared/pod-security.js';
import { SERVER_PORT } from '../shared/server-metrics.js';
import type { PlannedDeployment, Role } from './rollout.js';
import { explainEnv, limitsEnv } from './server-env.js';

export const DEFAULT_SERVING_RESOURCES = { cpu: '250m', memory: '512Mi' } as const;
/** Labels of a serving Deployment and its pods. */
export const ServingLabel = { version: 'lathe.dev/model-version', role: 'lathe.dev/role' } as const;
/** The ModelVersion a serving Deployment runs. */
export const MODEL_VERSION_ANNOTATION = 'lathe.dev/model-version-name';
/** Where the server pods mount the feedback token (`spec.requestLogging.feedback`). */
export const FEEDBACK_TOKEN_DIR = '/var/run/lathe/feedback-token';
/** How long a rollout may make no progress before the Deployment reports it failed. */
export const PROGRESS_DEADLINE_SECONDS = 180;

export function servingDeploymentName(isvc: string, version: number): string {
  return `${isvc}-v${version}`;
}

/** The selector of the pods of one served version. */
export function versionSelector(isvc: string, version: number): Record<string, string> {
  return { ...childLabels('InferenceService', isvc), [ServingLabel.version]: String(version) };
}

/** `key=value,...`: a selector as `status.selector` (the scale subresource) shows it. */
export function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The in-cluster URL of the service. */
export function serviceUrl(isvc: InferenceService): string {
  return `http://${isvc.metadata.name}.${isvc.metadata.namespace}.svc.cluster.local`;
}

export function desiredServingDeployment(
  isvc: InferenceService,
  planned: PlannedDeployment,
  options: { image: string; store: ObjectStoreConfig; owner: OwnerReference },
): DeploymentObject {
  const name = isvc.metadata.name ?? '';
  const namespace = isvc.metadata.namespace ?? '';
  const mv = planned.modelVersion;
  const selector = versionSelector(name, planned.version);
  const labels: Record<string, string> = {
    ...selector,
    [ServingLabel.role]: planned.role satisfies Role,
    'app.kubernetes.io/component': 'server',
  };
  const gpus = isvc.spec.resources?.gpu ?? 0;
  const resources = {
    cpu: isvc.spec.resources?.cpu ?? DEFAULT_SERVING_RESOURCES.cpu,
    memory: isvc.spec.resources?.memory ?? DEFAULT_SERVING_RESOURCES.memory,
  };
  const storeAccess = objectStorePodAccess(options.store, name, CredentialRole.serving);
  const env: Wire<V1EnvVar>[] = [
    ...storeAccess.env,
    { name: ServeEnv.namespace, value: namespace },
    { name: ServeEnv.inferenceService, value: name },
    // Clients address the service by its name, whatever version answers (as in KServe).
    { name: ServeEnv.modelName, value: name },
    { name: ServeEnv.modelVersion, value: String(planned.version) },
    // A ModelVersion's URI is a user's text when it was registered by hand.
    literalEnv(ServeEnv.modelUri, mv.spec.artifact.uri),
    { name: ServeEnv.modelDigest, value: mv.spec.artifact.digest },
    // tfjs runs on TensorFlow.js, onnx on ONNX Runtime; the server refuses any other.
    { name: ServeEnv.modelFormat, value: mv.spec.artifact.format },
    { name: ServeEnv.port, value: String(SERVER_PORT) },
    // Hashes PII columns in requests and keeps their raw values out of the request log.
    piiKeyEnv(),
    { name: ServeEnv.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    {
      name: ServeEnv.requestLogSampleRate,
      value: String(isvc.spec.requestLogging.sampleRate),
    },
    {
      name: ServeEnv.feedbackUri,
      value: s3Uri(options.store.bucket, feedbackPrefix(namespace, name)),
    },
    nodeHeapEnv(resources.memory, 96),
    ...limitsEnv(isvc.spec.limits),
    ...explainEnv(isvc.spec.explain),
  ];
  if (isvc.spec.batching) {
    env.push(
      { name: ServeEnv.batchMaxSize, value: String(isvc.spec.batching.maxBatchSize) },
      { name: ServeEnv.batchMaxLatencyMs, value: String(isvc.spec.batching.maxLatencyMs) },
    );
  }
  const tolerations = gpuTolerations(gpus);
  // The bearer token `:feedback` requires, as a file the server re-reads when the Secret
  // changes. Optional: a missing Secret disables feedback (403), never serving.
  const tokenRef = isvc.spec.requestLogging.feedback?.tokenSecretRef;
  const feedbackToken = tokenRef
    ? {
        volume: {
          name: 'feedback-token',
          secret: {
            secretName: tokenRef.name,
            items: [{ key: tokenRef.key, path: 'token' }],
            defaultMode: 0o444,
            optional: true,
          },
        },
        volumeMount: { name: 'feedback-token', mountPath: FEEDBACK_TOKEN_DIR, readOnly: true },
      }
    : undefined;
  if (feedbackToken) {
    env.push({ name: ServeEnv.feedbackTokenFile, value: `${FEEDBACK_TOKEN_DIR}/token` });
  }

  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: servingDeploymentName(name, planned.version),
      namespace,
      labels,
      annotations: { [MODEL_VERSION_ANNOTATION]: mv.metadata.name ?? '' },
      ownerReferences: [options.owner],
    },
    spec: {
      ...(planned.replicas !== undefined ? { replicas: planned.replicas } : {}),
      selector: { matchLabels: selector },
      progressDeadlineSeconds: PROGRESS_DEADLINE_SECONDS,
      // A changed pod template (batching, resources) rolls without losing capacity.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurityContext,
          terminationGracePeriodSeconds: 30,
          ...(tolerations.length > 0 ? { tolerations } : {}),
          containers: [
            {
              name: 'server',
              image: options.image,
              env,
              ports: [{ name: 'http', containerPort: SERVER_PORT, protocol: 'TCP' }],
              // Loading and verifying a model may take minutes: liveness waits for it.
              startupProbe: {
                httpGet: { path: '/v2/health/ready', port: 'http' },
                periodSeconds: 2,
                timeoutSeconds: 3,
                failureThreshold: 150,
              },
              // One slow answer (a large request in the way) does not take the pod out.
              readinessProbe: {
                httpGet: { path: '/v2/health/ready', port: 'http' },
                periodSeconds: 2,
                timeoutSeconds: 3,
                failureThreshold: 3,
                successThreshold: 1,
              },
              livenessProbe: {
                httpGet: { path: '/v2/health/live', port: 'http' },
                periodSeconds: 10,
                timeoutSeconds: 3,
                failureThreshold: 6,
              },
              resources: resourceRequirements({ ...resources, gpu: gpus }),
              securityContext: restrictedContainerSecurityContext,
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                storeAccess.volumeMount,
                ...(feedbackToken ? [feedbackToken.volumeMount] : []),
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            storeAccess.volume,
            ...(feedbackToken ? [feedbackToken.volume] : []),
          ],
        },
      },
    },
  };
}

/**
 * The Service in front of every version's pods: traffic follows ready replicas. At zero
 * (`scale-to-zero.ts`) it selects the namespace activator's pods instead, keeping its name and
 * ClusterIP, and carries the scale-to-zero annotations.
 */
export function desiredService(
  isvc: InferenceService,
  owner: OwnerReference,
  zero?: { route: 'servers' | 'activator'; annotations: Record<string, string> },
): ServiceObject {
  const name = isvc.metadata.name ?? '';
  const annotations = zero?.annotations ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: isvc.metadata.namespace,
      labels: childLabels('InferenceService', name),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      ownerReferences: [owner],
    },
    spec: {
      type: 'ClusterIP',
      selector:
        zero?.route === 'activator'
          ? { ...ACTIVATOR_POD_LABELS }
          : childLabels('InferenceService', name),
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** At most one serving pod of the service evicted at a time (drains, upgrades). */
export function desiredDisruptionBudget(
  isvc: InferenceService,
  owner: OwnerReference,
): PodDisruptionBudgetObject {
  const name = isvc.metadata.name ?? '';
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: {
      name,
      namespace: isvc.metadata.namespace,
      labels: childLabels('InferenceService', name),
      ownerReferences: [owner],
    },
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: childLabels('InferenceService', name) },
    },
  };
}

/**
 * `autoscaling.mode: hpa`: a HorizontalPodAutoscaler on the primary version's Deployment. CPU
 * needs metrics-server; concurrency and rps are the per-pod metrics
 * `lathe_inference_requests_in_flight` and `lathe_inference_requests_per_second`, which need a
 * custom-metrics adapter (e.g. prometheus-adapter) to expose them.
 */
export function desiredAutoscaler(
  isvc: InferenceService,
  primaryVersion: number,
  owner: OwnerReference,
): HorizontalPodAutoscalerObject {
  const name = isvc.metadata.name ?? '';
  const autoscaling = isvc.spec.autoscaling;
  const target = autoscaling?.target ?? 1;
  const metric =
    autoscaling?.metric === 'cpu'
      ? {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: Math.round(target) },
          },
        }
      : {
          type: 'Pods',
          pods: {
            metric: {
              name:
                autoscaling?.metric === 'rps'
                  ? 'lathe_inference_requests_per_second'
                  : 'lathe_inference_requests_in_flight',
            },
            target: { type: 'AverageValue', averageValue: String(target) },
          },
        };
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name,
      namespace: isvc.metadata.namespace,
      labels: childLabels('InferenceService', name),
      ownerReferences: [owner],
    },
    spec: {
      scaleTargetRef: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: servingDeploymentName(name, primaryVersion),
      },
      minReplicas: Math.max(1, isvc.spec.replicas.min),
      maxReplicas: isvc.spec.replicas.max,
      metrics: [metric],
    },
  };
}
