import { describe, expect, it } from 'vitest';
import { applyChild, controllerReference, patchStatusIfChanged, statusEqual } from './apply.js';
import type { KubeClient } from './kube-client.js';
import { builtin } from './resource.js';

const cond = (status: string, ltt: string) => ({
  type: 'Ready',
  status,
  reason: 'R',
  message: 'm',
  lastTransitionTime: ltt,
});

describe('statusEqual', () => {
  it.each([
    { name: 'identical', a: { phase: 'x' }, b: { phase: 'x' }, equal: true },
    { name: 'key order', a: { a: 1, b: 2 }, b: { b: 2, a: 1 }, equal: true },
    { name: 'undefined field equals absent', a: { a: 1, b: undefined }, b: { a: 1 }, equal: true },
    { name: 'missing status equals empty', a: undefined, b: {}, equal: true },
    {
      name: 'value differs',
      a: { observedGeneration: 1 },
      b: { observedGeneration: 2 },
      equal: false,
    },
    {
      name: 'only lastTransitionTime differs',
      a: { conditions: [cond('True', '2025-01-01T00:00:00Z')] },
      b: { conditions: [cond('True', '2025-02-02T00:00:00Z')] },
      equal: true,
    },
    {
      name: 'condition status differs',
      a: { conditions: [cond('True', 't')] },
      b: { conditions: [cond('False', 't')] },
      equal: false,
    },
    { name: 'array length differs', a: { xs: [1] }, b: { xs: [1, 2] }, equal: false },
  ])('$name -> $equal', ({ a, b, equal }) => {
    expect(statusEqual(a, b)).toBe(equal);
  });
});

function recordingClient() {
  const calls: unknown[][] = [];
  const client = {
    patch: async (...args: unknown[]) => {
      calls.push(args);
      return {};
    },
  } as unknown as Pick<KubeClient, 'patch'>;
  return { client, calls };
}

describe('patchStatusIfChanged', () => {
  const current = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'a', namespace: 'ns' },
    status: { observedGeneration: 1 },
  };

  it('writes nothing when the status is unchanged', async () => {
    const { client, calls } = recordingClient();
    expect(
      await patchStatusIfChanged(client, builtin.configMap, current, { observedGeneration: 1 }),
    ).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it('applies the status subresource under the operator field manager when it changed', async () => {
    const { client, calls } = recordingClient();
    expect(
      await patchStatusIfChanged(client, builtin.configMap, current, { observedGeneration: 2 }),
    ).toBe(true);
    expect(calls).toEqual([
      [
        builtin.configMap,
        'ns',
        'a',
        'apply',
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'a', namespace: 'ns' },
          status: { observedGeneration: 2 },
        },
        { fieldManager: 'lathe-operator', force: true, subresource: 'status' },
      ],
    ]);
  });
});

describe('applyChild', () => {
  it('sends a forced server-side apply with apiVersion and kind filled in', async () => {
    const { client, calls } = recordingClient();
    await applyChild(client, builtin.job, { metadata: { name: 'j', namespace: 'ns' }, spec: {} });
    expect(calls[0]?.[3]).toBe('apply');
    expect(calls[0]?.[4]).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job' });
    expect(calls[0]?.[5]).toEqual({ fieldManager: 'lathe-operator', force: true });
  });
});

describe('controllerReference', () => {
  it('marks the owner as controller and blocks its deletion', () => {
    expect(
      controllerReference(
        {
          apiVersion: 'lathe.dev/v1alpha1',
          kind: 'TrainingJob',
          metadata: { name: 't', uid: 'u1' },
        },
        builtin.job,
      ),
    ).toEqual({
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'TrainingJob',
      name: 't',
      uid: 'u1',
      controller: true,
      blockOwnerDeletion: true,
    });
  });
});
