/**
 * `Dataset`: a versioned, validated table of examples pulled from one source and prepared for
 * training. A version is the content hash of the prepared data, so an unchanged source gives
 * the same version and never triggers a pointless retrain.
 */
import { z } from 'zod';
import { withCel } from './cel.js';
import {
  boundedRecord,
  boundedString,
  dnsLabel,
  dnsSubdomain,
  mapList,
  observedGeneration,
  secretKeyReference,
  setList,
  timestamp,
} from './common.js';
import { conditionsList } from './conditions.js';
import { durationAtLeast } from './duration.js';
import { AGE_COLUMN, conditionColumn, defineKind, resourceSchema } from './kind.js';
import { ResourcesSchema } from './quantity.js';

/** The most columns a Dataset may declare, prepare or report on. */
export const MAX_COLUMNS = 256;
/** The most dataset versions kept in `status.versions`. */
export const MAX_VERSION_HISTORY = 100;
/** A dataset version: hex of the sha256 of the prepared data (at least 12 digits). */
export const DATASET_VERSION_PATTERN = /^[a-f0-9]{12,64}$/;

/** A column name as it appears in the header (CSV) or the keys (JSON Lines). */
export function columnName(description: string) {
  return z.string().min(1).max(128).describe(description);
}

function columnList(description: string) {
  return setList(columnName('A column name.'), { min: 1, max: MAX_COLUMNS }, description);
}

/** A dataset version identifier (content hash). */
export function datasetVersion(description: string) {
  return z
    .string()
    .max(64)
    .regex(DATASET_VERSION_PATTERN, {
      message: 'must be a dataset version: 12 to 64 lowercase hex digits of the content hash',
    })
    .describe(description);
}

/** A Dataset's HTTP(S) source (a BatchPrediction's HTTP input extends it). */
export const HttpSourceSchema = z
  .object({
    url: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^\s/$.?#][^\s]*$/, { message: 'must be an http:// or https:// URL' })
      .describe('URL of the file to download, http:// or https://.'),
    headersSecretRef: z
      .object({ name: dnsSubdomain('Name of the Secret.') })
      .describe(
        'A Secret whose keys and values are sent as HTTP request headers (e.g. Authorization).',
      )
      .optional(),
  })
  .describe('Download the data from an HTTP(S) URL.');

const S3SourceSchema = withCel(
  z
    .object({
      endpoint: z
        .string()
        .max(2048)
        .regex(/^https?:\/\/[^\s]+$/, { message: 'must be an http:// or https:// URL' })
        .describe(
          'S3 endpoint URL, e.g. http://minio.lathe-system:9000. Defaults to the operator’s object store.',
        )
        .optional(),
      region: boundedString('Region of the bucket. Defaults to us-east-1.', 64).optional(),
      bucket: z
        .string()
        .min(3)
        .max(63)
        .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, { message: 'must be a valid S3 bucket name' })
        .describe('Bucket name.'),
      key: z
        .string()
        .min(1)
        .max(1024)
        .describe('Key of one object. Exactly one of key or prefix is set.')
        .optional(),
      prefix: z
        .string()
        .min(1)
        .max(1024)
        .describe(
          'Key prefix: every object under it is read and concatenated in key order. Exactly one of key or prefix is set.',
        )
        .optional(),
      credentialsSecretRef: z
        .object({ name: dnsSubdomain('Name of the Secret.') })
        .describe(
          'A Secret with the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Defaults to the operator’s object-store credentials.',
        )
        .optional(),
    })
    .describe('Read the data from an S3 or MinIO object, or from every object under a prefix.'),
  [
    {
      rule: 'has(self.key) != has(self.prefix)',
      message: 'spec.source.s3 must set exactly one of key or prefix',
      holds: (self) => (self.key === undefined) !== (self.prefix === undefined),
    },
  ],
);

const PostgresSourceSchema = z
  .object({
    connectionSecretRef: secretKeyReference(
      'A Secret holding a postgres:// connection URI.',
      'uri',
    ),
    query: z
      .string()
      .min(1)
      .max(16384)
      .describe('The SQL query whose result set is the dataset. Run read-only.'),
  })
  .describe('Run a SQL query against PostgreSQL.');

const FeedbackSourceSchema = z
  .object({
    inferenceServiceRef: z
      .object({ name: dnsLabel('Name of the InferenceService.') })
      .describe(
        'The InferenceService, in the same namespace, whose labelled feedback becomes the data: each label submitted to its feedback endpoint, joined with the sampled request it labels (spec.requestLogging).',
      ),
    since: durationAtLeast(
      'spec.source.feedback.since',
      '1m',
      'Only labels received in this window before the ingestion runs, e.g. "168h" for the last week. Unset: every label.',
    ).optional(),
  })
  .describe(
    'Learn from production: the ground-truth labels an InferenceService received, joined with the requests they label. Rows are the raw request records plus the label column spec.schema.label.',
  );

/** Where the data comes from: exactly one of `http`, `s3`, `postgres` or `feedback`. */
export const DatasetSourceSchema = withCel(
  z
    .object({
      http: HttpSourceSchema.optional(),
      s3: S3SourceSchema.optional(),
      postgres: PostgresSourceSchema.optional(),
      feedback: FeedbackSourceSchema.optional(),
    })
    .describe('Where the data comes from. Exactly one of http, s3, postgres or feedback is set.'),
  [
    {
      rule: '[has(self.http), has(self.s3), has(self.postgres), has(self.feedback)].filter(x, x).size() == 1',
      message: 'spec.source must set exactly one of http, s3, postgres or feedback',
      holds: (self) =>
        [self.http, self.s3, self.postgres, self.feedback].filter((s) => s !== undefined).length ===
        1,
    },
  ],
);

const CsvOptionsSchema = z
  .object({
    delimiter: z.string().min(1).max(1).describe('Field delimiter, one character.').default(','),
    header: z
      .boolean()
      .describe(
        'Whether the first line holds column names. If false, spec.schema.columns names them in order.',
      )
      .default(true),
  })
  .describe('How to read CSV; only used when format is csv.');

/** The type of a column's values. */
export const ColumnTypeSchema = z
  .enum(['number', 'integer', 'boolean', 'categorical', 'string'])
  .describe(
    'number and integer are numeric features; categorical is a string from a small set; string is free text (dropped unless it is the label).',
  );
export type ColumnType = z.infer<typeof ColumnTypeSchema>;

const ColumnSchema = z
  .object({
    name: columnName('Column name.'),
    type: ColumnTypeSchema,
  })
  .describe('One column.');

const DatasetSchemaSchema = withCel(
  z
    .object({
      columns: mapList(
        ColumnSchema,
        ['name'],
        { min: 1, max: MAX_COLUMNS },
        'The columns and their types. If omitted, they are inferred from the data: numbers become number, everything else categorical.',
      ).optional(),
      label: columnName(
        'The column to predict. Its type decides the default task: categorical, boolean or string gives classification, number or integer gives regression.',
      ),
    })
    .describe('The columns of the data and which one is the label.'),
  [
    {
      rule: '!has(self.columns) || self.columns.exists(c, c.name == self.label)',
      message: 'spec.schema.label must name one of spec.schema.columns',
      fieldPath: '.label',
      holds: (self) =>
        self.columns === undefined || self.columns.some((c) => c.name === self.label),
    },
  ],
);

const MissingValuesSchema = withCel(
  z
    .object({
      numeric: z
        .enum(['drop', 'mean', 'median', 'zero'])
        .describe('For numeric columns: drop the row, or impute the mean, median or zero.')
        .default('mean'),
      categorical: z
        .enum(['drop', 'mostFrequent', 'constant'])
        .describe(
          'For categorical columns: drop the row, impute the most frequent value, or impute fillValue.',
        )
        .default('mostFrequent'),
      fillValue: boundedString('The value imputed when categorical is constant.', 256).optional(),
    })
    .describe('What to do with missing values.'),
  [
    {
      rule: "self.categorical != 'constant' || has(self.fillValue)",
      message: 'spec.preparation.missingValues.fillValue is required when categorical is constant',
      fieldPath: '.fillValue',
      reason: 'FieldValueRequired',
      holds: (self) => self.categorical !== 'constant' || self.fillValue !== undefined,
    },
  ],
);

const PiiColumnSchema = z
  .object({
    column: columnName('Name of the column holding personal data.'),
    action: z
      .enum(['Drop', 'Hash'])
      .describe('drop removes the column; hash replaces each value by its salted SHA-256.'),
  })
  .describe('A column of personal data and how to neutralise it.');

const PreparationSchema = withCel(
  z
    .object({
      select: columnList(
        'Keep only these columns (plus the label). Mutually exclusive with drop.',
      ).optional(),
      drop: columnList('Remove these columns. Mutually exclusive with select.').optional(),
      missingValues: MissingValuesSchema.prefault({}),
      encodeCategoricals: z
        .enum(['oneHot', 'ordinal'])
        .describe('How categorical features are encoded.')
        .default('oneHot'),
      maxCategories: z
        .number()
        .int()
        .min(2)
        .max(1000)
        .describe('Categories beyond the most frequent maxCategories are merged into "other".')
        .default(50),
      scaleNumerics: z
        .enum(['standard', 'minMax', 'none'])
        .describe(
          'standard centres and scales numeric features to unit variance; minMax maps them to [0, 1].',
        )
        .default('standard'),
      pii: mapList(
        PiiColumnSchema,
        ['column'],
        { max: MAX_COLUMNS },
        'Columns holding personal data, dropped or hashed before anything is stored.',
      ).optional(),
    })
    .describe('How the raw data is cleaned, encoded and normalised before it is stored.'),
  [
    {
      rule: '!(has(self.select) && has(self.drop))',
      message: 'spec.preparation may set select or drop, not both',
      fieldPath: '.drop',
      reason: 'FieldValueForbidden',
      holds: (self) => !(self.select !== undefined && self.drop !== undefined),
    },
  ],
);

const ColumnRuleSchema = withCel(
  z
    .object({
      name: columnName('Column the rule applies to.'),
      maxMissingFraction: z
        .number()
        .min(0)
        .max(1)
        .describe('Largest fraction of missing values allowed in this column.')
        .optional(),
      min: z.number().describe('Smallest value allowed (numeric columns).').optional(),
      max: z.number().describe('Largest value allowed (numeric columns).').optional(),
      allowedValues: setList(
        z.string().max(256),
        { min: 1, max: 1000 },
        'The only values allowed (categorical columns).',
      ).optional(),
    })
    .describe('Rules for one column.'),
  [
    {
      rule: '!has(self.min) || !has(self.max) || self.min <= self.max',
      message: 'spec.validation.columns[].min must be less than or equal to max',
      fieldPath: '.min',
      holds: (self) => self.min === undefined || self.max === undefined || self.min <= self.max,
    },
  ],
);

const DataValidationSchema = z
  .object({
    minRows: z.number().int().min(1).describe('Fewest rows the prepared data may have.').optional(),
    maxMissingFraction: z
      .number()
      .min(0)
      .max(1)
      .describe('Largest fraction of missing values allowed in any column, before imputation.')
      .optional(),
    columns: mapList(
      ColumnRuleSchema,
      ['name'],
      { max: MAX_COLUMNS },
      'Per-column rules: value ranges, allowed categories, missing values.',
    ).optional(),
  })
  .describe(
    'Checks the data must pass; a failing check sets Validated=False and keeps the previous version.',
  );

const SplitSchema = z
  .object({
    testFraction: z
      .number()
      .min(0.01)
      .max(0.9)
      .describe('Fraction of rows held out as the test split.')
      .default(0.2),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2147483647)
      .describe('Seed of the shuffle, so the split is reproducible.')
      .default(42),
    stratify: z
      .boolean()
      .describe('Keep label proportions equal in both splits (classification only).')
      .default(true),
  })
  .describe('How rows are split into train and test sets.');

/** The most sensitive columns a Dataset may name (intersections grow as their product). */
export const MAX_SENSITIVE_COLUMNS = 4;

const DatasetFairnessSchema = z
  .object({
    sensitiveColumns: setList(
      columnName('A column name.'),
      { min: 1, max: MAX_SENSITIVE_COLUMNS },
      'Columns whose groups (e.g. sex, age band) a model is evaluated across. Each is kept with the test split for evaluation even when spec.preparation.select or drop leaves it out of the features; its values are taken as categories.',
    ),
  })
  .describe(
    'Fairness: the sensitive columns a TrainingJob evaluates each model across (group metrics, disparities, the fairness gate).',
  );

/** `Dataset.spec`. */
export const DatasetSpecSchema = withCel(
  z
    .object({
      source: DatasetSourceSchema,
      format: z
        .enum(['csv', 'jsonl', 'parquet'])
        .describe(
          'Format of the source data: csv, jsonl (JSON Lines) or parquet (Apache Parquet, read one row group at a time; flat columns only). Ignored for postgres and feedback.',
        )
        .default('csv'),
      csv: CsvOptionsSchema.prefault({}),
      schema: DatasetSchemaSchema,
      preparation: PreparationSchema.prefault({}),
      validation: DataValidationSchema.optional(),
      fairness: DatasetFairnessSchema.optional(),
      split: SplitSchema.prefault({}),
      refreshInterval: durationAtLeast(
        'spec.refreshInterval',
        '1m',
        'How often to re-read the source, e.g. "1h". A new version appears only when the prepared data changes. Unset reads once.',
      ).optional(),
      versionHistoryLimit: z
        .number()
        .int()
        .min(1)
        .max(MAX_VERSION_HISTORY)
        .describe(
          'How many versions status.versions keeps; older snapshots are deleted from the object store unless a ModelVersion (lineage) or a TrainingJob (datasetRef.version) in the namespace refers to them.',
        )
        .default(10),
      resources: ResourcesSchema.omit({ gpu: true })
        .describe(
          'Compute resources of the ingestion pod. Defaults: cpu 500m, memory 512Mi. Ingestion streams, so a source larger than the memory limit is fine.',
        )
        .optional(),
    })
    .describe('The desired state of the Dataset.'),
  [
    {
      rule: '!has(self.fairness) || !self.fairness.sensitiveColumns.exists(c, c == self.schema.label)',
      message: 'spec.fairness.sensitiveColumns must not name the label',
      fieldPath: '.fairness.sensitiveColumns',
      reason: 'FieldValueInvalid',
      holds: (self) => !self.fairness?.sensitiveColumns.includes(self.schema.label),
    },
    {
      rule: '!has(self.fairness) || !has(self.preparation.pii) || !self.fairness.sensitiveColumns.exists(c, self.preparation.pii.exists(p, p.column == c && p.action == "Drop"))',
      message:
        'spec.fairness.sensitiveColumns must not name a column spec.preparation.pii drops: a dropped column cannot be evaluated',
      fieldPath: '.fairness.sensitiveColumns',
      reason: 'FieldValueInvalid',
      holds: (self) =>
        !self.fairness?.sensitiveColumns.some((c) =>
          self.preparation.pii?.some((p) => p.column === c && p.action === 'Drop'),
        ),
    },
  ],
);
export type DatasetSpec = z.infer<typeof DatasetSpecSchema>;

const ColumnStatisticsSchema = z
  .object({
    name: columnName('Column name.'),
    type: ColumnTypeSchema,
    missing: z.number().int().min(0).describe('Rows with a missing value, before imputation.'),
    mean: z.number().describe('Mean (numeric columns).').optional(),
    stddev: z.number().describe('Standard deviation (numeric columns).').optional(),
    min: z.number().describe('Smallest value (numeric columns).').optional(),
    max: z.number().describe('Largest value (numeric columns).').optional(),
    distinct: z
      .number()
      .int()
      .min(0)
      .describe('Number of distinct values (categorical columns).')
      .optional(),
  })
  .describe('Statistics of one column of the current version.');

const DatasetVersionRecordSchema = z
  .object({
    version: datasetVersion('The version: content hash of the prepared data.'),
    createdAt: timestamp('When this version was first produced.'),
    rows: z.number().int().min(0).describe('Rows after preparation.'),
    trainRows: z.number().int().min(0).describe('Rows in the train split.').optional(),
    testRows: z.number().int().min(0).describe('Rows in the test split.').optional(),
  })
  .describe('One version of the data.');

/** The last ingestion run, as its Job shows it. */
const IngestionRunSchema = z
  .object({
    jobName: dnsSubdomain('The ingestion Job.'),
    trigger: z
      .enum(['SpecChanged', 'Requested', 'Refresh', 'Retry'])
      .describe(
        'What started it: a new spec generation, the lathe.dev/refresh annotation, spec.refreshInterval, or a retry after a failure.',
      ),
    attempt: z
      .number()
      .int()
      .min(1)
      .describe('Consecutive attempts of this run (1, then retries).'),
    phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed']).describe('Phase of the run.'),
    startTime: timestamp('When the run started.').optional(),
    completionTime: timestamp('When the run finished.').optional(),
    reason: boundedString('Why it failed or waits, e.g. SourceUnavailable.', 128).optional(),
    message: boundedString('What happened, quoting the underlying error.', 4096).optional(),
    nextAttemptTime: timestamp('When a failed run is retried.').optional(),
  })
  .describe('The latest ingestion run.');

/** `Dataset.status`. */
export const DatasetStatusSchema = z
  .object({
    observedGeneration: observedGeneration.optional(),
    conditions: conditionsList(['Validated']).optional(),
    currentVersion: datasetVersion(
      'The latest valid version: what TrainingJobs use by default.',
    ).optional(),
    rows: z
      .number()
      .int()
      .min(0)
      .describe('Rows of the current version, after preparation.')
      .optional(),
    trainRows: z
      .number()
      .int()
      .min(0)
      .describe('Rows in the train split of the current version.')
      .optional(),
    testRows: z
      .number()
      .int()
      .min(0)
      .describe('Rows in the test split of the current version.')
      .optional(),
    columns: mapList(
      ColumnStatisticsSchema,
      ['name'],
      { max: MAX_COLUMNS },
      'Per-column statistics of the current version.',
    ).optional(),
    versions: mapList(
      DatasetVersionRecordSchema,
      ['version'],
      { max: MAX_VERSION_HISTORY },
      'Recent versions, newest first, at most spec.versionHistoryLimit.',
    ).optional(),
    lastRefreshTime: timestamp('When the source was last read successfully.').optional(),
    ingestedGeneration: z
      .number()
      .int()
      .min(0)
      .describe('The metadata.generation whose spec produced the current version.')
      .optional(),
    lastIngestion: IngestionRunSchema.optional(),
    labels: boundedRecord(
      z.number().int().min(0),
      1000,
      'Rows per label value (classification datasets).',
    ).optional(),
  })
  .describe('The observed state of the Dataset.');
export type DatasetStatus = z.infer<typeof DatasetStatusSchema>;

/** A whole `Dataset` object. */
export const DatasetSchema = resourceSchema('Dataset', DatasetSpecSchema, DatasetStatusSchema);
export type Dataset = z.infer<typeof DatasetSchema>;
/** A `Dataset` as written by a user, before defaults. */
export type DatasetInput = z.input<typeof DatasetSchema>;

/** Names, columns and subresources of `Dataset`. */
export const datasetKind = defineKind({
  kind: 'Dataset',
  plural: 'datasets',
  shortNames: ['lds'],
  description:
    'A Dataset is a versioned, validated table of examples pulled from an HTTP(S) URL, an S3/MinIO object or prefix, a PostgreSQL query or the labelled feedback of an InferenceService, and prepared for training.',
  printerColumns: [
    {
      name: 'Version',
      type: 'string',
      jsonPath: '.status.currentVersion',
      description: 'The current version (content hash).',
    },
    {
      name: 'Rows',
      type: 'integer',
      jsonPath: '.status.rows',
      description: 'Rows of the current version.',
    },
    conditionColumn('Ready'),
    {
      name: 'Ingestion',
      type: 'string',
      jsonPath: '.status.lastIngestion.phase',
      description: 'Phase of the latest ingestion run.',
    },
    conditionColumn('Validated', 'Validated', 1),
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.lastIngestion.reason',
      description: 'Why the latest run failed or waits.',
      priority: 1,
    },
    AGE_COLUMN,
  ],
  schema: DatasetSchema,
  spec: DatasetSpecSchema,
  status: DatasetStatusSchema,
});
