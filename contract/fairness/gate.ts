/**
 * The fairness gate: rules over the disparities of a fairness report, and the judge that applies
 * them to a challenger (and its champion) before promotion.
 *
 * The anchor is TensorFlow Model Analysis's metric thresholds: a value bound
 * (`demographicParityRatio >= 0.8`, the "four-fifths rule"; `equalizedOddsDifference <= 0.1`)
 * and a change bound against the model in production ("no worse than the champion by more than
 * 0.02"), where "worse" is known per metric: a difference is better lower, a ratio higher. A rule
 * applies to each sensitive column and to the intersection unless it names one scope.
 *
 * Evidence decides, and lack of evidence is said, not guessed: a disparity that is null (fewer
 * than two groups large enough to judge) makes the rule "not judged", which does not fail the
 * gate and says why; so does a change bound with no champion. A rule that cannot fit the report
 * (a regression metric on a classifier, a scope that is not a sensitive column) fails: that is a
 * configuration error, not missing data. Each result carries a sentence for a Kubernetes
 * condition message ("demographicParityRatio for sex is 0.62, below 0.8").
 *
 * Values are compared with a tolerance of 1e-9, so a ratio computed as 0.6 / 0.75 passes
 * `>= 0.8` although floating point makes it 0.7999999999999999.
 */
import { z } from 'zod';
import {
  type ClassificationDisparity,
  classificationDisparityMetrics,
  describeScope,
  type FairnessReport,
  type GroupExtremes,
  INTERSECTION_SCOPE,
  type RegressionDisparity,
  regressionDisparityMetrics,
} from './group-metrics.js';

/** Every metric a rule may bound: the disparities of a classification or regression report. */
export const fairnessMetrics = [
  ...classificationDisparityMetrics,
  ...regressionDisparityMetrics,
] as const;
export type FairnessMetric = (typeof fairnessMetrics)[number];

/** Whether a higher value of `metric` is fairer (ratios) or a lower one (differences). */
export const higherIsBetter = (metric: FairnessMetric): boolean =>
  metric === 'demographicParityRatio';

export const comparisonOperators = ['>=', '>', '<=', '<'] as const;
export type ComparisonOperator = (typeof comparisonOperators)[number];

/** `metric op value`, e.g. `demographicParityRatio >= 0.8`. */
export interface ThresholdRule {
  metric: FairnessMetric;
  op: ComparisonOperator;
  value: number;
  /** One sensitive column or `intersection`; absent: every column and the intersection. */
  scope?: string;
}

/** The challenger's `metric` is no worse than the champion's by more than the given amount. */
export interface ChampionRule {
  metric: FairnessMetric;
  noWorseThanChampionBy: number;
  scope?: string;
}

export type FairnessRule = ThresholdRule | ChampionRule;

/**
 * One rule as it may be written in a spec: either `op` and `value`, or `noWorseThanChampionBy`.
 * Flat (no union), so a problem is reported at its field (`rules[1].op`).
 */
export const FairnessRuleSchema = z
  .strictObject({
    metric: z.enum(fairnessMetrics),
    op: z.enum(comparisonOperators).optional(),
    value: z.number().optional(),
    noWorseThanChampionBy: z.number().nonnegative().optional(),
    scope: z.string().min(1).optional(),
  })
  .superRefine((rule, ctx) => {
    const threshold = rule.op !== undefined || rule.value !== undefined;
    if (threshold && rule.noWorseThanChampionBy !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['noWorseThanChampionBy'],
        message:
          'a rule is either a threshold (op and value) or a champion comparison (noWorseThanChampionBy), not both',
      });
      return;
    }
    if (threshold && rule.op === undefined) {
      ctx.addIssue({ code: 'custom', path: ['op'], message: 'op is required with value' });
    }
    if (threshold && rule.value === undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'value is required with op' });
    }
    if (!threshold && rule.noWorseThanChampionBy === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['op'],
        message: 'a rule needs op and value, or noWorseThanChampionBy',
      });
    }
  });

export const FairnessRulesSchema = z.array(FairnessRuleSchema);

/**
 * Parses a rule list from unknown input (a spec, a JSON environment variable). Throws one line
 * per problem, each naming its field: `rules[1].op: Invalid option: expected one of ...`.
 */
export function parseFairnessRules(input: unknown, field = 'rules'): FairnessRule[] {
  const parsed = FairnessRulesSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `${fieldPathOf([field, ...issue.path])}: ${issue.message}`,
    );
    throw new Error(`Invalid fairness rules:\n${lines.join('\n')}`);
  }
  return parsed.data.map(
    ({ metric, op, value, noWorseThanChampionBy, scope }): FairnessRule => ({
      metric,
      ...(noWorseThanChampionBy !== undefined
        ? { noWorseThanChampionBy }
        : { op: op!, value: value! }),
      ...(scope !== undefined ? { scope } : {}),
    }),
  );
}

/** The rule as text: `demographicParityRatio >= 0.8 for sex`. */
export function formatFairnessRule(rule: FairnessRule): string {
  const bound =
    'noWorseThanChampionBy' in rule
      ? `${rule.metric} no worse than the champion by more than ${rule.noWorseThanChampionBy}`
      : `${rule.metric} ${rule.op} ${rule.value}`;
  return rule.scope === undefined ? bound : `${bound} for ${rule.scope}`;
}

/** One rule applied to one scope. */
export interface FairnessRuleResult {
  /** The rule as text (`formatFairnessRule`). */
  rule: string;
  /** The sensitive column or `intersection` the value is for. */
  scope: string;
  /** The challenger's value; null when it could not be computed (or the rule does not fit). */
  value: number | null;
  /** For a champion rule: the champion's value, null when there is none to compare with. */
  championValue?: number | null;
  /** False only when the result fails the gate. A rule not judged passes. */
  passed: boolean;
  /** Whether values were compared; false with a reason when data or the champion was missing. */
  judged: boolean;
  /** A sentence for a condition message. */
  reason: string;
}

export interface FairnessVerdict {
  /** Every result passed (results not judged included): the challenger may be promoted. */
  passed: boolean;
  results: FairnessRuleResult[];
  /** A condition message: the failures, else a summary and what was not judged. */
  message: string;
}

/**
 * Judges `report` by `rules`, comparing with `championReport` for champion rules. A rule without
 * a scope yields one result per disparity of the report (each column, then the intersection).
 */
export function judgeFairness(
  report: FairnessReport,
  rules: readonly FairnessRule[],
  championReport?: FairnessReport,
): FairnessVerdict {
  const results = rules.flatMap((rule) => judgeRule(report, rule, championReport));
  const passed = results.every((result) => result.passed);
  return { passed, results, message: verdictMessage(results) };
}

const TOLERANCE = 1e-9;

type Disparity = ClassificationDisparity | RegressionDisparity;

function judgeRule(
  report: FairnessReport,
  rule: FairnessRule,
  championReport: FairnessReport | undefined,
): FairnessRuleResult[] {
  const text = formatFairnessRule(rule);
  const misfit = (scope: string, reason: string): FairnessRuleResult[] => [
    { rule: text, scope, value: null, passed: false, judged: false, reason },
  ];
  const taskMetrics: readonly string[] =
    report.task === 'classification' ? classificationDisparityMetrics : regressionDisparityMetrics;
  if (!taskMetrics.includes(rule.metric)) {
    return misfit(
      rule.scope ?? 'all',
      `${rule.metric} does not apply to a ${report.task} model (its metrics: ${taskMetrics.join(', ')})`,
    );
  }
  const disparities: Disparity[] = report.disparities;
  const scoped =
    rule.scope === undefined
      ? disparities
      : disparities.filter((disparity) => disparity.scope === rule.scope);
  if (scoped.length === 0 && rule.scope !== undefined) {
    const reason =
      rule.scope === INTERSECTION_SCOPE
        ? `${text}: the evaluation has no intersection (it needs two sensitive columns and intersections on)`
        : `${text}: ${rule.scope} is not a sensitive column of the evaluation (its columns: ${report.sensitiveColumns.join(', ')})`;
    return misfit(rule.scope, reason);
  }
  return scoped.map((disparity) => {
    const scopeText = describeScope(disparity.scope, report.sensitiveColumns);
    const value = disparityValue(disparity, rule.metric);
    const base = { rule: text, scope: disparity.scope, value };
    if (value === null) {
      const why = reasonOf(disparity, rule.metric) ?? 'it could not be computed';
      return {
        ...base,
        ...('noWorseThanChampionBy' in rule ? { championValue: null } : {}),
        passed: true,
        judged: false,
        reason: `${rule.metric} for ${scopeText} is not judged: ${why}`,
      };
    }
    const said = `${rule.metric} for ${scopeText} is`;
    if ('noWorseThanChampionBy' in rule) {
      return judgeAgainstChampion(
        rule,
        report.task,
        disparity,
        { ...base, value },
        said,
        championReport,
      );
    }
    const passed = holds(value, rule.op, rule.value);
    const reason = passed
      ? `${said} ${formatNumber(value, rule.value)}, ${passedWords[rule.op]} ${rule.value}`
      : `${said} ${formatNumber(value, rule.value)}, ${failedWords[rule.op]} ${rule.value}${extremesText(disparity, rule.metric)}`;
    return { ...base, passed, judged: true, reason };
  });
}

function judgeAgainstChampion(
  rule: ChampionRule,
  task: FairnessReport['task'],
  disparity: Disparity,
  base: { rule: string; scope: string; value: number },
  said: string,
  championReport: FairnessReport | undefined,
): FairnessRuleResult {
  const notJudged = (why: string): FairnessRuleResult => ({
    ...base,
    championValue: null,
    passed: true,
    judged: false,
    reason: `${said} ${formatNumber(base.value)}, not compared: ${why}`,
  });
  if (!championReport) return notJudged('there is no champion to compare with');
  if (championReport.task !== task) {
    return notJudged(`the champion is a ${championReport.task} model`);
  }
  const championDisparities: Disparity[] = championReport.disparities;
  const champion = championDisparities.find((each) => each.scope === disparity.scope);
  if (!champion) return notJudged(`the champion's evaluation has no ${disparity.scope}`);
  const championValue = disparityValue(champion, rule.metric);
  if (championValue === null) {
    return notJudged(
      `the champion's is not known (${reasonOf(champion, rule.metric) ?? 'it could not be computed'})`,
    );
  }
  const worseBy = higherIsBetter(rule.metric)
    ? championValue - base.value
    : base.value - championValue;
  const passed = worseBy <= rule.noWorseThanChampionBy + TOLERANCE;
  const values = `${formatNumber(base.value)} against the champion's ${formatNumber(championValue)}`;
  let reason: string;
  if (worseBy <= TOLERANCE) reason = `${said} ${values}, no worse`;
  else if (passed) {
    reason = `${said} ${values}, worse by ${formatNumber(worseBy)}, within ${rule.noWorseThanChampionBy}`;
  } else {
    reason = `${said} ${values}, worse by ${formatNumber(worseBy, rule.noWorseThanChampionBy)}, more than ${rule.noWorseThanChampionBy}${extremesText(disparity, rule.metric)}`;
  }
  return { ...base, championValue, passed, judged: true, reason };
}

function disparityValue(disparity: Disparity, metric: FairnessMetric): number | null {
  return (disparity as unknown as Record<string, number | null | undefined>)[metric] ?? null;
}

function reasonOf(disparity: Disparity, metric: FairnessMetric): string | undefined {
  return (disparity.reasons as Record<string, string | undefined>)[metric];
}

function holds(value: number, op: ComparisonOperator, bound: number): boolean {
  switch (op) {
    case '>=':
      return value >= bound - TOLERANCE;
    case '>':
      return value > bound + TOLERANCE;
    case '<=':
      return value <= bound + TOLERANCE;
    case '<':
      return value < bound - TOLERANCE;
  }
}

const passedWords: Record<ComparisonOperator, string> = {
  '>=': 'at least',
  '>': 'above',
  '<=': 'at most',
  '<': 'below',
};
const failedWords: Record<ComparisonOperator, string> = {
  '>=': 'below',
  '>': 'not above',
  '<=': 'above',
  '<': 'not below',
};

/** The groups behind a failing value: ` (selection rate 0.375 for sex=F, 0.75 for sex=M)`. */
function extremesText(disparity: Disparity, metric: FairnessMetric): string {
  let name: string;
  let extremes: GroupExtremes | null;
  if ('meanAbsoluteError' in disparity) {
    name = 'mean absolute error';
    extremes = disparity.meanAbsoluteError;
  } else if (metric === 'demographicParityDifference' || metric === 'demographicParityRatio') {
    name = 'selection rate';
    extremes = disparity.selectionRate;
  } else {
    const tpr = disparity.truePositiveRateDifference;
    const fpr = disparity.falsePositiveRateDifference;
    const useTrue =
      metric === 'truePositiveRateDifference' ||
      (metric === 'equalizedOddsDifference' && tpr !== null && (fpr === null || tpr >= fpr));
    name = useTrue ? 'true positive rate' : 'false positive rate';
    extremes = useTrue ? disparity.truePositiveRate : disparity.falsePositiveRate;
  }
  if (!extremes) return '';
  const { lowest, highest } = extremes;
  return ` (${name} ${formatNumber(lowest.value)} for ${lowest.group}, ${formatNumber(highest.value)} for ${highest.group})`;
}

/**
 * `value` to 3 decimals, or as many more as it takes not to print it equal to `distinctFrom`
 * (0.7996 is not "0.8, below 0.8").
 */
function formatNumber(value: number, distinctFrom?: number): string {
  for (let digits = 3; digits <= 12; digits++) {
    const text = String(Number(value.toFixed(digits)));
    if (distinctFrom === undefined || Math.abs(value - distinctFrom) <= TOLERANCE) return text;
    if (text !== String(Number(distinctFrom.toFixed(digits)))) return text;
  }
  return String(value);
}

function verdictMessage(results: readonly FairnessRuleResult[]): string {
  if (results.length === 0) return 'No fairness rules to check';
  const failed = results.filter((result) => !result.passed);
  if (failed.length > 0) {
    const of = results.length === 1 ? 'check' : 'checks';
    return `${failed.length} of ${results.length} fairness ${of} failed: ${failed.map((result) => result.reason).join('; ')}`;
  }
  const all = results.length === 1 ? 'The fairness check' : `All ${results.length} fairness checks`;
  const notJudged = results.filter((result) => !result.judged);
  return notJudged.length === 0
    ? `${all} passed`
    : `${all} passed, ${notJudged.length} not judged: ${notJudged.map((result) => result.reason).join('; ')}`;
}

/** `['rules', 1, 'op']` → `rules[1].op`, as the operator renders API field paths. */
function fieldPathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}
