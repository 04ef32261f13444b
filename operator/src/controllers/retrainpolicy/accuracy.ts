/**
 * Live accuracy: the share of correct predictions among the rows a served version has been
 * given ground truth for (the inference server's feedback endpoint), summed over its replicas'
 * `lathe_feedback_rows_total{outcome="correct"|"incorrect"}` counters. Pure.
 */

import { finiteSumOf, parsePrometheusText } from '../shared/prometheus-text.js';

export interface FeedbackCounts {
  correct: number;
  incorrect: number;
}

/** Sums the correct and incorrect feedback rows in a server's `/metrics` text. */
export function parseFeedbackCounts(text: string): FeedbackCounts {
  const samples = parsePrometheusText(text);
  const rows = (outcome: string) =>
    finiteSumOf(samples, 'lathe_feedback_rows_total', (labels) => labels.outcome === outcome);
  return { correct: rows('correct'), incorrect: rows('incorrect') };
}

/** The accuracy over `counts`, or undefined when no row was labelled. */
export function liveAccuracy(
  counts: readonly FeedbackCounts[],
): { value: number; samples: number } | undefined {
  const correct = counts.reduce((s, c) => s + c.correct, 0);
  const samples = correct + counts.reduce((s, c) => s + c.incorrect, 0);
  return samples === 0 ? undefined : { value: correct / samples, samples };
}
