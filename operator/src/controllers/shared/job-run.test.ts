import { describe, expect, it } from 'vitest';
import type { JobObject, PodObject } from '../../runtime/builtin-kinds.js';
import { observeJobRun, podsOfJob } from './job-run.js';
import { childName } from './names.js';

const job = (
  status: JobObject['status'] = {},
  spec: JobObject['spec'] = { template: {} },
): JobObject => ({
  metadata: { name: 'j', uid: 'job-uid' },
  spec,
  status,
});

const pod = (status: PodObject['status'], created = '2026-01-01T00:00:00Z'): PodObject => ({
  metadata: {
    name: `j-${created}`,
    creationTimestamp: created,
    ownerReferences: [
      { apiVersion: 'batch/v1', kind: 'Job', name: 'j', uid: 'job-uid', controller: true },
    ],
  },
  spec: { containers: [{ name: 'main', image: 'ghcr.io/x/y:1' }] },
  status,
});

const terminated = (exitCode: number, reason: string, message?: string) => ({
  phase: exitCode === 0 ? 'Succeeded' : 'Failed',
  containerStatuses: [
    {
      name: 'main',
      image: 'i',
      imageID: '',
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode, reason, ...(message ? { message } : {}) } },
    },
  ],
});

describe('observeJobRun', () => {
  it.each([
    [
      'a complete Job, with the result from its pod',
      job({
        conditions: [{ type: 'Complete', status: 'True' }],
        completionTime: '2026-01-01T00:01:00Z',
      }),
      [pod(terminated(0, 'Completed', '{"ok":1}'))],
      {
        phase: 'Succeeded',
        terminationMessage: '{"ok":1}',
        completionTime: '2026-01-01T00:01:00Z',
      },
    ],
    [
      'a failed Job whose container was OOM-killed',
      job({
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ],
      }),
      [pod(terminated(137, 'OOMKilled'))],
      { phase: 'Failed', reason: 'OutOfMemory', exitCode: 137 },
    ],
    [
      'a Job past its deadline',
      job({
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'DeadlineExceeded',
            message: 'Job was active longer than specified deadline',
          },
        ],
      }),
      [],
      { phase: 'Failed', reason: 'DeadlineExceeded' },
    ],
    [
      'a pod the scheduler cannot place for want of GPUs',
      job(),
      [
        pod({
          phase: 'Pending',
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
            },
          ],
        }),
      ],
      {
        phase: 'Pending',
        reason: 'InsufficientGPU',
        message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
      },
    ],
    [
      'an image that cannot be pulled',
      job(),
      [
        pod({
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'main',
              image: 'i',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } },
            },
          ],
        }),
      ],
      { phase: 'Pending', reason: 'ImagePullFailed' },
    ],
    ['a running pod', job(), [pod({ phase: 'Running' })], { phase: 'Running' }],
    ['no pod yet', job(), [], { phase: 'Pending', reason: 'Creating' }],
  ])('%s', (_, j, pods, expected) => {
    expect(observeJobRun(j, podsOfJob(j, pods))).toMatchObject(expected);
  });

  it('reads the newest pod first', () => {
    const pods = podsOfJob(job(), [
      pod({ phase: 'Failed' }, '2026-01-01T00:00:00Z'),
      pod({ phase: 'Running' }, '2026-01-01T00:05:00Z'),
    ]);
    expect(pods[0]?.status?.phase).toBe('Running');
  });
});

describe('childName', () => {
  it.each([
    ['iris', 'ingest-1a2b3c4d', 'iris-ingest-1a2b3c4d'],
    ['a'.repeat(70), 'ingest-1a2b3c4d', undefined],
  ])('%s + %s', (base, suffix, expected) => {
    const name = childName(base, suffix);
    if (expected) expect(name).toBe(expected);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name.endsWith(suffix)).toBe(true);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});
