import { describe, expect, it } from 'vitest';
import { finalizerPatch } from './finalizers.js';
import { controllerOwnerKey } from './owners.js';
import type { ResourceType } from './resource.js';

const trainingJob: ResourceType = {
  group: 'lathe.dev',
  version: 'v1alpha1',
  kind: 'TrainingJob',
  plural: 'trainingjobs',
  namespaced: true,
};
const ref = (over: Record<string, unknown>) => ({
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'TrainingJob',
  name: 't1',
  uid: 'u',
  controller: true,
  ...over,
});

describe('controllerOwnerKey', () => {
  it.each([
    {
      name: 'controller owner of the kind',
      refs: [ref({})],
      expected: { namespace: 'ns', name: 't1' },
    },
    { name: 'no owner', refs: [], expected: undefined },
    {
      name: 'owner that is not the controller',
      refs: [ref({ controller: false })],
      expected: undefined,
    },
    { name: 'controller of another kind', refs: [ref({ kind: 'Dataset' })], expected: undefined },
    {
      name: 'same kind in another group',
      refs: [ref({ apiVersion: 'other.io/v1' })],
      expected: undefined,
    },
    {
      name: 'controller among several owners',
      refs: [ref({ name: 'x', controller: false }), ref({ name: 't2' })],
      expected: { namespace: 'ns', name: 't2' },
    },
  ])('$name', ({ refs, expected }) => {
    expect(
      controllerOwnerKey(
        { metadata: { name: 'job', namespace: 'ns', ownerReferences: refs } },
        trainingJob,
      ),
    ).toEqual(expected);
  });
});

describe('finalizerPatch', () => {
  it('carries the resourceVersion so a concurrent change conflicts instead of being overwritten', () => {
    expect(
      finalizerPatch({ metadata: { resourceVersion: '7', finalizers: ['a'] } }, [
        'a',
        'lathe.dev/cleanup',
      ]),
    ).toEqual({
      metadata: { resourceVersion: '7', finalizers: ['a', 'lathe.dev/cleanup'] },
    });
  });
});
