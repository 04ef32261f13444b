import { describe, expect, it } from 'vitest';
import {
  addressIn,
  cidrsOverlap,
  conflictingRoutes,
  networkPlanOf,
  ownsNetns,
  parseCidr,
  slotCount,
  slotOrder,
} from './network-plan.js';

describe('networkPlanOf', () => {
  it('derives every name and range from the slot', () => {
    expect(networkPlanOf(3)).toEqual({
      slot: 3,
      nodeNetns: 'lathe3-node',
      podNetnsPrefix: 'lathe3-pod-',
      hostLink: 'lathe3',
      bridge: 'cbr0',
      hostAddress: '10.250.3.1',
      nodeAddress: '10.250.3.2',
      linkCidr: '10.250.3.0/30',
      podCidr: '10.244.3.0/24',
      podGateway: '10.244.3.1',
      serviceCidr: '10.96.12.0/22',
      kubernetesServiceIP: '10.96.12.1',
      clusterDnsIP: '10.96.12.10',
    });
  });

  it('gives no two slots an overlapping range or a shared name', () => {
    const plans = Array.from({ length: slotCount }, (_, s) => networkPlanOf(s));
    for (const [i, a] of plans.entries()) {
      for (const b of plans.slice(i + 1)) {
        for (const key of ['linkCidr', 'podCidr', 'serviceCidr'] as const) {
          expect(cidrsOverlap(a[key], b[key])).toBe(false);
        }
        expect(a.hostLink).not.toBe(b.hostLink);
        expect(ownsNetns(a, b.nodeNetns) || ownsNetns(b, a.nodeNetns)).toBe(false);
      }
    }
  });

  it('keeps the host link name within the 15 characters of a Linux interface name', () => {
    expect(networkPlanOf(slotCount - 1).hostLink.length).toBeLessThanOrEqual(15);
  });

  it.each([-1, slotCount, 1.5])('rejects slot %s', (slot) => {
    expect(() => networkPlanOf(slot)).toThrow('network slot must be an integer');
  });
});

describe('ownsNetns', () => {
  it('claims its node and pod namespaces, not those of slot 30 when it is slot 3', () => {
    const plan = networkPlanOf(3);
    expect(ownsNetns(plan, 'lathe3-node')).toBe(true);
    expect(ownsNetns(plan, 'lathe3-pod-0b5c')).toBe(true);
    expect(ownsNetns(plan, 'lathe30-node')).toBe(false);
    expect(ownsNetns(plan, 'lathe30-pod-0b5c')).toBe(false);
  });
});

describe('slotOrder', () => {
  it('starts at the same slot for the same state directory and tries every slot once', () => {
    const order = slotOrder('/work/a/.lathe');
    expect(slotOrder('/work/a/.lathe')).toEqual(order);
    expect(new Set(order).size).toBe(slotCount);
  });

  it('spreads state directories over the slots', () => {
    const firsts = new Set(Array.from({ length: 20 }, (_, i) => slotOrder(`/w/${i}/.lathe`)[0]));
    expect(firsts.size).toBeGreaterThan(10);
  });
});

describe('CIDR arithmetic', () => {
  it.each([
    ['10.244.3.0/24', 0, '10.244.3.0'],
    ['10.244.3.7/24', 1, '10.244.3.1'],
    ['10.96.12.0/22', 1023, '10.96.15.255'],
  ])('%s index %i is %s', (cidr, index, ip) => {
    expect(addressIn(cidr, index)).toBe(ip);
  });

  it('refuses an index outside the range', () => {
    expect(() => addressIn('10.0.0.0/30', 4)).toThrow('outside 10.0.0.0/30');
  });

  it.each([
    ['10.96.0.0/16', '10.96.12.0/22', true],
    ['10.0.0.0/8', '10.244.3.0/24', true],
    ['10.244.3.0/24', '10.244.4.0/24', false],
    ['10.250.3.1', '10.250.3.0/30', true],
    ['192.168.0.0/16', '10.96.0.0/12', false],
  ])('%s overlaps %s: %s', (a, b, overlap) => {
    expect(cidrsOverlap(a, b)).toBe(overlap);
    expect(cidrsOverlap(b, a)).toBe(overlap);
  });

  it.each(['10.0.0.0/33', '10.0.0/8', '300.0.0.0/8', 'pods'])('rejects %s', (cidr) => {
    expect(() => parseCidr(cidr)).toThrow(/not an IPv4/);
  });
});

describe('conflictingRoutes', () => {
  it('names the host routes that overlap a range of the slot, ignoring the default route', () => {
    const routes = [
      { dst: 'default' },
      { dst: '192.0.2.0/24' },
      { dst: '10.0.0.0/8' },
      { dst: '10.96.13.7' },
      { dst: 'fe80::/64' },
      {},
    ];
    expect(conflictingRoutes(networkPlanOf(3), routes)).toEqual(['10.0.0.0/8', '10.96.13.7']);
    expect(
      conflictingRoutes(networkPlanOf(3), [{ dst: 'default' }, { dst: '10.244.4.0/24' }]),
    ).toEqual([]);
  });
});
