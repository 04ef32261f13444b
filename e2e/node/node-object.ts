/**
 * The Node object this node registers and the status it keeps up to date (pure).
 *
 * `kubeletVersion` is the API server's own version, so nothing treats the node as skewed.
 * The InternalIP is the node's address in its network namespace, which the host routes to.
 */
import type { NodeConfig } from './config.js';

export interface NodeInfo {
  kubeletVersion: string;
  kernelVersion: string;
  osImage: string;
  machineID: string;
  bootID: string;
}

/** The node's labels: the well-known ones, the GPU marker, then the configured extras. */
export function nodeLabelsOf(config: NodeConfig): Record<string, string> {
  const gpus = Number(config.capacity['nvidia.com/gpu'] ?? '0');
  return {
    'kubernetes.io/hostname': config.nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': 'amd64',
    ...(gpus > 0 ? { 'nvidia.com/gpu.present': 'true' } : {}),
    ...config.extraLabels,
  };
}

function condition(
  type: string,
  healthy: boolean,
  reason: string,
  message: string,
  now: string,
  since: string,
) {
  return {
    type,
    status: type === 'Ready' ? (healthy ? 'True' : 'False') : healthy ? 'False' : 'True',
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: since,
  };
}

/** The node status: capacity, allocatable (all of it), conditions, addresses, node info. */
export function nodeStatusOf(config: NodeConfig, info: NodeInfo, now: string, readySince: string) {
  return {
    capacity: config.capacity,
    allocatable: config.capacity,
    conditions: [
      condition(
        'MemoryPressure',
        true,
        'KubeletHasSufficientMemory',
        'kubelet has sufficient memory available',
        now,
        readySince,
      ),
      condition(
        'DiskPressure',
        true,
        'KubeletHasNoDiskPressure',
        'kubelet has no disk pressure',
        now,
        readySince,
      ),
      condition(
        'PIDPressure',
        true,
        'KubeletHasSufficientPID',
        'kubelet has sufficient PID available',
        now,
        readySince,
      ),
      condition(
        'Ready',
        true,
        'KubeletReady',
        'lathe process node is posting ready status',
        now,
        readySince,
      ),
    ],
    addresses: [
      { type: 'InternalIP', address: config.nodeIP },
      { type: 'Hostname', address: config.nodeName },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      machineID: info.machineID,
      systemUUID: info.machineID,
      bootID: info.bootID,
      kernelVersion: info.kernelVersion,
      osImage: info.osImage,
      containerRuntimeVersion: 'lathe://0.1.0',
      kubeletVersion: info.kubeletVersion,
      kubeProxyVersion: info.kubeletVersion,
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
}

/** The Node object to create on first registration. */
export function desiredNode(config: NodeConfig, info: NodeInfo, now: string) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: config.nodeName, labels: nodeLabelsOf(config) },
    spec: {},
    status: nodeStatusOf(config, info, now, now),
  };
}
