import { describe, expect, it } from 'vitest';
import type { RetrainPolicyObject } from '../lathe-kinds.js';
import { driftServiceOf, newestDrift } from './drift.js';

function policy(
  name: string,
  lastDrift?: { time: string; value: number; feature?: string; samples?: number },
  metric: 'psi' | 'ks' | 'none' = 'psi',
): RetrainPolicyObject {
  return {
    metadata: { name, namespace: 'ns' },
    spec: {
      triggers:
        metric !== 'none'
          ? { drift: { inferenceServiceRef: { name: 'iris' }, metric, threshold: 0.2 } }
          : {},
    },
    ...(lastDrift ? { status: { lastDrift } } : {}),
  } as unknown as RetrainPolicyObject;
}

describe('newestDrift', () => {
  it.each([
    { name: 'no policies', policies: [], want: undefined },
    { name: 'a policy that measured nothing yet', policies: [policy('a')], want: undefined },
    {
      name: 'one measurement, copied with its metric and policy',
      policies: [
        policy('a', { time: '2026-01-01T00:00:00Z', value: 0.3, feature: 'x', samples: 9 }),
      ],
      want: {
        time: '2026-01-01T00:00:00Z',
        metric: 'psi',
        value: 0.3,
        feature: 'x',
        samples: 9,
        retrainPolicy: 'a',
      },
    },
    {
      name: 'the newest of two policies wins, whatever the order',
      policies: [
        policy('new', { time: '2026-01-02T00:00:00Z', value: 0.1 }, 'ks'),
        policy('old', { time: '2026-01-01T00:00:00Z', value: 0.9 }),
      ],
      want: { retrainPolicy: 'new', metric: 'ks', value: 0.1, samples: 0 },
    },
  ])('$name', ({ policies, want }) => {
    const drift = newestDrift(policies);
    if (want === undefined) expect(drift).toBeUndefined();
    else expect(drift).toMatchObject(want);
  });
});

describe('driftServiceOf', () => {
  it('maps a policy to the service its drift trigger watches, and one without to nothing', () => {
    expect(driftServiceOf(policy('a'))).toEqual([{ namespace: 'ns', name: 'iris' }]);
    expect(driftServiceOf(policy('b', undefined, 'none'))).toEqual([]);
  });
});
