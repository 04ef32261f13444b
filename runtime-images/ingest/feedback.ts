/**
 * The feedback of an InferenceService as a source (`spec.source.feedback`): the ground-truth
 * labels its servers stored under `feedback/<ns>/<isvc>/labels/`, joined with the requests
 * they label, as a table of rows = the label column (`spec.schema.label`) and the request's raw
 * record, column by column. The rest of the ingestion treats it like any other table.
 *
 * A label line (`FeedbackLabels`) carries the request's raw records when the replica that took
 * it still held the request; otherwise its records are null and the request is looked up in
 * `requests/` (`SampledRequest` lines) by `requestId`. A request that was not sampled cannot be
 * joined: its rows are skipped, and so are rows sent already prepared (record null) and labels
 * whose count differs from the request's rows; the log counts each. When a request was
 * labelled more than once, the first label (by `time`) wins, as on the servers, so a later
 * label cannot relabel what was labelled (a replica only knows the labels it took itself).
 *
 * Memory stays flat however much feedback there is: the labels in the window are spilled to
 * the scratch directory, and the join runs on partitions of that spill by a hash of the request
 * ID, each small enough to hold (`bucketBytes`); with more than one partition the sampled
 * requests are partitioned to disk the same way, in one pass over `requests/`. A request line
 * is parsed (and checked against the contract) only when a label needs it: the others are
 * scanned for their ID, as most sampled requests are never labelled. Rows come out
 * partition by partition; in a partition, labels that carried their records first (label
 * order), then joined requests (request-file order). The same feedback always gives the same
 * rows in the same order, hence the same version.
 *
 * With `since`, only labels received at or after it count. A writer's file holds records from
 * its name's time up to the time of that writer's next file (`feedbackFileKey`: a file is named
 * by its first record's time, and a writer starts a new file only for records that arrive
 * after it took the previous one), so files whose successor starts before `since` are not read.
 */

import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { FeedbackLabelsSchema, SampledRequestSchema } from '../../contract/feedback-log.js';
import {
  FeedbackDir,
  type FeedbackFileName,
  parseFeedbackFileKey,
} from '../../contract/object-store-layout.js';
import { IngestFailure } from './failure.js';
import { TextFileWriter } from './files.js';
import {
  type Cell,
  cellOf,
  jsonLineBatches,
  lineBatches,
  parseJsonLine,
  type SourcePart,
  type Table,
} from './table.js';

/** What the feedback source reads: keys and objects of the operator's store. */
export interface FeedbackStore {
  /** Every key under `prefix`, in ascending order. */
  keys(prefix: string): AsyncIterable<string>;
  /** An object's bytes, streamed. */
  open(key: string): Promise<AsyncIterable<Buffer>>;
}

export interface FeedbackSourceOptions {
  store: FeedbackStore;
  /** The InferenceService's `feedbackPrefix`. */
  prefix: string;
  /** How messages name the place, e.g. `s3://lathe/feedback/ns/iris/`. */
  location: string;
  /** How messages name the InferenceService, e.g. `InferenceService ns/iris`. */
  service: string;
  /** The label column (`spec.schema.label`). */
  label: string;
  /** Only labels received at or after this time; undefined: every label. */
  since: Date | undefined;
  /** Where the spill and partitions go (a directory is made in it and removed after). */
  workDir: string;
  log?: (message: string, fields: Record<string, unknown>) => void;
  /** Bytes of spilled labels per partition of the join; it bounds memory (default 8 MiB). */
  bucketBytes?: number;
}

/** What the join saw, for the log and the error when nothing could be joined. */
export interface FeedbackCounts {
  labelFiles: number;
  /** Label lines in the window. */
  labels: number;
  /** Label lines read and left out because they were received before `since`. */
  beforeWindow: number;
  /** Label lines ignored: a later label for a request labelled already (the first wins). */
  relabels: number;
  /** Rows produced. */
  rows: number;
  /** Of which, from labels that carried their records. */
  rowsFromLabels: number;
  /** Of which, joined with `requests/`. */
  rowsFromRequests: number;
  /** Labelled rows whose request was not sampled (nothing to join). */
  notSampled: number;
  /** Labelled rows sent already prepared (no raw record). */
  preparedOnly: number;
  /** Labelled rows whose label count differs from the request's rows. */
  mismatched: number;
  /** Request files read (reading stops once every label found its request). */
  requestFiles: number;
  /** Keys under the prefix that are not feedback files, ignored. */
  otherFiles: number;
  partitions: number;
}

const DEFAULT_BUCKET_BYTES = 8 * 1024 * 1024;
const BATCH_ROWS = 1000;

const LabelLineSchema = FeedbackLabelsSchema.pick({
  requestId: true,
  time: true,
  labels: true,
  records: true,
});
const RequestLineSchema = SampledRequestSchema.pick({ requestId: true, records: true });

type RawRecord = Record<string, unknown> | null;
type LabelValue = string | number | boolean;

/** A label as spilled: what the join needs of a `FeedbackLabels` line. */
interface SpilledLabel {
  requestId: string;
  /** Milliseconds since the epoch. */
  time: number;
  labels: LabelValue[];
  records: RawRecord[] | null;
}

/** A feedback file under the prefix, with what its name says. */
export interface FeedbackFile extends FeedbackFileName {
  key: string;
}

/**
 * The label files that can hold a label received at or after `since` (all of them without
 * `since`), in key order: a file is left out when the same writer's next file starts before
 * `since`, since its records all came before that next file started.
 */
export function labelFilesToRead(
  files: readonly FeedbackFile[],
  since: Date | undefined,
): string[] {
  if (since === undefined) return files.map((f) => f.key).sort();
  const byWriter = new Map<string, FeedbackFile[]>();
  for (const file of files) {
    const list = byWriter.get(file.writer) ?? [];
    list.push(file);
    byWriter.set(file.writer, list);
  }
  const keep: string[] = [];
  for (const list of byWriter.values()) {
    list.sort((a, b) => a.time.getTime() - b.time.getTime() || a.seq - b.seq);
    for (const [i, file] of list.entries()) {
      const next = list[i + 1];
      if (next === undefined || next.time.getTime() >= since.getTime()) keep.push(file.key);
    }
  }
  return keep.sort();
}

/** FNV-1a of a request ID: which partition of the join it falls in. */
export function partitionOf(requestId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < requestId.length; i++) {
    hash ^= requestId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/**
 * The request ID of a `requests/` line as the server writes it (`{"requestId":"…",…}`, by
 * `JSON.stringify` of a `SampledRequest`), read without parsing the line; undefined for a line
 * that starts otherwise or whose ID holds an escape, which is then parsed.
 */
export function leadingRequestId(text: string): string | undefined {
  const head = '{"requestId":"';
  if (!text.startsWith(head)) return undefined;
  const end = text.indexOf('"', head.length);
  if (end === -1) return undefined;
  const id = text.slice(head.length, end);
  return id.includes('\\') ? undefined : id;
}

function invalidLine(part: string, line: number, what: string, issues: string): IngestFailure {
  return new IngestFailure('InvalidData', `${part}: line ${line} is not ${what}: ${issues}`);
}

function issuesOf(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || '(the line)'}: ${i.message}`)
    .join('; ');
}

/** A spill file of the scratch directory as a source part. */
function filePart(file: string): SourcePart {
  return { name: file, chunks: createReadStream(file, { highWaterMark: 64 * 1024 }) };
}

/** Appends JSON lines to one of `n` files by request ID. */
class PartitionWriter {
  readonly files: string[];
  private readonly writers: TextFileWriter[];

  constructor(dir: string, name: string, n: number) {
    this.files = Array.from({ length: n }, (_, i) => path.join(dir, `${name}-${i}.jsonl`));
    this.writers = this.files.map((f) => new TextFileWriter(f));
  }

  write(requestId: string, line: string): void {
    this.writers[partitionOf(requestId, this.writers.length)]!.write(`${line}\n`);
  }

  async drain(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.drain()));
  }

  async close(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.close()));
  }
}

/** The table of an InferenceService's labelled feedback. */
export function feedbackTable(options: FeedbackSourceOptions): Table {
  const { store, prefix, label } = options;
  const bucketBytes = options.bucketBytes ?? DEFAULT_BUCKET_BYTES;
  const columns: string[] = [label];
  const indexOf = new Map<string, number>([[label, 0]]);
  const counts: FeedbackCounts = {
    labelFiles: 0,
    labels: 0,
    beforeWindow: 0,
    relabels: 0,
    rows: 0,
    rowsFromLabels: 0,
    rowsFromRequests: 0,
    notSampled: 0,
    preparedOnly: 0,
    mismatched: 0,
    requestFiles: 0,
    otherFiles: 0,
    partitions: 0,
  };
  const sinceText = options.since ? ` received since ${options.since.toISOString()}` : '';

  /** The feedback files under `dir` (`labels/` or `requests/`), in key order. */
  async function* feedbackFiles(dir: string): AsyncGenerator<FeedbackFile> {
    for await (const key of store.keys(`${prefix}${dir}`)) {
      const name = parseFeedbackFileKey(key);
      if (name) yield { key, ...name };
      else counts.otherFiles++;
    }
  }

  async function* objectParts(keys: AsyncIterable<string> | Iterable<string>) {
    for await (const key of keys) {
      yield {
        name: `${options.location}${key.slice(prefix.length)}`,
        chunks: await store.open(key),
      };
    }
  }

  async function* requestKeys(): AsyncGenerator<string> {
    for await (const file of feedbackFiles(FeedbackDir.requests)) {
      counts.requestFiles++;
      yield file.key;
    }
  }

  /** A `requests/` line's request ID, and the line parsed when that took parsing it. */
  function requestIdOf(part: string, line: number, text: string) {
    const id = leadingRequestId(text);
    if (id !== undefined) return { id, value: undefined };
    const value = parseJsonLine(part, line, text);
    const parsed = RequestLineSchema.safeParse(value);
    if (!parsed.success) {
      throw invalidLine(part, line, 'a sampled request', issuesOf(parsed.error));
    }
    return { id: parsed.data.requestId, value };
  }

  /**
   * The sampled requests whose ID `wanted` accepts, parsed and checked against the contract;
   * the other lines are only scanned for their ID (most sampled requests are never labelled).
   */
  async function* requestsOf(parts: AsyncIterable<SourcePart>, wanted: (id: string) => boolean) {
    for await (const part of parts) {
      for await (const { texts, lines } of lineBatches(part)) {
        for (let i = 0; i < texts.length; i++) {
          const { id, value } = requestIdOf(part.name, lines[i]!, texts[i]!);
          if (!wanted(id)) continue;
          const parsed = RequestLineSchema.safeParse(
            value ?? parseJsonLine(part.name, lines[i]!, texts[i]!),
          );
          if (!parsed.success) {
            throw invalidLine(part.name, lines[i]!, 'a sampled request', issuesOf(parsed.error));
          }
          yield parsed.data;
        }
      }
    }
  }

  /** Spills the labels in the window; returns the spill's size. */
  async function spillLabels(spillPath: string): Promise<number> {
    const files: FeedbackFile[] = [];
    for await (const file of feedbackFiles(FeedbackDir.labels)) files.push(file);
    const keys = labelFilesToRead(files, options.since);
    counts.labelFiles = keys.length;
    const since = options.since?.getTime() ?? Number.NEGATIVE_INFINITY;
    const spill = new TextFileWriter(spillPath);
    for await (const part of objectParts(keys)) {
      for await (const { values, lines } of jsonLineBatches(part)) {
        let text = '';
        for (let i = 0; i < values.length; i++) {
          const parsed = LabelLineSchema.safeParse(values[i]);
          if (!parsed.success) {
            throw invalidLine(part.name, lines[i]!, 'a feedback label', issuesOf(parsed.error));
          }
          const time = Date.parse(parsed.data.time);
          if (Number.isNaN(time)) {
            throw invalidLine(part.name, lines[i]!, 'a feedback label', 'time: not a time');
          }
          if (time < since) {
            counts.beforeWindow++;
            continue;
          }
          counts.labels++;
          const { requestId, labels, records } = parsed.data;
          const spilled: SpilledLabel = { requestId, time, labels, records };
          text += `${JSON.stringify(spilled)}\n`;
        }
        spill.write(text);
        await spill.drain();
      }
    }
    await spill.close();
    return spill.sizeBytes;
  }

  /** The rows of one label and its request's records, appended to `out`. */
  function addRows(entry: SpilledLabel, records: RawRecord[], out: Cell[][]): number {
    if (records.length !== entry.labels.length) {
      counts.mismatched += entry.labels.length;
      return 0;
    }
    let added = 0;
    for (let r = 0; r < records.length; r++) {
      const record = records[r];
      if (record === null || record === undefined) {
        counts.preparedOnly++;
        continue;
      }
      const row: Cell[] = new Array(columns.length).fill(null);
      row[0] = cellOf(entry.labels[r]);
      for (const key in record) {
        // The label comes from the feedback, whatever the request carried under its name.
        if (key === label) continue;
        let index = indexOf.get(key);
        if (index === undefined) {
          index = columns.length;
          columns.push(key);
          indexOf.set(key, index);
        }
        row[index] = cellOf(record[key]);
      }
      out.push(row);
      added++;
    }
    counts.rows += added;
    return added;
  }

  /** The labels of one partition, one per request (the first wins), in first-seen order. */
  async function loadPartition(file: string): Promise<Map<string, SpilledLabel>> {
    const labels = new Map<string, SpilledLabel>();
    for await (const { values } of jsonLineBatches(filePart(file))) {
      for (const value of values) {
        const entry = value as SpilledLabel;
        const earlier = labels.get(entry.requestId);
        if (earlier === undefined) {
          labels.set(entry.requestId, entry);
          continue;
        }
        counts.relabels++;
        const [first, later] = entry.time < earlier.time ? [entry, earlier] : [earlier, entry];
        labels.set(entry.requestId, { ...first, records: first.records ?? later.records });
      }
    }
    return labels;
  }

  async function* batches(): AsyncGenerator<Cell[][]> {
    const dir = await mkdtemp(path.join(options.workDir, 'lathe-feedback-'));
    try {
      const labelSpill = path.join(dir, 'labels.jsonl');
      const spilledBytes = await spillLabels(labelSpill);
      if (counts.labels === 0) {
        const older = counts.beforeWindow > 0 ? ` (${counts.beforeWindow} older labels)` : '';
        throw new IngestFailure(
          'SourceNotFound',
          `${options.service} has no labelled feedback${sinceText} under ${options.location}${FeedbackDir.labels} yet${older}: ground truth submitted to its feedback endpoint is stored there`,
        );
      }
      const partitions = Math.max(1, Math.ceil(spilledBytes / bucketBytes));
      counts.partitions = partitions;
      let labelFiles = [labelSpill];
      let requestFiles: string[] | undefined;
      if (partitions > 1) {
        // Spilled lines start with their request ID (`SpilledLabel`'s first key): copied as is.
        const labelParts = new PartitionWriter(dir, 'labels', partitions);
        for await (const { texts } of lineBatches(filePart(labelSpill))) {
          for (const text of texts) {
            const id = leadingRequestId(text) ?? (JSON.parse(text) as SpilledLabel).requestId;
            labelParts.write(id, text);
          }
          await labelParts.drain();
        }
        await labelParts.close();
        await rm(labelSpill);
        labelFiles = labelParts.files;
        // The sampled requests, line by line as stored, to the partition of their ID.
        const requestParts = new PartitionWriter(dir, 'requests', partitions);
        for await (const part of objectParts(requestKeys())) {
          for await (const { texts, lines } of lineBatches(part)) {
            for (let i = 0; i < texts.length; i++) {
              const { id } = requestIdOf(part.name, lines[i]!, texts[i]!);
              requestParts.write(id, texts[i]!);
            }
            await requestParts.drain();
          }
        }
        await requestParts.close();
        requestFiles = requestParts.files;
      }

      let out: Cell[][] = [];
      for (let p = 0; p < partitions; p++) {
        const labels = await loadPartition(labelFiles[p]!);
        let waiting = 0;
        for (const [requestId, entry] of labels) {
          if (entry.records === null) {
            waiting++;
            continue;
          }
          counts.rowsFromLabels += addRows(entry, entry.records, out);
          labels.delete(requestId);
          if (out.length >= BATCH_ROWS) {
            yield out;
            out = [];
          }
        }
        if (waiting > 0) {
          const requests = requestsOf(
            requestFiles ? localParts(requestFiles[p]!) : objectParts(requestKeys()),
            (id) => labels.has(id),
          );
          for await (const request of requests) {
            const entry = labels.get(request.requestId);
            if (entry === undefined) continue;
            labels.delete(request.requestId);
            counts.rowsFromRequests += addRows(entry, request.records, out);
            if (out.length >= BATCH_ROWS) {
              yield out;
              out = [];
            }
            // Every label of the partition found its request: the rest need not be read.
            if (labels.size === 0) break;
          }
        }
        for (const entry of labels.values()) counts.notSampled += entry.labels.length;
      }
      if (out.length > 0) yield out;
      options.log?.('Joined the feedback with its requests', { ...counts });
      if (counts.rows === 0) {
        throw new IngestFailure(
          'SourceNotFound',
          `${options.service} has ${counts.labels} labels${sinceText}, but no row could be joined with its request: ${counts.notSampled} rows were not sampled (raise spec.requestLogging.sampleRate), ${counts.preparedOnly} were sent prepared, ${counts.mismatched} had a label count unlike the request's rows`,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  return { columns, batches };
}

async function* localParts(file: string): AsyncGenerator<SourcePart> {
  yield filePart(file);
}
