/**
 * `BatchPrediction`: score a whole table with a model, in bulk, once — a Dataset version's rows,
 * files in the namespace's prefixes, or a file at an HTTP(S) URL — and write the predictions to
 * the object store, in parallel shards that a retried or restarted run resumes
 * (`contract/batch.ts`).
 *
 * One object is one run: its spec is immutable (create another to score again), and its status
 * says how far the run got, what it scored with what, and where the output is.
 */
import { z } from 'zod';
import { BatchFormatSchema, BatchOutputFieldSchema } from '../../../contract/batch.js';
import { withCel } from './cel.js';
import { boundedRecord, observedGeneration, setList, timestamp } from './common.js';
import { conditionsList } from './conditions.js';
import { columnName, datasetVersion, HttpSourceSchema } from './dataset.js';
import {
  DEFAULT_EXPLAIN,
  explainBackgroundRows,
  explainKernelSamples,
  ModelSelectorSchema,
} from './inferenceservice.js';
import { AGE_COLUMN, conditionColumn, defineKind, resourceSchema } from './kind.js';
import { ResourcesSchema } from './quantity.js';

/** The most shards one run may have (the Job's completions). */
export const MAX_BATCH_SHARDS = 1000;

/** How raw records are read: the same for objects in the store and for a URL. */
const recordFormatFields = {
  format: z
    .enum(['csv', 'jsonl'])
    .describe('Format of the records: csv or jsonl (JSON Lines).')
    .default('csv'),
  csv: z
    .object({
      delimiter: z.string().min(1).max(1).describe('Field delimiter, one character.').default(','),
      header: z
        .boolean()
        .describe('Whether the first line of each file holds the column names.')
        .default(true),
    })
    .describe('How to read CSV.')
    .prefault({}),
};

const HttpInputSchema = HttpSourceSchema.extend(recordFormatFields).describe(
  "One file at an HTTP(S) URL, read by the shards with Range requests (a server that ignores them still works, more slowly), prepared with the model's own preparation. The operator never fetches the URL: the shards do, under the install's HTTP source policy, as a Dataset's ingestion does.",
);

const S3InputSchema = withCel(
  z
    .object({
      key: z
        .string()
        .min(1)
        .max(1024)
        .describe('Key of one object in Lathe’s bucket. Exactly one of key or prefix is set.')
        .optional(),
      prefix: z
        .string()
        .min(1)
        .max(1024)
        .describe(
          'Key prefix in Lathe’s bucket: every object under it is scored, in key order. Exactly one of key or prefix is set.',
        )
        .optional(),
      ...recordFormatFields,
    })
    .describe(
      "Raw records in Lathe's bucket, under the namespace's prefixes (sources/<namespace>/, batch/<namespace>/, …) or shared/: prepared with the model's own preparation, as the inference server prepares a request.",
    ),
  [
    {
      rule: 'has(self.key) != has(self.prefix)',
      message: 'spec.input.s3 sets exactly one of key or prefix',
      reason: 'FieldValueRequired',
      holds: (self) => (self.key === undefined) !== (self.prefix === undefined),
    },
  ],
);

const BatchInputSpecSchema = withCel(
  z
    .object({
      datasetRef: z
        .object({
          name: z.string().min(1).max(253).describe('Name of the Dataset.'),
          version: datasetVersion(
            "The version to score. Unset: the Dataset's current version when the run starts.",
          ).optional(),
        })
        .describe(
          "A Dataset version's rows (both splits, as they were before preparation), prepared with the model's own preparation.",
        )
        .optional(),
      s3: S3InputSchema.optional(),
      http: HttpInputSchema.optional(),
    })
    .describe(
      'What to score: a Dataset version, objects in the object store, or a file at a URL. Exactly one.',
    ),
  [
    {
      rule: '[has(self.datasetRef), has(self.s3), has(self.http)].filter(x, x).size() == 1',
      message: 'spec.input sets exactly one of datasetRef, s3 or http',
      reason: 'FieldValueRequired',
      holds: (self) =>
        [self.datasetRef, self.s3, self.http].filter((x) => x !== undefined).length === 1,
    },
  ],
);

/** What `spec.output.explanations` leaves unset: the InferenceService's `spec.explain` defaults. */
export const DEFAULT_BATCH_EXPLANATIONS = {
  backgroundRows: DEFAULT_EXPLAIN.backgroundRows,
  kernelSamples: DEFAULT_EXPLAIN.kernelSamples,
} as const;

const BatchExplanationsSpecSchema = z
  .object({
    backgroundRows: explainBackgroundRows(),
    kernelSamples: explainKernelSamples(),
    topK: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .describe(
        'Columns written per row: the K of largest absolute value (the others left out). Unset: every input column.',
      )
      .optional(),
  })
  .describe(
    'How rows are explained when include has explanations (docs/batch.md, "Explanations"). Unset: the same defaults as an InferenceService\'s spec.explain.',
  );

const BatchOutputSpecSchema = withCel(
  z
    .object({
      prefix: z
        .string()
        .max(512)
        .regex(/^batch\/[a-z0-9]([-a-z0-9]*[a-z0-9])?\/([^/]+\/)*$/, {
          message: 'must be a key prefix batch/<namespace>/…/ ending with /',
        })
        .describe(
          "Where the run writes, as a key prefix in Lathe's bucket under batch/<this namespace>/, ending with /: the run's parts, markers and manifest go under <prefix><uid>/ (the object's UID, so two runs naming the same prefix never mix their parts). Unset: batch/<namespace>/<name>/.",
        )
        .optional(),
      format: BatchFormatSchema.describe('jsonl (one JSON object per row) or csv.').default(
        'jsonl',
      ),
      include: setList(
        BatchOutputFieldSchema,
        { min: 1, max: 3 },
        "What each row gets: label (the predicted class; a regression model writes prediction), probabilities (per class) and explanations (the prediction's Shapley values per input column, as the InferenceService's :explain computes them; needs a model trained with a background sample, and much more CPU).",
      ).default(['label', 'probabilities']),
      explanations: BatchExplanationsSpecSchema.optional(),
    })
    .describe(
      "Where and how the predictions are written: under s3://<Lathe's bucket>/<prefix><uid>/ (status.output.uri; prefix defaults to batch/<namespace>/<name>/), one part per shard, then manifest.json.",
    ),
  [
    {
      rule: "!has(self.prefix) || (!self.prefix.contains('/./') && !self.prefix.contains('/../'))",
      message: 'spec.output.prefix may not hold a . or .. segment',
      reason: 'FieldValueInvalid',
      holds: (self) => self.prefix === undefined || !/\/\.\.?\//.test(self.prefix),
    },
    {
      rule: "!has(self.explanations) || self.include.exists(f, f == 'explanations')",
      message: 'spec.output.explanations is set only when spec.output.include has explanations',
      fieldPath: '.explanations',
      holds: (self) => self.explanations === undefined || self.include.includes('explanations'),
    },
  ],
);

/** `BatchPrediction.spec`. */
export const BatchPredictionSpecSchema = withCel(
  z
    .object({
      model: ModelSelectorSchema.describe(
        'The model that scores: a pinned version, or the version in a stage (production by default), resolved once when the run starts.',
      ),
      input: BatchInputSpecSchema,
      output: BatchOutputSpecSchema.prefault({}),
      passthroughColumns: setList(
        columnName('A column name.'),
        { max: 64 },
        'Input columns copied to each output row before the predictions (ids), so the output joins back to the input.',
      ).optional(),
      parallelism: z
        .number()
        .int()
        .min(1)
        .max(100)
        .describe('Shards scored at the same time (pods).')
        .default(2),
      shards: z
        .number()
        .int()
        .min(1)
        .max(MAX_BATCH_SHARDS)
        .describe(
          'How many parts the input is cut into (byte ranges, records whole). Unset: parallelism. More shards make a retry cheaper.',
        )
        .optional(),
      retriesPerShard: z
        .number()
        .int()
        .min(0)
        .max(10)
        .describe('Retries of a failed shard before the run fails (backoffLimitPerIndex).')
        .default(2),
      maxFailedRecordsPercent: z
        .number()
        .min(0)
        .max(100)
        .describe(
          'Records that cannot be scored (a value of the wrong type, a line that is not JSON) become error rows; a shard with a larger share of them fails the run.',
        )
        .default(0),
      resources: ResourcesSchema.omit({ gpu: true })
        .describe('Compute resources of each shard. Defaults: cpu 1, memory 1Gi.')
        .optional(),
      activeDeadlineSeconds: z
        .number()
        .int()
        .min(1)
        .describe('Deadline of the whole run in seconds; the run fails when it passes.')
        .optional(),
    })
    .describe('The desired state of the BatchPrediction.'),
  [
    {
      rule: 'self == oldSelf',
      message: 'spec is immutable: a BatchPrediction is one run; create another to score again',
      holdsOnUpdate: (self, oldSelf) => JSON.stringify(self) === JSON.stringify(oldSelf),
    },
  ],
);
export type BatchPredictionSpec = z.infer<typeof BatchPredictionSpecSchema>;

export const BatchPredictionPhaseSchema = z
  .enum(['Pending', 'Running', 'Succeeded', 'Failed'])
  .describe(
    'Where the run is: Pending (waiting for its model or data), Running, Succeeded or Failed.',
  );

/** Classes `status.predictions` shows, the most frequent first. */
export const STATUS_CLASSES = 20;

const count = (description: string) => z.number().int().min(0).describe(description);

/** `BatchPrediction.status`. */
export const BatchPredictionStatusSchema = z
  .object({
    observedGeneration: observedGeneration.optional(),
    conditions: conditionsList(['Complete']).optional(),
    phase: BatchPredictionPhaseSchema.optional(),
    startTime: timestamp('When the shards started.').optional(),
    completionTime: timestamp('When the run finished.').optional(),
    model: z
      .object({
        modelVersion: z.string().max(253).describe('The ModelVersion that scores.'),
        digest: z.string().max(71).describe('Its artifact digest.'),
      })
      .describe('What scores, resolved once when the run starts.')
      .optional(),
    input: z
      .object({
        dataset: z.string().max(253).describe('The Dataset, for a datasetRef input.').optional(),
        datasetVersion: z.string().max(64).describe('Its version.').optional(),
        objects: count('Input objects.'),
        sizeBytes: count(
          'Their total size; absent for an HTTP input, whose size only the shards learn.',
        ).optional(),
      })
      .describe('What is scored, resolved once when the run starts.')
      .optional(),
    shards: z
      .object({
        total: count('Shards of the run.'),
        succeeded: count('Shards finished.'),
        failed: count('Shards that failed for good.'),
        active: count('Shards running.'),
      })
      .describe('Progress, by shard.')
      .optional(),
    rows: z
      .object({
        written: count('Rows written by finished shards, error rows included.'),
        failed: count('Of those, records that could not be scored (error rows).'),
      })
      .describe('Rows of the finished shards.')
      .optional(),
    output: z
      .object({
        uri: z.string().max(2048).describe('Where the parts, markers and manifest are.'),
        manifest: z
          .string()
          .max(2048)
          .describe('The manifest, once every shard finished: the run’s output is complete.')
          .optional(),
      })
      .describe('Where the predictions are.')
      .optional(),
    drift: z
      .object({
        metric: z.enum(['psi']).describe('The statistic: psi, the population stability index.'),
        value: z
          .number()
          .describe(
            "The worst input column's PSI against the model's training data (0.1–0.2: a moderate shift; above 0.2: a significant one).",
          ),
        feature: z.string().max(253).describe('The input column that drifted most.').optional(),
        rows: count('Rows counted (every stride-th scored row of each shard).'),
      })
      .describe(
        "How far the scored inputs are from the model's training data (stats.json of its dataset version), from counts per training bin; absent for a model without training statistics. A RetrainPolicy's drift trigger with source batch or any reads the same counts.",
      )
      .optional(),
    predictions: z
      .object({
        rows: count('Rows counted.'),
        stride: z
          .number()
          .int()
          .min(1)
          .describe('Every how many scored rows of a shard one was counted (1: all).'),
        classes: boundedRecord(
          z.number().min(0).max(1),
          STATUS_CLASSES,
          `Classification: the fraction of counted rows predicted as each class (the ${STATUS_CLASSES} most frequent).`,
        ).optional(),
        regression: z
          .object({
            count: count('Predicted values counted.'),
            mean: z.number().describe('Their mean.'),
            min: z.number().describe('The smallest.'),
            max: z.number().describe('The largest.'),
          })
          .describe('Regression: the predicted values.')
          .optional(),
      })
      .describe('The distribution of the predictions, once the run succeeded.')
      .optional(),
  })
  .describe('The observed state of the BatchPrediction.');
export type BatchPredictionStatus = z.infer<typeof BatchPredictionStatusSchema>;

export const BatchPredictionSchema = resourceSchema(
  'BatchPrediction',
  BatchPredictionSpecSchema,
  BatchPredictionStatusSchema,
);
export type BatchPrediction = z.infer<typeof BatchPredictionSchema>;

/** Names, columns and subresources of `BatchPrediction`. */
export const batchPredictionKind = defineKind({
  kind: 'BatchPrediction',
  plural: 'batchpredictions',
  shortNames: ['lbp'],
  description:
    'A BatchPrediction scores a whole table (a Dataset version, objects in the object store, or a file at an HTTP(S) URL) with a model in parallel, resumable shards, and writes the predictions to the object store.',
  printerColumns: [
    {
      name: 'Model',
      type: 'string',
      jsonPath: '.status.model.modelVersion',
      description: 'The ModelVersion.',
    },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Where the run is.' },
    {
      name: 'Shards',
      type: 'integer',
      jsonPath: '.status.shards.succeeded',
      description: 'Shards finished.',
    },
    {
      name: 'Total',
      type: 'integer',
      jsonPath: '.status.shards.total',
      description: 'Shards of the run.',
    },
    {
      name: 'Rows',
      type: 'integer',
      jsonPath: '.status.rows.written',
      description: 'Rows written.',
    },
    {
      name: 'Failed',
      type: 'integer',
      jsonPath: '.status.rows.failed',
      description: 'Error rows.',
      priority: 1,
    },
    {
      name: 'Drift',
      type: 'number',
      jsonPath: '.status.drift.value',
      description: "The worst input column's PSI against the training data.",
      priority: 1,
    },
    {
      name: 'Output',
      type: 'string',
      jsonPath: '.status.output.uri',
      description: 'Where the output is.',
      priority: 1,
    },
    conditionColumn('Ready', 'Ready', 1),
    AGE_COLUMN,
  ],
  schema: BatchPredictionSchema,
  spec: BatchPredictionSpecSchema,
  status: BatchPredictionStatusSchema,
});
