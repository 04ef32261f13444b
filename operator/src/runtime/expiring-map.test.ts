import { describe, expect, it } from 'vitest';
import { ExpiringMap } from './expiring-map.js';

describe('ExpiringMap', () => {
  it('keeps at most maxEntries, dropping the least recently set', () => {
    const map = new ExpiringMap<string, number>({ maxEntries: 2 });
    map.set('a', 1, 0);
    map.set('b', 2, 1);
    map.set('a', 3, 2); // a is now the newest
    map.set('c', 4, 3);
    expect(map.size).toBe(2);
    expect(map.get('b', 3)).toBeUndefined();
    expect(map.get('a', 3)).toBe(3);
    expect(map.get('c', 3)).toBe(4);
  });

  it('forgets an entry maxAgeMs after its last set; a get does not extend it', () => {
    const map = new ExpiringMap<string, string>({ maxEntries: 10, maxAgeMs: 100 });
    map.set('a', 'x', 0);
    expect(map.get('a', 100)).toBe('x');
    expect(map.get('a', 101)).toBeUndefined();
    expect(map.size).toBe(0);

    map.set('b', 'y', 200);
    map.set('b', 'y', 290);
    expect(map.get('b', 380)).toBe('y');
  });

  it('drops expired entries when another is set', () => {
    const map = new ExpiringMap<string, number>({ maxEntries: 10, maxAgeMs: 100 });
    map.set('a', 1, 0);
    map.set('b', 2, 50);
    map.set('c', 3, 120);
    expect(map.size).toBe(2);
    expect(map.get('b', 120)).toBe(2);
  });

  it('deletes, and refuses a size below one', () => {
    const map = new ExpiringMap<string, number>({ maxEntries: 1 });
    map.set('a', 1);
    expect(map.delete('a')).toBe(true);
    expect(map.get('a')).toBeUndefined();
    expect(() => new ExpiringMap({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
