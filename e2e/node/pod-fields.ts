/**
 * Values of the pod fields the downward API exposes (`fieldRef` in env and in downwardAPI
 * volume items). The pod IP comes from the node, not the pod object: the status holding it may
 * not have been written yet when the first container starts.
 */
import type * as k8s from '@kubernetes/client-node';

/** Raised when a pod asks for something the node cannot give; reported as `CreateContainerConfigError`. */
export class ContainerConfigError extends Error {}

/** The value of a downward-API `fieldPath` for `pod`. */
export function podFieldValue(
  pod: k8s.V1Pod,
  fieldPath: string,
  ips: { podIP: string; hostIP: string },
): string {
  const meta = pod.metadata ?? {};
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (keyed) {
    const map = keyed[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[keyed[2]!] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.annotations':
      return formatMap(meta.annotations);
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP':
    case 'status.podIPs':
      return ips.podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return ips.hostIP;
    default:
      throw new ContainerConfigError(`unsupported fieldRef fieldPath "${fieldPath}"`);
  }
}

/** The downward API's `key="value"` lines, sorted by key. */
function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(map?.[k])}`)
    .join('\n');
}
