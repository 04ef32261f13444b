/**
 * Step `history`: deletes the finished runs beyond the history limits, oldest first — except a
 * run whose model still waits for its champion/challenger decision — and the evaluation Jobs
 * whose decision is recorded (normally deleted by `promotion` at once; this catches a crash in
 * between).
 */
import { kinds } from '../../runtime/builtin-kinds.js';
import type { Step } from '../../runtime/steps.js';
import { latheKinds, type RetrainPolicyObject, type TrainingJobObject } from '../lathe-kinds.js';
import { awaitsDecision, recordedDecision } from './decision.js';
import { CHALLENGER_ANNOTATION } from './desired.js';
import type { RetrainFacts } from './facts.js';
import { runsBeyondHistory } from './runs.js';

export const historyStep: Step<RetrainPolicyObject, RetrainFacts> = {
  name: 'history',
  async run(policy, ctx, facts) {
    const namespace = policy.metadata.namespace ?? '';
    const models = ctx.reader(latheKinds.modelVersion);
    const undecided = (tj: TrainingJobObject) => {
      const produced = tj.status?.modelVersion?.name;
      if (!policy.spec.promotion || !produced) return false;
      return awaitsDecision(tj, models.get(namespace, produced));
    };
    const runs = facts.runs ?? [];
    const beyond = runsBeyondHistory(policy, runs, undecided);
    for (const tj of beyond) {
      await ctx.delete(latheKinds.trainingJob, tj);
      ctx.log.info({ run: tj.metadata.name }, 'Deleted a run beyond the history limits');
    }
    for (const job of ctx.childrenOf(kinds.job, policy)) {
      const challenger = job.metadata?.annotations?.[CHALLENGER_ANNOTATION];
      if (!challenger) continue;
      const mv = models.get(namespace, challenger);
      if (!mv || recordedDecision(mv)) await ctx.delete(kinds.job, job);
    }
    return { facts: { runs: runs.filter((tj) => !beyond.includes(tj)) } };
  },
};
