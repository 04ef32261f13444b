import { describe, expect, it } from 'vitest';
import { parseProcStat } from './process-group.js';

describe('parseProcStat', () => {
  const tail = 'S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10';
  it.each([[`4243 (sh) ${tail}`], [`4243 (my (odd) name) ${tail}`]])(
    'reads the group and start time of %s',
    (stat) => {
      expect(parseProcStat(stat)).toEqual({ pgrp: 4242, startTicks: '987654' });
    },
  );
  it('rejects garbage', () => {
    expect(parseProcStat('nonsense')).toBeUndefined();
  });
});
