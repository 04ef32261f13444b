/**
 * `InferenceService`: serve a model — a pinned version, or whatever version is in a stage —
 * with replicas, autoscaling, an optional canary, micro-batching, request logging and bounded
 * local explanations.
 *
 * The `scale` subresource maps to `spec.replicas.min`: Lathe's autoscaler moves the replica
 * count between min and max, so what `kubectl scale` can meaningfully set is the floor. A
 * value above `spec.replicas.max` is rejected by the same rule as any other update.
 */
import { z } from 'zod';
import { withCel } from './cel.js';
import {
  boundedString,
  DNS_LABEL_PATTERN,
  mapList,
  observedGeneration,
  secretKeyReference,
} from './common.js';
import { conditionsList } from './conditions.js';
import { durationAtLeast } from './duration.js';
import { AGE_COLUMN, conditionColumn, defineKind, resourceSchema } from './kind.js';
import { ResourcesSchema } from './quantity.js';
import { ServingStageSchema } from './stage.js';
import { modelName } from './trainingjob.js';

/** The most replicas of one served version. */
export const MAX_REPLICAS = 1000;
/** The longest InferenceService name: it names a Service and Deployments `<name>-v<N>`. */
export const MAX_INFERENCE_SERVICE_NAME_LENGTH = 45;

export const ModelSelectorSchema = withCel(
  z
    .object({
      name: modelName('Name of the model to serve.'),
      version: z
        .number()
        .int()
        .min(1)
        .describe('Pin this version number. Mutually exclusive with stage.')
        .optional(),
      stage: ServingStageSchema.describe(
        'Follow the version in this stage. When neither version nor stage is set, production is followed.',
      ).optional(),
    })
    .describe(
      'The model to serve: a pinned version, or the version in a stage (production by default).',
    ),
  [
    {
      rule: '!(has(self.version) && has(self.stage))',
      message: 'spec.model may set version or stage, not both',
      fieldPath: '.stage',
      reason: 'FieldValueForbidden',
      holds: (self) => !(self.version !== undefined && self.stage !== undefined),
    },
  ],
);

const ReplicasSchema = withCel(
  z
    .object({
      min: z
        .number()
        .int()
        .min(0)
        .max(MAX_REPLICAS)
        .describe(
          'Fewest replicas of the primary version. 0 lets the service scale to zero when idle. Set by kubectl scale.',
        )
        .default(1),
      max: z
        .number()
        .int()
        .min(1)
        .max(MAX_REPLICAS)
        .describe('Most replicas of the primary version.')
        .default(1),
      scaleToZeroAfter: durationAtLeast(
        'spec.replicas.scaleToZeroAfter',
        '1s',
        'With min 0: how long the service may go without a request before its replicas are removed (default 5m); the namespace activator then holds requests until one is ready again.',
      ).optional(),
      activationQueue: z
        .number()
        .int()
        .min(0)
        .max(10000)
        .describe(
          'With min 0: requests the activator holds while no replica is ready (default 100); more get 503 with Retry-After.',
        )
        .optional(),
      activationTimeout: durationAtLeast(
        'spec.replicas.activationTimeout',
        '1s',
        'With min 0: longest a request is held while no replica is ready (default 60s); then 503 with Retry-After.',
      ).optional(),
    })
    .describe('Replica bounds of the primary version; the autoscaler moves between them.'),
  [
    {
      rule: 'self.min <= self.max',
      message: 'spec.replicas.min must be less than or equal to spec.replicas.max',
      fieldPath: '.min',
      holds: (self) => self.min <= self.max,
    },
  ],
);

const AutoscalingSchema = withCel(
  z
    .object({
      mode: z
        .enum(['lathe', 'hpa'])
        .describe(
          'lathe: Lathe’s autoscaler, driven by the inference servers’ own metrics (supports scale to zero). hpa: a HorizontalPodAutoscaler (needs metrics-server, or a custom-metrics adapter for concurrency and rps).',
        )
        .default('lathe'),
      metric: z
        .enum(['concurrency', 'rps', 'cpu'])
        .describe(
          'What is scaled on: in-flight requests per replica, requests per second per replica, or CPU utilisation percent.',
        )
        .default('concurrency'),
      target: z
        .number()
        .gt(0)
        .max(100000)
        .describe('Target value of the metric per replica; for cpu, a utilisation percent.'),
      scaleDownStabilization: durationAtLeast(
        'spec.autoscaling.scaleDownStabilization',
        '1s',
        'How long the load must stay low before replicas are removed (mode lathe): the highest recommendation within this window is kept. Scaling up is immediate.',
      ).default('5m'),
    })
    .describe(
      'Autoscaling between spec.replicas.min and max. Unset keeps spec.replicas.min replicas.',
    ),
  [
    {
      rule: "self.metric != 'cpu' || self.target <= 100.0",
      message:
        'spec.autoscaling.target is a CPU utilisation percent (at most 100) when metric is cpu',
      fieldPath: '.target',
      holds: (self) => self.metric !== 'cpu' || self.target <= 100,
    },
  ],
);

const CanarySchema = withCel(
  z
    .object({
      version: z
        .number()
        .int()
        .min(1)
        .describe('Version number of the canary. Exactly one of version or stage.')
        .optional(),
      stage: ServingStageSchema.describe(
        'Serve the version in this stage as the canary. Exactly one of version or stage.',
      ).optional(),
      trafficPercent: z
        .number()
        .int()
        .min(0)
        .max(100)
        .describe('Percent of requests routed to the canary; the rest go to the primary version.'),
      replicas: z
        .number()
        .int()
        .min(1)
        .max(MAX_REPLICAS)
        .describe('Replicas of the canary.')
        .default(1),
    })
    .describe('A second version receiving a share of the traffic.'),
  [
    {
      rule: 'has(self.version) != has(self.stage)',
      message: 'spec.canary must set exactly one of version or stage',
      holds: (self) => (self.version === undefined) !== (self.stage === undefined),
    },
  ],
);

const BatchingSchema = z
  .object({
    maxBatchSize: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .describe('Most requests combined into one model call.')
      .default(32),
    maxLatencyMs: z
      .number()
      .int()
      .min(1)
      .max(10000)
      .describe('Longest a request waits for a batch to fill, in milliseconds.')
      .default(5),
  })
  .describe('Micro-batching of concurrent requests. Unset calls the model once per request.');

const RequestLoggingSchema = z
  .object({
    sampleRate: z
      .number()
      .min(0)
      .max(1)
      .describe(
        'Fraction of requests (with their predictions) written to the feedback store; drift detection reads them.',
      )
      .default(0),
    retentionDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .describe(
        'Days the request log and the labels (feedback/<ns>/<name>/requests/ and labels/) are kept; the operator deletes older days, checking once an hour.',
      )
      .default(30),
    feedback: z
      .object({
        tokenSecretRef: secretKeyReference(
          'A Secret in the namespace holding the bearer token a labelling client sends to :feedback (Authorization: Bearer <token>). Unset: :feedback answers 403.',
          'token',
        ).optional(),
      })
      .describe('Ground truth submitted to :feedback.')
      .optional(),
  })
  .describe('Sampled logging of requests and predictions.');

const LimitsSchema = z
  .object({
    maxInFlight: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .describe(
        'Predictions one server answers at once; more get 503 with Retry-After (keep the autoscaling target below it).',
      )
      .default(128),
    maxRowsPerRequest: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .describe('Most rows (instances) one request may carry; more is a 400.')
      .default(10_000),
    headersTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(300)
      .describe("Longest a client may take to send a request's headers; then 408.")
      .default(10),
    bodyTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .describe("Longest a request's body may take to arrive after its headers; then 408.")
      .default(30),
  })
  .describe('What one server accepts from clients (docs/server.md, "Limits and hostile clients").');

/** What `spec.explain` leaves unset: the server's defaults too. */
export const DEFAULT_EXPLAIN = {
  maxRows: 16,
  timeoutSeconds: 10,
  backgroundRows: 50,
  kernelSamples: 2048,
} as const;
/** Most model rows one explained row may cost per coalition: `maxRows × backgroundRows`. */
export const MAX_EXPLAIN_ROWS_TIMES_BACKGROUND = 100_000;

/**
 * `backgroundRows` of an explanation's cost, as an InferenceService's `spec.explain` and a
 * BatchPrediction's `spec.output.explanations` both set it.
 */
export const explainBackgroundRows = () =>
  z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .describe(
      "Training rows of the artifact's background sample each explanation averages over (at most the rows stored, 100 by default); each coalition costs this many model rows.",
    )
    .default(DEFAULT_EXPLAIN.backgroundRows);

/** `kernelSamples` of an explanation's cost (see `explainBackgroundRows`). */
export const explainKernelSamples = () =>
  z
    .number()
    .int()
    .min(16)
    .max(100_000)
    .describe(
      'Coalitions KernelSHAP evaluates per row for a model of more than 12 input columns (fewer are explained exactly); raised to the column count when below it.',
    )
    .default(DEFAULT_EXPLAIN.kernelSamples);

const ExplainSchema = withCel(
  z
    .object({
      maxRows: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .describe('Most rows one :explain request may carry; more is a 400 naming this limit.')
        .default(DEFAULT_EXPLAIN.maxRows),
      timeoutSeconds: z
        .number()
        .int()
        .min(1)
        .max(300)
        .describe(
          'Longest one :explain request may compute; then 504 (checked between model calls).',
        )
        .default(DEFAULT_EXPLAIN.timeoutSeconds),
      backgroundRows: explainBackgroundRows(),
      kernelSamples: explainKernelSamples(),
    })
    .describe(
      'Local explanations (:explain): Shapley values per input column, and what one request may cost (docs/server.md, "Explanations"). Unset: the same defaults.',
    ),
  [
    {
      rule: `self.maxRows * self.backgroundRows <= ${MAX_EXPLAIN_ROWS_TIMES_BACKGROUND}`,
      message: `spec.explain.maxRows × spec.explain.backgroundRows must be at most ${MAX_EXPLAIN_ROWS_TIMES_BACKGROUND}`,
      fieldPath: '.backgroundRows',
      holds: (self) => self.maxRows * self.backgroundRows <= MAX_EXPLAIN_ROWS_TIMES_BACKGROUND,
    },
  ],
);

/** `InferenceService.spec`. */
export const InferenceServiceSpecSchema = withCel(
  z
    .object({
      model: ModelSelectorSchema,
      replicas: ReplicasSchema.prefault({}),
      autoscaling: AutoscalingSchema.optional(),
      canary: CanarySchema.optional(),
      resources: ResourcesSchema.optional(),
      batching: BatchingSchema.optional(),
      requestLogging: RequestLoggingSchema.prefault({}),
      limits: LimitsSchema.prefault({}),
      explain: ExplainSchema.optional(),
    })
    .describe('The desired state of the InferenceService.'),
  [
    {
      rule: '!has(self.canary) || !has(self.canary.version) || !has(self.model.version) || self.canary.version != self.model.version',
      message: 'spec.canary.version must differ from spec.model.version',
      fieldPath: '.canary.version',
      holds: (self) =>
        self.canary?.version === undefined ||
        self.model.version === undefined ||
        self.canary.version !== self.model.version,
    },
  ],
);
export type InferenceServiceSpec = z.infer<typeof InferenceServiceSpecSchema>;

const ServedVersionSchema = z
  .object({
    version: z.number().int().min(1).describe('Version number.'),
    modelVersion: boundedString('Name of the ModelVersion.', 253),
    role: z.enum(['primary', 'canary']).describe('primary or canary.'),
    replicas: z.number().int().min(0).describe('Replicas of this version.'),
    readyReplicas: z.number().int().min(0).describe('Replicas ready to serve.'),
    trafficPercent: z.number().int().min(0).max(100).describe('Percent of requests it receives.'),
  })
  .describe('One version being served.');

/** `InferenceService.status`. */
export const InferenceServiceStatusSchema = z
  .object({
    observedGeneration: observedGeneration.optional(),
    conditions: conditionsList(['ModelResolved', 'ScaledToZero']).optional(),
    url: boundedString(
      'In-cluster URL of the service (KServe V1 and Open Inference Protocol V2).',
      2048,
    ).optional(),
    servedVersions: mapList(
      ServedVersionSchema,
      ['version'],
      { max: 4 },
      'The versions being served and their share of traffic.',
    ).optional(),
    replicas: z
      .number()
      .int()
      .min(0)
      .describe('Replicas of the primary version (the scale subresource reads it).')
      .optional(),
    selector: boundedString(
      'Label selector of the primary version’s pods, for the scale subresource.',
      1024,
    ).optional(),
    load: z
      .object({
        requestsPerSecond: z.number().min(0).describe('Requests per second over the last minute.'),
        concurrency: z.number().min(0).describe('Mean in-flight requests per replica.'),
        p95LatencyMs: z
          .number()
          .min(0)
          .describe('95th percentile latency in milliseconds.')
          .optional(),
      })
      .describe('Load observed by the autoscaler.')
      .optional(),
    lastColdStart: z
      .object({
        seconds: z
          .number()
          .min(0)
          .describe('From the activator’s request for a replica to the first ready replica.'),
        at: z.iso.datetime({ offset: true }).describe('When the replica became ready.'),
      })
      .describe('The last start from zero (spec.replicas.min 0).')
      .optional(),
    drift: z
      .object({
        time: z.iso.datetime({ offset: true }).describe('When drift was measured.'),
        metric: z.enum(['psi', 'ks']).describe('The statistic.'),
        value: z.number().describe("The worst feature's drift."),
        feature: boundedString('The feature that drifted most.', 128).optional(),
        samples: z.number().int().min(0).describe('Sampled request rows compared.'),
        retrainPolicy: boundedString('The RetrainPolicy that measured it.', 253),
      })
      .describe(
        'Drift of the sampled requests from the training data, measured by a RetrainPolicy with a drift trigger on this service.',
      )
      .optional(),
  })
  .describe('The observed state of the InferenceService.');
export type InferenceServiceStatus = z.infer<typeof InferenceServiceStatusSchema>;

/** A whole `InferenceService` object; its name must fit the Service and Deployments made from it. */
export const InferenceServiceSchema = withCel(
  resourceSchema('InferenceService', InferenceServiceSpecSchema, InferenceServiceStatusSchema),
  [
    {
      rule: `self.metadata.name.size() <= ${MAX_INFERENCE_SERVICE_NAME_LENGTH} && self.metadata.name.matches('${DNS_LABEL_PATTERN.source}')`,
      message: `metadata.name of an InferenceService must be a lowercase RFC 1123 label of at most ${MAX_INFERENCE_SERVICE_NAME_LENGTH} characters, because it names a Service`,
      holds: (self) => {
        const name = self.metadata.name;
        return (
          name === undefined ||
          (name.length <= MAX_INFERENCE_SERVICE_NAME_LENGTH && DNS_LABEL_PATTERN.test(name))
        );
      },
    },
  ],
);
export type InferenceService = z.infer<typeof InferenceServiceSchema>;
/** An `InferenceService` as written by a user, before defaults. */
export type InferenceServiceInput = z.input<typeof InferenceServiceSchema>;

/** Names, columns and subresources of `InferenceService`. */
export const inferenceServiceKind = defineKind({
  kind: 'InferenceService',
  plural: 'inferenceservices',
  shortNames: ['lisvc'],
  description:
    'An InferenceService serves a model (a pinned version, or the version in a stage) with replicas, autoscaling and an optional canary, over the KServe V1 and Open Inference V2 protocols.',
  printerColumns: [
    {
      name: 'Model',
      type: 'string',
      jsonPath: '.spec.model.name',
      description: 'The model served.',
    },
    {
      name: 'Versions',
      type: 'string',
      jsonPath: '.status.servedVersions[*].version',
      description: 'The versions being served.',
    },
    { name: 'URL', type: 'string', jsonPath: '.status.url', description: 'URL of the service.' },
    conditionColumn('Ready'),
    {
      name: 'Replicas',
      type: 'integer',
      jsonPath: '.status.replicas',
      description: 'Replicas of the primary version.',
      priority: 1,
    },
    AGE_COLUMN,
  ],
  scale: {
    specReplicasPath: '.spec.replicas.min',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.status.selector',
  },
  selectableFields: ['.spec.model.name'],
  schema: InferenceServiceSchema,
  spec: InferenceServiceSpecSchema,
  status: InferenceServiceStatusSchema,
});
