import { describe, expect, it } from 'vitest';
import { isRunActive, retrainTrainingJob, scheduledRunName, triggerOf } from './retrain-run.js';

const template = {
  metadata: { labels: { team: 'ml', 'lathe.dev/trigger': 'spoofed' }, annotations: { a: 'b' } },
  spec: { datasetRef: { name: 'iris' }, modelName: 'iris' },
};

describe('retrainTrainingJob', () => {
  it.each([
    [
      'a scheduled run: the latest data, nothing to record',
      { trigger: 'schedule' as const, blockOwnerDeletion: false },
      {},
      { name: 'iris' },
    ],
    [
      'a datasetChange run: pinned and annotated',
      { trigger: 'datasetChange' as const, datasetVersion: 'v2', blockOwnerDeletion: true },
      { 'lathe.dev/dataset-version': 'v2' },
      { name: 'iris', version: 'v2' },
    ],
    [
      'a manual run: the request it answered',
      { trigger: 'manual' as const, manualRequest: 'go', blockOwnerDeletion: true },
      { 'lathe.dev/run-now': 'go' },
      { name: 'iris' },
    ],
    [
      'an accuracy run: its reading',
      {
        trigger: 'accuracy' as const,
        readingTime: '2026-01-01T00:00:00Z',
        blockOwnerDeletion: true,
      },
      { 'lathe.dev/reading-time': '2026-01-01T00:00:00Z' },
      { name: 'iris' },
    ],
  ])('%s', (_name, run, annotations, datasetRef) => {
    const tj = retrainTrainingJob({
      namespace: 'ml',
      policy: { name: 'p', uid: 'uid-1' },
      name: 'p-run',
      template,
      ...run,
    });
    expect(tj).toEqual({
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'TrainingJob',
      metadata: {
        name: 'p-run',
        namespace: 'ml',
        // The policy's own labels win over the template's.
        labels: {
          team: 'ml',
          'app.kubernetes.io/managed-by': 'lathe',
          'lathe.dev/retrainpolicy': 'p',
          'lathe.dev/trigger': run.trigger,
        },
        annotations: { a: 'b', ...annotations },
        ownerReferences: [
          {
            apiVersion: 'lathe.dev/v1alpha1',
            kind: 'RetrainPolicy',
            name: 'p',
            uid: 'uid-1',
            controller: true,
            blockOwnerDeletion: run.blockOwnerDeletion,
          },
        ],
      },
      spec: { datasetRef, modelName: 'iris' },
    });
    expect(triggerOf(tj)).toBe(run.trigger);
  });

  it('leaves the template as it was', () => {
    const before = structuredClone(template);
    retrainTrainingJob({
      namespace: 'ml',
      policy: { name: 'p', uid: 'u' },
      name: 'r',
      trigger: 'datasetChange',
      datasetVersion: 'v9',
      template,
      blockOwnerDeletion: true,
    });
    expect(template).toEqual(before);
  });
});

describe('scheduledRunName', () => {
  it.each([
    ['iris-nightly', 'iris-nightly-retrain-29355541', 'iris-nightly-sched-29355541'],
    ['p'.repeat(70), 'x-29355541', `${'p'.repeat(48)}-sched-29355541`],
  ])('%s, Job %s: %s', (policy, job, name) => {
    expect(scheduledRunName(policy, job)).toBe(name);
    expect(scheduledRunName(policy, job).length).toBeLessThanOrEqual(63);
  });

  it('a Job name without minutes is hashed, stably', () => {
    expect(scheduledRunName('p', 'manual-job')).toMatch(/^p-sched-[0-9a-f]{10}$/);
    expect(scheduledRunName('p', 'manual-job')).toBe(scheduledRunName('p', 'manual-job'));
  });
});

describe('triggerOf and isRunActive', () => {
  it.each([
    [{ 'lathe.dev/trigger': 'drift' }, 'drift'],
    [{ 'lathe.dev/trigger': 'other' }, undefined],
    [{}, undefined],
  ])('labels %j: %s', (labels, want) => {
    expect(triggerOf({ metadata: { labels } })).toBe(want);
  });

  it.each([
    [undefined, true],
    [{ phase: 'Pending' }, true],
    [{ phase: 'Succeeded' }, false],
    [{ phase: 'Failed' }, false],
  ])('status %j is active: %s', (status, active) => {
    expect(isRunActive(status ? { status } : {})).toBe(active);
  });
});
