import { describe, expect, it } from 'vitest';
import {
  backoffMessage,
  backoffResetAfterMs,
  maxBackoffMs,
  type RestartPolicy,
  restartDelayMs,
  shouldRestart,
} from './restart.js';

describe('shouldRestart', () => {
  it.each<[RestartPolicy, number, boolean]>([
    ['Always', 0, true],
    ['Always', 1, true],
    ['OnFailure', 0, false],
    ['OnFailure', 137, true],
    ['Never', 0, false],
    ['Never', 1, false],
  ])('%s with exit code %i → %s', (policy, code, expected) => {
    expect(shouldRestart(policy, code)).toBe(expected);
  });
});

describe('restartDelayMs', () => {
  it.each([
    [0, 1_000],
    [1, 2_000],
    [2, 4_000],
    [8, 256_000],
    [9, maxBackoffMs],
    [1000, maxBackoffMs],
  ])('after %i restarts waits %i ms', (count, expected) => {
    expect(restartDelayMs(count, 1_000)).toBe(expected);
  });

  it('starts over after a long run', () => {
    expect(restartDelayMs(7, backoffResetAfterMs)).toBe(1_000);
  });
});

describe('backoffMessage', () => {
  it.each([
    [4_000, 'back-off 4s restarting failed container=main pod=web_ml(u1)'],
    [300_000, 'back-off 5m0s restarting failed container=main pod=web_ml(u1)'],
  ])('%i ms', (delay, expected) => {
    expect(backoffMessage(delay, 'main', { name: 'web', namespace: 'ml', uid: 'u1' })).toBe(
      expected,
    );
  });
});
