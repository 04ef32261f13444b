import { describe, expect, it } from 'vitest';
import type { DeploymentObject } from '../../runtime/builtin-kinds.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import { canaryReplicas, planRollout, type ServedDeployment } from './rollout.js';

const mv = (version: number) =>
  ({ metadata: { name: `iris-v${version}` }, spec: { version } }) as unknown as ModelVersionObject;
const deployment = (
  version: number,
  role: 'primary' | 'canary',
  replicas: number,
  available: number,
  failure?: ServedDeployment['failure'],
): ServedDeployment => ({
  deployment: { metadata: { name: `iris-v${version}` } } as DeploymentObject,
  version,
  role,
  replicas,
  availableReplicas: available,
  readyReplicas: available,
  ...(failure ? { failure } : {}),
});
const plan = (
  existing: ServedDeployment[],
  replicas = 2,
  canary?: { version: number; percent: number },
) =>
  planRollout({
    primary: { modelVersion: mv(2), version: 2 },
    canary: canary
      ? {
          modelVersion: mv(canary.version),
          version: canary.version,
          percent: canary.percent,
          replicas: 1,
        }
      : undefined,
    primaryReplicas: replicas,
    bounds: { min: 1, max: 4 },
    existing,
    unresolvedMessage: '',
  });

describe('planRollout', () => {
  it('starts the new version beside the old one, which keeps serving until then', () => {
    const p = plan([deployment(1, 'primary', 2, 2), deployment(2, 'primary', 2, 1)]);
    expect(p.apply.map((a) => [a.version, a.role, a.replicas])).toEqual([[2, 'primary', 2]]);
    expect(p.delete).toEqual([]);
    expect(p.rollout.state).toBe('RollingOut');
    expect(p.rollout.message).toContain('v1 keeps serving');
  });

  it('removes the old version once the new one has every replica available', () => {
    const p = plan([deployment(1, 'primary', 2, 2), deployment(2, 'primary', 2, 2)]);
    expect(p.delete.map((d) => d.version)).toEqual([1]);
    expect(p.rollout.state).toBe('Stable');
  });

  it('keeps the old version when the new one crashes, and says why', () => {
    const p = plan([
      deployment(1, 'primary', 2, 2),
      deployment(2, 'primary', 2, 0, { reason: 'ServerCrashing', message: 'ArtifactInvalid' }),
    ]);
    expect(p.delete).toEqual([]);
    expect(p.rollout).toMatchObject({ state: 'Failed', reason: 'ServerCrashing' });
    expect(p.rollout.message).toContain('v1 keeps serving');
  });

  it('promotes a canary in place and removes canaries no longer wanted', () => {
    const p = plan([
      deployment(1, 'primary', 2, 2),
      deployment(2, 'canary', 1, 1),
      deployment(3, 'canary', 1, 1),
    ]);
    expect(p.apply).toMatchObject([{ version: 2, role: 'primary' }]);
    expect(p.delete.map((d) => d.version)).toEqual([3]);
  });

  it('runs a canary beside the primary at about its share', () => {
    const p = plan([deployment(2, 'primary', 1, 1)], 1, { version: 3, percent: 25 });
    expect(p.apply.map((a) => [a.version, a.role, a.replicas])).toEqual([
      [2, 'primary', 3],
      [3, 'canary', 1],
    ]);
  });
});

describe('canaryReplicas', () => {
  it.each([
    [
      { primary: 1, canaryMinimum: 1, percent: 25, min: 1, max: 4 },
      { primary: 3, canary: 1 },
    ],
    [
      { primary: 1, canaryMinimum: 1, percent: 10, min: 1, max: 4 },
      { primary: 4, canary: 1 },
    ],
    [
      { primary: 6, canaryMinimum: 1, percent: 25, min: 1, max: 10 },
      { primary: 6, canary: 2 },
    ],
    [
      { primary: 2, canaryMinimum: 1, percent: 0, min: 1, max: 4 },
      { primary: 2, canary: 0 },
    ],
    [
      { primary: 2, canaryMinimum: 1, percent: 50, min: 1, max: 4 },
      { primary: 2, canary: 2 },
    ],
  ])('%j → %j', (input, expected) => {
    expect(canaryReplicas(input)).toEqual(expected);
  });
});
