import { describe, expect, it } from 'vitest';
import { clusterIdentities, leafExtensions } from './pki.js';

describe('cluster identities', () => {
  const identities = clusterIdentities('worker-1', {
    hostAddress: '10.250.3.1',
    kubernetesServiceIP: '10.96.12.1',
    nodeAddress: '10.250.3.2',
  });

  it.each([
    ['admin', 'lathe-admin', 'system:masters'],
    ['controller-manager', 'system:kube-controller-manager', undefined],
    ['scheduler', 'system:kube-scheduler', undefined],
    ['node', 'system:node:worker-1', 'system:nodes'],
    ['kube-proxy', 'system:kube-proxy', undefined],
    ['coredns', 'system:coredns', undefined],
    ['apiserver-kubelet-client', 'kube-apiserver-kubelet-client', 'system:masters'],
  ])('%s authenticates as %s in group %s', (name, commonName, organization) => {
    const identity = identities.find((i) => i.name === name);
    expect(identity).toMatchObject({ commonName, usage: 'client' });
    expect(identity?.organization).toBe(organization);
  });

  it('serves the API on every name a client may use', () => {
    const server = identities.find((i) => i.name === 'apiserver');
    expect(server?.altNames).toEqual(
      expect.arrayContaining([
        'IP:127.0.0.1',
        'IP:10.250.3.1',
        'IP:10.96.12.1',
        'DNS:kubernetes.default.svc',
        'DNS:localhost',
      ]),
    );
  });
});

it('serves the kubelet API on the node address and name', () => {
  const kubelet = clusterIdentities('worker-1', {
    hostAddress: '10.250.3.1',
    kubernetesServiceIP: '10.96.12.1',
    nodeAddress: '10.250.3.2',
  }).find((i) => i.name === 'kubelet');
  expect(kubelet).toMatchObject({ usage: 'server', altNames: ['IP:10.250.3.2', 'DNS:worker-1'] });
});

describe('leaf certificate extensions', () => {
  it('marks a server certificate for serverAuth with its alternative names', () => {
    const ext = leafExtensions({
      name: 's',
      commonName: 's',
      usage: 'server',
      altNames: ['IP:127.0.0.1'],
    });
    expect(ext).toContain('extendedKeyUsage=serverAuth');
    expect(ext).toContain('subjectAltName=IP:127.0.0.1');
    expect(ext).toContain('CA:FALSE');
  });

  it('marks a client certificate for clientAuth without alternative names', () => {
    const ext = leafExtensions({ name: 'c', commonName: 'c', usage: 'client' });
    expect(ext).toContain('extendedKeyUsage=clientAuth');
    expect(ext).not.toContain('subjectAltName');
  });
});
