import { describe, expect, it } from 'vitest';
import type { IngestResult } from '../../../../contract/results.js';
import type { JobRun } from '../shared/job-run.js';
import {
  expiredRuns,
  failureOf,
  newestSucceeded,
  newestVerdict,
  type ObservedIngestion,
  schedulingView,
} from './observe.js';
import { RunAnnotation } from './runs.js';

const finishedAt = '2026-06-01T11:00:00Z';
const runs = {
  running: { phase: 'Running', startTime: undefined, message: 'running' },
  succeeded: {
    phase: 'Succeeded',
    startTime: undefined,
    completionTime: finishedAt,
    terminationMessage: '',
  },
  failed: {
    phase: 'Failed',
    reason: 'BackoffLimitExceeded',
    message: 'Job has reached the specified backoff limit.',
    startTime: undefined,
    completionTime: finishedAt,
    exitCode: 1,
    terminationMessage: 'Error: boom',
  },
} satisfies Record<string, JobRun>;

const ok = (version: string, reused = false): IngestResult => ({
  kind: 'ingest',
  outcome: 'succeeded',
  version,
  rows: 150,
  trainRows: 120,
  testRows: 30,
  reused,
});
const bad = (reason: string): IngestResult => ({
  kind: 'ingest',
  outcome: 'failed',
  reason: reason as 'ValidationFailed',
  message: 'below 0',
  rule: 'min',
  column: 'petal_length',
});

let n = 0;
function observed(run: JobRun, result?: IngestResult, generation = 1): ObservedIngestion {
  n += 1;
  return {
    job: {
      metadata: {
        name: `iris-ingest-${n}`,
        uid: `uid-${n}`,
        annotations: { [RunAnnotation.generation]: String(generation) },
      },
    },
    run,
    result,
  };
}

describe('failureOf', () => {
  it.each<{ name: string; o: ObservedIngestion; want: ReturnType<typeof failureOf> }>([
    { name: 'an active run has none', o: observed(runs.running), want: undefined },
    {
      name: 'a run with a version has none',
      o: observed(runs.succeeded, ok('a'.repeat(16))),
      want: undefined,
    },
    {
      name: "the program's failure, with rule and column; validation is not retried",
      o: observed(runs.failed, bad('ValidationFailed')),
      want: {
        reason: 'ValidationFailed',
        message: 'rule min, column petal_length: below 0',
        retryable: false,
      },
    },
    {
      name: 'a source failure is retried',
      o: observed(runs.failed, bad('SourceNotFound')),
      want: {
        reason: 'SourceNotFound',
        message: 'rule min, column petal_length: below 0',
        retryable: true,
      },
    },
    {
      name: 'a refused source address is not retried',
      o: observed(runs.failed, bad('SourceAddressRefused')),
      want: {
        reason: 'SourceAddressRefused',
        message: 'rule min, column petal_length: below 0',
        retryable: false,
      },
    },
    {
      name: 'a Job that succeeded without a result',
      o: observed(runs.succeeded),
      want: {
        reason: 'InternalError',
        message: 'The ingestion program exited without reporting a result',
        retryable: true,
      },
    },
    {
      name: "a crash: the Job's reason and the last output",
      o: observed(runs.failed),
      want: {
        reason: 'BackoffLimitExceeded',
        message: 'Job has reached the specified backoff limit. Its last output: Error: boom',
        retryable: true,
      },
    },
  ])('$name', ({ o, want }) => {
    expect(failureOf(o)).toEqual(want);
  });
});

describe('schedulingView', () => {
  it.each<{ name: string; o: ObservedIngestion; want: object }>([
    { name: 'active', o: observed(runs.running), want: { active: true } },
    {
      name: 'succeeded',
      o: observed(runs.succeeded, ok('a'.repeat(16))),
      want: { active: false, succeeded: true, finishedAt },
    },
    {
      name: 'failed, with the reason that decides the retry',
      o: observed(runs.failed, bad('InvalidData')),
      want: { active: false, succeeded: false, reason: 'InvalidData', finishedAt },
    },
  ])('$name', ({ o, want }) => {
    expect(schedulingView(o)).toMatchObject(want);
  });
});

describe('newestSucceeded and newestVerdict', () => {
  const A = 'a'.repeat(16);
  const B = 'b'.repeat(16);
  it.each<{
    name: string;
    observed: ObservedIngestion[];
    version: string | undefined;
    previous?: string;
    verdict: string | undefined;
  }>([
    { name: 'no runs', observed: [], version: undefined, verdict: undefined },
    {
      name: 'the newest run with a version, and the one before it',
      observed: [
        observed(runs.running),
        observed(runs.succeeded, ok(B)),
        observed(runs.failed),
        observed(runs.succeeded, ok(A)),
      ],
      version: B,
      previous: A,
      verdict: 'ValidationPassed',
    },
    {
      name: 'a newer validation failure is the verdict; the version stays',
      observed: [observed(runs.failed, bad('ValidationFailed')), observed(runs.succeeded, ok(A))],
      version: A,
      verdict: 'ValidationFailed',
    },
    {
      name: 'a source failure is no verdict',
      observed: [observed(runs.failed, bad('SourceNotFound'))],
      version: undefined,
      verdict: undefined,
    },
    {
      name: 'a refused source address is no verdict',
      observed: [observed(runs.failed, bad('SourceAddressRefused'))],
      version: undefined,
      verdict: undefined,
    },
  ])('$name', ({ observed: list, version, previous, verdict }) => {
    const got = newestSucceeded(list);
    expect(got?.result.version).toBe(version);
    expect(got?.previousVersion).toBe(previous);
    if (got) expect(got).toMatchObject({ generation: 1, completionTime: finishedAt });
    expect(newestVerdict(list)?.reason).toBe(verdict);
  });
});

describe('expiredRuns', () => {
  const A = 'a'.repeat(16);
  it.each<{ name: string; observed: ObservedIngestion[]; keep: number; expired: number[] }>([
    {
      name: 'within the history',
      observed: [observed(runs.failed), observed(runs.failed)],
      keep: 3,
      expired: [],
    },
    {
      name: 'the oldest finished beyond the history',
      observed: [
        observed(runs.failed),
        observed(runs.failed),
        observed(runs.failed),
        observed(runs.failed),
      ],
      keep: 2,
      expired: [2, 3],
    },
    {
      name: 'the newest that succeeded is kept beyond the history, older ones are not',
      observed: [
        observed(runs.failed),
        observed(runs.failed),
        observed(runs.succeeded, ok(A)),
        observed(runs.succeeded, ok(A)),
      ],
      keep: 1,
      expired: [1, 3],
    },
    {
      name: 'an active run is never expired nor counted',
      observed: [observed(runs.running), observed(runs.failed), observed(runs.failed)],
      keep: 1,
      expired: [2],
    },
  ])('$name', ({ observed: list, keep, expired }) => {
    expect(expiredRuns(list, keep)).toEqual(expired.map((i) => list[i]));
  });
});
