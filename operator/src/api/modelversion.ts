/**
 * `ModelVersion`: one immutable trained artifact with its metrics and lineage, and its stage.
 *
 * What was trained (artifact, lineage, model name and version number) is fixed at creation;
 * the API server enforces it with transition rules, so an audit can trust a ModelVersion.
 * Only the stage and the deletion policy change over the object's life.
 */
import { z } from 'zod';
import { withCel } from './cel.js';
import { boundedRecord, dnsSubdomain, observedGeneration, timestamp } from './common.js';
import { conditionsList } from './conditions.js';
import { datasetVersion } from './dataset.js';
import { AGE_COLUMN, conditionColumn, defineKind, resourceSchema } from './kind.js';
import { ModelStageSchema } from './stage.js';
import { modelName } from './trainingjob.js';

/** An artifact digest: `sha256:` and 64 lowercase hex digits. */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

function immutable<S extends z.ZodType>(schema: S, field: string): S {
  return withCel(schema, [
    {
      rule: 'self == oldSelf',
      message: `${field} is immutable`,
      holdsOnUpdate: (self, oldSelf) => JSON.stringify(self) === JSON.stringify(oldSelf),
    },
  ]);
}

/** The trained artifact. */
export const ArtifactSchema = z
  .object({
    uri: z
      .string()
      .min(1)
      .max(2048)
      .regex(/^(s3|gs|https?|file):\/\/[^\s]+$/, {
        message: 'must be an s3://, gs://, http(s):// or file:// URI',
      })
      .describe('Where the artifact is, e.g. s3://lathe/models/default/iris/3/.'),
    format: z
      .enum(['tfjs', 'onnx', 'savedmodel', 'torchscript', 'joblib', 'other'])
      .describe('Serialisation of the model; tfjs is served by the built-in inference server.'),
    digest: z
      .string()
      .max(71)
      .regex(DIGEST_PATTERN, { message: 'must be "sha256:" followed by 64 lowercase hex digits' })
      .describe('sha256 of the artifact’s manifest.json (which lists the sha256 of every file).'),
  })
  .describe('The trained artifact. Immutable.');
/** How an artifact is serialised (`spec.artifact.format`). */
export type ArtifactFormat = z.infer<typeof ArtifactSchema>['format'];

/** Where the model came from. */
export const LineageSchema = z
  .object({
    dataset: z
      .object({
        name: dnsSubdomain('Name of the Dataset.'),
        version: datasetVersion('The Dataset version trained on.'),
      })
      .describe('The Dataset and version the model was trained on.'),
    trainingJob: z
      .object({
        name: dnsSubdomain('Name of the TrainingJob.'),
        uid: z
          .string()
          .max(64)
          .describe('UID of the TrainingJob, which outlives its name.')
          .optional(),
        backend: z
          .string()
          .max(64)
          .describe(
            'What computed the training: a TensorFlow.js backend (tensorflow-gpu, tensorflow, wasm, cpu) or a framework (scikit-learn).',
          )
          .optional(),
        image: z
          .string()
          .max(512)
          .describe(
            'The custom trainer image that trained the model (the TrainingJob’s spec.model.custom.image); absent for Lathe’s own trainer. A RetrainPolicy scores the model as a champion with this image’s evaluate mode.',
          )
          .optional(),
      })
      .describe('The TrainingJob that produced the model.')
      .optional(),
  })
  .describe('Where the model came from. Immutable once set.');

/**
 * The only artifact URIs a `deletionPolicy: Delete` version may have: the version's own prefix
 * in the layout (`models/<namespace>/<modelName>/<version>/`, `contract/object-store-layout.ts`).
 * The API server cannot see the namespace or the operator's bucket from here: the operator
 * checks both before it deletes anything (`modelversion/artifact-scope.ts`).
 */
const DELETABLE_URI_SHAPE =
  '^s3://[a-z0-9][a-z0-9.-]*[a-z0-9]/models/[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?/[0-9]+/?$';

/** Whether `uri` has the shape of the deletable prefix of version `version` of `model`. */
export function isOwnVersionPrefixShape(uri: string, model: string, version: number): boolean {
  const tail = `/${model}/${version}`;
  return (
    new RegExp(DELETABLE_URI_SHAPE).test(uri) && (uri.endsWith(tail) || uri.endsWith(`${tail}/`))
  );
}

/** `ModelVersion.spec`. */
export const ModelVersionSpecSchema = withCel(
  z
    .object({
      modelName: immutable(
        modelName('Name of the model this is a version of. Immutable.'),
        'spec.modelName',
      ),
      version: immutable(
        z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .describe('Version number within the model, from 1. Immutable.'),
        'spec.version',
      ),
      artifact: immutable(ArtifactSchema, 'spec.artifact'),
      metrics: boundedRecord(
        z.number(),
        64,
        'Evaluation metrics on the test split, e.g. accuracy, f1, rocAuc (classification) or rmse, mae, r2 (regression), and loss.',
      ).optional(),
      hyperparameters: boundedRecord(
        z.string().max(1024),
        64,
        'The hyperparameters used, as strings (e.g. learningRate: "0.001").',
      ).optional(),
      lineage: LineageSchema.optional(),
      stage: ModelStageSchema.default('none'),
      deletionPolicy: z
        .enum(['Retain', 'Delete'])
        .describe(
          'What happens to the artifact in the object store when the ModelVersion is deleted. Delete is only allowed for an artifact at the version’s own prefix, s3://<bucket>/models/<namespace>/<modelName>/<version>/, in the operator’s bucket and namespace.',
        )
        .default('Retain'),
    })
    .describe('The desired state of the ModelVersion.'),
  [
    {
      // The shape first, so that the segments split out are there: ['s3:', '', bucket,
      // 'models', namespace, model, version, ...].
      rule: `!has(self.deletionPolicy) || self.deletionPolicy != 'Delete' || (self.artifact.uri.matches('${DELETABLE_URI_SHAPE}') && self.artifact.uri.split('/')[5] == self.modelName && int(self.artifact.uri.split('/')[6]) == self.version)`,
      message:
        'spec.deletionPolicy Delete needs spec.artifact.uri to be the version’s own prefix, s3://<bucket>/models/<namespace>/<modelName>/<version>/ (the operator deletes nothing else); use Retain for an artifact anywhere else',
      fieldPath: '.deletionPolicy',
      holds: (self) =>
        self.deletionPolicy !== 'Delete' ||
        isOwnVersionPrefixShape(self.artifact.uri, self.modelName, self.version),
    },
    {
      rule: '!has(oldSelf.lineage) || (has(self.lineage) && self.lineage == oldSelf.lineage)',
      message: 'spec.lineage is immutable once set',
      fieldPath: '.lineage',
      holdsOnUpdate: (self, oldSelf) =>
        oldSelf.lineage === undefined ||
        JSON.stringify(self.lineage) === JSON.stringify(oldSelf.lineage),
    },
  ],
);
export type ModelVersionSpec = z.infer<typeof ModelVersionSpecSchema>;

/** `ModelVersion.status`. */
/** Most columns `status.importance` lists (the model card keeps them all). */
export const MAX_STATUS_IMPORTANCE = 20;
/** Most groups `status.fairness.groups` lists (the model card keeps them all). */
export const MAX_STATUS_GROUPS = 32;

const metricValue = (description: string) => z.number().describe(description).optional();

const ImportanceStatusSchema = z
  .object({
    method: z.string().max(32).describe('How importance was measured: permutation.'),
    score: z
      .string()
      .max(64)
      .describe(
        'The score whose drop is measured: accuracy or negativeMeanSquaredError, on the test split.',
      ),
    columns: z
      .array(
        z.object({
          column: z.string().max(253).describe('A raw input column.'),
          mean: z.number().describe('Mean drop of the score when the column is shuffled.'),
          std: z.number().describe('Its standard deviation over the repeats.'),
        }),
      )
      .max(MAX_STATUS_IMPORTANCE)
      .describe(`The input columns, most important first (at most ${MAX_STATUS_IMPORTANCE}).`),
  })
  .describe("Permutation importance of the model's input columns, from its model card.");

const FairnessStatusSchema = z
  .object({
    sensitiveColumns: z
      .array(z.string().max(253))
      .max(8)
      .describe('The Dataset columns the model was evaluated across.')
      .optional(),
    positiveClass: z
      .string()
      .max(253)
      .describe('The favourable class whose rates are compared.')
      .optional(),
    minGroupSize: z
      .number()
      .int()
      .describe('Groups with fewer test rows are reported, not judged.')
      .optional(),
    task: z
      .enum(['classification', 'regression'])
      .describe('The task, which decides the metrics.')
      .optional(),
    verdict: z
      .enum(['Passed', 'Failed', 'NoRules', 'NotEvaluated'])
      .describe(
        "The gate on the TrainingJob's rules (rules against the champion are judged at promotion).",
      ),
    message: z.string().max(4096).describe('What the gate found, or why nothing was evaluated.'),
    disparities: z
      .array(
        z.object({
          scope: z.string().max(253).describe('A sensitive column, or intersection.'),
          judgedGroups: z.number().int().describe('Groups large enough to be judged.'),
          demographicParityDifference: metricValue('Largest minus smallest selection rate.'),
          demographicParityRatio: metricValue('Smallest over largest selection rate.'),
          truePositiveRateDifference: metricValue('Largest minus smallest true positive rate.'),
          falsePositiveRateDifference: metricValue('Largest minus smallest false positive rate.'),
          equalizedOddsDifference: metricValue(
            'The larger of the true and false positive rate differences.',
          ),
          meanAbsoluteErrorDifference: metricValue(
            'Regression: largest minus smallest mean absolute error.',
          ),
        }),
      )
      .max(16)
      .describe(
        'Disparities between the judged groups, per scope, unrounded (a RetrainPolicy compares them with the champion).',
      )
      .optional(),
    groups: z
      .array(
        z.object({
          scope: z.string().max(253).describe('A sensitive column, or intersection.'),
          group: z.string().max(1024).describe('The group, e.g. sex=female.'),
          count: z.number().int().describe('Test rows in the group.'),
          judged: z.boolean().describe('Whether the group is large enough to be judged.'),
          selectionRate: metricValue('Share of rows predicted the positive class.'),
          truePositiveRate: metricValue('Recall of the positive class.'),
          falsePositiveRate: metricValue('Negatives predicted positive.'),
          accuracy: metricValue('Accuracy within the group.'),
          meanAbsoluteError: metricValue('Regression: mean absolute error within the group.'),
        }),
      )
      .max(MAX_STATUS_GROUPS)
      .describe(`Metrics by group (at most ${MAX_STATUS_GROUPS}; the model card has them all).`)
      .optional(),
  })
  .describe("Metrics by group across the Dataset's sensitive columns, from the model card.");

const ModelCardStatusSchema = z
  .object({
    uri: z.string().max(2048).describe('The model card, model-card.json in the artifact.'),
    datasetVersion: z.string().max(64).describe('The dataset version it was trained on.'),
    trainRows: z.number().int().describe('Rows of the train split.'),
    testRows: z.number().int().describe('Rows of the test split it was evaluated on.'),
    intendedUse: z
      .string()
      .max(512)
      .describe('spec.modelCard.intendedUse of the TrainingJob (shortened).')
      .optional(),
  })
  .describe('A summary of the model card.');

export const ModelVersionStatusSchema = z
  .object({
    observedGeneration: observedGeneration.optional(),
    conditions: conditionsList(['ArtifactVerified', 'FairnessChecked']).optional(),
    importance: ImportanceStatusSchema.optional(),
    fairness: FairnessStatusSchema.optional(),
    modelCard: ModelCardStatusSchema.optional(),
    verifiedDigest: z
      .string()
      .max(71)
      .regex(DIGEST_PATTERN, { message: 'must be "sha256:" followed by 64 lowercase hex digits' })
      .describe('The digest the operator computed from the stored artifact.')
      .optional(),
    sizeBytes: z.number().int().min(0).describe('Total size of the artifact’s files.').optional(),
    stage: ModelStageSchema.describe(
      'The stage the operator last observed in spec.stage; stageTransitionTime is when it changed.',
    ).optional(),
    stageTransitionTime: timestamp(
      'When spec.stage last changed, as observed by the operator.',
    ).optional(),
  })
  .describe('The observed state of the ModelVersion.');
export type ModelVersionStatus = z.infer<typeof ModelVersionStatusSchema>;

/** A whole `ModelVersion` object. */
export const ModelVersionSchema = resourceSchema(
  'ModelVersion',
  ModelVersionSpecSchema,
  ModelVersionStatusSchema,
);
export type ModelVersion = z.infer<typeof ModelVersionSchema>;
/** A `ModelVersion` as written by a user, before defaults. */
export type ModelVersionInput = z.input<typeof ModelVersionSchema>;

/** Names, columns and subresources of `ModelVersion`. */
export const modelVersionKind = defineKind({
  kind: 'ModelVersion',
  plural: 'modelversions',
  shortNames: ['lmv'],
  description:
    'A ModelVersion is one immutable trained artifact (URI, format, sha256 digest) with its evaluation metrics, lineage and stage.',
  printerColumns: [
    { name: 'Model', type: 'string', jsonPath: '.spec.modelName', description: 'The model.' },
    { name: 'Version', type: 'integer', jsonPath: '.spec.version', description: 'Version number.' },
    { name: 'Stage', type: 'string', jsonPath: '.spec.stage', description: 'Stage.' },
    {
      name: 'Accuracy',
      type: 'number',
      jsonPath: '.spec.metrics.accuracy',
      description: 'Test accuracy (classification).',
    },
    {
      name: 'Loss',
      type: 'number',
      jsonPath: '.spec.metrics.loss',
      description: 'Test loss.',
    },
    conditionColumn('Ready', 'Ready', 1),
    conditionColumn('FairnessChecked', 'Fairness', 1),
    AGE_COLUMN,
  ],
  selectableFields: ['.spec.modelName', '.spec.stage'],
  schema: ModelVersionSchema,
  spec: ModelVersionSpecSchema,
  status: ModelVersionStatusSchema,
});
