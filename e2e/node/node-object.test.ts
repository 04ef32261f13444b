import { describe, expect, it } from 'vitest';
import { defaultCapacity, type NodeConfig } from './config.js';
import { desiredNode, nodeLabelsOf } from './node-object.js';

const config: NodeConfig = {
  kubeconfigPath: '/k',
  nodeName: 'lathe-node',
  nodeDir: '/n',
  capacity: defaultCapacity,
  extraLabels: { team: 'ml' },
  nodeIP: '10.250.3.2',
  podCidr: '10.244.3.0/24',
  podNetnsPrefix: 'lathe3-pod-',
  bridge: 'cbr0',
  clusterDns: '10.96.12.10',
  clusterDomain: 'cluster.local',
  apiServerHost: '10.96.12.1',
  apiServerPort: 443,
  logLevel: 'info',
  imagesFile: undefined,
};
const info = {
  kubeletVersion: 'v1.33.13',
  kernelVersion: '6.1',
  osImage: 'Debian',
  machineID: 'm',
  bootID: 'b',
};

describe('nodeLabelsOf', () => {
  it.each([
    [defaultCapacity, 'true'],
    [{ ...defaultCapacity, 'nvidia.com/gpu': '0' }, undefined],
    [{ cpu: '2' }, undefined],
  ])('marks GPU presence for capacity %o', (capacity, present) => {
    const labels = nodeLabelsOf({ ...config, capacity });
    expect(labels['nvidia.com/gpu.present']).toBe(present);
    expect(labels).toMatchObject({
      'kubernetes.io/hostname': 'lathe-node',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      team: 'ml',
    });
  });
});

describe('desiredNode', () => {
  it('is Ready with no pressure, advertises the capacity and the API server version', () => {
    const node = desiredNode(config, info, '2025-01-01T00:00:00Z');
    expect(Object.fromEntries(node.status.conditions.map((c) => [c.type, c.status]))).toEqual({
      MemoryPressure: 'False',
      DiskPressure: 'False',
      PIDPressure: 'False',
      Ready: 'True',
    });
    expect(node.status.allocatable).toEqual(defaultCapacity);
    expect(node.status.nodeInfo.kubeletVersion).toBe('v1.33.13');
    expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: '10.250.3.2' });
  });
});
