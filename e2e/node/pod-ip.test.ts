import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PodIpAllocator } from './pod-ip.js';

describe('PodIpAllocator', () => {
  it('starts after the gateway (.1) and counts up', () => {
    const ips = new PodIpAllocator('10.244.3.0/24');
    expect(['a', 'b', 'c'].map((o) => ips.allocate(o))).toEqual([
      '10.244.3.2',
      '10.244.3.3',
      '10.244.3.4',
    ]);
  });

  it('returns the same address to the same owner', () => {
    const ips = new PodIpAllocator('10.244.0.0/16');
    expect(ips.allocate('a')).toBe(ips.allocate('a'));
    expect(ips.inUse).toBe(1);
  });

  it('does not reuse a released address at once', () => {
    const ips = new PodIpAllocator('10.244.0.0/16');
    const first = ips.allocate('a');
    ips.release('a');
    expect(ips.allocate('b')).not.toBe(first);
  });

  it('honours a free preferred address and ignores a taken or foreign one', () => {
    const ips = new PodIpAllocator('10.244.0.0/16');
    expect(ips.allocate('a', '10.244.7.9')).toBe('10.244.7.9');
    expect(ips.allocate('b', '10.244.7.9')).toBe('10.244.0.2');
    expect(ips.allocate('c', '10.0.0.5')).toBe('10.244.0.3');
  });

  it('skips network, gateway and broadcast and wraps around a /24', () => {
    const ips = new PodIpAllocator('10.9.9.0/24');
    const all = Array.from({ length: 253 }, (_, i) => ips.allocate(`p${i}`));
    expect(all[0]).toBe('10.9.9.2');
    expect(all.at(-1)).toBe('10.9.9.254');
    expect(() => ips.allocate('one-too-many')).toThrow('No free pod IP left under 10.9.9.0/24');
    ips.release('p10');
    expect(ips.allocate('again')).toBe('10.9.9.12');
  });

  it('skips .0 and .255 inside a larger range, and its last address', () => {
    const ips = new PodIpAllocator('10.8.0.0/23');
    const all = Array.from({ length: 507 }, (_, i) => ips.allocate(`p${i}`));
    expect(all).not.toContain('10.8.0.255');
    expect(all).not.toContain('10.8.1.0');
    expect(all.at(-1)).toBe('10.8.1.254');
    expect(() => ips.allocate('one-too-many')).toThrow('No free pod IP left');
  });

  it('normalises a CIDR written with host bits', () => {
    expect(new PodIpAllocator('10.7.7.77/24').allocate('a')).toBe('10.7.7.2');
  });

  it.each(['10.244.0.0', '10.244.0.0/8', '10.244.0.0/30', '10.300.0.0/24', 'pods'])(
    'rejects %s',
    (cidr) => {
      expect(() => new PodIpAllocator(cidr)).toThrow('is not an IPv4 CIDR');
    },
  );

  it('never hands one address to two live owners', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 300 }),
        (ops) => {
          const ips = new PodIpAllocator('10.5.5.0/24');
          const live = new Map<string, string>();
          for (const [allocate, id] of ops) {
            const owner = `pod-${id}`;
            if (allocate) live.set(owner, ips.allocate(owner));
            else {
              ips.release(owner);
              live.delete(owner);
            }
            expect(new Set(live.values()).size).toBe(live.size);
          }
        },
      ),
    );
  });
});
