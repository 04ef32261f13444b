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
