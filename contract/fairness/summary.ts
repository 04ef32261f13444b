/**
 * A fairness report's disparities, small enough for a termination message and a status: what a
 * RetrainPolicy needs to judge "no worse than the champion" rules (`judgeFairness` reads only
 * the disparities of the champion's report). The champion's summary comes from an evaluation run
 * on the challenger's split (`EvaluateResult.fairness`), or from its ModelVersion's status when it
 * was evaluated on that same split; the challenger's from its own status.
 */
import { z } from 'zod';
import {
  type ClassificationDisparity,
  classificationDisparityMetrics,
  type FairnessReport,
  type RegressionDisparity,
  regressionDisparityMetrics,
} from './group-metrics.js';

const metricFields = Object.fromEntries(
  [...classificationDisparityMetrics, ...regressionDisparityMetrics].map((metric) => [
    metric,
    z.number().nullable().optional(),
  ]),
) as Record<
  (typeof classificationDisparityMetrics)[number] | (typeof regressionDisparityMetrics)[number],
  z.ZodOptional<z.ZodNullable<z.ZodNumber>>
>;

export const DisparitySummarySchema = z.object({
  scope: z.string(),
  judgedGroups: z.number().int().min(0),
  ...metricFields,
});
export type DisparitySummary = z.infer<typeof DisparitySummarySchema>;

export const FairnessSummarySchema = z.object({
  task: z.enum(['classification', 'regression']),
  sensitiveColumns: z.array(z.string()),
  disparities: z.array(DisparitySummarySchema).max(16),
});
export type FairnessSummary = z.infer<typeof FairnessSummarySchema>;

/** The disparities of `report`, each metric's value (null when it could not be computed). */
export function fairnessSummaryOf(report: FairnessReport): FairnessSummary {
  const metrics: readonly string[] =
    report.task === 'classification' ? classificationDisparityMetrics : regressionDisparityMetrics;
  const disparities: (ClassificationDisparity | RegressionDisparity)[] = report.disparities;
  return {
    task: report.task,
    sensitiveColumns: [...report.sensitiveColumns],
    disparities: disparities.slice(0, 16).map((d) => {
      const values = d as unknown as Record<string, number | null>;
      return {
        scope: d.scope,
        judgedGroups: d.judgedGroups,
        ...Object.fromEntries(metrics.map((m) => [m, values[m] ?? null])),
      };
    }),
  };
}

/**
 * A report holding only `summary`'s disparities, for `judgeFairness`: no groups, no extremes,
 * and a value missing from the summary reads as "not computed".
 */
export function reportOfSummary(summary: FairnessSummary): FairnessReport {
  const common = {
    sensitiveColumns: [...summary.sensitiveColumns],
    minGroupSize: 1,
    intersections: summary.disparities.some((d) => d.scope === 'intersection'),
    groups: [],
  };
  const value = (d: DisparitySummary, metric: keyof DisparitySummary) =>
    (d[metric] as number | null | undefined) ?? null;
  if (summary.task === 'regression') {
    return {
      task: 'regression',
      ...common,
      overall: { count: 0, meanAbsoluteError: 0, rootMeanSquaredError: 0, meanError: 0 },
      disparities: summary.disparities.map((d) => ({
        scope: d.scope,
        judgedGroups: d.judgedGroups,
        meanAbsoluteErrorDifference: value(d, 'meanAbsoluteErrorDifference'),
        meanAbsoluteError: null,
        reasons: {},
      })),
    };
  }
  return {
    task: 'classification',
    positiveClass: '',
    ...common,
    overall: {
      count: 0,
      positives: 0,
      predictedPositives: 0,
      selectionRate: 0,
      truePositiveRate: null,
      falsePositiveRate: null,
      accuracy: 0,
    },
    disparities: summary.disparities.map((d) => ({
      scope: d.scope,
      judgedGroups: d.judgedGroups,
      demographicParityDifference: value(d, 'demographicParityDifference'),
      demographicParityRatio: value(d, 'demographicParityRatio'),
      truePositiveRateDifference: value(d, 'truePositiveRateDifference'),
      falsePositiveRateDifference: value(d, 'falsePositiveRateDifference'),
      equalizedOddsDifference: value(d, 'equalizedOddsDifference'),
      selectionRate: null,
      truePositiveRate: null,
      falsePositiveRate: null,
      reasons: {},
    })),
  };
}
