/**
 * `RetrainPolicy`: retrain on a schedule, when the dataset changes, or when drift passes a
 * threshold, and promote the new model only if it beats the current one (champion versus
 * challenger on one metric).
 */
import { z } from 'zod';
import { withCel } from './cel.js';
import {
  boundedString,
  dnsLabel,
  dnsSubdomain,
  observedGeneration,
  stringMap,
  timestamp,
} from './common.js';
import { conditionsList } from './conditions.js';
import { cronExpression, timeZone } from './cron.js';
import { durationAtLeast } from './duration.js';
import { AGE_COLUMN, conditionColumn, defineKind, resourceSchema } from './kind.js';
import { ServingStageSchema } from './stage.js';
import { trainingJobSpecSchema } from './trainingjob.js';

const TemplateSchema = z
  .object({
    metadata: z
      .object({
        labels: stringMap('Labels of the TrainingJobs created.', 32, 63).optional(),
        annotations: stringMap('Annotations of the TrainingJobs created.', 32, 4096).optional(),
      })
      .describe('Labels and annotations of the TrainingJobs created.')
      .optional(),
    spec: trainingJobSpecSchema('spec.template.spec').describe(
      'The spec of each TrainingJob. Leave datasetRef.version unset so each run uses the latest version.',
    ),
  })
  .describe(
    'The TrainingJob created on each run. Its datasetRef.version is left unset so the latest version is used.',
  );

const ScheduleTriggerSchema = z
  .object({
    cron: cronExpression(
      'spec.triggers.schedule.cron',
      'Cron schedule, e.g. "0 3 * * *" (03:00 daily) or @weekly.',
    ),
    timeZone: timeZone(
      'IANA time zone of the schedule, e.g. Europe/Paris. Defaults to Etc/UTC.',
    ).default('Etc/UTC'),
  })
  .describe('Run on a cron schedule.');

const DriftTriggerSchema = withCel(
  z
    .object({
      source: z
        .enum(['service', 'batch', 'any'])
        .describe(
          "What drift is measured on: service (the requests the InferenceService sampled), batch (the newest Succeeded BatchPrediction that scored the version in use: the service's, else the policy's model in the promotion's target stage; its counted inputs) or any (both; the larger reading counts).",
        )
        .default('service'),
      inferenceServiceRef: z
        .object({ name: dnsLabel('Name of the InferenceService.') })
        .describe(
          'The InferenceService whose sampled requests (spec.requestLogging) are compared with the training data, and whose served version a batch reading must have scored. Required unless source is batch.',
        )
        .optional(),
      metric: z
        .enum(['psi', 'ks'])
        .describe(
          'Drift statistic: psi (population stability index) or ks (Kolmogorov–Smirnov), the worst feature counts.',
        )
        .default('psi'),
      threshold: z
        .number()
        .gt(0)
        .max(10)
        .describe(
          'Retrain when the statistic exceeds this value (psi: 0.2 is a common choice; ks: 0.1).',
        ),
      checkInterval: durationAtLeast(
        'spec.triggers.drift.checkInterval',
        '1m',
        'How often drift is measured, e.g. "15m".',
      ).default('1h'),
    })
    .describe(
      'Run when the inputs a service receives, or a batch run scores, drift away from the training data.',
    ),
  [
    {
      rule: "(has(self.source) && self.source == 'batch') || has(self.inferenceServiceRef)",
      message:
        'spec.triggers.drift.inferenceServiceRef is required unless spec.triggers.drift.source is batch',
      reason: 'FieldValueRequired',
      holds: (self) => self.source === 'batch' || self.inferenceServiceRef !== undefined,
    },
  ],
);

const AccuracyTriggerSchema = z
  .object({
    inferenceServiceRef: z
      .object({ name: dnsLabel('Name of the InferenceService.') })
      .describe(
        'The InferenceService whose live accuracy (ground-truth labels sent to its feedback endpoint) is watched.',
      ),
    minimum: z
      .number()
      .min(0)
      .max(1)
      .describe('Retrain when the live accuracy of the served version falls below this.'),
    minSamples: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .describe('Fewest labelled rows before the accuracy is judged.')
      .default(50),
    checkInterval: durationAtLeast(
      'spec.triggers.accuracy.checkInterval',
      '1m',
      'How often the live accuracy is read, e.g. "5m".',
    ).default('5m'),
  })
  .describe(
    'Run when the accuracy of the served version on labelled feedback falls below a floor (classification).',
  );

const TriggersSchema = withCel(
  z
    .object({
      schedule: ScheduleTriggerSchema.optional(),
      datasetChange: z
        .boolean()
        .describe('Run when the Dataset gets a new version.')
        .default(false),
      drift: DriftTriggerSchema.optional(),
      accuracy: AccuracyTriggerSchema.optional(),
    })
    .describe('When to retrain. At least one trigger is set.'),
  [
    {
      rule: 'has(self.schedule) || self.datasetChange || has(self.drift) || has(self.accuracy)',
      message:
        'spec.triggers must enable at least one of schedule, datasetChange, drift or accuracy',
      reason: 'FieldValueRequired',
      holds: (self) =>
        self.schedule !== undefined ||
        self.datasetChange ||
        self.drift !== undefined ||
        self.accuracy !== undefined,
    },
  ],
);

const PromotionSchema = z
  .object({
    metric: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z][A-Za-z0-9_]*$/, {
        message: 'must be a metric name such as accuracy or rmse',
      })
      .describe('The ModelVersion metric compared, e.g. accuracy, f1 or rmse.'),
    direction: z
      .enum(['maximize', 'minimize'])
      .describe('Whether a higher (maximize) or lower (minimize) metric is better.'),
    minImprovement: z
      .number()
      .min(0)
      .describe('How much better than the champion the challenger must be, in the metric’s units.')
      .default(0),
    targetStage: ServingStageSchema.describe(
      'The stage a winning challenger is promoted to.',
    ).default('production'),
  })
  .describe(
    'When and where a new model is promoted. Unset registers new versions without promoting them.',
  );

/** `RetrainPolicy.spec`. */
export const RetrainPolicySpecSchema = z
  .object({
    template: TemplateSchema,
    triggers: TriggersSchema,
    promotion: PromotionSchema.optional(),
    concurrencyPolicy: z
      .enum(['Allow', 'Forbid', 'Replace'])
      .describe(
        'What to do when a run is due while one is still going: Allow both, Forbid the new one, or Replace the old one.',
      )
      .default('Forbid'),
    successfulRunsHistoryLimit: z
      .number()
      .int()
      .min(0)
      .max(100)
      .describe('Finished successful TrainingJobs to keep.')
      .default(3),
    failedRunsHistoryLimit: z
      .number()
      .int()
      .min(0)
      .max(100)
      .describe('Failed TrainingJobs to keep.')
      .default(1),
    suspend: z
      .boolean()
      .describe('Suspend all triggers; running TrainingJobs continue.')
      .default(false),
    cooldown: durationAtLeast(
      'spec.cooldown',
      '1s',
      'The shortest time between two runs the policy starts, whatever the trigger, e.g. "30m". Unset: no cooldown.',
    ).optional(),
  })
  .describe('The desired state of the RetrainPolicy.');
export type RetrainPolicySpec = z.infer<typeof RetrainPolicySpecSchema>;

const CandidateSchema = z
  .object({
    modelVersion: dnsSubdomain('Name of the ModelVersion.'),
    value: z.number().describe('Its value of the promotion metric.'),
  })
  .describe('A ModelVersion and its metric value.');

const PromotionDecisionSchema = z
  .object({
    time: timestamp('When the decision was made.'),
    decision: z.enum(['Promoted', 'Rejected']).describe('Promoted or Rejected.'),
    metric: boundedString('The metric compared.', 64),
    challenger: CandidateSchema.describe('The new ModelVersion.'),
    champion: CandidateSchema.describe(
      'The ModelVersion in the target stage before the decision; unset if none.',
    ).optional(),
    reason: boundedString('Why, e.g. "accuracy 0.962 does not beat 0.967 + 0.005".', 1024),
  })
  .describe('The last champion/challenger decision.');

/** `RetrainPolicy.status`. */
export const RetrainPolicyStatusSchema = z
  .object({
    observedGeneration: observedGeneration.optional(),
    conditions: conditionsList([]).optional(),
    lastRunTime: timestamp('When a TrainingJob was last created.').optional(),
    nextRunTime: timestamp('When the schedule next fires.').optional(),
    lastTrainingJob: z
      .object({ name: dnsSubdomain('Name of the TrainingJob.') })
      .describe('The TrainingJob created last.')
      .optional(),
    lastTrigger: z
      .enum(['schedule', 'datasetChange', 'drift', 'accuracy', 'manual'])
      .describe('What caused the last run.')
      .optional(),
    active: z
      .array(
        z
          .object({ name: dnsSubdomain('Name of the TrainingJob.') })
          .describe('A running TrainingJob.'),
      )
      .max(100)
      .meta({ description: 'TrainingJobs still running.' })
      .optional(),
    lastPromotion: PromotionDecisionSchema.optional(),
    lastDrift: z
      .object({
        time: timestamp('When drift was measured.'),
        value: z.number().describe("The drift statistic (the worst feature's)."),
        feature: boundedString('The feature that drifted most.', 128).optional(),
        samples: z
          .number()
          .int()
          .min(0)
          .describe("Rows compared: sampled requests, or a batch run's counted rows.")
          .optional(),
        batchPrediction: boundedString(
          'The BatchPrediction whose counted inputs gave the reading (source batch or any); unset for sampled requests.',
          253,
        ).optional(),
        modelVersion: boundedString(
          'The ModelVersion whose training data was the reference.',
          253,
        ).optional(),
      })
      .describe('The last drift measurement.')
      .optional(),
    lastAccuracy: z
      .object({
        time: timestamp('When the live accuracy was read.'),
        value: z.number().min(0).max(1).describe('Correct predictions over labelled rows.'),
        samples: z.number().int().min(0).describe('Labelled rows it was computed on.'),
        modelVersion: boundedString('The ModelVersion served.', 253).optional(),
      })
      .describe("The last reading of the served version's live accuracy.")
      .optional(),
    lastDatasetVersion: boundedString(
      'The Dataset version the datasetChange trigger last acted on (or found when the policy was created).',
      64,
    ).optional(),
    lastManualRun: boundedString(
      'The value of the lathe.dev/run-now annotation last acted on.',
      256,
    ).optional(),
  })
  .describe('The observed state of the RetrainPolicy.');
export type RetrainPolicyStatus = z.infer<typeof RetrainPolicyStatusSchema>;

/** A whole `RetrainPolicy` object. */
export const RetrainPolicySchema = resourceSchema(
  'RetrainPolicy',
  RetrainPolicySpecSchema,
  RetrainPolicyStatusSchema,
);
export type RetrainPolicy = z.infer<typeof RetrainPolicySchema>;
/** A `RetrainPolicy` as written by a user, before defaults. */
export type RetrainPolicyInput = z.input<typeof RetrainPolicySchema>;

/** Names, columns and subresources of `RetrainPolicy`. */
export const retrainPolicyKind = defineKind({
  kind: 'RetrainPolicy',
  plural: 'retrainpolicies',
  shortNames: ['lrp'],
  description:
    'A RetrainPolicy creates TrainingJobs on a schedule, when a Dataset changes or when drift passes a threshold, and promotes the new ModelVersion only if it beats the current one.',
  printerColumns: [
    {
      name: 'Schedule',
      type: 'string',
      jsonPath: '.spec.triggers.schedule.cron',
      description: 'Cron schedule.',
    },
    {
      name: 'Suspend',
      type: 'boolean',
      jsonPath: '.spec.suspend',
      description: 'Whether triggers are suspended.',
    },
    {
      name: 'Last-Run',
      type: 'date',
      jsonPath: '.status.lastRunTime',
      description: 'When a TrainingJob was last created.',
    },
    {
      name: 'Last-Job',
      type: 'string',
      jsonPath: '.status.lastTrainingJob.name',
      description: 'The TrainingJob created last.',
      priority: 1,
    },
    {
      name: 'Promotion',
      type: 'string',
      jsonPath: '.status.lastPromotion.decision',
      description: 'The last promotion decision.',
    },
    conditionColumn('Ready', 'Ready', 1),
    AGE_COLUMN,
  ],
  schema: RetrainPolicySchema,
  spec: RetrainPolicySpecSchema,
  status: RetrainPolicyStatusSchema,
});
