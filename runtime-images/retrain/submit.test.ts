import { describe, expect, it } from 'vitest';
import { isActive, scheduledTrainingJob, scheduledTrainingJobName } from './submit.js';

describe('the scheduled TrainingJob', () => {
  it.each([
    ['iris-nightly', 'iris-nightly-29355541', 'iris-nightly-sched-29355541'],
    ['p'.repeat(70), 'x-29355541', `${'p'.repeat(48)}-sched-29355541`],
  ])('%s run %s is named %s', (policy, run, name) => {
    expect(scheduledTrainingJobName(policy, run)).toBe(name);
    expect(scheduledTrainingJobName(policy, run).length).toBeLessThanOrEqual(63);
  });

  it('is the template, owned by the policy, labelled with it and the trigger', () => {
    const tj = scheduledTrainingJob({
      namespace: 'ns',
      policy: 'iris-nightly',
      policyUid: 'uid-1',
      runName: 'iris-nightly-29355541',
      template: {
        metadata: { labels: { team: 'ml' } },
        spec: { modelName: 'iris', datasetRef: { name: 'iris' } },
      },
    });
    expect(tj.metadata).toMatchObject({
      name: 'iris-nightly-sched-29355541',
      labels: {
        team: 'ml',
        'lathe.dev/retrainpolicy': 'iris-nightly',
        'lathe.dev/trigger': 'schedule',
      },
      ownerReferences: [
        { kind: 'RetrainPolicy', uid: 'uid-1', controller: true, blockOwnerDeletion: false },
      ],
    });
    expect(tj.spec).toEqual({ modelName: 'iris', datasetRef: { name: 'iris' } });
  });

  it.each([
    [undefined, true],
    [{ phase: 'Running' }, true],
    [{ phase: 'Succeeded' }, false],
    [{ phase: 'Failed' }, false],
  ])('status %j is active: %s', (status, active) => {
    expect(isActive({ metadata: {}, ...(status ? { status } : {}) })).toBe(active);
  });
});
