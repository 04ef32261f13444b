/**
 * Model metrics by group of a sensitive column, and the disparities between those groups: what
 * the evaluation of a model records so a fairness gate can judge it and a model card can show it.
 *
 * The anchor is Fairlearn's `MetricFrame` with `demographic_parity_difference`/`_ratio` and
 * `equalized_odds_difference`: metrics are computed per group of each sensitive column (`sex=F`,
 * `sex=M`) and, when asked, per group of the intersection of all sensitive columns
 * (`sex=F,race=B`, every combination present in the data — the full cross product, as a
 * `MetricFrame` with several sensitive features computes it, not each pair). A classifier is
 * judged for one positive class, one-vs-rest, so a multi-class model is judged for the outcome
 * that matters (the loan granted, the candidate shortlisted).
 *
 * Small groups make noisy rates: a group with fewer rows than `minGroupSize` is reported, with
 * its count, but not judged — it takes no part in a disparity. A disparity needs two judged
 * groups; with fewer it is null and `reasons` says why, so a gate can say "not judged" instead
 * of passing or failing on no evidence. A rate with no denominator (the true positive rate of a
 * group without actual positives) is null, and the group is left out of that rate's disparity,
 * as pandas' `max`/`min` skip NaN inside `MetricFrame.difference()`.
 *
 * Pure: rows in, a JSON-ready report out; the caller reads the test split and runs the model.
 */

/** The scope of a disparity over the intersection of all sensitive columns. */
export const INTERSECTION_SCOPE = 'intersection';

/** One evaluated row of a classifier: its sensitive values, true class and predicted class. */
export interface ClassificationRow {
  /** The row's value for each sensitive column (a missing value mapped by the caller). */
  groups: Readonly<Record<string, string>>;
  label: string;
  prediction: string;
}

/** One evaluated row of a regression model. */
export interface RegressionRow {
  groups: Readonly<Record<string, string>>;
  label: number;
  prediction: number;
}

/** How to group the rows. */
export interface GroupingOptions {
  /** The sensitive columns, in the order group names list them. */
  sensitiveColumns: readonly string[];
  /** Groups with fewer rows are reported but not judged (an integer, at least 1). */
  minGroupSize: number;
  /** Also group by the intersection of all sensitive columns (needs two columns or more). */
  intersections: boolean;
}

export interface ClassificationOptions extends GroupingOptions {
  /** The class judged as the positive outcome; every other class is negative. */
  positiveClass: string;
}

/** Where a group belongs, shared by classification and regression groups. */
export interface GroupIdentity {
  /** The sensitive column the group is a value of, or `intersection`. */
  scope: string;
  /** `sex=F`, or `sex=F,race=B` for an intersection (columns in `sensitiveColumns` order). */
  group: string;
  /** The group's value of each column of its scope. */
  values: Record<string, string>;
  /** `count >= minGroupSize`: the group takes part in disparities. */
  judged: boolean;
}

/** A classifier's metrics over some rows, for the positive class. */
export interface ClassificationMetrics {
  count: number;
  /** Rows whose true class is the positive class. */
  positives: number;
  /** Rows predicted as the positive class. */
  predictedPositives: number;
  /** predictedPositives / count. */
  selectionRate: number;
  /** True positives / positives; null when there are no positives. */
  truePositiveRate: number | null;
  /** False positives / negatives; null when there are no negatives. */
  falsePositiveRate: number | null;
  /** Rows predicted as their true class / count (exact class match, also for multi-class). */
  accuracy: number;
}

export type ClassificationGroupMetrics = GroupIdentity & ClassificationMetrics;

/** A regression model's errors over some rows. */
export interface RegressionMetrics {
  count: number;
  meanAbsoluteError: number;
  rootMeanSquaredError: number;
  /** Mean of prediction − label: positive when the model over-predicts (bias). */
  meanError: number;
}

export type RegressionGroupMetrics = GroupIdentity & RegressionMetrics;

/** The judged groups with the lowest and the highest value of one metric (first on a tie). */
export interface GroupExtremes {
  lowest: { group: string; value: number };
  highest: { group: string; value: number };
}

/** The gate-able disparities of a classifier. */
export const classificationDisparityMetrics = [
  'demographicParityDifference',
  'demographicParityRatio',
  'truePositiveRateDifference',
  'falsePositiveRateDifference',
  'equalizedOddsDifference',
] as const;
export type ClassificationDisparityMetric = (typeof classificationDisparityMetrics)[number];

/** The gate-able disparities of a regression model. */
export const regressionDisparityMetrics = ['meanAbsoluteErrorDifference'] as const;
export type RegressionDisparityMetric = (typeof regressionDisparityMetrics)[number];

/** The disparities between the judged groups of one scope, for a classifier. */
export interface ClassificationDisparity
  extends Record<ClassificationDisparityMetric, number | null> {
  /** A sensitive column, or `intersection`. */
  scope: string;
  /** How many groups of the scope are judged. */
  judgedGroups: number;
  /** max − min selection rate over judged groups. */
  demographicParityDifference: number | null;
  /** min / max selection rate over judged groups; 1 when every selection rate is 0. */
  demographicParityRatio: number | null;
  /** max − min true positive rate over judged groups that have positives (equal opportunity). */
  truePositiveRateDifference: number | null;
  /** max − min false positive rate over judged groups that have negatives. */
  falsePositiveRateDifference: number | null;
  /**
   * Fairlearn's definition: the larger of the true and false positive rate differences; the one
   * that is defined when only one is (null when neither is).
   */
  equalizedOddsDifference: number | null;
  selectionRate: GroupExtremes | null;
  truePositiveRate: GroupExtremes | null;
  falsePositiveRate: GroupExtremes | null;
  /** Why a metric is null, for each null metric. */
  reasons: Partial<Record<ClassificationDisparityMetric, string>>;
}

/** The disparities between the judged groups of one scope, for a regression model. */
export interface RegressionDisparity extends Record<RegressionDisparityMetric, number | null> {
  scope: string;
  judgedGroups: number;
  /** max − min mean absolute error over judged groups. */
  meanAbsoluteErrorDifference: number | null;
  meanAbsoluteError: GroupExtremes | null;
  reasons: Partial<Record<RegressionDisparityMetric, string>>;
}

export interface ClassificationFairnessReport {
  task: 'classification';
  positiveClass: string;
  sensitiveColumns: string[];
  minGroupSize: number;
  intersections: boolean;
  overall: ClassificationMetrics;
  /** Each column's groups (values sorted), then the intersection's groups. */
  groups: ClassificationGroupMetrics[];
  /** One per sensitive column, in order, then `intersection` when it was computed. */
  disparities: ClassificationDisparity[];
}

export interface RegressionFairnessReport {
  task: 'regression';
  sensitiveColumns: string[];
  minGroupSize: number;
  intersections: boolean;
  overall: RegressionMetrics;
  groups: RegressionGroupMetrics[];
  disparities: RegressionDisparity[];
}

export type FairnessReport = ClassificationFairnessReport | RegressionFairnessReport;

/**
 * A classifier's metrics overall, per group and per intersection of groups, and the disparities
 * between judged groups (Fairlearn's `MetricFrame` and its demographic parity and equalized
 * odds). Throws, naming the row or option, on a row without a sensitive value or bad options.
 */
export function groupMetrics(
  rows: readonly ClassificationRow[],
  options: ClassificationOptions,
): ClassificationFairnessReport {
  const partitions = partitionRows(rows, options);
  const metricsOf = (indexes: readonly number[]) =>
    classificationMetricsOf(
      indexes.map((index) => rows[index]!),
      options.positiveClass,
    );
  const groups = partitions.map(({ identity, indexes }) => ({
    ...identity,
    ...metricsOf(indexes),
  }));
  return {
    task: 'classification',
    positiveClass: options.positiveClass,
    sensitiveColumns: [...options.sensitiveColumns],
    minGroupSize: options.minGroupSize,
    intersections: options.intersections,
    overall: metricsOf(rows.map((_, index) => index)),
    groups,
    disparities: scopesOf(options).map((scope) =>
      classificationDisparityOf(
        scope,
        describeScope(scope, options.sensitiveColumns),
        groups.filter((group) => group.scope === scope),
        options.minGroupSize,
      ),
    ),
  };
}

/**
 * A regression model's errors overall, per group and per intersection, and the spread of mean
 * absolute error between judged groups. Throws on a non-finite label or prediction.
 */
export function regressionGroupMetrics(
  rows: readonly RegressionRow[],
  options: GroupingOptions,
): RegressionFairnessReport {
  rows.forEach((row, index) => {
    if (!Number.isFinite(row.label) || !Number.isFinite(row.prediction)) {
      throw new Error(
        `Row ${index} has label ${row.label} and prediction ${row.prediction}: both must be finite numbers`,
      );
    }
  });
  const partitions = partitionRows(rows, options);
  const metricsOf = (indexes: readonly number[]) =>
    regressionMetricsOf(indexes.map((index) => rows[index]!));
  const groups = partitions.map(({ identity, indexes }) => ({
    ...identity,
    ...metricsOf(indexes),
  }));
  return {
    task: 'regression',
    sensitiveColumns: [...options.sensitiveColumns],
    minGroupSize: options.minGroupSize,
    intersections: options.intersections,
    overall: metricsOf(rows.map((_, index) => index)),
    groups,
    disparities: scopesOf(options).map((scope) => {
      const scoped = groups.filter((group) => group.scope === scope);
      const judged = scoped.filter((group) => group.judged);
      const tooFew = tooFewJudgedReason(
        describeScope(scope, options.sensitiveColumns),
        scoped,
        options.minGroupSize,
      );
      const meanAbsoluteError = tooFew
        ? null
        : extremesOf(judged, (group) => group.meanAbsoluteError);
      return {
        scope,
        judgedGroups: judged.length,
        meanAbsoluteErrorDifference: meanAbsoluteError && spreadOf(meanAbsoluteError),
        meanAbsoluteError,
        reasons: tooFew ? { meanAbsoluteErrorDifference: tooFew } : {},
      };
    }),
  };
}

/** How `scope` reads in a sentence: `sex`, or `the intersection of sex and race`. */
export function describeScope(scope: string, sensitiveColumns: readonly string[]): string {
  if (scope !== INTERSECTION_SCOPE) return scope;
  const columns = [...sensitiveColumns];
  const last = columns.pop();
  return `the intersection of ${columns.join(', ')} and ${last}`;
}

function classificationMetricsOf(
  rows: readonly ClassificationRow[],
  positiveClass: string,
): ClassificationMetrics {
  let positives = 0;
  let predictedPositives = 0;
  let truePositives = 0;
  let falsePositives = 0;
  let correct = 0;
  for (const { label, prediction } of rows) {
    const actual = label === positiveClass;
    const predicted = prediction === positiveClass;
    if (actual) positives++;
    if (predicted) predictedPositives++;
    if (actual && predicted) truePositives++;
    if (!actual && predicted) falsePositives++;
    if (label === prediction) correct++;
  }
  const count = rows.length;
  const negatives = count - positives;
  return {
    count,
    positives,
    predictedPositives,
    selectionRate: predictedPositives / count,
    truePositiveRate: positives === 0 ? null : truePositives / positives,
    falsePositiveRate: negatives === 0 ? null : falsePositives / negatives,
    accuracy: correct / count,
  };
}

function regressionMetricsOf(rows: readonly RegressionRow[]): RegressionMetrics {
  let absolute = 0;
  let squared = 0;
  let signed = 0;
  for (const { label, prediction } of rows) {
    const error = prediction - label;
    absolute += Math.abs(error);
    squared += error * error;
    signed += error;
  }
  const count = rows.length;
  return {
    count,
    meanAbsoluteError: absolute / count,
    rootMeanSquaredError: Math.sqrt(squared / count),
    meanError: signed / count,
  };
}

function classificationDisparityOf(
  scope: string,
  scopeText: string,
  groups: readonly ClassificationGroupMetrics[],
  minGroupSize: number,
): ClassificationDisparity {
  const judged = groups.filter((group) => group.judged);
  const tooFew = tooFewJudgedReason(scopeText, groups, minGroupSize);
  if (tooFew) {
    return {
      scope,
      judgedGroups: judged.length,
      demographicParityDifference: null,
      demographicParityRatio: null,
      truePositiveRateDifference: null,
      falsePositiveRateDifference: null,
      equalizedOddsDifference: null,
      selectionRate: null,
      truePositiveRate: null,
      falsePositiveRate: null,
      reasons: Object.fromEntries(classificationDisparityMetrics.map((metric) => [metric, tooFew])),
    };
  }
  const reasons: ClassificationDisparity['reasons'] = {};
  const selectionRate = extremesOf(judged, (group) => group.selectionRate)!;
  const truePositiveRate = extremesOf(judged, (group) => group.truePositiveRate);
  const falsePositiveRate = extremesOf(judged, (group) => group.falsePositiveRate);
  if (!truePositiveRate) {
    reasons.truePositiveRateDifference = `fewer than two judged groups of ${scopeText} have actual positives`;
  }
  if (!falsePositiveRate) {
    reasons.falsePositiveRateDifference = `fewer than two judged groups of ${scopeText} have actual negatives`;
  }
  const truePositiveRateDifference = truePositiveRate && spreadOf(truePositiveRate);
  const falsePositiveRateDifference = falsePositiveRate && spreadOf(falsePositiveRate);
  const defined = [truePositiveRateDifference, falsePositiveRateDifference].filter(
    (value) => value !== null,
  );
  if (defined.length === 0) {
    reasons.equalizedOddsDifference = `fewer than two judged groups of ${scopeText} have actual positives, and fewer than two have actual negatives`;
  }
  return {
    scope,
    judgedGroups: judged.length,
    demographicParityDifference: spreadOf(selectionRate),
    demographicParityRatio:
      selectionRate.highest.value === 0
        ? 1
        : selectionRate.lowest.value / selectionRate.highest.value,
    truePositiveRateDifference,
    falsePositiveRateDifference,
    equalizedOddsDifference: defined.length === 0 ? null : Math.max(...defined),
    selectionRate,
    truePositiveRate,
    falsePositiveRate,
    reasons,
  };
}

/** Why a scope has no disparity: fewer than two judged groups; undefined when it has two. */
function tooFewJudgedReason(
  scopeText: string,
  groups: readonly GroupIdentity[],
  minGroupSize: number,
): string | undefined {
  const judged = groups.filter((group) => group.judged).length;
  if (judged >= 2) return undefined;
  const groupsWord = groups.length === 1 ? 'group' : 'groups';
  const verb = judged === 1 ? 'has' : 'have';
  return `${judged} of ${groups.length} ${groupsWord} of ${scopeText} ${verb} at least ${minGroupSize} rows; two are needed to compare`;
}

/** The lowest and highest defined value over `groups`; null when fewer than two are defined. */
function extremesOf<G extends GroupIdentity>(
  groups: readonly G[],
  metricOf: (group: G) => number | null,
): GroupExtremes | null {
  let lowest: GroupExtremes['lowest'] | undefined;
  let highest: GroupExtremes['highest'] | undefined;
  let defined = 0;
  for (const group of groups) {
    const value = metricOf(group);
    if (value === null) continue;
    defined++;
    if (!lowest || value < lowest.value) lowest = { group: group.group, value };
    if (!highest || value > highest.value) highest = { group: group.group, value };
  }
  return defined >= 2 && lowest && highest ? { lowest, highest } : null;
}

const spreadOf = (extremes: GroupExtremes): number =>
  extremes.highest.value - extremes.lowest.value;

/** The scopes a report has disparities for: each column, then the intersection if asked. */
function scopesOf(options: GroupingOptions): string[] {
  const scopes = [...options.sensitiveColumns];
  if (options.intersections && options.sensitiveColumns.length >= 2) {
    scopes.push(INTERSECTION_SCOPE);
  }
  return scopes;
}

function checkOptions(options: GroupingOptions): void {
  const { sensitiveColumns, minGroupSize } = options;
  if (sensitiveColumns.length === 0)
    throw new Error('sensitiveColumns is empty: name at least one');
  const seen = new Set<string>();
  for (const column of sensitiveColumns) {
    if (column === '' || column === INTERSECTION_SCOPE) {
      throw new Error(
        `sensitiveColumns has "${column}", which cannot name a column (it is empty or reserved for intersections)`,
      );
    }
    if (seen.has(column)) throw new Error(`sensitiveColumns lists "${column}" twice`);
    seen.add(column);
  }
  if (!Number.isInteger(minGroupSize) || minGroupSize < 1) {
    throw new Error(`minGroupSize is ${minGroupSize}: it must be an integer of at least 1`);
  }
}

interface Partition {
  identity: GroupIdentity;
  indexes: number[];
}

/**
 * The groups of each sensitive column (values sorted), then of the intersection (value tuples
 * sorted, only combinations present), each with the indexes of its rows.
 */
function partitionRows(
  rows: readonly { groups: Readonly<Record<string, string>> }[],
  options: GroupingOptions,
): Partition[] {
  checkOptions(options);
  if (rows.length === 0) throw new Error('There are no rows to evaluate');
  const { sensitiveColumns, minGroupSize } = options;
  rows.forEach((row, index) => {
    for (const column of sensitiveColumns) {
      if (typeof row.groups[column] !== 'string') {
        throw new Error(`Row ${index} has no value for the sensitive column ${column}`);
      }
    }
  });
  const partitionsOf = (scope: string, columns: readonly string[]): Partition[] => {
    const byKey = new Map<string, { values: string[]; indexes: number[] }>();
    rows.forEach((row, index) => {
      const values = columns.map((column) => row.groups[column]!);
      const key = JSON.stringify(values);
      const found = byKey.get(key);
      if (found) found.indexes.push(index);
      else byKey.set(key, { values, indexes: [index] });
    });
    return [...byKey.values()]
      .sort((a, b) => compareTuples(a.values, b.values))
      .map(({ values, indexes }) => ({
        identity: {
          scope,
          group: columns.map((column, i) => `${column}=${values[i]}`).join(','),
          values: Object.fromEntries(columns.map((column, i) => [column, values[i]!])),
          judged: indexes.length >= minGroupSize,
        },
        indexes,
      }));
  };
  return scopesOf(options).flatMap((scope) =>
    partitionsOf(scope, scope === INTERSECTION_SCOPE ? sensitiveColumns : [scope]),
  );
}

function compareTuples(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return 0;
}
