/**
 * Which spilled rows survive missing values, and which stratum of the split each falls in:
 * one definition for every pass, so the passes agree row for row.
 */

import { isMissing, isNumericType } from '../../contract/prepared-data.js';
import type { DatasetSpec } from '../../operator/src/api/dataset.js';
import { readSpill } from './files.js';
import { ALL_ROWS, isFeatureColumn, labelCategory, type SourceProfile } from './profile.js';
import type { Cell } from './table.js';

export interface RowRules {
  /** Whether the row is kept (its label is there, and no value whose rows are dropped is missing). */
  keeps(row: readonly Cell[]): boolean;
  /** The row's stratum: its class when the split is stratified, else `ALL_ROWS`. */
  stratumOf(row: readonly Cell[]): string;
  /** `keeps` of a spill line whose field j lies in `[starts[j], starts[j + 1] - 1)`. */
  keepsLine(line: string, starts: Int32Array): boolean;
  /** `stratumOf` of such a spill line. */
  stratumOfLine(line: string, starts: Int32Array): string;
}

/** `isMissing` of the text `line.slice(from, to)`, cut out only when it may be a missing token. */
export function isMissingIn(line: string, from: number, to: number): boolean {
  if (to === from) return true;
  // As `isMissing`'s fast path: a missing token is at most 4 characters once trimmed.
  if (to - from > 4) {
    const first = line.charCodeAt(from);
    const last = line.charCodeAt(to - 1);
    if (first > 32 && first < 127 && last > 32 && last < 127) return false;
  }
  return isMissing(line.slice(from, to));
}

/**
 * Cuts a spill line without a quote at its commas: field j lies in
 * `[starts[j], starts[j + 1] - 1)` for j < `width`. False when the line has another number of
 * fields (it is then read the general way).
 */
export function spillFieldStarts(line: string, starts: Int32Array, width: number): boolean {
  let p = 0;
  starts[0] = 0;
  for (let j = 1; j < width; j++) {
    const comma = line.indexOf(',', p);
    if (comma === -1) return false;
    p = comma + 1;
    starts[j] = p;
  }
  if (line.indexOf(',', p) !== -1) return false;
  starts[width] = line.length + 1;
  return true;
}

export function rowRules(spec: DatasetSpec, profile: SourceProfile): RowRules {
  const mv = spec.preparation.missingValues;
  const labelIndex = profile.labelIndex;
  const label = profile.working[labelIndex]!;
  const required: number[] = [];
  for (const [j, column] of profile.working.entries()) {
    if (j === labelIndex || !isFeatureColumn(column) || column.missing === 0) continue;
    const drops = isNumericType(column.type) ? mv.numeric === 'drop' : mv.categorical === 'drop';
    if (drops) required.push(j);
  }
  const stratified = profile.task === 'classification' && spec.split.stratify;
  return {
    keeps(row) {
      if (isMissing(row[labelIndex] ?? null)) return false;
      for (const j of required) if (isMissing(row[j] ?? null)) return false;
      return true;
    },
    stratumOf(row) {
      return stratified ? labelCategory(label.type, row[labelIndex] ?? null)! : ALL_ROWS;
    },
    keepsLine(line, starts) {
      if (isMissingIn(line, starts[labelIndex]!, starts[labelIndex + 1]! - 1)) return false;
      for (const j of required) if (isMissingIn(line, starts[j]!, starts[j + 1]! - 1)) return false;
      return true;
    },
    stratumOfLine(line, starts) {
      if (!stratified) return ALL_ROWS;
      const cell = line.slice(starts[labelIndex]!, starts[labelIndex + 1]! - 1);
      return labelCategory(label.type, cell)!;
    },
  };
}

/** The counting pass, when the first could not tell how many rows each stratum keeps. */
export async function countKeptRows(spill: string, rules: RowRules): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const batch of readSpill(spill)) {
    for (const row of batch) {
      if (!rules.keeps(row)) continue;
      const stratum = rules.stratumOf(row);
      counts.set(stratum, (counts.get(stratum) ?? 0) + 1);
    }
  }
  return counts;
}
