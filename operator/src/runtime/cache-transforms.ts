/**
 * What the informer caches keep of the built-in kinds Lathe watches: controller-runtime's cache
 * `TransformFunc`, applied by the manager to every informer of these kinds.
 *
 * A pod spec is most of a Pod's bytes, and of a Job's or Deployment's (as `spec.template`):
 * containers with their environment, volumes, probes, security context, tolerations. No
 * controller reads it back from the cache — children are written with server-side apply from
 * the desired state, never patched from the cached copy — so the caches keep, of each pod spec,
 * only the containers' names and images (an image-pull failure names the image) and the node.
 * Metadata (labels, annotations, owners) and status are kept whole: controllers map, index and
 * classify on them.
 *
 * A controller that starts reading another field of a cached Pod, Job or Deployment spec must
 * add it here; `cache-transforms.test.ts` checks that the controllers' readers of these kinds
 * see the same thing on a cut object as on the full one.
 */
import type { CacheTransform } from './informer.js';
import { builtin, gvkString, type KubeObject } from './resource.js';

type Json = Record<string, unknown>;

const asRecord = (value: unknown): Json | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Json)
    : undefined;

/** A container as cached: name and image. */
function cachedContainers(value: unknown): Json[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.map((c) => {
    const container = asRecord(c) ?? {};
    return {
      name: container.name,
      ...(container.image !== undefined ? { image: container.image } : {}),
    };
  });
}

/** A pod spec as cached: its containers' names and images, and the node it runs on. */
export function cachedPodSpec(spec: unknown): Json | undefined {
  const s = asRecord(spec);
  if (!s) return undefined;
  const containers = cachedContainers(s.containers);
  const initContainers = cachedContainers(s.initContainers);
  return {
    ...(containers ? { containers } : {}),
    ...(initContainers ? { initContainers } : {}),
    ...(s.nodeName !== undefined ? { nodeName: s.nodeName } : {}),
  };
}

/** A Pod with its spec cut down (`cachedPodSpec`); metadata and status whole. */
export function cachedPod(pod: KubeObject): KubeObject {
  if (!asRecord(pod.spec)) return pod;
  return { ...pod, spec: cachedPodSpec(pod.spec) };
}

/**
 * A Job or Deployment with the pod template's spec cut down; the rest of the spec (replicas,
 * suspend, selector, limits) and the template's metadata are kept.
 */
export function cachedWorkload(obj: KubeObject): KubeObject {
  const spec = asRecord(obj.spec);
  const template = asRecord(spec?.template);
  if (!spec || !template) return obj;
  return {
    ...obj,
    spec: {
      ...spec,
      template: {
        ...template,
        ...(template.spec !== undefined ? { spec: cachedPodSpec(template.spec) } : {}),
      },
    },
  };
}

/** The transforms the manager applies by default, by `gvkString` of the kind. */
export const defaultCacheTransforms: Readonly<Record<string, CacheTransform>> = {
  [gvkString(builtin.pod)]: cachedPod,
  [gvkString(builtin.job)]: cachedWorkload,
  [gvkString(builtin.deployment)]: cachedWorkload,
};
