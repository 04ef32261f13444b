import { describe, expect, it } from 'vitest';
import type { DistributedBackendName } from '../../../api/trainingjob.js';
import type { KubeClient } from '../../../runtime/kube-client.js';
import { ApiError } from '../../../runtime/kube-client.js';
import { chooseBackend, EngineDiscovery, type InstalledEngines, unfitBackends } from './choose.js';

const all: ReadonlySet<DistributedBackendName> = new Set(['TrainJob', 'JobSet', 'IndexedJob']);
const builtinOnly: ReadonlySet<DistributedBackendName> = new Set(['IndexedJob']);
const none: InstalledEngines = { trainJob: false, trainingRuntime: false, jobSet: false };
const trainer: InstalledEngines = { trainJob: true, trainingRuntime: true, jobSet: true };
const trainerNoRuntime: InstalledEngines = { trainJob: true, trainingRuntime: false, jobSet: true };
const jobset: InstalledEngines = { ...none, jobSet: true };

describe('chooseBackend', () => {
  it.each([
    {
      name: 'Auto, nothing installed',
      pinned: 'Auto',
      installed: none,
      backend: 'IndexedJob',
      reason: 'NoEngineInstalled',
    },
    {
      name: 'Auto, Trainer with a runtime',
      pinned: 'Auto',
      installed: trainer,
      backend: 'TrainJob',
      reason: 'TrainJobInstalled',
    },
    {
      name: 'Auto, Trainer without a runtime',
      pinned: 'Auto',
      installed: trainerNoRuntime,
      backend: 'JobSet',
      reason: 'JobSetInstalled',
    },
    {
      name: 'Auto, JobSet only',
      pinned: 'Auto',
      installed: jobset,
      backend: 'JobSet',
      reason: 'JobSetInstalled',
    },
    {
      name: 'pinned IndexedJob beside Trainer',
      pinned: 'IndexedJob',
      installed: trainer,
      backend: 'IndexedJob',
      reason: 'Pinned',
    },
    {
      name: 'pinned JobSet, installed',
      pinned: 'JobSet',
      installed: jobset,
      backend: 'JobSet',
      reason: 'Pinned',
    },
    {
      name: 'pinned JobSet, missing',
      pinned: 'JobSet',
      installed: none,
      backend: undefined,
      reason: 'BackendNotInstalled',
    },
    {
      name: 'pinned TrainJob, no runtime',
      pinned: 'TrainJob',
      installed: trainerNoRuntime,
      backend: undefined,
      reason: 'BackendNotInstalled',
    },
  ] as const)('$name: $backend ($reason)', ({ pinned, installed, backend, reason }) => {
    const choice = chooseBackend(pinned, installed, all);
    expect(choice.backend).toBe(backend);
    expect(choice.reason).toBe(reason);
  });

  it('says why each better engine was passed over', () => {
    expect(chooseBackend('Auto', trainerNoRuntime, all).message).toContain(
      'no ClusterTrainingRuntime',
    );
    expect(chooseBackend('Auto', none, all).message).toBe(
      'Auto: an Indexed Job with a headless Service (Kubeflow Trainer is not installed (no trainer.kubeflow.org TrainJob); JobSet is not installed (no jobset.x-k8s.io JobSet))',
    );
    // Not installed is what a user without the engines reads, whatever this build runs.
    expect(chooseBackend('Auto', none, builtinOnly).message).toBe(
      chooseBackend('Auto', none, all).message,
    );
  });

  it('passes Trainer over for a run without a command, and says why', () => {
    const unfit = unfitBackends(undefined);
    const auto = chooseBackend('Auto', trainer, all, unfit);
    expect(auto.backend).toBe('JobSet');
    expect(auto.message).toContain('set spec.model.custom.command to run on TrainJob');
    expect(chooseBackend('TrainJob', trainer, all, unfit).message).toMatch(
      /; or set backend Auto$/,
    );
    expect(chooseBackend('Auto', trainer, all, unfitBackends(['torchrun'])).backend).toBe(
      'TrainJob',
    );
  });

  it('treats an engine this build has no backend for as missing', () => {
    expect(chooseBackend('Auto', trainer, builtinOnly).backend).toBe('IndexedJob');
    const pinned = chooseBackend('JobSet', jobset, builtinOnly);
    expect(pinned.backend).toBeUndefined();
    expect(pinned.message).toBe(
      'spec.distributed.backend is JobSet, but JobSet was installed after the operator started: restart the operator to use it; or set backend Auto',
    );
    expect(chooseBackend('Auto', trainer, builtinOnly).message).toBe(
      'Auto: an Indexed Job with a headless Service (Kubeflow Trainer was installed after the operator started: restart the operator to use it; JobSet was installed after the operator started: restart the operator to use it)',
    );
    expect(chooseBackend('JobSet', none, all).message).toBe(
      'spec.distributed.backend is JobSet, but JobSet is not installed (no jobset.x-k8s.io JobSet); install it or set backend Auto',
    );
  });
});

describe('EngineDiscovery', () => {
  function fakeClient(served: Record<string, string[]>, runtimes: Record<string, number>) {
    const calls = { discovery: 0, lists: [] as string[] };
    const client = {
      async servedResources(group: string, version: string) {
        calls.discovery += 1;
        return served[`${group}/${version}`];
      },
      async list(resource: { plural: string }, options: { namespace?: string }) {
        calls.lists.push(`${resource.plural}@${options.namespace ?? '*'}`);
        const count = runtimes[resource.plural];
        if (count === undefined) throw new ApiError(403, undefined, 'forbidden');
        return { metadata: {}, items: Array.from({ length: count }, () => ({})) };
      },
    } as unknown as KubeClient;
    return { client, calls };
  }

  it('finds Trainer, its runtimes and JobSet through the API server', async () => {
    const { client } = fakeClient(
      {
        'trainer.kubeflow.org/v1alpha1': ['trainjobs', 'clustertrainingruntimes'],
        'jobset.x-k8s.io/v1alpha2': ['jobsets', 'jobsets/status'],
      },
      { clustertrainingruntimes: 1 },
    );
    expect(await new EngineDiscovery(client).installed('team-a')).toEqual(trainer);
  });

  it('falls back to the namespace runtimes, and counts a forbidden list as none', async () => {
    const served = { 'trainer.kubeflow.org/v1alpha1': ['trainjobs'] };
    const withNamespaced = fakeClient(served, { clustertrainingruntimes: 0, trainingruntimes: 1 });
    expect((await new EngineDiscovery(withNamespaced.client).installed('a')).trainingRuntime).toBe(
      true,
    );
    expect(withNamespaced.calls.lists).toEqual(['clustertrainingruntimes@*', 'trainingruntimes@a']);
    const forbidden = fakeClient(served, {});
    expect(await new EngineDiscovery(forbidden.client).installed('a')).toEqual({
      trainJob: true,
      trainingRuntime: false,
      jobSet: false,
    });
  });

  it('keeps an answer for its TTL, then asks again', async () => {
    let now = 0;
    const { client, calls } = fakeClient({}, {});
    const discovery = new EngineDiscovery(client, { ttlMs: 1000, now: () => now });
    await discovery.installed('a');
    await discovery.installed('b');
    expect(calls.discovery).toBe(2);
    now = 1500;
    await discovery.installed('a');
    expect(calls.discovery).toBe(4);
  });
});
