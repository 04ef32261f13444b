import { describe, expect, it } from 'vitest';
import { nodeSideBatch, podNetnsName, podSideBatch, podVethName } from './pod-network.js';

const config = {
  netnsPrefix: 'lathe3-pod-',
  bridge: 'cbr0',
  gateway: '10.244.3.1',
  prefixLength: 24,
};
const uid = '0b5c9d0e-8a7f-4c1e-9d43-3f2f0c1a7e55';

describe('pod network commands', () => {
  it('names the namespace after the pod UID', () => {
    expect(podNetnsName(config, uid)).toBe(`lathe3-pod-${uid}`);
  });

  it('names the node end of the veth within 15 characters, differently per pod', () => {
    expect(podVethName(uid)).toMatch(/^veth[0-9a-f]{11}$/);
    expect(podVethName(uid)).not.toBe(podVethName('another-uid'));
  });

  it('puts the veth on the bridge with hairpin on, its other end in the pod as eth0', () => {
    const veth = podVethName(uid);
    expect(nodeSideBatch(config, uid).trim().split('\n')).toEqual([
      `link add ${veth} type veth peer name eth0 netns lathe3-pod-${uid}`,
      `link set ${veth} master cbr0`,
      `link set ${veth} type bridge_slave hairpin on`,
      `link set ${veth} up`,
    ]);
  });

  it('gives the pod lo, its address and a default route via the bridge', () => {
    expect(podSideBatch(config, '10.244.3.7').trim().split('\n')).toEqual([
      'link set lo up',
      'addr add 10.244.3.7/24 dev eth0',
      'link set eth0 up',
      'route add default via 10.244.3.1',
    ]);
  });
});
