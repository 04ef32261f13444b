import { describe, expect, it } from 'vitest';
import type { JobObject } from '../../runtime/builtin-kinds.js';
import { decideRun, ingestJobName, RunAnnotation, retryDelayMs } from './runs.js';

const now = new Date('2026-06-01T12:00:00Z');

function job(
  name: string,
  annotations: { generation: number; trigger?: string; attempt?: number; request?: string },
): JobObject {
  return {
    metadata: {
      name,
      annotations: {
        [RunAnnotation.generation]: String(annotations.generation),
        [RunAnnotation.trigger]: annotations.trigger ?? 'SpecChanged',
        [RunAnnotation.attempt]: String(annotations.attempt ?? 1),
        [RunAnnotation.request]: annotations.request ?? '',
      },
    },
  };
}

const finished = (j: JobObject, succeeded: boolean, finishedAt: string, reason?: string) => ({
  active: false as const,
  job: j,
  succeeded,
  finishedAt,
  ...(reason ? { reason } : {}),
});

const base = { name: 'iris', generation: 2, refreshInterval: undefined, request: '', now };

describe('decideRun', () => {
  it.each([
    ['no run yet', {}, 'start', 'SpecChanged', 1],
    [
      'the latest run read an older spec',
      { latest: finished(job('j', { generation: 1 }), true, '2026-06-01T11:00:00Z') },
      'start',
      'SpecChanged',
      1,
    ],
    [
      'a new refresh request',
      {
        request: 'r2',
        latest: finished(job('j', { generation: 2, request: 'r1' }), true, '2026-06-01T11:00:00Z'),
      },
      'start',
      'Requested',
      1,
    ],
    [
      'a request already answered',
      {
        request: 'r1',
        latest: finished(job('j', { generation: 2, request: 'r1' }), true, '2026-06-01T11:00:00Z'),
      },
      'idle',
      undefined,
      undefined,
    ],
    [
      'a transient failure past its backoff',
      {
        latest: finished(
          job('j', { generation: 2, attempt: 2 }),
          false,
          '2026-06-01T11:59:00Z',
          'SourceUnavailable',
        ),
      },
      'start',
      'Retry',
      3,
    ],
    [
      'a failed validation (never retried as is)',
      {
        latest: finished(
          job('j', { generation: 2 }),
          false,
          '2026-06-01T11:00:00Z',
          'ValidationFailed',
        ),
      },
      'idle',
      undefined,
      undefined,
    ],
    [
      'a refused source address (never retried as is)',
      {
        latest: finished(
          job('j', { generation: 2 }),
          false,
          '2026-06-01T11:00:00Z',
          'SourceAddressRefused',
        ),
      },
      'idle',
      undefined,
      undefined,
    ],
    [
      'a refresh interval that has passed',
      {
        refreshInterval: '1h',
        latest: finished(job('j', { generation: 2 }), true, '2026-06-01T10:59:00Z'),
      },
      'start',
      'Refresh',
      1,
    ],
  ])('%s → %s %s', (_, input, action, trigger, attempt) => {
    const decision = decideRun({ ...base, latest: undefined, ...input });
    expect(decision.action).toBe(action);
    if (decision.action === 'start') {
      expect(decision.run).toMatchObject({ trigger, attempt, generation: 2 });
      expect(decision.run.jobName).toMatch(/^iris-ingest-[0-9a-f]{8}$/);
    }
  });

  it('waits for the backoff of a recent failure, and for the next refresh', () => {
    const failed = decideRun({
      ...base,
      latest: finished(
        job('j', { generation: 2 }),
        false,
        '2026-06-01T11:59:55Z',
        'StorageUnavailable',
      ),
    });
    expect(failed).toEqual({ action: 'wait', at: new Date('2026-06-01T12:00:05Z') });
    const fresh = decideRun({
      ...base,
      refreshInterval: '30m',
      latest: finished(job('j', { generation: 2 }), true, '2026-06-01T11:45:00Z'),
    });
    expect(fresh).toEqual({ action: 'wait', at: new Date('2026-06-01T12:15:00Z') });
  });

  it('lets an active run of this spec finish, and supersedes one of an older spec', () => {
    const active = (generation: number) => ({
      active: true as const,
      job: job('j', { generation }),
    });
    expect(decideRun({ ...base, latest: active(2) }).action).toBe('idle');
    expect(decideRun({ ...base, latest: active(1) })).toMatchObject({ action: 'supersede' });
  });

  it('names the same run the same way, and different runs differently', () => {
    const latest = finished(
      job('j', { generation: 2 }),
      false,
      '2026-06-01T11:00:00Z',
      'SourceNotFound',
    );
    const a = decideRun({ ...base, latest });
    const b = decideRun({ ...base, latest });
    expect(a).toEqual(b);
    expect(ingestJobName('iris', 2, 'Retry', 'j')).not.toBe(ingestJobName('iris', 2, 'Retry', 'k'));
    expect(ingestJobName('x'.repeat(200), 1).length).toBeLessThanOrEqual(63);
  });

  it.each([
    [1, 10_000],
    [2, 20_000],
    [6, 300_000],
    [20, 300_000],
  ])('retry %i waits %i ms', (attempt, ms) => {
    expect(retryDelayMs(attempt)).toBe(ms);
  });
});
