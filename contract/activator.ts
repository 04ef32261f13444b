/**
 * What the operator and the activator (`runtime-images/activator`) share: the activator's
 * environment, its port, the annotation through which it asks for a scale-up, the header that
 * marks a request that waited, and the labels its pods carry (a Service at zero selects them).
 *
 * The activator holds the requests of InferenceServices scaled to zero. It asks for replicas by
 * writing the time of its request into {@link ACTIVATION_REQUESTED_AT} on the InferenceService
 * (a merge patch its Role allows, nothing else), and the operator's scale-to-zero step scales
 * the service up when that time is recent. One activator runs per namespace that has such a
 * service.
 */

/** Name of the activator's Deployment, Service, ServiceAccount, Role and RoleBinding. */
export const ACTIVATOR_NAME = 'lathe-activator';

/** The activator's HTTP port (named `http`, as the servers' is, so a Service's targetPort fits both). */
export const ACTIVATOR_PORT = 8080;

/** The labels of the activator's pods; a Service at zero selects exactly these. */
export const ACTIVATOR_POD_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/managed-by': 'lathe',
  'app.kubernetes.io/name': ACTIVATOR_NAME,
};

/** InferenceService annotation: when the activator last asked for a replica (RFC 3339). */
export const ACTIVATION_REQUESTED_AT = 'lathe.dev/activation-requested-at';

/** Response header on a request the activator held: how long it waited, in milliseconds. */
export const COLD_START_HEADER = 'x-lathe-cold-start-ms';

/** Variables of the activator program. */
export const ActivatorEnv = {
  /** The namespace it serves (its own). */
  namespace: 'LATHE_ACTIVATOR_NAMESPACE',
  port: 'LATHE_ACTIVATOR_PORT',
  /** Requests held per InferenceService when its spec does not say (`spec.replicas.activationQueue`). */
  queueSize: 'LATHE_ACTIVATOR_QUEUE_SIZE',
  /** Longest a request is held when the spec does not say, in seconds. */
  timeoutSeconds: 'LATHE_ACTIVATOR_TIMEOUT_SECONDS',
} as const;

/** The label selector of an InferenceService's serving pods (every version's). */
export function servingPodSelector(inferenceService: string): string {
  return `app.kubernetes.io/managed-by=lathe,lathe.dev/inferenceservice=${inferenceService}`;
}
