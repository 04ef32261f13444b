import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../runtime/resource.js';
import type { WorkerGroupRun } from './backend.js';
import { attemptOutcome, latestAttempt } from './group.js';

const top = (group: string, attempt: string | undefined): KubeObject => ({
  metadata: {
    name: `${group}-a${attempt}`,
    labels: {
      'lathe.dev/worker-group': group,
      ...(attempt ? { 'lathe.dev/attempt': attempt } : {}),
    },
  },
});

describe('latestAttempt', () => {
  it.each([
    { name: 'none', tops: [], expected: undefined },
    {
      name: 'the highest number, not the last listed',
      tops: [top('g', '2'), top('g', '10'), top('g', '3')],
      expected: 10,
    },
    { name: 'only the current group', tops: [top('old', '5'), top('g', '1')], expected: 1 },
    { name: 'ignores an unlabelled object', tops: [top('g', undefined)], expected: undefined },
  ])('$name', ({ tops, expected }) => {
    expect(latestAttempt(tops, 'g')?.attempt).toBe(expected);
  });
});

const failed = (restartable = true, terminationMessage?: string): WorkerGroupRun => ({
  phase: 'Failed',
  reason: 'BackoffLimitExceeded',
  message: 'Worker 1 of Job g-a0 failed (exit code 1)',
  startTime: undefined,
  completionTime: undefined,
  exitCode: 1,
  terminationMessage,
  failedWorker: 1,
  restartable,
});

describe('attemptOutcome', () => {
  it.each([
    {
      name: 'running',
      run: { phase: 'Running', startTime: undefined, message: '' } as WorkerGroupRun,
      attempt: 0,
      max: 3,
      kind: 'continue',
    },
    { name: 'first failure', run: failed(), attempt: 0, max: 3, kind: 'restart', next: 1 },
    { name: 'last restart left', run: failed(), attempt: 2, max: 3, kind: 'restart', next: 3 },
    { name: 'restarts spent', run: failed(), attempt: 3, max: 3, kind: 'fail' },
    { name: 'no restarts allowed', run: failed(), attempt: 0, max: 0, kind: 'fail' },
    { name: 'deadline passed', run: failed(false), attempt: 0, max: 3, kind: 'fail' },
  ])('$name: $kind', ({ run, attempt, max, kind, next }) => {
    const outcome = attemptOutcome(run, undefined, attempt, max);
    expect(outcome.kind).toBe(kind);
    if (outcome.kind === 'restart') expect(outcome.next).toBe(next);
  });

  it("fails with the worker's message and count, TrainingFailed unless it reported a reason", () => {
    const spent = attemptOutcome(failed(true, 'RuntimeError: NCCL timeout'), undefined, 3, 3);
    expect(spent).toEqual({
      kind: 'fail',
      failure: {
        reason: 'TrainingFailed',
        message:
          'Worker 1 of Job g-a0 failed (exit code 1); after 3 restarts of the group (spec.distributed.maxRestarts 3). Its last output: RuntimeError: NCCL timeout',
      },
    });
    // An engine that restarts the group itself (JobSet) fails once: no new attempt after it.
    const engine = attemptOutcome({ ...failed(false), restarts: 2 }, undefined, 0, 3);
    expect(engine.kind === 'fail' && engine.failure.message).toContain(
      'the engine restarts the group itself, so no new attempt is made',
    );
    const own = attemptOutcome(
      failed(),
      { outcome: 'failed', reason: 'DatasetInvalid', message: 'no label column' } as never,
      0,
      0,
    );
    expect(own.kind === 'fail' && own.failure.reason).toBe('DatasetInvalid');
  });
});
