/**
 * What a shard records of the distribution of the rows it scored (`contract/distribution-counts.ts`):
 * the raw inputs counted over the training distributions of the model's dataset version
 * (`stats.json`), and the predictions — the counts its marker carries and the operator merges,
 * so RetrainPolicy's drift check can take a batch run as evidence (SageMaker Model Monitor's
 * batch-transform monitoring, without shipping the rows: counts only).
 *
 * Counting sees each scored batch once, after it is written (`ScoredBatchObserver`), never the
 * preparation's hot loop, and counts every `stride`-th scored row of the shard (`COUNT_STRIDE`,
 * recorded with the counts). Error rows are not counted: the distribution is of what was
 * scored. Hashed PII columns are skipped: their training categories are keyed hashes, which raw
 * cells never match (everything would be `__other__`).
 */
import type { DatasetStats } from '../../contract/dataset-stats.js';
import { DistributionCounter } from '../../contract/distribution-counts.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import { cellOf } from './records.js';
import type { ScoredBatchObserver } from './score.js';

/**
 * Every how many scored rows one is counted. Counting every row cost about 0.5 µs a row for 8
 * numeric columns (the cells' text parsed again), 4–8% of a local shard's 83k rows/s on the
 * native backend (200k rows, in-memory store, 2 shared cores; with the cpu backend, 34k rows/s,
 * under 1%); every 4th keeps it within the measurement's noise, and a run of a few thousand
 * rows still counts hundreds. Deterministic, so a rerun counts the same rows.
 */
export const COUNT_STRIDE = 4;

/** The raw input columns whose values are hashed before preparation (PII with `Hash`). */
export function hashedColumnsOf(schema: PreparedSchema): Set<string> {
  return new Set(
    schema.inputs
      .filter((i) => i.kind === 'categorical' && (i.hash !== undefined || i.hashSalt !== undefined))
      .map((i) => i.name),
  );
}

/**
 * A counter of a shard's scored rows and the observer that feeds it: inputs over `stats`'
 * distributions (none without stats: predictions only), predictions by the model's `schema`.
 */
export function shardDistribution(
  schema: PreparedSchema,
  stats: DatasetStats | undefined,
  stride: number = COUNT_STRIDE,
): { counter: DistributionCounter; observe: ScoredBatchObserver } {
  const counter = new DistributionCounter(
    stats?.distributions ?? [],
    stride,
    hashedColumnsOf(schema),
  );
  const known = (schema.label.classes ?? []).map(String);
  let classes: string[] | undefined;
  let scored = 0;
  const observe: ScoredBatchObserver = (records, errors, outputs, width) => {
    // The model's outputs, named by schema.json's classes (by index past them).
    classes ??= Array.from({ length: width }, (_, k) => known[k] ?? String(k));
    let next = 0;
    for (let i = 0; i < records.length; i++) {
      if (errors[i] !== undefined) continue;
      const offset = next++ * width;
      if (scored++ % stride !== 0) continue;
      counter.countCells(records[i]!, cellOf);
      if (schema.task === 'regression') {
        counter.countValue(outputs[offset]!);
      } else {
        let best = 0;
        for (let k = 1; k < width; k++)
          if (outputs[offset + k]! > outputs[offset + best]!) best = k;
        counter.countClass(best, classes);
      }
    }
  };
  return { counter, observe };
}
