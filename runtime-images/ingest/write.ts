/**
 * The writing pass: every kept row through the contract's `prepareRecord` and `encodeLabel`
 * (the very functions the inference server applies to a request, so a row is prepared the same
 * way for training and for serving), into the prepared CSVs of its split, hashed as written.
 * It also measures the train split's distributions, which drift detection compares served
 * requests against.
 */
import path from 'node:path';
import type { DatasetSpec } from '../../operator/src/api/dataset.js';
import type { ColumnDistribution } from '../../operator/src/contract/dataset-stats.js';
import { DatasetFile } from '../../operator/src/contract/object-store-layout.js';
import {
  CellError,
  encodeLabel,
  parseNumericCell,
  preparedHeader,
  preparedLine,
  prepareRecord,
} from '../../operator/src/contract/prepared-data.js';
import { IngestFailure } from './failure.js';
import { readSpill, TextFileWriter } from './files.js';
import { categoryOf, type Fitted } from './fit.js';
import type { SourceProfile } from './profile.js';
import type { RowRules } from './rows.js';
import { SplitAssigner } from './split.js';
import type { Cell } from './table.js';

/** The category under which values beyond `maxCategories` are counted. */
export const OTHER_CATEGORY = '__other__';

export interface WrittenFile {
  path: string;
  /** The file name in the dataset version. */
  name: string;
  sizeBytes: number;
  sha256: string;
}

export interface Written {
  files: WrittenFile[];
  distributions: ColumnDistribution[];
}

/** Index of the bin of `value` among `edges`: the number of edges ≤ value. */
export function binOf(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function writePrepared(
  spec: DatasetSpec,
  profile: SourceProfile,
  fitted: Fitted,
  spill: string,
  workDir: string,
  rules: RowRules,
  keptPerStratum: ReadonlyMap<string, number>,
): Promise<Written> {
  const { schema } = fitted;
  const header = `${preparedHeader(schema)}\n`;
  const train = new TextFileWriter(path.join(workDir, DatasetFile.train), { hash: true });
  const test = new TextFileWriter(path.join(workDir, DatasetFile.test), { hash: true });
  train.write(header);
  test.write(header);

  const labelIndex = profile.labelIndex;
  const inputs = schema.inputs.map((input, k) => {
    const index = fitted.inputIndexes[k]!;
    if (input.kind === 'numeric') {
      const edges = fitted.edges.get(input.name)!;
      return { input, index, edges, counts: new Array<number>(edges.length + 1).fill(0) };
    }
    const width = input.categories.length + 1;
    return { input, index, edges: undefined, counts: new Array<number>(width).fill(0) };
  });
  const record: Record<string, Cell> = {};
  const features: number[] = [];
  const split = new SplitAssigner(keptPerStratum, spec.split.testFraction, spec.split.seed);
  let trainRows = 0;

  for await (const batch of readSpill(spill)) {
    for (const row of batch) {
      if (!rules.keeps(row)) continue;
      const isTest = split.isTest(rules.stratumOf(row));
      for (const { input, index } of inputs) record[input.name] = row[index] ?? null;
      features.length = 0;
      let line: string;
      try {
        prepareRecord(schema, record, features);
        line = preparedLine(features, encodeLabel(schema, row[labelIndex] ?? null));
      } catch (error) {
        if (error instanceof CellError) {
          throw new IngestFailure('InvalidData', error.message, {
            column: error.column,
            cause: error,
          });
        }
        throw error;
      }
      if (isTest) {
        test.write(`${line}\n`);
        continue;
      }
      train.write(`${line}\n`);
      trainRows++;
      for (const { input, index, edges, counts } of inputs) {
        const cell = row[index] ?? null;
        if (input.kind === 'numeric') {
          const value = parseNumericCell(input.name, cell) ?? input.impute!;
          counts[binOf(edges!, value)]!++;
        } else {
          const value = categoryOf(input, input.hashSalt, cell) ?? input.impute!;
          const at = input.categories.indexOf(value);
          counts[at >= 0 ? at : input.categories.length]!++;
        }
      }
    }
    await Promise.all([train.drain(), test.drain()]);
  }
  const [trainSha, testSha] = await Promise.all([train.close(), test.close()]);

  const distributions: ColumnDistribution[] = inputs.map(({ input, edges, counts }) => {
    const fractions = counts.map((c) => (trainRows > 0 ? c / trainRows : 0));
    if (input.kind === 'numeric') {
      return { name: input.name, numeric: { edges: edges!, fractions } };
    }
    const byCategory: Record<string, number> = {};
    input.categories.forEach((c, i) => {
      byCategory[c] = fractions[i]!;
    });
    if (input.other) byCategory[OTHER_CATEGORY] = fractions[input.categories.length]!;
    return { name: input.name, categorical: { fractions: byCategory } };
  });
  return {
    files: [
      { path: train.path, name: DatasetFile.train, sizeBytes: train.sizeBytes, sha256: trainSha! },
      { path: test.path, name: DatasetFile.test, sizeBytes: test.sizeBytes, sha256: testSha! },
    ],
    distributions,
  };
}
