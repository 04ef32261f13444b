import { describe, expect, it } from 'vitest';
import { engineBackends, servedEngineBackends } from './engine-backends.js';

const serving = (byGroup: Record<string, string[] | undefined>) => ({
  servedResources: async (group: string, version: string) => byGroup[`${group}/${version}`],
});

describe('servedEngineBackends', () => {
  it('takes JobSet when the API server serves jobsets', async () => {
    const served = await servedEngineBackends(
      serving({ 'jobset.x-k8s.io/v1alpha2': ['jobsets', 'jobsets/status'] }),
    );
    expect(served.map((b) => b.name)).toEqual(['JobSet']);
  });

  it.each([
    { name: 'the group is not served', byGroup: {} },
    { name: 'the group serves other kinds', byGroup: { 'jobset.x-k8s.io/v1alpha2': ['other'] } },
  ])('leaves JobSet out when $name', async ({ byGroup }) => {
    expect(await servedEngineBackends(serving(byGroup))).toEqual([]);
  });

  it('takes TrainJob beside JobSet when Trainer serves trainjobs', async () => {
    const served = await servedEngineBackends(
      serving({
        'trainer.kubeflow.org/v1alpha1': ['trainjobs', 'clustertrainingruntimes'],
        'jobset.x-k8s.io/v1alpha2': ['jobsets'],
      }),
    );
    expect(served.map((b) => b.name)).toEqual(['TrainJob', 'JobSet']);
  });

  it('has a backend for every engine but the built-in one', () => {
    expect(engineBackends.map((b) => b.name)).toEqual(['TrainJob', 'JobSet']);
  });
});
