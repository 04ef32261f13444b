/**
 * The writing pass: every kept row through the contract's `prepareRecord` and `encodeLabel`
 * (the very functions the inference server applies to a request, so a row is prepared the same
 * way for training and for serving), into the prepared CSVs of its split, hashed as written;
 * every row also goes, unprepared, to `test.raw.jsonl` or `train.raw.jsonl` (`raw-split.ts`), in
 * the same order as its split (a BatchPrediction scores the raw rows with any model).
 * It also measures the train split's distributions, which drift detection compares served
 * requests against.
 *
 * Nearly every spill line has no quote: it is prepared in place by the contract's
 * `csvLinePreparer` (the same generated preparation as `prepareRecord`, fields found by their
 * commas, numbers read where they lie) and both of its lines are written as bytes into their
 * files' chunks, never built as strings (docs/ingestion.md, "Performance"). A row with a quoted
 * cell takes the general way; both give the same bytes (`same-bytes.test.ts`).
 */
import path from 'node:path';
import type { ColumnDistribution } from '../../contract/dataset-stats.js';
import { DatasetFile } from '../../contract/object-store-layout.js';
import {
  CellError,
  csvLinePreparer,
  encodeLabel,
  preparedHeader,
  preparedLine,
  prepareRecord,
  scaleNumber,
} from '../../contract/prepared-data.js';
import type { DatasetSpec } from '../../operator/src/api/dataset.js';
import { IngestFailure } from './failure.js';
import { readSpillLines, TextFileWriter } from './files.js';
import type { Fitted } from './fit.js';
import type { SourceProfile } from './profile.js';
import { rawLineWriter, rawSpillLineWriter } from './raw-split.js';
import { type RowRules, spillFieldStarts } from './rows.js';
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
  contentType: string;
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
  const testRaw = new TextFileWriter(path.join(workDir, DatasetFile.testRaw), { hash: true });
  const trainRaw = new TextFileWriter(path.join(workDir, DatasetFile.trainRaw), { hash: true });
  train.write(header);
  test.write(header);
  const rawLineOf = rawLineWriter(
    schema,
    fitted.inputIndexes,
    profile.labelIndex,
    fitted.piiHashing,
    fitted.evaluationColumns,
  );

  const labelIndex = profile.labelIndex;
  // Each input's first feature, its width, and its distribution's counts. A numeric input's
  // bins are found on its prepared (scaled) value against the scaled edges: scaling is
  // increasing, so a value and an edge keep their order, and nothing is parsed twice.
  let offset = 0;
  const inputs = schema.inputs.map((input, k) => {
    const index = fitted.inputIndexes[k]!;
    const at = offset;
    if (input.kind === 'numeric') {
      offset += 1;
      const edges = fitted.edges.get(input.name)!;
      const scaledEdges = edges.map((e) => scaleNumber(input, e));
      return {
        input,
        index,
        at,
        width: 1,
        edges,
        scaledEdges,
        counts: new Array<number>(edges.length + 1).fill(0),
      };
    }
    const width = input.encoding === 'oneHot' ? input.categories.length + (input.other ? 1 : 0) : 1;
    offset += width;
    const counts = new Array<number>(input.categories.length + 1).fill(0);
    return { input, index, at, width, edges: undefined, scaledEdges: undefined, counts };
  });
  const record: Record<string, Cell> = {};
  const features: number[] = [];
  const split = new SplitAssigner(keptPerStratum, spec.split.testFraction, spec.split.seed);
  let trainRows = 0;

  /** A train row's features into the distributions. */
  const countTrainRow = () => {
    trainRows++;
    for (const { input, at, width, scaledEdges, counts } of inputs) {
      if (scaledEdges !== undefined) {
        counts[binOf(scaledEdges, features[at]!)]!++;
      } else if (input.kind === 'categorical' && input.encoding === 'oneHot') {
        let hot = 0;
        while (hot < width && features[at + hot] !== 1) hot++;
        // The "other" slot, or no slot at all, both count as other.
        counts[Math.min(hot, input.categories.length)]!++;
      } else {
        const code = features[at]!;
        counts[code >= 0 && code < counts.length ? code : counts.length - 1]!++;
      }
    }
  };
  /** The general way: a row of cells (one with a quoted cell) through `prepareRecord`. */
  const writeRow = (row: readonly Cell[]) => {
    if (!rules.keeps(row)) return;
    const isTest = split.isTest(rules.stratumOf(row));
    for (const { input, index } of inputs) record[input.name] = row[index] ?? null;
    features.length = 0;
    let line: string;
    try {
      prepareRecord(schema, record, features, fitted.piiHashing);
      line = preparedLine(features, encodeLabel(schema, row[labelIndex] ?? null));
    } catch (error) {
      throw failureOf(error);
    }
    (isTest ? test : train).write(`${line}\n`);
    (isTest ? testRaw : trainRaw).write(`${rawLineOf(row)}\n`);
    if (!isTest) countTrainRow();
  };
  // The fast way, for spill lines without a quote (nearly all): the same features, read in
  // place from the line (`csvLinePreparer`), and both lines written piece by piece into their
  // files' bytes, the raw one from the line's own characters (`rawSpillLineWriter`).
  const width = profile.working.length;
  const starts = new Int32Array(width + 1);
  const prepareLine = csvLinePreparer(
    schema,
    profile.working.map((c) => c.name),
    ',',
    fitted.piiHashing,
  );
  const writeRawLine = rawSpillLineWriter(
    schema,
    fitted.inputIndexes,
    labelIndex,
    fitted.piiHashing,
    fitted.evaluationColumns,
  );
  const featureCount = schema.features.length;
  const writeLine = (text: string) => {
    if (!spillFieldStarts(text, starts, width)) {
      writeRow(text.split(','));
      return;
    }
    if (!rules.keepsLine(text, starts)) return;
    const isTest = split.isTest(rules.stratumOfLine(text, starts));
    let label: number;
    try {
      prepareLine(text, features, 0);
      label = encodeLabel(schema, text.slice(starts[labelIndex]!, starts[labelIndex + 1]! - 1));
    } catch (error) {
      throw failureOf(error);
    }
    // `preparedLine`'s text, a number at a time.
    const out = isTest ? test : train;
    for (let k = 0; k < featureCount; k++) {
      out.writeNumber(features[k]!);
      out.writeByte(44);
    }
    out.writeNumber(label);
    out.writeByte(10);
    writeRawLine(isTest ? testRaw : trainRaw, text, starts);
    if (!isTest) countTrainRow();
  };

  for await (const batch of readSpillLines(spill)) {
    for (const entry of batch) {
      if (typeof entry === 'string') writeLine(entry);
      else writeRow(entry);
    }
    await Promise.all([train.drain(), test.drain(), testRaw.drain(), trainRaw.drain()]);
  }
  const [trainSha, testSha, testRawSha, trainRawSha] = await Promise.all([
    train.close(),
    test.close(),
    testRaw.close(),
    trainRaw.close(),
  ]);

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
      { ...writtenFile(train, DatasetFile.train, trainSha!), contentType: 'text/csv' },
      { ...writtenFile(test, DatasetFile.test, testSha!), contentType: 'text/csv' },
      {
        ...writtenFile(testRaw, DatasetFile.testRaw, testRawSha!),
        contentType: 'application/jsonl',
      },
      {
        ...writtenFile(trainRaw, DatasetFile.trainRaw, trainRawSha!),
        contentType: 'application/jsonl',
      },
    ],
    distributions,
  };
}

/**
 * The `IngestFailure` of a cell that does not fit (other errors as they are). The contract's
 * message quotes the cell (the server shows it to its caller); a status may not, so the value
 * becomes "a value".
 */
function failureOf(error: unknown): unknown {
  if (!(error instanceof CellError)) return error;
  const quoted = JSON.stringify(error.value);
  const message = quoted ? error.message.split(quoted).join('a value') : error.message;
  return new IngestFailure('InvalidData', message, { column: error.column, cause: error });
}

function writtenFile(file: TextFileWriter, name: string, sha256: string) {
  return { path: file.path, name, sizeBytes: file.sizeBytes, sha256 };
}
