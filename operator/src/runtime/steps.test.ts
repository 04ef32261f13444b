import { describe, expect, it } from 'vitest';
import { TerminalError } from './controller.js';
import type { KubeObject } from './resource.js';
import {
  composeStatus,
  mergeStepPart,
  type Readiness,
  readinessOfError,
  type StepPart,
  type StepsOutcome,
} from './steps.js';

type Facts = { a: number; b: string };
const empty: StepsOutcome<Facts> = {
  facts: {},
  conditions: [],
  readiness: undefined,
  requeueAfterMs: undefined,
};
const now = new Date('2026-01-02T03:04:05Z');
const progressing: Readiness = { state: 'progressing', reason: 'Waiting', message: 'w' };
const stalled: Readiness = { state: 'stalled', reason: 'Broken', message: 'b' };
const ready: Readiness = { state: 'ready', reason: 'Fine', message: 'f' };

describe('mergeStepPart', () => {
  it.each<{
    name: string;
    parts: (StepPart<Facts> | undefined)[];
    want: Partial<StepsOutcome<Facts>>;
  }>([
    { name: 'no parts', parts: [], want: { facts: {}, readiness: undefined } },
    { name: 'a void part', parts: [undefined], want: { facts: {} } },
    {
      name: 'facts of later steps add to earlier ones',
      parts: [{ facts: { a: 1 } }, { facts: { b: 'x' } }],
      want: { facts: { a: 1, b: 'x' } },
    },
    {
      name: 'the worst readiness wins, whatever the order',
      parts: [{ readiness: progressing }, { readiness: stalled }, { readiness: ready }],
      want: { readiness: stalled },
    },
    {
      name: 'among equals the first wins',
      parts: [{ readiness: progressing }, { readiness: { ...progressing, reason: 'Later' } }],
      want: { readiness: progressing },
    },
    {
      name: 'the shortest requeue wins',
      parts: [{ requeueAfterMs: 5000 }, {}, { requeueAfterMs: 1000 }],
      want: { requeueAfterMs: 1000 },
    },
  ])('$name', ({ parts, want }) => {
    const merged = parts.reduce((acc, part) => mergeStepPart(acc, part), empty);
    expect(merged).toMatchObject(want);
  });
});

describe('readinessOfError', () => {
  it.each([
    {
      error: new TerminalError('bad spec', { reason: 'InvalidSpec' }),
      want: { state: 'stalled', reason: 'InvalidSpec', message: 'bad spec' },
    },
    {
      error: Object.assign(new Error('store down'), { reason: 'StorageUnavailable' }),
      want: { state: 'progressing', reason: 'StorageUnavailable', message: 'store down' },
    },
    {
      error: new Error('socket hang up'),
      want: { state: 'progressing', reason: 'ReconcileError', message: 'socket hang up' },
    },
    {
      error: Object.assign(new Error('invalid child'), { statusCode: 422, body: {} }),
      want: { state: 'progressing', reason: 'ReconcileError' },
    },
  ])('$want.reason from "$error.message"', ({ error, want }) => {
    expect(readinessOfError(error)).toMatchObject(want);
  });
});

describe('composeStatus', () => {
  const obj: KubeObject = {
    metadata: { name: 'x', namespace: 'n', generation: 3 },
    status: {
      observedGeneration: 2,
      url: 'http://old',
      served: ['1'],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Serving',
          message: 'old',
          lastTransitionTime: '2025-01-01T00:00:00Z',
        },
      ],
    },
  };
  const fine = { reason: 'Serving', message: 'all good' };

  it('on success writes exactly the builder fields, Ready=True and the observed generation', () => {
    const status = composeStatus(obj, empty, { url: 'http://new', served: undefined }, fine, now);
    expect(status).toEqual({
      url: 'http://new',
      observedGeneration: 3,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Serving',
          message: 'all good',
          observedGeneration: 3,
          lastTransitionTime: '2025-01-01T00:00:00Z',
        },
      ],
    });
  });

  it('on a transient failure turns Ready False with the error, keeps fields it could not compute', () => {
    const status = composeStatus(
      obj,
      { ...empty, failure: { step: 'service', error: new Error('Service n/x is taken') } },
      { url: undefined, served: ['2'] },
      fine,
      now,
    );
    expect(status.url).toBe('http://old');
    expect(status.served).toEqual(['2']);
    expect(status.observedGeneration).toBe(3);
    const conditions = status.conditions as { type: string; status: string; reason: string }[];
    expect(conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ReconcileError',
      message: 'Service n/x is taken',
    });
    expect(conditions.find((c) => c.type === 'Reconciling')).toMatchObject({ status: 'True' });
    expect(conditions.find((c) => c.type === 'Stalled')).toBeUndefined();
  });

  it('on a terminal failure stalls with its reason', () => {
    const status = composeStatus(
      obj,
      {
        ...empty,
        failure: { step: 'resolve', error: new TerminalError('no', { reason: 'Nope' }) },
      },
      {},
      fine,
      now,
    );
    const conditions = status.conditions as { type: string; status: string; reason: string }[];
    expect(conditions.find((c) => c.type === 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'Nope',
    });
    expect(conditions.find((c) => c.type === 'Reconciling')).toBeUndefined();
  });

  it('sets kind-specific conditions at the object generation, beside the kstatus triple', () => {
    const status = composeStatus(
      obj,
      {
        ...empty,
        readiness: progressing,
        conditions: [{ type: 'Validated', status: 'True', reason: 'Passed', message: 'ok' }],
      },
      {},
      fine,
      now,
    );
    const conditions = status.conditions as { type: string; observedGeneration?: number }[];
    expect(conditions.map((c) => c.type).sort()).toEqual(['Ready', 'Reconciling', 'Validated']);
    expect(conditions.every((c) => c.observedGeneration === 3)).toBe(true);
  });
});
