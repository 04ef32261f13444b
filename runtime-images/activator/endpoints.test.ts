import { describe, expect, it } from 'vitest';
import { readyEndpoints, type ServingPod } from './endpoints.js';
import { goDurationMs, settingsOf } from './kube.js';

const pod = (
  name: string,
  overrides: Partial<{ ready: string; ip: string; deleting: boolean; port: string }> = {},
): ServingPod => ({
  metadata: { name, ...(overrides.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  status: {
    ...(overrides.ip === '' ? {} : { podIP: overrides.ip ?? '10.0.0.1' }),
    conditions: [{ type: 'Ready', status: overrides.ready ?? 'True' }],
  },
  spec: { containers: [{ ports: [{ name: overrides.port ?? 'http', containerPort: 8080 }] }] },
});

describe('readyEndpoints', () => {
  it.each([
    ['a ready pod', [pod('a')], ['a']],
    ['a pod not ready', [pod('a', { ready: 'False' })], []],
    ['a pod being deleted', [pod('a', { deleting: true })], []],
    ['a pod without an address', [pod('a', { ip: '' })], []],
    ['a pod without an http port', [pod('a', { port: 'metrics' })], []],
    ['a mix', [pod('a'), pod('b', { ready: 'False' }), pod('c', { ip: '10.0.0.3' })], ['a', 'c']],
  ])('%s', (_case, pods, expected) => {
    expect(readyEndpoints(pods).map((e) => e.pod)).toEqual(expected);
  });

  it('gives the address and the http port', () => {
    expect(readyEndpoints([pod('a', { ip: '10.1.2.3' })])).toEqual([
      { pod: 'a', host: '10.1.2.3', port: 8080 },
    ]);
  });
});

describe('settingsOf', () => {
  it.each([
    [undefined, {}],
    [{}, {}],
    [{ activationQueue: 10 }, { queueSize: 10 }],
    [
      { activationQueue: 0, activationTimeout: '1m30s' },
      { queueSize: 0, timeoutMs: 90_000 },
    ],
    [{ activationTimeout: 'soon' }, {}],
  ])('%o', (replicas, expected) => {
    expect(settingsOf(replicas)).toEqual(expected);
  });

  it('reads Go durations', () => {
    expect([goDurationMs('250ms'), goDurationMs('2h'), goDurationMs('x')]).toEqual([
      250,
      7_200_000,
      undefined,
    ]);
  });
});
