import { describe, expect, it } from 'vitest';
import { modelLineages, runTrigger } from './lineage.js';
import { loop } from './testdata/loop.js';
import { latheObject } from './testdata/objects.js';

describe('modelLineages', () => {
  const [iris, ...others] = modelLineages(loop);

  it('gathers one model, runs in progress first, then versions newest first', () => {
    expect(others).toEqual([]);
    expect(iris?.model).toBe('iris');
    expect(iris?.versions.map((v) => [v.trainingJob?.name, v.modelVersion?.metadata.name])).toEqual(
      [
        ['iris-retrain-manual-x', undefined],
        ['iris-retrain-drift-1', 'iris-v2'],
        ['iris-1', 'iris-v1'],
      ],
    );
    expect(iris?.policies.map((p) => p.metadata.name)).toEqual(['iris-retrain']);
  });

  it('links the dataset version, the trigger and the serving share', () => {
    const v2 = iris!.versions[1]!;
    expect(v2.dataset).toEqual({ name: 'iris', version: 'abcdef012345' });
    expect(v2.trigger).toEqual({
      policy: 'iris-retrain',
      trigger: 'drift',
      input: 'drift psi 0.31 (feature petal_width) on 200 rows measured at 2026-12-07T11:00:00Z',
      threshold: 'drift psi > 0.2',
    });
    expect(
      v2.servedBy.map((s) => [s.service.metadata.name, s.role, s.trafficPercent, s.readyReplicas]),
    ).toEqual([['iris', 'primary', 75, 3]]);
    expect(iris!.versions[2]!.servedBy.map((s) => [s.role, s.trafficPercent])).toEqual([
      ['canary', 25],
    ]);
    expect(iris!.versions[2]!.trigger).toBeUndefined();
  });

  it('says so when the run of a version is gone', () => {
    const [lineage] = modelLineages({ ...loop, trainingJobs: [] });
    const v1 = lineage!.versions.find((v) => v.modelVersion?.metadata.name === 'iris-v1');
    expect(v1?.trainingJob).toEqual({ name: 'iris-1', object: undefined });
  });
});

describe('runTrigger', () => {
  it('leaves out a reading the policy no longer holds', () => {
    const run = loop.trainingJobs[1]!;
    const policy = loop.retrainPolicies[0]!;
    const newer = {
      ...policy,
      status: { lastDrift: { time: '2026-12-07T13:00:00Z', value: 0.5 } },
    };
    expect(runTrigger(run, newer)?.input).toBe('drift measured at 2026-12-07T11:00:00Z');
    expect(runTrigger(run, undefined)?.threshold).toBe('');
  });

  it.each([
    ['datasetChange', { 'lathe.dev/dataset-version': 'v9' }, 'dataset version v9'],
    ['manual', { 'lathe.dev/run-now': 'now-1' }, 'lathe.dev/run-now=now-1'],
    ['schedule', {}, 'scheduled at 2026-12-07T10:00:00Z'],
  ])('reads a %s run', (trigger, annotations, input) => {
    const run = latheObject('trainingJob', {
      name: 'r',
      labels: { 'lathe.dev/retrainpolicy': 'p', 'lathe.dev/trigger': trigger },
      annotations,
    });
    expect(runTrigger(run, undefined)?.input).toBe(input);
  });

  it('finds no trigger on a run made by hand', () => {
    expect(runTrigger(loop.trainingJobs[0]!, undefined)).toBeUndefined();
  });
});
