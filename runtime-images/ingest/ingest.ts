/**
 * The ingestion, start to end:
 *
 * 1. read the source once, streaming, into a spill file of the kept columns while profiling
 *    it (types, missing values, ranges, classes) and checking the validation rules;
 * 2. (only when dropping rows depends on inferred types) count the rows each stratum keeps;
 * 3. read the spill: split the rows, fit the preparation on the train split, gather statistics;
 * 4. read the spill again: prepare every row with the contract's `prepareRecord` into the
 *    prepared CSVs (and write each test row unprepared to `test.raw.jsonl`), measuring the
 *    train distributions;
 * 5. name the version by the content hash of its files and upload it, manifest last, unless
 *    it is already in the store.
 *
 * Memory holds a chunk of rows and fixed-size summaries, never the data: the spill and the
 * prepared files live in the scratch directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type DatasetStats, DatasetStatsSchema } from '../../contract/dataset-stats.js';
import { ObjectStore, StorageUnavailableError } from '../../contract/object-store.js';
import {
  DatasetFile,
  datasetPrefix,
  feedbackPrefix,
  s3Uri,
} from '../../contract/object-store-layout.js';
import type { PreparedSchema } from '../../contract/prepared-data.js';
import type { DatasetSpec } from '../../operator/src/api/dataset.js';
import { durationMs } from '../../operator/src/api/duration.js';
import { IngestFailure, messageOf } from './failure.js';
import { feedbackTable } from './feedback.js';
import { SpillWriter } from './files.js';
import { fitPreparation } from './fit.js';
import { parquetTable } from './parquet.js';
import { checkMinRows, isObservedColumn, SourceProfiler } from './profile.js';
import { publishVersion, type VersionFiles } from './publish.js';
import { countKeptRows, rowRules } from './rows.js';
import type { IngestSettings } from './settings.js';
import { httpParts, operatorFeedbackStore, s3Parts } from './sources.js';
import { csvTable, jsonLinesTable, type SourcePart, type Table } from './table.js';
import { writePrepared } from './write.js';

export interface IngestOutcome {
  version: string;
  digest: string;
  reused: boolean;
  rows: number;
  trainRows: number;
  testRows: number;
  sourceRows: number;
}

/** Progress events, for the program's log. */
export type IngestLog = (message: string, fields: Record<string, unknown>) => void;

/** The source as a table, by kind and format. */
export async function openTable(
  settings: IngestSettings,
  headers: Record<string, string>,
  log: IngestLog = () => undefined,
  now: Date = new Date(),
): Promise<Table> {
  const { spec } = settings;
  const source = spec.source;
  if (source.feedback) {
    const service = source.feedback.inferenceServiceRef.name;
    const prefix = feedbackPrefix(settings.namespace, service);
    const since = source.feedback.since;
    return feedbackTable({
      store: operatorFeedbackStore(settings.store),
      prefix,
      location: s3Uri(settings.store.bucket, prefix),
      service: `InferenceService ${settings.namespace}/${service}`,
      label: spec.schema.label,
      since: since === undefined ? undefined : new Date(now.getTime() - durationMs(since)),
      workDir: settings.workDir,
      log,
    });
  }
  if (source.postgres) {
    // Loaded only for a PostgreSQL source: the driver is a tenth of the start-up time.
    const { postgresTable } = await import('./postgres.js');
    return postgresTable(settings.postgresUri!, source.postgres.query);
  }
  let parts: AsyncIterable<SourcePart>;
  if (source.http) parts = httpParts(source.http.url, headers, settings.httpPolicy);
  else if (source.s3) {
    parts = s3Parts(source.s3, {
      store: settings.store,
      namespace: settings.namespace,
      accessKey: settings.s3AccessKey,
      secretKey: settings.s3SecretKey,
    });
  } else throw new IngestFailure('InvalidData', 'spec.source names no source');
  return tableOf(spec, parts, settings.workDir);
}

/** The parts as a table in `spec.format`; a Parquet part is spooled to `workDir` while read. */
export function tableOf(
  spec: DatasetSpec,
  parts: AsyncIterable<SourcePart>,
  workDir: string = tmpdir(),
): Table {
  if (spec.format === 'jsonl') return jsonLinesTable(parts);
  if (spec.format === 'parquet') {
    return parquetTable(parts, { workDir, observes: (column) => isObservedColumn(spec, column) });
  }
  return csvTable(parts, {
    delimiter: spec.csv.delimiter,
    header: spec.csv.header,
    names: spec.schema.columns?.map((c) => c.name),
  });
}

/** Turns an error of the operator's object store into the contract's failure. */
async function withStore<T>(what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof StorageUnavailableError) {
      throw new IngestFailure('StorageUnavailable', `${what}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** A prepared dataset version in the scratch directory, not yet named or uploaded. */
export interface PreparedVersion {
  files: VersionFiles;
  schema: PreparedSchema;
  stats: DatasetStats;
}

/** Passes 1 to 4: from the source table to the version's files in `workDir`. */
export async function prepareVersion(
  spec: DatasetSpec,
  table: Table,
  workDir: string,
  log: IngestLog = () => undefined,
  piiKey: Buffer | undefined = undefined,
): Promise<PreparedVersion> {
  // Pass 1: source → spill, profiled.
  const spillPath = path.join(workDir, 'source.jsonl');
  const spill = new SpillWriter(spillPath);
  const profiler = new SourceProfiler(spec);
  try {
    for await (const batch of table.batches()) {
      await spill.write(profiler.observe(table.columns, batch));
    }
  } finally {
    await spill.close();
  }
  const profile = profiler.finish(table.columns);
  log('Read the source', {
    sourceRows: profile.sourceRows,
    columns: profile.sourceColumns.length,
    task: profile.task,
  });

  // Pass 2, when needed: rows kept per stratum.
  const rules = rowRules(spec, profile);
  const kept = profile.keptPerStratum ?? (await countKeptRows(spillPath, rules));
  let rows = 0;
  for (const n of kept.values()) rows += n;
  checkMinRows(spec, rows);
  if (rows === 0) {
    throw new IngestFailure(
      'InvalidData',
      `no row is left: all ${profile.sourceRows} rows miss the label or a value whose rows are dropped (spec.preparation.missingValues)`,
    );
  }

  // Pass 3: split and fit on the train split. Pass 4: prepare every row.
  const fitted = await fitPreparation(spec, profile, spillPath, piiKey, rules, kept);
  log('Fitted the preparation on the train split', {
    features: fitted.schema.features.length,
    trainRows: fitted.trainRows,
  });
  const written = await writePrepared(spec, profile, fitted, spillPath, workDir, rules, kept);
  log('Wrote the prepared splits', {
    bytes: written.files.reduce((sum, f) => sum + f.sizeBytes, 0),
  });
  await rm(spillPath, { force: true });

  const stats: DatasetStats = DatasetStatsSchema.parse({
    formatVersion: 1,
    rows: fitted.rows,
    trainRows: fitted.trainRows,
    testRows: fitted.testRows,
    sourceRows: profile.sourceRows,
    columns: fitted.columns,
    ...(fitted.labels ? { labels: fitted.labels } : {}),
    distributions: written.distributions,
  });
  const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  return {
    files: {
      onDisk: written.files,
      inMemory: { [DatasetFile.schema]: json(fitted.schema), [DatasetFile.stats]: json(stats) },
    },
    schema: fitted.schema,
    stats,
  };
}

export async function ingest(
  settings: IngestSettings,
  table: Table,
  log: IngestLog,
  piiKey: Buffer | undefined = undefined,
): Promise<IngestOutcome> {
  // Parts of 8 MiB keep the upload's memory small and flat (objects up to 80 GB).
  const store = new ObjectStore({ ...settings.store, uploadPartBytes: 8 * 1024 * 1024 });
  const bucket = settings.store.bucket;
  await withStore('The object store', () =>
    store.checkBucket(bucket, datasetPrefix(settings.namespace, settings.name)),
  );

  const workDir = await mkdtemp(path.join(settings.workDir, 'lathe-ingest-'));
  try {
    const prepared = await prepareVersion(settings.spec, table, workDir, log, piiKey);
    const { stats } = prepared;
    const published = await withStore('Uploading the version', () =>
      publishVersion(store, bucket, settings, prepared.files),
    );
    log(published.reused ? 'Reused the dataset version' : 'Uploaded the dataset version', {
      version: published.version,
      rows: stats.rows,
      trainRows: stats.trainRows,
      testRows: stats.testRows,
    });
    return {
      ...published,
      rows: stats.rows,
      trainRows: stats.trainRows,
      testRows: stats.testRows,
      sourceRows: stats.sourceRows,
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
