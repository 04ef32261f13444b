import { describe, expect, it } from 'vitest';
import type { ModelVersion } from '../../api/modelversion.js';
import { productionWinner, versionsToArchive } from './registry.js';

function mv(
  version: number,
  stage: ModelVersion['spec']['stage'],
  recorded?: { stage: ModelVersion['spec']['stage']; at: string },
): ModelVersion {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: `iris-v${version}`, namespace: 'ns' },
    spec: {
      modelName: 'iris',
      version,
      artifact: { uri: 's3://lathe/m/', format: 'tfjs', digest: `sha256:${'a'.repeat(64)}` },
      stage,
      deletionPolicy: 'Retain',
    },
    ...(recorded ? { status: { stage: recorded.stage, stageTransitionTime: recorded.at } } : {}),
  } as ModelVersion;
}

describe('productionWinner', () => {
  it.each([
    ['no production version', [mv(1, 'staging'), mv(2, 'none')], undefined],
    [
      'the one being promoted now beats the recorded one',
      [
        mv(1, 'production', { stage: 'production', at: '2026-01-01T00:00:00Z' }),
        mv(2, 'production', { stage: 'staging', at: '2026-01-02T00:00:00Z' }),
      ],
      'iris-v2',
    ],
    [
      'an older version promoted back beats a newer one promoted earlier',
      [
        mv(3, 'production', { stage: 'production', at: '2026-01-01T00:00:00Z' }),
        mv(1, 'production'),
      ],
      'iris-v1',
    ],
    [
      'the later recorded promotion wins',
      [
        mv(1, 'production', { stage: 'production', at: '2026-01-03T00:00:00Z' }),
        mv(2, 'production', { stage: 'production', at: '2026-01-02T00:00:00Z' }),
      ],
      'iris-v1',
    ],
    [
      'two promoted at once: the higher version wins',
      [mv(4, 'production'), mv(5, 'production')],
      'iris-v5',
    ],
  ])('%s', (_, versions, expected) => {
    expect(productionWinner(versions)?.metadata?.name).toBe(expected);
  });

  it('archives every other production version of the model', () => {
    const versions = [mv(1, 'production'), mv(2, 'production'), mv(3, 'staging')];
    const winner = productionWinner(versions)!;
    expect(versionsToArchive(versions, winner).map((v) => v.metadata?.name)).toEqual(['iris-v1']);
  });
});
