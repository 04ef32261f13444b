/**
 * BatchPrediction's contract between the operator and the batch program (the trainer image's
 * `batch` mode): what a shard reads, what it writes, and how a finished shard is recognised, so a
 * retried or restarted run skips it.
 *
 * A run scores a list of input objects (raw CSV or JSON Lines records: a Dataset version's raw
 * splits, files in the namespace's prefixes, or one HTTP(S) URL read with `Range` requests) with one verified model, split into `shards`
 * contiguous byte ranges over the objects taken end to end (`shardRanges`). A record belongs to
 * the shard whose range holds its first byte, so every record is scored exactly once whatever the
 * shard count, without a counting pass; a shard reads from a little before its range to the end
 * of the record that crosses its end (Hadoop's line-oriented splits). A CSV object's header line
 * is read by every shard of it and scored by none. (A CSV field holding a line break cannot be
 * split this way: such a file needs one shard.)
 *
 * Under the run's output prefix (`batchOutputPrefix`), shard i writes `part-<i>.<format>` (its rows
 * in input order: the outputs and the passthrough columns, or an error row with the reason), then
 * its marker `_shards/<i>.json` (`BatchShardMarker`: rows, failed records, the part's size and
 * sha256, and the distribution of what it scored, counted: `contract/distribution-counts.ts`).
 * The marker is written last, so a marker means a complete part; a shard that finds its
 * marker (for the same model digest) does nothing. When every marker is there, the operator
 * writes `manifest.json` (`BatchManifest`), listing the parts with their counts and digests,
 * the shards' distributions merged and their drift from the training data: the run's output is
 * complete once the manifest exists.
 */
import { z } from 'zod';
import {
  type DistributionCounts,
  DistributionCountsSchema,
  mergeDistributionCounts,
} from './distribution-counts.js';

/** The output formats of a run. */
export const BatchFormatSchema = z.enum(['jsonl', 'csv']);
export type BatchFormat = z.infer<typeof BatchFormatSchema>;

/** What a run writes per row besides the passthrough columns. */
export const BatchOutputFieldSchema = z.enum(['label', 'probabilities', 'explanations']);
export type BatchOutputField = z.infer<typeof BatchOutputFieldSchema>;

/** One input object: raw records, read by byte ranges. */
export const BatchInputObjectSchema = z.object({
  /** `s3://<bucket>/<key>`, or an `http(s)://` URL (`spec.input.http`), read with `Range`. */
  uri: z.string().min(1),
  /**
   * Known to the operator for an S3 object (it lists them); absent for a URL, whose size every
   * shard learns from the server itself (the operator makes no request to a user's URL).
   */
  sizeBytes: z.number().int().min(0).optional(),
  format: z.enum(['csv', 'jsonl']),
});
export type BatchInputObject = z.infer<typeof BatchInputObjectSchema>;

/** `LATHE_BATCH_INPUT`: the objects scored, in order, and how CSV is read. */
export const BatchInputSchema = z.object({
  objects: z.array(BatchInputObjectSchema).min(1).max(10_000),
  csv: z
    .object({ delimiter: z.string().length(1).default(','), header: z.boolean().default(true) })
    .prefault({}),
  /** CSV without a header: the column names, in order. */
  columns: z.array(z.string()).optional(),
});
export type BatchInput = z.infer<typeof BatchInputSchema>;

/**
 * How a run explains its rows (`include: explanations`): the inference server's `spec.explain`
 * settings that make sense in bulk, and how many columns a row gets.
 */
export const BatchExplanationOptionsSchema = z.object({
  /** Background rows each explanation averages over (at most the rows stored). */
  backgroundRows: z.number().int().min(1).max(10_000),
  /** KernelSHAP's coalitions per row (models of more than 12 columns; raised to the column count). */
  kernelSamples: z.number().int().min(16).max(100_000),
  /** The columns of largest |value| a row gets; unset: every column. */
  topK: z.number().int().min(1).optional(),
});
export type BatchExplanationOptions = z.infer<typeof BatchExplanationOptionsSchema>;

/** `LATHE_BATCH_OUTPUT`: how rows are written. */
export const BatchOutputOptionsSchema = z.object({
  format: BatchFormatSchema,
  include: z.array(BatchOutputFieldSchema).min(1),
  /** Input columns copied to each output row (ids), before the outputs. */
  passthroughColumns: z.array(z.string()).default([]),
  /** Set when `include` has `explanations`. */
  explanations: BatchExplanationOptionsSchema.optional(),
});
export type BatchOutputOptions = z.infer<typeof BatchOutputOptionsSchema>;

/** A shard's share of one input object: bytes `[start, end)` hold the first bytes of its records. */
export interface ObjectRange {
  /** Index into `BatchInput.objects`. */
  object: number;
  start: number;
  end: number;
}

/**
 * The ranges of shard `index` of `shards`: the objects' bytes taken end to end, cut into `shards`
 * contiguous ranges of (nearly) equal size. Empty ranges are left out; a shard may have none.
 */
export function shardRanges(
  objects: readonly { sizeBytes: number }[],
  shards: number,
  index: number,
): ObjectRange[] {
  if (!Number.isInteger(shards) || shards < 1)
    throw new Error(`shards must be a positive integer, not ${shards}`);
  if (!Number.isInteger(index) || index < 0 || index >= shards)
    throw new Error(`shard index ${index} is not in 0..${shards - 1}`);
  const total = objects.reduce((sum, o) => sum + o.sizeBytes, 0);
  const from = Math.floor((index * total) / shards);
  const to = Math.floor(((index + 1) * total) / shards);
  const ranges: ObjectRange[] = [];
  let offset = 0;
  for (const [object, { sizeBytes }] of objects.entries()) {
    const start = Math.max(from, offset) - offset;
    const end = Math.min(to, offset + sizeBytes) - offset;
    if (end > start) ranges.push({ object, start, end });
    offset += sizeBytes;
  }
  return ranges;
}

/** `part-00003.jsonl`: shard 3's output part. */
export function batchPartFile(shard: number, format: BatchFormat): string {
  return `part-${String(shard).padStart(5, '0')}.${format}`;
}

/** `_shards/00003.json`: shard 3's marker, written after its part. */
export function batchMarkerFile(shard: number): string {
  return `_shards/${String(shard).padStart(5, '0')}.json`;
}

/** The run's manifest, written by the operator once every shard's marker is there. */
export const BATCH_MANIFEST_FILE = 'manifest.json';

/** `_shards/<i>.json`: a finished shard. */
export const BatchShardMarkerSchema = z.object({
  formatVersion: z.literal(1),
  shard: z.number().int().min(0),
  /** The part's file name (`batchPartFile`). */
  part: z.string().min(1),
  /** Rows written, error rows included. */
  rows: z.number().int().min(0),
  /** Rows that could not be scored (error rows). */
  failedRecords: z.number().int().min(0),
  sizeBytes: z.number().int().min(0),
  /** sha256 of the part, lowercase hex. */
  sha256: z.string().regex(/^[a-f0-9]{64}$/),
  /** The model's digest: a marker of another model's run is not this run's. */
  modelDigest: z.string(),
  /**
   * What the shard scored, counted: inputs over the training distributions, and predictions
   * (`contract/distribution-counts.ts`). Absent from markers of an older Lathe.
   */
  distribution: DistributionCountsSchema.optional(),
});
export type BatchShardMarker = z.infer<typeof BatchShardMarkerSchema>;

/** A run's drift from its model's training data, over the rows counted. */
export const BatchDriftSchema = z.object({
  metric: z.literal('psi'),
  value: z.number(),
  feature: z.string().optional(),
  /** Rows counted. */
  rows: z.number().int().min(0),
  features: z.array(
    z.object({ feature: z.string(), value: z.number(), samples: z.number().int().min(0) }),
  ),
});
export type BatchDrift = z.infer<typeof BatchDriftSchema>;

/** `manifest.json` of a run: the parts in shard order, their counts and digests. */
export const BatchManifestSchema = z.object({
  formatVersion: z.literal(1),
  model: z.object({ modelVersion: z.string(), digest: z.string() }),
  dataset: z.object({ name: z.string(), version: z.string() }).optional(),
  format: BatchFormatSchema,
  rows: z.number().int().min(0),
  failedRecords: z.number().int().min(0),
  parts: z.array(
    z.object({
      path: z.string(),
      shard: z.number().int().min(0),
      rows: z.number().int().min(0),
      failedRecords: z.number().int().min(0),
      sizeBytes: z.number().int().min(0),
      sha256: z.string(),
    }),
  ),
  /** The shards' distributions merged (absent when a shard's marker has none). */
  distribution: DistributionCountsSchema.optional(),
  /**
   * PSI of each counted input column against the training distribution, the worst first in
   * `value` and `feature` (absent without training statistics).
   */
  drift: BatchDriftSchema.optional(),
});
export type BatchManifest = z.infer<typeof BatchManifestSchema>;

/**
 * The distribution of a run whose shards left `markers`: theirs merged, or undefined when one
 * has none (a marker of an older Lathe: a part of the rows would be missing).
 */
export function batchDistributionOf(
  markers: readonly BatchShardMarker[],
): DistributionCounts | undefined {
  const parts = markers.map((m) => m.distribution);
  if (parts.some((p) => p === undefined)) return undefined;
  return mergeDistributionCounts(parts as DistributionCounts[]);
}

/** The manifest of a run whose shards left `markers` (any order). */
export function batchManifestOf(
  markers: readonly BatchShardMarker[],
  context: Pick<BatchManifest, 'model' | 'dataset' | 'format' | 'drift'>,
): BatchManifest {
  const distribution = batchDistributionOf(markers);
  const parts = [...markers]
    .sort((a, b) => a.shard - b.shard)
    .map(({ part, shard, rows, failedRecords, sizeBytes, sha256 }) => ({
      path: part,
      shard,
      rows,
      failedRecords,
      sizeBytes,
      sha256,
    }));
  return {
    formatVersion: 1,
    ...context,
    rows: parts.reduce((sum, p) => sum + p.rows, 0),
    failedRecords: parts.reduce((sum, p) => sum + p.failedRecords, 0),
    parts,
    ...(distribution ? { distribution } : {}),
  };
}
