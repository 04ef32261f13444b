import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PodIpAllocator } from './pod-ip.js';

describe('PodIpAllocator', () => {
  it('starts at .0.2 of the prefix and counts up', () => {
    const ips = new PodIpAllocator('127.244');
    expect(['a', 'b', 'c'].map((o) => ips.allocate(o))).toEqual([
      '127.244.0.2',
      '127.244.0.3',
      '127.244.0.4',
    ]);
  });

  it('returns the same address to the same owner', () => {
    const ips = new PodIpAllocator('127.244');
    expect(ips.allocate('a')).toBe(ips.allocate('a'));
    expect(ips.inUse).toBe(1);
  });

  it('does not reuse a released address at once', () => {
    const ips = new PodIpAllocator('127.244');
    const first = ips.allocate('a');
    ips.release('a');
    expect(ips.allocate('b')).not.toBe(first);
  });

  it('honours a free preferred address and ignores a taken or foreign one', () => {
    const ips = new PodIpAllocator('127.244');
    expect(ips.allocate('a', '127.244.7.9')).toBe('127.244.7.9');
    expect(ips.allocate('b', '127.244.7.9')).toBe('127.244.0.2');
    expect(ips.allocate('c', '10.0.0.5')).toBe('127.244.0.3');
  });

  it('skips .0, .1 and .255 and wraps around a /24', () => {
    const ips = new PodIpAllocator('127.9.9');
    const all = Array.from({ length: 253 }, (_, i) => ips.allocate(`p${i}`));
    expect(all[0]).toBe('127.9.9.2');
    expect(all.at(-1)).toBe('127.9.9.254');
    expect(() => ips.allocate('one-too-many')).toThrow('No free pod IP left under 127.9.9.0/24');
    ips.release('p10');
    expect(ips.allocate('again')).toBe('127.9.9.12');
  });

  it('never hands one address to two live owners', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 300 }),
        (ops) => {
          const ips = new PodIpAllocator('127.5.5');
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
