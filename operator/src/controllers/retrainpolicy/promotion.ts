/**
 * Champion against challenger, on the same evidence: pure. Both values are the promotion metric
 * computed on the same test split — the challenger's dataset version — the challenger's by its
 * trainer, the champion's by an evaluation run of the champion's own artifact (with its own
 * fitted preparation) on that split's raw rows. The challenger is promoted only when it beats
 * the champion by at least `minImprovement` in the metric's direction; without a champion in
 * the target stage, it is promoted.
 */
export interface Candidate {
  modelVersion: string;
  value: number;
}

export interface PromotionRule {
  metric: string;
  direction: 'maximize' | 'minimize';
  minImprovement: number;
}

export type Decision = { decision: 'Promoted' | 'Rejected'; reason: string };

const show = (n: number) => Number(n.toPrecision(4)).toString();

export function decidePromotion(
  rule: PromotionRule,
  challenger: Candidate,
  champion: Candidate | undefined,
  targetStage: string,
): Decision {
  const { metric, direction, minImprovement } = rule;
  if (!champion) {
    return {
      decision: 'Promoted',
      reason: `no version is in ${targetStage}; ${metric} ${show(challenger.value)}`,
    };
  }
  const gain =
    direction === 'maximize'
      ? challenger.value - champion.value
      : champion.value - challenger.value;
  const needed =
    direction === 'maximize'
      ? `${show(champion.value)} + ${show(minImprovement)}`
      : `${show(champion.value)} - ${show(minImprovement)}`;
  const beats = gain >= minImprovement && (minImprovement > 0 || gain > 0);
  const verb = direction === 'maximize' ? 'beats' : 'is below';
  return beats
    ? {
        decision: 'Promoted',
        reason: `${metric} ${show(challenger.value)} ${verb} ${needed} (${champion.modelVersion} on the same test split)`,
      }
    : {
        decision: 'Rejected',
        reason: `${metric} ${show(challenger.value)} does not ${direction === 'maximize' ? 'beat' : 'go below'} ${needed} (${champion.modelVersion} on the same test split)`,
      };
}
