import { describe, expect, it } from 'vitest';
import { decisionLog } from './decisions.js';
import { loop } from './testdata/loop.js';

describe('decisionLog', () => {
  const log = decisionLog(loop);

  it('lists every automatic action newest first', () => {
    expect(log.map((d) => [d.time, d.action, d.subject.name])).toEqual([
      ['2026-12-07T12:30:00Z', 'Retrain started', 'iris-retrain-manual-x'],
      ['2026-12-07T12:10:00Z', 'Rollout held', 'iris'],
      ['2026-12-07T12:00:00Z', 'Gate failed', 'iris'],
      ['2026-12-07T11:30:00Z', 'Challenger promoted', 'iris-v2'],
      ['2026-12-07T11:20:00Z', 'Gate failed', 'iris-v2'],
      ['2026-12-07T11:01:00Z', 'Retrain started', 'iris-retrain-drift-1'],
    ]);
  });

  it('shows a promotion once, with its inputs, rule and outcome', () => {
    const promoted = log.find((d) => d.action === 'Challenger promoted')!;
    expect(promoted).toEqual({
      time: '2026-12-07T11:30:00Z',
      namespace: 'team-a',
      action: 'Challenger promoted',
      subject: { kind: 'modelVersion', name: 'iris-v2' },
      decidedBy: { kind: 'retrainPolicy', name: 'iris-retrain' },
      inputs:
        'accuracy: challenger iris-v2 0.97, champion iris-v1 0.93; dataset version abcdef012345',
      thresholds: 'maximize accuracy, better by at least 0.01; promote to production',
      outcome: 'Promoted: accuracy 0.97 beats 0.93 + 0.01 (iris-v1 on the same test split)',
    });
  });

  it('explains a drift retrain and a held rollout', () => {
    const drift = log.find((d) => d.subject.name === 'iris-retrain-drift-1')!;
    expect(drift.inputs).toBe(
      'drift: drift psi 0.31 (feature petal_width) on 200 rows measured at 2026-12-07T11:00:00Z',
    );
    expect(drift.thresholds).toBe('drift psi > 0.2');
    expect(drift.outcome).toBe('run Succeeded; produced iris-v2');
    const held = log.find((d) => d.action === 'Rollout held')!;
    expect(held.outcome).toBe(
      'held; serving v2 primary 75% (3/3 ready), v1 canary 25% (1/1 ready)',
    );
  });

  it("reads a policy's last promotion when no object holds the record", () => {
    const policy = loop.retrainPolicies[0]!;
    const rejected = {
      time: '2026-12-07T09:00:00Z',
      decision: 'Rejected' as const,
      metric: 'accuracy',
      challenger: { modelVersion: 'iris-v0', value: 0.5 },
      reason: 'not compared: iris-v0 has no metric accuracy',
    };
    const log2 = decisionLog({
      ...loop,
      retrainPolicies: [{ ...policy, status: { ...policy.status, lastPromotion: rejected } }],
    });
    expect(log2.filter((d) => d.action === 'Challenger rejected').map((d) => d.outcome)).toEqual([
      'Rejected: not compared: iris-v0 has no metric accuracy',
    ]);
    expect(log2.filter((d) => d.action === 'Challenger promoted')).toHaveLength(1);
  });

  it('is empty without automatic actions', () => {
    expect(
      decisionLog({
        datasets: [],
        trainingJobs: [loop.trainingJobs[0]!],
        modelVersions: [],
        inferenceServices: [],
        retrainPolicies: [],
      }),
    ).toEqual([]);
  });
});
