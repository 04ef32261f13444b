/**
 * Live accuracy: the share of correct predictions among the rows a served version has been
 * given ground truth for (the inference server's feedback endpoint), summed over its replicas'
 * `lathe_feedback_rows_total{outcome="correct"|"incorrect"}` counters. Pure.
 */

export interface FeedbackCounts {
  correct: number;
  incorrect: number;
}

/** Sums the correct and incorrect feedback rows in a server's `/metrics` text. */
export function parseFeedbackCounts(text: string): FeedbackCounts {
  const counts: FeedbackCounts = { correct: 0, incorrect: 0 };
  for (const line of text.split('\n')) {
    const match = /^lathe_feedback_rows_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!match) continue;
    const outcome = /outcome="([^"]*)"/.exec(match[1] ?? '')?.[1];
    const value = Number(match[2]);
    if (!Number.isFinite(value)) continue;
    if (outcome === 'correct') counts.correct += value;
    else if (outcome === 'incorrect') counts.incorrect += value;
  }
  return counts;
}

/** The accuracy over `counts`, or undefined when no row was labelled. */
export function liveAccuracy(
  counts: readonly FeedbackCounts[],
): { value: number; samples: number } | undefined {
  const correct = counts.reduce((s, c) => s + c.correct, 0);
  const samples = correct + counts.reduce((s, c) => s + c.incorrect, 0);
  return samples === 0 ? undefined : { value: correct / samples, samples };
}
