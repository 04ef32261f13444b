/**
 * Step `runs`: the policy's runs, through the owner index, and the concurrency policy over
 * them — two active runs that raced (the schedule's program and a trigger of the controller)
 * are cut back to what `concurrencyPolicy` allows.
 */
import type { Step } from '../../runtime/steps.js';
import { latheKinds, type RetrainPolicyObject } from '../lathe-kinds.js';
import type { RetrainFacts } from './facts.js';
import { runsOverConcurrency } from './runs.js';

export const runsStep: Step<RetrainPolicyObject, RetrainFacts> = {
  name: 'runs',
  async run(policy, ctx) {
    const runs = ctx.childrenOf(latheKinds.trainingJob, policy);
    const extra = runsOverConcurrency(policy, runs);
    for (const tj of extra) {
      await ctx.delete(latheKinds.trainingJob, tj);
      ctx.log.info(
        { run: tj.metadata.name, policy: policy.spec.concurrencyPolicy },
        'Deleted a run the concurrency policy does not allow',
      );
    }
    return { facts: { runs: runs.filter((tj) => !extra.includes(tj)) } };
  },
};
