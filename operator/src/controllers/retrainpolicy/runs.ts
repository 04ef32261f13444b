/**
 * A RetrainPolicy's runs (the TrainingJobs it owns, found through the owner index): which are
 * active, which the concurrency policy does not allow, and which the history limits delete.
 * Pure.
 */
import type { RetrainPolicy } from '../../api/retrainpolicy.js';
import type { TrainingJobObject } from '../lathe-kinds.js';

export const isFinished = (tj: TrainingJobObject) =>
  tj.status?.phase === 'Succeeded' || tj.status?.phase === 'Failed';

/** Oldest first (then by name, so the order is total). */
export function byCreation(runs: readonly TrainingJobObject[]): TrainingJobObject[] {
  return [...runs].sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  );
}

/**
 * Active runs the concurrency policy does not allow (two raced: a scheduled one and one the
 * controller started): Replace keeps the newest, Forbid the first; Allow keeps all.
 */
export function runsOverConcurrency(
  policy: RetrainPolicy,
  runs: readonly TrainingJobObject[],
): TrainingJobObject[] {
  const active = byCreation(runs.filter((tj) => !isFinished(tj)));
  if (active.length < 2 || policy.spec.concurrencyPolicy === 'Allow') return [];
  return policy.spec.concurrencyPolicy === 'Replace' ? active.slice(0, -1) : active.slice(1);
}

/**
 * Finished runs beyond the history limits (the oldest go first), except those whose model still
 * waits for its champion/challenger decision (`undecided`).
 */
export function runsBeyondHistory(
  policy: RetrainPolicy,
  runs: readonly TrainingJobObject[],
  undecided: (run: TrainingJobObject) => boolean,
): TrainingJobObject[] {
  const newestFirst = byCreation(runs.filter(isFinished)).reverse();
  const succeeded = newestFirst.filter((tj) => tj.status?.phase === 'Succeeded');
  const failed = newestFirst.filter((tj) => tj.status?.phase === 'Failed');
  return [
    ...succeeded.slice(policy.spec.successfulRunsHistoryLimit),
    ...failed.slice(policy.spec.failedRunsHistoryLimit),
  ].filter((tj) => !undecided(tj));
}
