/**
 * The fitting pass: reads the kept rows once, splits them, and fits the preparation on the
 * train split only (imputation values, categories, scaling), as a scikit-learn pipeline fitted
 * on the train set would, so nothing of the test split leaks into what the model sees. It also
 * gathers the statistics of `stats.json` over all kept rows.
 */
import type { ColumnStats } from '../../contract/dataset-stats.js';
import {
  PII_HASH_SCHEME,
  type PiiHashing,
  PiiKeyMissingError,
  piiHash,
  piiHashing,
} from '../../contract/pii-hash.js';
import {
  featureNamesOf,
  type InputTransform,
  isNumericType,
  PREPARED_FORMAT_VERSION,
  type PreparedSchema,
  PreparedSchemaSchema,
  parseCategoryCell,
  parseNumericCell,
  plainDecimalIn,
} from '../../contract/prepared-data.js';
import type { DatasetSpec } from '../../operator/src/api/dataset.js';
import { IngestFailure } from './failure.js';
import { readSpillLines } from './files.js';
import {
  isFeatureColumn,
  labelCategory,
  type SourceProfile,
  type WorkingColumn,
} from './profile.js';
import { type RowRules, spillFieldStarts } from './rows.js';
import { FrequencyCounter, QuantileSketch, RunningStats } from './sketches.js';
import { SplitAssigner } from './split.js';
import type { Cell } from './table.js';

/** Distinct values counted exactly per column for `stats.json` (`distinct` is left out beyond). */
export const DISTINCT_CAPACITY = 10_000;

/** The interior edges of a numeric distribution: the train split's deciles. */
export const DISTRIBUTION_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/**
 * The hash of a PII column with `Hash`: the namespace's keyed hash (`contract/pii-hash.ts`), the
 * same in every version and in the request log, so the version stays a content hash and joins
 * on the column keep working; `schema.json` names only the scheme. Without a key the
 * ingestion fails rather than write the raw values.
 */
function piiHasherOf(column: WorkingColumn, piiKey: Buffer | undefined): PiiHasher | undefined {
  if (column.pii !== 'Hash') return undefined;
  if (piiKey === undefined) {
    throw new IngestFailure('PiiKeyMissing', new PiiKeyMissingError(column.name).message);
  }
  return (value) => piiHash(piiKey, value);
}

/** Hashes one category text of a PII column. */
export type PiiHasher = (value: string) => string;

interface InputFit {
  column: WorkingColumn;
  index: number;
  numeric: boolean;
  hash: PiiHasher | undefined;
  all: RunningStats;
  train: RunningStats;
  quantiles: QuantileSketch;
  distinct: FrequencyCounter;
  trainCategories: FrequencyCounter;
  trainMissing: number;
}

/** A sensitive column that is not a feature, written with the raw test rows only. */
export interface EvaluationColumn {
  name: string;
  index: number;
  pii: 'Hash' | undefined;
}

export interface Fitted {
  schema: PreparedSchema;
  /** Working index of each `schema.inputs` entry. */
  inputIndexes: number[];
  /** The sensitive columns kept for evaluation only, with their working index. */
  evaluationColumns: EvaluationColumn[];
  rows: number;
  trainRows: number;
  testRows: number;
  columns: ColumnStats[];
  labels: Record<string, number> | undefined;
  /** Interior bin edges of each numeric input's train distribution, by input name. */
  edges: Map<string, number[]>;
  /** How the writing pass hashes the PII columns: with the key the fit used. */
  piiHashing: PiiHashing;
}

/** The category text of an input cell, hashed for a PII column; undefined when missing. */
export function categoryOf(
  column: { type: WorkingColumn['type'] },
  hash: PiiHasher | undefined,
  cell: Cell,
): string | undefined {
  const c = parseCategoryCell(column.type, cell);
  return c !== undefined && hash !== undefined ? hash(c) : c;
}

export async function fitPreparation(
  spec: DatasetSpec,
  profile: SourceProfile,
  spill: string,
  piiKey: Buffer | undefined,
  rules: RowRules,
  keptPerStratum: ReadonlyMap<string, number>,
): Promise<Fitted> {
  const prep = spec.preparation;
  const labelIndex = profile.labelIndex;
  const label = profile.working[labelIndex]!;
  const trainCapacity = Math.max(1024, 4 * prep.maxCategories);
  const fits: InputFit[] = [];
  for (const [index, column] of profile.working.entries()) {
    if (index === labelIndex || !isFeatureColumn(column)) continue;
    fits.push({
      column,
      index,
      numeric: isNumericType(column.type),
      hash: piiHasherOf(column, piiKey),
      all: new RunningStats(),
      train: new RunningStats(),
      quantiles: new QuantileSketch(column.min, column.max),
      distinct: new FrequencyCounter(DISTINCT_CAPACITY),
      trainCategories: new FrequencyCounter(trainCapacity),
      trainMissing: 0,
    });
  }
  if (fits.length === 0) {
    throw new IngestFailure(
      'InvalidData',
      `no feature column is left besides the label ${label.name} (check spec.preparation select, drop and pii)`,
    );
  }
  const classes = new Map<string, number>();
  const labelStats = new RunningStats();
  const regression = profile.task === 'regression';
  const split = new SplitAssigner(keptPerStratum, spec.split.testFraction, spec.split.seed);
  let rows = 0;
  let testRows = 0;

  /** One kept row's cell of each input, `cellAt(j)` giving working column j's raw cell. */
  const observeRow = (
    test: boolean,
    cellAt: (j: number) => Cell,
    numberAt: (j: number) => number,
  ) => {
    for (const fit of fits) {
      if (fit.numeric) {
        // A plain decimal read in place (`plainDecimalIn`: what `Number` reads), else the
        // general reading, which also says "missing".
        let value: number | undefined = numberAt(fit.index);
        if (Number.isNaN(value)) value = parseNumericCell(fit.column.name, cellAt(fit.index));
        if (value === undefined) {
          if (!test) fit.trainMissing++;
          continue;
        }
        fit.all.add(value);
        if (!test) {
          fit.train.add(value);
          fit.quantiles.add(value);
        }
      } else {
        const category = categoryOf(fit.column, fit.hash, cellAt(fit.index));
        if (category === undefined) {
          if (!test) fit.trainMissing++;
          continue;
        }
        fit.distinct.add(category);
        if (!test) fit.trainCategories.add(category);
      }
    }
    const labelCell = cellAt(labelIndex);
    if (regression) labelStats.add(parseNumericCell(label.name, labelCell)!);
    else {
      const c = labelCategory(label.type, labelCell)!;
      classes.set(c, (classes.get(c) ?? 0) + 1);
    }
  };

  // Spill lines without a quote are read in place: fields found by their commas, numbers
  // read where they lie; a row with a quoted cell is read as its cells.
  const width = profile.working.length;
  const starts = new Int32Array(width + 1);
  let line = '';
  const lineCell = (j: number): Cell => line.slice(starts[j]!, starts[j + 1]! - 1);
  const lineNumber = (j: number) => plainDecimalIn(line, starts[j]!, starts[j + 1]! - 1);
  let row: readonly Cell[] = [];
  const rowCell = (j: number): Cell => row[j] ?? null;
  const rowNumber = () => Number.NaN;
  const observeCells = (cells: readonly Cell[]) => {
    if (!rules.keeps(cells)) return;
    rows++;
    const test = split.isTest(rules.stratumOf(cells));
    if (test) testRows++;
    row = cells;
    observeRow(test, rowCell, rowNumber);
  };
  for await (const batch of readSpillLines(spill)) {
    for (const entry of batch) {
      if (typeof entry !== 'string') observeCells(entry);
      else if (!spillFieldStarts(entry, starts, width)) observeCells(entry.split(','));
      else {
        if (!rules.keepsLine(entry, starts)) continue;
        rows++;
        const test = split.isTest(rules.stratumOfLine(entry, starts));
        if (test) testRows++;
        line = entry;
        observeRow(test, lineCell, lineNumber);
      }
    }
  }
  const trainRows = rows - testRows;
  if (trainRows === 0) {
    throw new IngestFailure(
      'InvalidData',
      `no row is left for the train split (${rows} rows after dropping missing values, testFraction ${spec.split.testFraction})`,
    );
  }

  const inputs: InputTransform[] = [];
  const edges = new Map<string, number[]>();
  for (const fit of fits) inputs.push(fitInput(spec, fit, edges));
  const classNames = regression ? undefined : [...classes.keys()].sort(codeUnitOrder);
  const piiDropped = (prep.pii ?? []).filter((p) => p.action === 'Drop').map((p) => p.column);
  const schema = PreparedSchemaSchema.parse({
    formatVersion: PREPARED_FORMAT_VERSION,
    task: profile.task,
    label: {
      name: label.name,
      type: label.type,
      ...(classNames ? { classes: classNames } : {}),
    },
    inputs,
    features: inputs.flatMap(featureNamesOf),
    ...(piiDropped.length > 0 ? { piiDropped } : {}),
    ...(spec.fairness ? { sensitiveColumns: [...spec.fairness.sensitiveColumns] } : {}),
  });

  const columns: ColumnStats[] = [];
  for (const [index, column] of profile.working.entries()) {
    const fit = fits.find((f) => f.index === index);
    if (index !== labelIndex && !fit) continue;
    const stats: ColumnStats = { name: column.name, type: column.type, missing: column.missing };
    const numeric =
      index === labelIndex
        ? regression
          ? labelStats
          : undefined
        : fit?.numeric
          ? fit.all
          : undefined;
    if (numeric && numeric.count > 0) {
      Object.assign(stats, {
        mean: numeric.mean,
        stddev: numeric.stddev,
        min: numeric.min,
        max: numeric.max,
      });
    } else if (index === labelIndex) {
      stats.distinct = classes.size;
    } else if (fit?.distinct.exact) {
      stats.distinct = fit.distinct.counts.size;
    }
    columns.push(stats);
  }
  const labels = classNames
    ? Object.fromEntries(classNames.map((c) => [c, classes.get(c)!]))
    : undefined;
  return {
    schema,
    inputIndexes: fits.map((f) => f.index),
    evaluationColumns: [...profile.working.entries()]
      .filter(([, column]) => column.evaluationOnly)
      .map(([index, column]) => ({ name: column.name, index, pii: column.pii })),
    rows,
    trainRows,
    testRows,
    columns,
    labels,
    edges,
    piiHashing: piiHashing(piiKey),
  };
}

function codeUnitOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fitInput(spec: DatasetSpec, fit: InputFit, edges: Map<string, number[]>): InputTransform {
  const prep = spec.preparation;
  const mv = prep.missingValues;
  const name = fit.column.name;
  if (fit.numeric) {
    const train = fit.train;
    if (train.count === 0) {
      throw new IngestFailure('InvalidData', `column ${name} has no value in the train split`, {
        column: name,
      });
    }
    let impute: number | null;
    switch (mv.numeric) {
      case 'drop':
        impute = null;
        break;
      case 'mean':
        impute = train.mean;
        break;
      case 'median':
        impute = fit.quantiles.quantiles([0.5])[0]!;
        break;
      case 'zero':
        impute = 0;
        break;
    }
    if (impute !== null) {
      train.addRepeated(impute, fit.trainMissing);
      fit.quantiles.addPoint(impute, fit.trainMissing);
    }
    const std = train.stddev;
    const scale =
      prep.scaleNumerics === 'standard'
        ? {
            method: 'standard' as const,
            mean: train.mean,
            std: std > 0 && Number.isFinite(std) ? std : 1,
          }
        : prep.scaleNumerics === 'minMax'
          ? { method: 'minMax' as const, min: train.min, max: train.max }
          : { method: 'none' as const };
    const deciles = fit.quantiles.quantiles(DISTRIBUTION_QUANTILES);
    edges.set(
      name,
      deciles.filter((e, i) => i === 0 || e > deciles[i - 1]!),
    );
    return {
      name,
      type: fit.column.type as 'number' | 'integer',
      kind: 'numeric',
      impute,
      scale,
    };
  }
  const counter = fit.trainCategories;
  if (counter.counts.size === 0) {
    throw new IngestFailure('InvalidData', `column ${name} has no value in the train split`, {
      column: name,
    });
  }
  let impute: string | null;
  switch (mv.categorical) {
    case 'drop':
      impute = null;
      break;
    case 'mostFrequent':
      impute = counter.ranked()[0]![0];
      break;
    case 'constant':
      impute = mv.fillValue ?? '';
      break;
  }
  if (impute !== null && fit.trainMissing > 0) counter.add(impute, fit.trainMissing);
  const ranked = counter.ranked();
  const categories = ranked
    .slice(0, prep.maxCategories)
    .map(([c]) => c)
    .sort(codeUnitOrder);
  return {
    name,
    type: fit.column.type as 'boolean' | 'categorical' | 'string',
    kind: 'categorical',
    impute,
    encoding: prep.encodeCategoricals,
    categories,
    other: ranked.length > prep.maxCategories || !counter.exact,
    ...(fit.hash !== undefined ? { hash: PII_HASH_SCHEME } : {}),
  };
}
