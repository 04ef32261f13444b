import { describe, expect, it } from 'vitest';
import { decidePromotion } from './promotion.js';

const accuracy = { metric: 'accuracy', direction: 'maximize' as const, minImprovement: 0.005 };
const rmse = { metric: 'rmse', direction: 'minimize' as const, minImprovement: 0 };

describe('decidePromotion', () => {
  it.each([
    [accuracy, 0.97, 0.96, 'Promoted', 'accuracy 0.97 beats 0.96 + 0.005'],
    [accuracy, 0.962, 0.96, 'Rejected', 'accuracy 0.962 does not beat 0.96 + 0.005'],
    [rmse, 1.9, 2.0, 'Promoted', 'rmse 1.9 is below 2 - 0'],
    [rmse, 2.0, 2.0, 'Rejected', 'does not go below'],
    [rmse, 2.1, 2.0, 'Rejected', 'does not go below'],
  ])('%j: challenger %s vs champion %s → %s', (rule, challenger, champion, decision, reason) => {
    const d = decidePromotion(
      rule,
      { modelVersion: 'iris-v3', value: challenger },
      { modelVersion: 'iris-v2', value: champion },
      'production',
    );
    expect(d.decision).toBe(decision);
    expect(d.reason).toContain(reason);
  });

  it('promotes when nothing is in the target stage', () => {
    expect(
      decidePromotion(accuracy, { modelVersion: 'iris-v1', value: 0.5 }, undefined, 'production'),
    ).toEqual({
      decision: 'Promoted',
      reason: 'no version is in production; accuracy 0.5',
    });
  });
});

describe('live accuracy', () => {
  it('sums the correct and incorrect rows of every replica', async () => {
    const { liveAccuracy, parseFeedbackCounts } = await import('./accuracy.js');
    const text = [
      '# HELP lathe_feedback_rows_total Labelled rows received',
      'lathe_feedback_rows_total{model="iris",version="2",outcome="correct"} 30',
      'lathe_feedback_rows_total{model="iris",version="2",outcome="incorrect"} 10',
      'lathe_feedback_rows_total{model="iris",version="2",outcome="unmatched"} 99',
    ].join('\n');
    expect(parseFeedbackCounts(text)).toEqual({ correct: 30, incorrect: 10 });
    expect(liveAccuracy([parseFeedbackCounts(text), { correct: 10, incorrect: 0 }])).toEqual({
      value: 0.8,
      samples: 50,
    });
    expect(liveAccuracy([{ correct: 0, incorrect: 0 }])).toBeUndefined();
  });
});
