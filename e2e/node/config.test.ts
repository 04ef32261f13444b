import { describe, expect, it } from 'vitest';
import { defaultCapacity, parseNodeConfig } from './config.js';

const minimal = {
  LATHE_NODE_KUBECONFIG: '/tmp/kubeconfig',
  LATHE_NODE_DIR: '/tmp/node',
  LATHE_NODE_IP: '10.250.3.2',
  LATHE_NODE_POD_CIDR: '10.244.3.0/24',
  LATHE_NODE_POD_NETNS_PREFIX: 'lathe3-pod-',
  LATHE_CLUSTER_DNS: '10.96.12.10',
  LATHE_API_SERVER_HOST: '10.96.12.1',
  LATHE_API_SERVER_PORT: '443',
};

describe('parseNodeConfig', () => {
  it('applies the defaults', () => {
    const result = parseNodeConfig(minimal);
    expect(result).toEqual({
      ok: true,
      config: {
        kubeconfigPath: '/tmp/kubeconfig',
        nodeName: 'lathe-node',
        nodeDir: '/tmp/node',
        capacity: defaultCapacity,
        extraLabels: {},
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
      },
    });
  });

  it('reads capacity and labels as JSON', () => {
    const result = parseNodeConfig({
      ...minimal,
      LATHE_NODE_CAPACITY: '{"cpu":"2","nvidia.com/gpu":"0"}',
      LATHE_NODE_LABELS: '{"team":"ml"}',
    });
    expect(result.ok && result.config.capacity).toEqual({ cpu: '2', 'nvidia.com/gpu': '0' });
    expect(result.ok && result.config.extraLabels).toEqual({ team: 'ml' });
  });

  it.each([
    [{ LATHE_NODE_KUBECONFIG: undefined }, 'LATHE_NODE_KUBECONFIG'],
    [{ LATHE_NODE_DIR: undefined }, 'LATHE_NODE_DIR'],
    [{ LATHE_API_SERVER_PORT: 'http' }, 'LATHE_API_SERVER_PORT'],
    [{ LATHE_API_SERVER_PORT: '70000' }, 'LATHE_API_SERVER_PORT'],
    [{ LATHE_NODE_CAPACITY: '{cpu:8}' }, 'LATHE_NODE_CAPACITY: not valid JSON'],
    [{ LATHE_NODE_CAPACITY: '{"cpu":"lots"}' }, 'LATHE_NODE_CAPACITY: not a resource quantity'],
    [{ LATHE_NODE_LABELS: '{"a":1}' }, 'LATHE_NODE_LABELS'],
    [{ LATHE_NODE_POD_CIDR: '10.244.0.0' }, 'LATHE_NODE_POD_CIDR'],
    [{ LATHE_NODE_POD_CIDR: '10.244.0.0/8' }, 'LATHE_NODE_POD_CIDR'],
    [{ LATHE_NODE_POD_CIDR: '10.300.0.0/24' }, 'LATHE_NODE_POD_CIDR'],
    [{ LATHE_NODE_IP: 'node' }, 'LATHE_NODE_IP: must be an IPv4 address'],
    [{ LATHE_NODE_IP: undefined }, 'LATHE_NODE_IP'],
    [{ LATHE_CLUSTER_DNS: '10.96.0.300' }, 'LATHE_CLUSTER_DNS'],
    [{ LATHE_NODE_POD_NETNS_PREFIX: 'Pods/' }, 'LATHE_NODE_POD_NETNS_PREFIX'],
    [{ LATHE_NODE_NAME: 'Bad_Name' }, 'LATHE_NODE_NAME'],
  ])('rejects %o naming the variable', (override, expected) => {
    const result = parseNodeConfig({ ...minimal, ...override });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(expected);
  });
});
