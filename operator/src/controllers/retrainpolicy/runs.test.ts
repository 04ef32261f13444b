import { describe, expect, it } from 'vitest';
import { retrainPolicyFixture } from '../../../../e2e/testing/retrain-policy.js';
import type { RetrainPolicy } from '../../api/retrainpolicy.js';
import type { TrainingJobObject } from '../lathe-kinds.js';
import { runsBeyondHistory, runsOverConcurrency } from './runs.js';

function policy(spec: Record<string, unknown> = {}): RetrainPolicy {
  return retrainPolicyFixture({ dataset: 'd', model: 'm', spec });
}

const run = (name: string, minute: number, phase?: string) =>
  ({
    metadata: { name, creationTimestamp: `2026-01-01T00:${String(minute).padStart(2, '0')}:00Z` },
    ...(phase ? { status: { phase } } : {}),
  }) as unknown as TrainingJobObject;

const names = (runs: TrainingJobObject[]) => runs.map((r) => r.metadata.name);

describe('runsOverConcurrency', () => {
  const a = run('a', 1);
  const b = run('b', 2);
  const done = run('done', 0, 'Succeeded');
  it.each([
    ['Forbid keeps the first active run', 'Forbid', [b, a, done], ['b']],
    ['Replace keeps the newest active run', 'Replace', [b, a, done], ['a']],
    ['Allow keeps all', 'Allow', [a, b], []],
    ['one active run is always allowed', 'Forbid', [a, done], []],
  ])('%s', (_name, concurrencyPolicy, runs, want) => {
    expect(names(runsOverConcurrency(policy({ concurrencyPolicy }), runs))).toEqual(want);
  });
});

describe('runsBeyondHistory', () => {
  const succeeded = [1, 2, 3, 4, 5].map((m) => run(`s${m}`, m, 'Succeeded'));
  const failed = [6, 7].map((m) => run(`f${m}`, m, 'Failed'));
  const active = run('active', 0);
  it.each<[string, Record<string, unknown>, string[], string[]]>([
    ['the defaults keep 3 succeeded and 1 failed', {}, [], ['s2', 's1', 'f6']],
    [
      'limits of 0 delete every finished run',
      { successfulRunsHistoryLimit: 0, failedRunsHistoryLimit: 0 },
      [],
      ['s5', 's4', 's3', 's2', 's1', 'f7', 'f6'],
    ],
    ['a run whose model awaits its decision stays', {}, ['s1'], ['s2', 'f6']],
  ])('%s', (_name, spec, undecided, want) => {
    const runs = [active, ...failed, ...succeeded];
    expect(
      names(
        runsBeyondHistory(policy(spec), runs, (tj) => undecided.includes(tj.metadata.name ?? '')),
      ),
    ).toEqual(want);
  });
});
