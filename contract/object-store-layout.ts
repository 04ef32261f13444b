/**
 * Where Lathe keeps things in the object store, and the manifest that makes an artifact
 * verifiable. The operator and the runtime images both import this module, so the layout
 * cannot drift between the side that writes and the side that reads.
 *
 * ```
 * sources/<namespace>/                        a namespace's own source files (optional; read by its S3 sources)
 * shared/                                     data an administrator publishes to every namespace (the example data sets)
 * datasets/<namespace>/<dataset>/<version>/   train and test splits, the raw test split, schema.json, stats.json, manifest.json
 * models/<namespace>/<model>/<version>/       model.json + weight shards, metrics.json, manifest.json
 * runs/<namespace>/<trainingjob>/             history.json, logs
 * feedback/<namespace>/<inferenceservice>/    sampled prediction logs and ground truth
 * ```
 *
 * Under `feedback/<namespace>/<inferenceservice>/` (`FeedbackDir`, `feedbackFileKey`), the
 * inference servers write JSON Lines files, one line per request, records as in
 * `feedback-log.ts`:
 *
 * ```
 * requests/<yyyy-mm-dd>/<hh>/<time>-<pod>-<seq>.jsonl   sampled requests with their predictions
 * labels/<yyyy-mm-dd>/<hh>/<time>-<pod>-<seq>.jsonl     ground truth submitted for earlier requests
 * ```
 *
 * Dates and hours are UTC, so a reader lists one day or hour by prefix; `<time>` is the
 * file's first record's time (`20260102T030405.678Z`), so names sort by time within a writer.
 * Files are immutable once written; a request and its labels share `requestId`.
 */
export const DEFAULT_BUCKET = 'lathe';

/** The file in every artifact and dataset version that lists the sha256 of every other file. */
export const MANIFEST_FILE = 'manifest.json';

/** Where every version of one dataset lives: `datasets/<namespace>/<dataset>/`. */
export function datasetPrefix(namespace: string, dataset: string): string {
  return `datasets/${namespace}/${dataset}/`;
}

export function datasetVersionPrefix(namespace: string, dataset: string, version: string): string {
  return `datasets/${namespace}/${dataset}/${version}/`;
}

export function modelVersionPrefix(namespace: string, model: string, version: number): string {
  return `models/${namespace}/${model}/${version}/`;
}

/**
 * Where a namespace's own source files may be put in Lathe's bucket, for a Dataset's S3 source
 * to read without credentials of its own: `sources/<namespace>/`.
 */
export function sourcesPrefix(namespace: string): string {
  return `sources/${namespace}/`;
}

/**
 * Data an administrator publishes to every namespace (the example data sets): `shared/`. Any
 * namespace's S3 source may read it; nothing Lathe runs writes it.
 */
export const SHARED_PREFIX = 'shared/';

/**
 * Every prefix of Lathe's bucket that belongs to `namespace`: its sources, dataset versions,
 * models, runs and feedback.
 */
export function namespacePrefixes(namespace: string): string[] {
  return ['sources', 'datasets', 'models', 'runs', 'feedback', 'batch'].map(
    (root) => `${root}/${namespace}/`,
  );
}

/**
 * Whether `key` (a key or a prefix) is one a Dataset's S3 source in `namespace` may read from
 * Lathe's bucket without credentials of its own: under one of `namespacePrefixes(namespace)` or
 * `SHARED_PREFIX`, with no empty, `.` or `..` segment that a store might resolve elsewhere.
 */
export function isReadableByNamespace(key: string, namespace: string): boolean {
  const segments = key.split('/');
  if (segments.slice(0, -1).some((s) => s === '' || s === '.' || s === '..')) return false;
  if (segments.at(-1) === '.' || segments.at(-1) === '..') return false;
  return [...namespacePrefixes(namespace), SHARED_PREFIX].some((prefix) => key.startsWith(prefix));
}

/**
 * Where one run of a BatchPrediction writes its parts, markers and manifest:
 * `batch/<namespace>/<name>/<run>/`, `run` naming the object's incarnation (its UID), so a
 * BatchPrediction deleted and created again under the same name never finds the old markers.
 */
export function batchRunPrefix(namespace: string, name: string, run: string): string {
  return `batch/${namespace}/${name}/${run}/`;
}

/**
 * Where a run of the BatchPrediction `name` writes: `batchRunPrefix`, or under the user's
 * `spec.output.prefix` as `<prefix><run>/`. A chosen prefix must lie under
 * `batch/<namespace>/` — the only part of the namespace's prefixes its shards may be granted to
 * write (the others hold ingested data, models and logs that other controllers own) — with no
 * empty, `.` or `..` segment. The run's UID under it keeps two runs naming the same prefix from
 * sharing parts or markers (a marker carries only the model's digest, so another run's marker
 * would pass for this run's finished shard).
 */
export function batchOutputPrefix(
  namespace: string,
  name: string,
  run: string,
  prefix: string | undefined,
): { ok: true; prefix: string } | { ok: false; message: string } {
  if (prefix === undefined) return { ok: true, prefix: batchRunPrefix(namespace, name, run) };
  const root = `batch/${namespace}/`;
  const segments = prefix.split('/');
  if (!prefix.startsWith(root) || !prefix.endsWith('/')) {
    return {
      ok: false,
      message: `${prefix} is not under ${root} (a prefix ending with /): a run writes only under its own namespace's batch/ prefix`,
    };
  }
  if (segments.slice(0, -1).some((s) => s === '' || s === '.' || s === '..')) {
    return { ok: false, message: `${prefix} has an empty, . or .. segment` };
  }
  return { ok: true, prefix: `${prefix}${run}/` };
}

export function trainingRunPrefix(namespace: string, trainingJob: string): string {
  return `runs/${namespace}/${trainingJob}/`;
}

export function feedbackPrefix(namespace: string, inferenceService: string): string {
  return `feedback/${namespace}/${inferenceService}/`;
}

/** The two kinds of file under `feedbackPrefix`. */
export const FeedbackDir = {
  /** Sampled requests with their predictions (`SampledRequest` lines). */
  requests: 'requests/',
  /** Ground-truth labels for earlier requests (`FeedbackLabels` lines). */
  labels: 'labels/',
} as const;
export type FeedbackKind = keyof typeof FeedbackDir;

/**
 * The key of one JSON Lines file under `prefix` (a `feedbackPrefix`): `<kind dir><yyyy-mm-dd>/
 * <hh>/<time>-<writer>-<seq>.jsonl`, where `time` is the file's first record's time, `writer`
 * the pod that wrote it and `seq` counts that pod's files, so two pods never write one key.
 */
export function feedbackFileKey(
  prefix: string,
  kind: FeedbackKind,
  time: Date,
  writer: string,
  seq: number,
): string {
  const iso = time.toISOString(); // 2026-01-02T03:04:05.678Z
  const day = iso.slice(0, 10);
  const hour = iso.slice(11, 13);
  const compact = iso.replaceAll('-', '').replaceAll(':', '');
  const safeWriter = writer.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${prefix.replace(/\/?$/, '/')}${FeedbackDir[kind]}${day}/${hour}/${compact}-${safeWriter}-${String(seq).padStart(6, '0')}.jsonl`;
}

/** What the name of a feedback file says (`feedbackFileKey`'s inputs, read back). */
export interface FeedbackFileName {
  /** The file's first record's time. */
  time: Date;
  writer: string;
  seq: number;
}

/**
 * Reads the time, writer and sequence number from a key `feedbackFileKey` wrote (any prefix);
 * undefined for a key it did not write.
 */
export function parseFeedbackFileKey(key: string): FeedbackFileName | undefined {
  const match =
    /\/(\d{4})-(\d{2})-(\d{2})\/(\d{2})\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2}\.\d{3})Z-(.+)-(\d{6,})\.jsonl$/.exec(
      key,
    );
  if (!match) return undefined;
  const [, , , , , year, month, day, hour, minute, second, writer, seq] = match;
  const time = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
  if (Number.isNaN(time.getTime())) return undefined;
  return { time, writer: writer!, seq: Number(seq) };
}

/** The files of a dataset version (`datasetVersionPrefix`). `manifest.json` is written last. */
export const DatasetFile = {
  /** The prepared train split: CSV, header `<feature>...,<label>`, numbers only (see `prepared-data.ts`). */
  train: 'train.csv',
  /** The prepared test split, same columns as `train`. */
  test: 'test.csv',
  /** The fitted preparation and the task (`PreparedSchema`): what serving applies to raw rows. */
  schema: 'schema.json',
  /** Statistics of the version (`DatasetStats`): rows, per-column statistics, distributions. */
  stats: 'stats.json',
  /**
   * The test split's rows before preparation, one JSON object per line, in `test`'s row order:
   * what a model trained on another version (with its own fitted preparation) is scored on, so
   * a champion and a challenger are compared on the same split.
   *
   * Each line has the raw input columns of `schema.json` (`inputs`, in order), then the
   * sensitive columns that are not inputs (`sensitiveColumns`, as category texts), then the
   * label under its column name. Rows are taken after select/drop and PII handling and before
   * imputation, encoding and scaling: a numeric column's value is a JSON number, any other a
   * string as read, a missing value `null` (never imputed); the label is a number for
   * regression, else the class text as read. A PII `Drop` column is absent; a PII `Hash`
   * column holds the value already hashed with this version's salt, never the raw value: with
   * this version's own `schema.json`, `prepareTestRawRecord` (which does not hash again) gives
   * line i of `test` exactly from line i (`encodeLabel` for the label). A model of another
   * version is prepared with its own schema, taking this version's hashed columns as they are
   * and hashing the columns this version did not hash (the trainer's evaluate mode,
   * `piiHashFor` in `runtime-images/trainer/raw-test-split.ts`).
   */
  testRaw: 'test.raw.jsonl',
  /**
   * The train split's rows before preparation, as `testRaw` holds the test split's (the same
   * line format), in `train`'s row order: with `testRaw`, the whole version as it was read, which
   * a BatchPrediction scores with any model's own preparation.
   */
  trainRaw: 'train.raw.jsonl',
} as const;

/**
 * The files of a model artifact (`modelVersionPrefix`) Lathe's trainer writes.
 *
 * The model's inputs and outputs, which the inference server relies on:
 * - input: one row of prepared features, `schema.json`'s `features` in order (the server gets
 *   them from raw records with `prepareRecord`), float32, shape `[rows, features.length]`;
 * - output, classification: softmax probabilities over `schema.label.classes`, in that order,
 *   shape `[rows, classes.length]` (two columns for a binary task); the prediction is the most
 *   probable class;
 * - output, regression: one unit, the label in its original units, shape `[rows, 1]` (a trainer
 *   that standardises the target for training folds the inverse into the saved model).
 *
 * `metrics.json` records which backend trained it. Other formats (`format` in the result) keep
 * `schema.json`, `metrics.json` and `manifest.json` and name their own model file: the
 * scikit-learn trainer's `model.joblib` is a fitted estimator over the same prepared features,
 * whose `predict_proba` columns are `estimator.classes_` (indices into `schema.label.classes`).
 */
export const ModelFile = {
  /** TensorFlow.js layers model topology and weights manifest (`format: layers-model`). */
  model: 'model.json',
  /** TensorFlow.js weights, one shard. */
  weights: 'weights.bin',
  /** The dataset's `schema.json`, copied so the artifact alone can serve raw records. */
  schema: 'schema.json',
  /** Evaluation on the test split (`ModelMetrics`). */
  metrics: 'metrics.json',
  /**
   * A sample of the training split, prepared (`ExplanationBackground`,
   * `contract/explain/background.ts`): what the server's explanations are measured against.
   * Optional: an artifact without it serves predictions but no explanations.
   */
  background: 'background.json',
  /**
   * The model card (`ModelCard`, `contract/model-card.ts`): data, metrics overall and by group,
   * importance, the fairness verdict, intended use. Optional: the operator summarises it in the
   * ModelVersion's status when it is there.
   */
  card: 'model-card.json',
} as const;

/** The files of a training run (`trainingRunPrefix`). */
export const RunFile = {
  /** Per-epoch loss and metrics (`TrainingHistory`), rewritten as training goes. */
  history: 'history.json',
  /** The latest epoch (`TrainingProgress`), rewritten every epoch; the operator polls it. */
  progress: 'progress.json',
  /** Where the trainer writes the artifact before the operator registers it under `models/`. */
  artifactDir: 'artifact/',
} as const;

/** `s3://bucket/key`. */
export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** A location in an S3-compatible store. */
export interface ObjectLocation {
  bucket: string;
  /** A key, or a prefix ending in `/`. */
  key: string;
}

/**
 * Parses `s3://bucket/key-or-prefix`. Other schemes are not in an object store Lathe can read;
 * the error says so, naming the URI.
 */
export function parseS3Uri(uri: string): ObjectLocation {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(uri);
  if (!match) throw new Error(`"${uri}" is not an s3://<bucket>/<key> URI`);
  return { bucket: match[1]!, key: match[2]! };
}

/** The key of `file` inside the artifact rooted at `prefix` (a prefix with or without a trailing slash). */
export function keyInArtifact(prefix: string, file: string): string {
  return `${prefix.replace(/\/?$/, '/')}${file}`;
}
