/**
 * A container's environment, computed like the kubelet does: the image's env, then the
 * service variables (`KUBERNETES_SERVICE_HOST`/`PORT`), then `envFrom` sources, then `env`
 * entries in order, each value `$(VAR)`-expanded against what is defined before it.
 *
 * Pure: Secrets and ConfigMaps come pre-read in `PodSources`. A missing object or key that is
 * not `optional` fails with the kubelet's message, which the pod shows under
 * `CreateContainerConfigError`.
 */
import type * as k8s from '@kubernetes/client-node';
import { expandVariables } from './expand.js';
import { ContainerConfigError, podFieldValue } from './pod-fields.js';
import type { PodSources } from './pod-sources.js';

export interface EnvContext {
  pod: k8s.V1Pod;
  container: k8s.V1Container;
  sources: PodSources;
  podIP: string;
  hostIP: string;
  /** Variables every process gets from the node (PATH, HOME), lowest precedence. */
  baseEnv: Record<string, string>;
  /** The image's ENV. */
  imageEnv: Record<string, string>;
  /** KUBERNETES_SERVICE_HOST and friends. */
  serviceEnv: Record<string, string>;
}

const envVarName = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** The container's environment, in definition order. Throws `ContainerConfigError`. */
export function containerEnv(ctx: EnvContext): Map<string, string> {
  const namespace = ctx.pod.metadata?.namespace ?? 'default';
  const hostname = ctx.pod.spec?.hostname ?? ctx.pod.metadata?.name ?? '';
  const env = new Map<string, string>([
    ...Object.entries(ctx.baseEnv),
    ['HOSTNAME', hostname],
    ...Object.entries(ctx.imageEnv),
    ...Object.entries(ctx.serviceEnv),
  ]);

  for (const from of ctx.container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    const ref = from.secretRef ?? from.configMapRef;
    if (!ref?.name) continue;
    const kind = from.secretRef ? 'secret' : 'configmap';
    const data = (from.secretRef ? ctx.sources.secrets : ctx.sources.configMaps).get(ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new ContainerConfigError(`${kind} "${ref.name}" not found`);
    }
    for (const [key, value] of Object.entries(data)) {
      // The kubelet skips keys that are not valid variable names (and emits an event).
      if (envVarName.test(prefix + key)) env.set(prefix + key, value.toString('utf8'));
    }
  }

  for (const e of ctx.container.env ?? []) {
    const value = envValue(ctx, e, namespace, env);
    if (value !== undefined) env.set(e.name, value);
  }
  return env;
}

function envValue(
  ctx: EnvContext,
  e: k8s.V1EnvVar,
  namespace: string,
  defined: Map<string, string>,
): string | undefined {
  if (!e.valueFrom) return expandVariables(e.value ?? '', (name) => defined.get(name));
  const { secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef } = e.valueFrom;
  if (secretKeyRef) {
    return keyOf(ctx.sources.secrets, 'secret', 'Secret', namespace, secretKeyRef);
  }
  if (configMapKeyRef) {
    return keyOf(ctx.sources.configMaps, 'configmap', 'ConfigMap', namespace, configMapKeyRef);
  }
  if (fieldRef) return podFieldValue(ctx.pod, fieldRef.fieldPath, ctx);
  if (resourceFieldRef) {
    // Reported as the raw quantity: nothing on this node enforces or divides resources.
    const [kind, name] = resourceFieldRef.resource.split('.') as [string, string];
    const resources = ctx.container.resources;
    const quantity = kind === 'requests' ? resources?.requests?.[name] : resources?.limits?.[name];
    return quantity ?? '0';
  }
  return '';
}

function keyOf(
  objects: Map<string, Record<string, Buffer> | null>,
  lowerKind: string,
  kind: string,
  namespace: string,
  ref: { name?: string; key: string; optional?: boolean },
): string | undefined {
  const data = objects.get(ref.name ?? '');
  if (!data) {
    if (ref.optional) return undefined;
    throw new ContainerConfigError(`${lowerKind} "${ref.name}" not found`);
  }
  const value = data[ref.key];
  if (value === undefined) {
    if (ref.optional) return undefined;
    throw new ContainerConfigError(
      `couldn't find key ${ref.key} in ${kind} ${namespace}/${ref.name}`,
    );
  }
  return value.toString('utf8');
}
