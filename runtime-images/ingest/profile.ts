/**
 * The first pass over the source: which columns are kept, what type each has (declared, or
 * inferred: a column whose every value is a number is `number`, anything else `categorical`),
 * how many values are missing, the value ranges, the label's classes and how many rows each
 * stratum of the split will have. It sees every source row once, holds only counters, and
 * hands the kept columns of each row on to be spilled.
 */

import {
  CellError,
  isMissing,
  isNumericType,
  parseCategoryCell,
  parseNumericCell,
  plainDecimal,
} from '../../contract/prepared-data.js';
import type { ColumnType, DatasetSpec } from '../../operator/src/api/dataset.js';
import { IngestFailure } from './failure.js';
import type { Cell } from './table.js';

/** The most classes a classification label may have (`status.labels` holds at most 1000). */
export const MAX_CLASSES = 1000;

/** The one stratum of a split that is not stratified. */
export const ALL_ROWS = '';

/** A column kept for preparation (a feature input or the label). */
export interface WorkingColumn {
  name: string;
  type: ColumnType;
  /** Whether the type came from the data rather than `spec.schema.columns`. */
  inferred: boolean;
  /** `Hash` when the column is personal data to be hashed. */
  pii: 'Hash' | undefined;
  /**
   * A sensitive column (`spec.fairness.sensitiveColumns`) that select/drop leaves out of the
   * features: kept only to be written with the test split, for group metrics.
   */
  evaluationOnly: boolean;
  /** Source rows where the value is missing. */
  missing: number;
  /** Range of the numeric values (numeric columns); ±Infinity when none. */
  min: number;
  max: number;
}

export interface SourceProfile {
  sourceColumns: string[];
  /** The kept columns in spill order (source order); the label is one of them. */
  working: WorkingColumn[];
  labelIndex: number;
  task: 'classification' | 'regression';
  sourceRows: number;
  /**
   * Rows per stratum after rows are dropped for missing values (the stratum is the label's
   * class when the split is stratified, else `ALL_ROWS`); undefined when dropping depends on
   * inferred types and a counting pass must find out.
   */
  keptPerStratum: Map<string, number> | undefined;
}

interface RuleObservation {
  missing: number;
  min: number;
  minRow: number;
  max: number;
  maxRow: number;
  notNumeric: { value: Cell; row: number } | undefined;
  notAllowed: { value: string; row: number } | undefined;
  notAllowedRows: number;
}

/** Whether a column of this type is a feature input (free text is not). */
export function isInputType(type: ColumnType): boolean {
  return type !== 'string';
}

/** Whether a kept column becomes a feature: an input type, not kept for evaluation only. */
export function isFeatureColumn(column: Pick<WorkingColumn, 'type' | 'evaluationOnly'>): boolean {
  return isInputType(column.type) && !column.evaluationOnly;
}

/** The category text of a label cell, for classes and strata. */
export function labelCategory(type: ColumnType, cell: Cell): string | undefined {
  return parseCategoryCell(isNumericType(type) ? 'categorical' : type, cell);
}

/**
 * Whether a source column is kept for preparation (one of the profile's working columns): the
 * label, or a feature or sensitive column that `pii` does not drop.
 */
export function keepsColumn(spec: DatasetSpec, name: string): boolean {
  if (name === spec.schema.label) return true;
  if (spec.preparation.pii?.some((p) => p.column === name && p.action === 'Drop')) return false;
  const prep = spec.preparation;
  const declared = spec.schema.columns;
  const feature =
    (!declared || declared.some((c) => c.name === name)) &&
    (!prep.select || prep.select.includes(name)) &&
    !prep.drop?.includes(name);
  return feature || (spec.fairness?.sensitiveColumns.includes(name) ?? false);
}

/**
 * Whether the first pass looks at a source column at all: kept (`keepsColumn`), or checked by
 * a validation rule. A columnar reader may leave the others undecoded (the Parquet reader
 * does) and give null cells: nothing reads them.
 */
export function isObservedColumn(spec: DatasetSpec, name: string): boolean {
  return (
    keepsColumn(spec, name) || (spec.validation?.columns?.some((r) => r.name === name) ?? false)
  );
}

export class SourceProfiler {
  private readonly spec: DatasetSpec;
  private readonly declared: Map<string, ColumnType> | undefined;
  private readonly piiAction = new Map<string, 'Drop' | 'Hash'>();
  private readonly sensitive: ReadonlySet<string>;
  /** Source index of each working column. */
  private readonly sourceIndex: number[] = [];
  private readonly names: string[] = [];
  private readonly missing: number[] = [];
  private readonly numeric: boolean[] = [];
  private readonly seen: number[] = [];
  private readonly min: number[] = [];
  private readonly max: number[] = [];
  private labelIndex = -1;
  private knownColumns = 0;
  private rows = 0;
  private readonly classes = new Map<string, number>();
  private readonly classesComplete = new Map<string, number>();
  private labelPresent = 0;
  private labelPresentComplete = 0;
  private readonly rules = new Map<number, RuleObservation>();
  private readonly ruleSpecs = new Map<string, NonNullable<DatasetSpec['validation']>['columns']>();

  constructor(spec: DatasetSpec) {
    this.spec = spec;
    const declared = spec.schema.columns;
    this.declared = declared ? new Map(declared.map((c) => [c.name, c.type])) : undefined;
    this.sensitive = new Set(spec.fairness?.sensitiveColumns ?? []);
    for (const p of spec.preparation.pii ?? []) {
      if (p.column === spec.schema.label) {
        throw new IngestFailure(
          'InvalidData',
          `spec.preparation.pii names the label ${p.column}; the label cannot be dropped or hashed`,
          { column: p.column },
        );
      }
      this.piiAction.set(p.column, p.action);
    }
  }

  private keeps(name: string): boolean {
    return keepsColumn(this.spec, name);
  }

  /** Whether select/drop and the declared columns make `name` a feature (its type aside). */
  private isFeature(name: string): boolean {
    const prep = this.spec.preparation;
    if (this.declared && !this.declared.has(name)) return false;
    if (prep.select && !prep.select.includes(name)) return false;
    return !prep.drop?.includes(name);
  }

  /** Takes in new source columns (a header, or new JSON keys). */
  private learnColumns(columns: readonly string[]): void {
    for (let i = this.knownColumns; i < columns.length; i++) {
      const name = columns[i]!;
      const rules = this.spec.validation?.columns?.filter((r) => r.name === name);
      if (rules?.length) {
        this.rules.set(i, {
          missing: this.rows,
          min: Number.POSITIVE_INFINITY,
          minRow: 0,
          max: Number.NEGATIVE_INFINITY,
          maxRow: 0,
          notNumeric: undefined,
          notAllowed: undefined,
          notAllowedRows: 0,
        });
        this.ruleSpecs.set(name, rules);
      }
      if (!this.keeps(name)) continue;
      if (name === this.spec.schema.label) this.labelIndex = this.names.length;
      this.sourceIndex.push(i);
      this.names.push(name);
      this.missing.push(this.rows);
      this.numeric.push(true);
      this.seen.push(0);
      this.min.push(Number.POSITIVE_INFINITY);
      this.max.push(Number.NEGATIVE_INFINITY);
    }
    this.knownColumns = columns.length;
  }

  /**
   * Observes a batch of source rows; returns their kept cells (the rows to spill). Rows seen
   * before a column appeared count it as missing.
   */
  observe(columns: readonly string[], batch: readonly Cell[][]): Cell[][] {
    if (columns.length > this.knownColumns) this.learnColumns(columns);
    const width = this.names.length;
    const sourceIndex = this.sourceIndex;
    const declared = this.declared;
    const labelIndex = this.labelIndex;
    const labelType = labelIndex >= 0 ? this.declaredType(this.names[labelIndex]!) : undefined;
    // The kept columns are often all of them, in order: then a row is spilled as it came.
    let identity = width === columns.length;
    for (let j = 0; identity && j < width; j++) identity = sourceIndex[j] === j;
    const out: Cell[][] = new Array(batch.length);
    for (let r = 0; r < batch.length; r++) {
      const source = batch[r]!;
      const row: Cell[] = identity && source.length === width ? source : new Array(width);
      const rowNumber = this.rows + r + 1;
      let complete = true;
      for (let j = 0; j < width; j++) {
        const cell = source[sourceIndex[j]!] ?? null;
        if (row !== source) row[j] = cell;
        if (isMissing(cell)) {
          this.missing[j]!++;
          if (j !== labelIndex) complete = false;
          continue;
        }
        this.seen[j]!++;
        if (!this.numeric[j]) continue;
        // A plain decimal is read without `Number`'s runtime call (`plainDecimal`: the same
        // double); any other text as before.
        let n = typeof cell === 'number' ? cell : Number.NaN;
        if (typeof cell === 'string') {
          n = plainDecimal(cell);
          if (Number.isNaN(n)) n = Number(cell.trim());
        }
        if (Number.isFinite(n)) {
          if (n < this.min[j]!) this.min[j] = n;
          if (n > this.max[j]!) this.max[j] = n;
          continue;
        }
        this.numeric[j] = false;
        const type = declared?.get(this.names[j]!);
        if (type !== undefined && isNumericType(type)) {
          throw new IngestFailure(
            'InvalidData',
            `column ${this.names[j]}: a value in row ${rowNumber} is not a number, and spec.schema.columns declares it ${type}`,
            { column: this.names[j]! },
          );
        }
      }
      if (labelIndex >= 0) {
        const label = row[labelIndex]!;
        if (!isMissing(label)) {
          this.labelPresent++;
          if (complete) this.labelPresentComplete++;
          if (labelType === undefined || !isNumericType(labelType)) {
            const category = labelCategory(labelType ?? 'categorical', label)!;
            if (this.classes.size <= MAX_CLASSES || this.classes.has(category)) {
              this.classes.set(category, (this.classes.get(category) ?? 0) + 1);
              if (complete)
                this.classesComplete.set(category, (this.classesComplete.get(category) ?? 0) + 1);
            }
          }
        }
      }
      for (const [i, observation] of this.rules)
        this.observeRule(columns[i]!, source[i] ?? null, rowNumber, observation);
      out[r] = row;
    }
    this.rows += batch.length;
    return out;
  }

  private declaredType(name: string): ColumnType | undefined {
    return this.declared?.get(name);
  }

  private observeRule(name: string, cell: Cell, row: number, o: RuleObservation): void {
    if (isMissing(cell)) {
      o.missing++;
      return;
    }
    const rules = this.ruleSpecs.get(name)!;
    for (const rule of rules) {
      if (rule.min !== undefined || rule.max !== undefined) {
        let n: number | undefined;
        try {
          n = parseNumericCell(name, cell);
        } catch (error) {
          if (!(error instanceof CellError)) throw error;
          o.notNumeric ??= { value: cell, row };
        }
        if (n !== undefined) {
          if (n < o.min) {
            o.min = n;
            o.minRow = row;
          }
          if (n > o.max) {
            o.max = n;
            o.maxRow = row;
          }
        }
      }
      if (rule.allowedValues) {
        const type = this.declaredType(name) ?? 'categorical';
        const value = parseCategoryCell(isNumericType(type) ? 'categorical' : type, cell)!;
        if (!rule.allowedValues.includes(value)) {
          o.notAllowed ??= { value, row };
          o.notAllowedRows++;
        }
      }
    }
  }

  /** The profile, once every row was observed; throws when the data or a rule fails. */
  finish(sourceColumns: readonly string[]): SourceProfile {
    this.learnColumns(sourceColumns);
    const spec = this.spec;
    const label = spec.schema.label;
    const all = new Set(sourceColumns);
    // The data's own column names are its bytes: only the spec's name is quoted.
    const known = `it is not among the data's ${sourceColumns.length} columns`;
    const requireColumn = (name: string, field: string) => {
      if (!all.has(name)) {
        throw new IngestFailure('InvalidData', `${field} names column ${name}, but ${known}`, {
          column: name,
        });
      }
    };
    if (this.rows === 0) throw new IngestFailure('InvalidData', 'the source has no rows');
    requireColumn(label, 'spec.schema.label');
    for (const c of spec.schema.columns ?? []) requireColumn(c.name, 'spec.schema.columns');
    for (const c of spec.preparation.select ?? []) requireColumn(c, 'spec.preparation.select');
    for (const c of spec.preparation.drop ?? []) requireColumn(c, 'spec.preparation.drop');
    for (const p of spec.preparation.pii ?? []) requireColumn(p.column, 'spec.preparation.pii');
    for (const c of this.sensitive) requireColumn(c, 'spec.fairness.sensitiveColumns');
    for (const r of spec.validation?.columns ?? [])
      requireColumn(r.name, 'spec.validation.columns');

    const working: WorkingColumn[] = this.names.map((name, j) => {
      const declared = this.declaredType(name);
      const pii = this.piiAction.get(name) === 'Hash' ? ('Hash' as const) : undefined;
      const inferredType: ColumnType =
        this.numeric[j] && this.seen[j]! > 0 ? 'number' : 'categorical';
      // Kept for evaluation only: a sensitive column that is not a feature, left out by
      // select/drop or free text (which is never a feature).
      const evaluationOnly =
        j !== this.labelIndex &&
        this.sensitive.has(name) &&
        (!this.isFeature(name) || (declared ?? inferredType) === 'string');
      return {
        name,
        // A column kept for evaluation only is grouped by its values: categories.
        type: pii || evaluationOnly ? 'categorical' : (declared ?? inferredType),
        inferred: declared === undefined,
        pii,
        evaluationOnly,
        missing: this.missing[j]!,
        min: this.min[j]!,
        max: this.max[j]!,
      };
    });
    const labelColumn = working[this.labelIndex]!;
    for (const [j, column] of working.entries()) {
      if (this.seen[j] === 0 && (j === this.labelIndex || isFeatureColumn(column))) {
        throw new IngestFailure(
          'InvalidData',
          `column ${column.name} has no value in any of the ${this.rows} rows${j === this.labelIndex ? '' : '; drop it (spec.preparation.drop)'}`,
          { column: column.name },
        );
      }
    }
    const task = isNumericType(labelColumn.type) ? 'regression' : 'classification';
    if (task === 'classification' && this.classes.size > MAX_CLASSES) {
      throw new IngestFailure(
        'InvalidData',
        `label ${label} has more than ${MAX_CLASSES} distinct values; declare it number in spec.schema.columns for regression`,
        { column: label },
      );
    }
    this.validate(sourceColumns, working);

    // Which rows survive missing values: the label must be there, and so must every input
    // whose kind of column drops missing rows.
    const mv = spec.preparation.missingValues;
    const dropsNumeric = mv.numeric === 'drop';
    const dropsCategorical = mv.categorical === 'drop';
    const inputs = working.filter((c, j) => j !== this.labelIndex && isFeatureColumn(c));
    const stratify = task === 'classification' && spec.split.stratify;
    let keptPerStratum: Map<string, number> | undefined;
    if ((!dropsNumeric && !dropsCategorical) || inputs.every((c) => c.missing === 0)) {
      keptPerStratum = stratify ? new Map(this.classes) : new Map([[ALL_ROWS, this.labelPresent]]);
    } else if (dropsNumeric && dropsCategorical && inputs.length === working.length - 1) {
      keptPerStratum = stratify
        ? new Map(this.classesComplete)
        : new Map([[ALL_ROWS, this.labelPresentComplete]]);
    }
    return {
      sourceColumns: [...sourceColumns],
      working,
      labelIndex: this.labelIndex,
      task,
      sourceRows: this.rows,
      keptPerStratum,
    };
  }

  private validate(sourceColumns: readonly string[], working: readonly WorkingColumn[]): void {
    const rules = this.spec.validation;
    if (!rules) return;
    const rows = this.rows;
    const fraction = (missing: number) =>
      `${Number((missing / rows).toPrecision(4))} (${missing} of ${rows} rows missing)`;
    for (const rule of rules.columns ?? []) {
      const index = sourceColumns.indexOf(rule.name);
      const o = this.rules.get(index)!;
      const column = rule.name;
      if (rule.maxMissingFraction !== undefined && o.missing / rows > rule.maxMissingFraction) {
        throw new IngestFailure(
          'ValidationFailed',
          `column ${column}: ${fraction(o.missing)} exceeds maxMissingFraction ${rule.maxMissingFraction}`,
          { rule: 'maxMissingFraction', column, observed: String(o.missing / rows) },
        );
      }
      if ((rule.min !== undefined || rule.max !== undefined) && o.notNumeric) {
        const which = rule.min !== undefined ? 'min' : 'max';
        throw new IngestFailure(
          'ValidationFailed',
          `column ${column}: a value in row ${o.notNumeric.row} is not a number, so rule ${which} cannot hold`,
          { rule: which, column },
        );
      }
      if (rule.min !== undefined && o.min < rule.min) {
        throw new IngestFailure(
          'ValidationFailed',
          `column ${column}: the value ${o.min} in row ${o.minRow} is below min ${rule.min}`,
          { rule: 'min', column, observed: String(o.min) },
        );
      }
      if (rule.max !== undefined && o.max > rule.max) {
        throw new IngestFailure(
          'ValidationFailed',
          `column ${column}: the value ${o.max} in row ${o.maxRow} is above max ${rule.max}`,
          { rule: 'max', column, observed: String(o.max) },
        );
      }
      if (rule.allowedValues && o.notAllowed) {
        throw new IngestFailure(
          'ValidationFailed',
          `column ${column}: the value in row ${o.notAllowed.row} is not one of allowedValues (${o.notAllowedRows} rows have a value outside them)`,
          { rule: 'allowedValues', column },
        );
      }
    }
    if (rules.maxMissingFraction !== undefined) {
      for (const c of working) {
        if (c.missing / rows > rules.maxMissingFraction) {
          throw new IngestFailure(
            'ValidationFailed',
            `column ${c.name}: ${fraction(c.missing)} exceeds maxMissingFraction ${rules.maxMissingFraction}`,
            { rule: 'maxMissingFraction', column: c.name, observed: String(c.missing / rows) },
          );
        }
      }
    }
  }
}

/** Fails when the prepared data has fewer rows than `spec.validation.minRows`. */
export function checkMinRows(spec: DatasetSpec, rows: number): void {
  const minRows = spec.validation?.minRows;
  if (minRows !== undefined && rows < minRows) {
    throw new IngestFailure(
      'ValidationFailed',
      `the prepared data has ${rows} rows, fewer than minRows ${minRows}`,
      { rule: 'minRows', observed: String(rows) },
    );
  }
}
