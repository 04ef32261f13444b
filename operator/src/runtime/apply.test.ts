import { describe, expect, it } from 'vitest';
import {
  applyChild,
  controllerReference,
  deleteChild,
  patchStatusIfChanged,
  statusEqual,
} from './apply.js';
import { ApiError, isInvalid, type KubeClient } from './kube-client.js';
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

/** Records every request; `failures` are thrown, in order, by the first patches. */
function recordingClient(failures: unknown[] = []) {
  const calls: unknown[][] = [];
  const client = {
    patch: async (...args: unknown[]) => {
      calls.push(['patch', ...args]);
      const failure = failures.shift();
      if (failure) throw failure;
      return {};
    },
    delete: async (...args: unknown[]) => {
      calls.push(['delete', ...args]);
    },
  } as unknown as Pick<KubeClient, 'patch' | 'delete'>;
  return { client, calls };
}

const immutable = new ApiError(
  422,
  { reason: 'Invalid', code: 422 },
  'Job.batch "j" is invalid: spec.template: Invalid value: ...: field is immutable',
);

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
      await patchStatusIfChanged(
        client,
        builtin.configMap,
        current,
        { observedGeneration: 1 },
        'lathe-widget',
      ),
    ).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it('applies the status subresource under the controller field manager when it changed', async () => {
    const { client, calls } = recordingClient();
    expect(
      await patchStatusIfChanged(
        client,
        builtin.configMap,
        current,
        { observedGeneration: 2 },
        'lathe-widget',
      ),
    ).toBe(true);
    expect(calls).toEqual([
      [
        'patch',
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
        { fieldManager: 'lathe-widget', force: true, subresource: 'status' },
      ],
    ]);
  });
});

describe('applyChild', () => {
  it('sends a forced server-side apply with apiVersion and kind filled in', async () => {
    const { client, calls } = recordingClient();
    await applyChild(
      client,
      builtin.job,
      { metadata: { name: 'j', namespace: 'ns' } },
      { fieldManager: 'lathe-widget' },
    );
    expect(calls[0]?.[4]).toBe('apply');
    expect(calls[0]?.[5]).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job' });
    expect(calls[0]?.[6]).toEqual({ fieldManager: 'lathe-widget', force: true });
  });

  it('keeps the API error type, so a 422 is still recognisable as terminal', async () => {
    const { client } = recordingClient([immutable]);
    const error = await applyChild(
      client,
      builtin.job,
      { metadata: { name: 'j', namespace: 'ns' } },
      { fieldManager: 'lathe-widget' },
    ).catch((e: unknown) => e);
    expect(isInvalid(error)).toBe(true);
    expect((error as Error).message).toMatch(/^Failed to apply Job ns\/j: .*field is immutable/);
  });

  it('deletes and recreates a child whose change hits an immutable field, when asked', async () => {
    const { client, calls } = recordingClient([immutable]);
    await applyChild(
      client,
      builtin.job,
      { metadata: { name: 'j', namespace: 'ns' } },
      { fieldManager: 'lathe-widget', recreateOnImmutable: true },
    );
    expect(calls.map((c) => c[0])).toEqual(['patch', 'delete', 'patch']);
    expect(calls[1]?.slice(1)).toEqual([
      builtin.job,
      'ns',
      'j',
      { propagationPolicy: 'Background' },
    ]);
  });
});

describe('deleteChild', () => {
  it('deletes only the object that was read (uid precondition)', async () => {
    const { client, calls } = recordingClient();
    await deleteChild(client, builtin.job, { metadata: { name: 'j', namespace: 'ns', uid: 'u1' } });
    expect(calls).toEqual([
      [
        'delete',
        builtin.job,
        'ns',
        'j',
        { propagationPolicy: 'Background', preconditions: { uid: 'u1' } },
      ],
    ]);
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
