/**
 * `TrainingJob`: train one model on one dataset version with these hyperparameters and these
 * resources. The operator runs it as a `batch/v1` Job and, on success, registers the result
 * as a `ModelVersion` of `spec.modelName`.
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
  timestamp,
} from './common.js';
import { conditionsList } from './conditions.js';
import { datasetVersion } from './dataset.js';
import { ModelCardSpecSchema, TrainingFairnessSchema } from './fairness.js';
import { AGE_COLUMN, conditionColumn, defineKind, resourceSchema } from './kind.js';
import { ResourcesSchema } from './quantity.js';
import { schedulingFields } from './scheduling.js';

/** Model names leave room for the `-v<N>` suffix of ModelVersion names. */
export const MAX_MODEL_NAME_LENGTH = 50;

/** The name of a model: a DNS label short enough to suffix with a version. */
export function modelName(description: string) {
  return dnsLabel(description, MAX_MODEL_NAME_LENGTH);
}

/** A reference to a Dataset, optionally pinned to one version. */
export const DatasetReferenceSchema = z
  .object({
    name: dnsSubdomain('Name of the Dataset, in the same namespace.'),
    version: datasetVersion(
      'Pin a version of the Dataset. Unset uses its current version when the TrainingJob starts.',
    ).optional(),
  })
  .describe('The Dataset to train on.');

function builtinModelSchema(at: string) {
  return withCel(
    z
      .object({
        architecture: z
          .enum(['linear', 'mlp'])
          .describe(
            'linear: a single dense layer (linear or logistic regression); mlp: a multi-layer perceptron.',
          ),
        layers: z
          .array(z.number().int().min(1).max(4096))
          .min(1)
          .max(16)
          .meta({
            description: 'Units of each hidden layer of an mlp, e.g. [64, 32]. Required for mlp.',
          })
          .optional(),
        activation: z
          .enum(['relu', 'tanh', 'sigmoid', 'elu', 'selu'])
          .describe('Activation of the hidden layers.')
          .default('relu'),
        dropout: z
          .number()
          .min(0)
          .max(0.9)
          .describe('Dropout rate after each hidden layer.')
          .default(0),
        backend: z
          .enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'])
          .describe(
            'TensorFlow.js backend: auto picks the fastest present (native GPU when GPUs are requested, native CPU, WebAssembly, plain JS); the others force one, failing if it cannot load.',
          )
          .default('auto'),
      })
      .describe('A built-in TensorFlow.js architecture for tabular data.'),
    [
      {
        rule: "self.architecture == 'mlp' ? has(self.layers) : !has(self.layers)",
        message: `${at}.model.builtin.layers is required for architecture mlp and not allowed for linear`,
        fieldPath: '.layers',
        holds: (self) => (self.architecture === 'mlp') === (self.layers !== undefined),
      },
    ],
  );
}

/** `spec.model.builtin`: what the operator passes to Lathe's trainer as `LATHE_MODEL`. */
export const BuiltinModelSchema = builtinModelSchema('spec');
/**
 * The built-in model as the trainer receives it (`LATHE_MODEL`): the architecture only; the
 * backend travels separately (`LATHE_BACKEND`).
 */
export type BuiltinModel = Omit<z.infer<typeof BuiltinModelSchema>, 'backend'>;

const EnvVarSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/, {
        message: 'must be a valid environment variable name',
      })
      .describe('Variable name.'),
    value: z.string().max(32768).describe('Variable value.'),
  })
  .describe('An environment variable.');

function customModelSchema(at: string) {
  return withCel(
    z
      .object({
        image: z
          .string()
          .min(1)
          .max(512)
          .regex(/^[^\s]+$/, { message: 'must be a container image reference without spaces' })
          .describe(
            'Container image of the trainer. It must honour the Lathe runtime contract (LATHE_* environment, result file).',
          ),
        command: z
          .array(z.string().max(4096))
          .max(64)
          .meta({ description: 'Entrypoint; the image’s ENTRYPOINT if unset.' })
          .optional(),
        args: z
          .array(z.string().max(4096))
          .max(256)
          .meta({ description: 'Arguments; the image’s CMD if unset.' })
          .optional(),
        env: mapList(
          EnvVarSchema,
          ['name'],
          { max: 64 },
          'Extra environment variables. Names starting with LATHE_ are reserved.',
        ).optional(),
      })
      .describe(
        'Your own trainer image (PyTorch, scikit-learn, …) following the Lathe runtime contract.',
      ),
    [
      {
        rule: "!has(self.env) || self.env.all(e, !e.name.startsWith('LATHE_'))",
        message: `${at}.model.custom.env must not set LATHE_* variables: the operator sets them`,
        fieldPath: '.env',
        reason: 'FieldValueForbidden',
        holds: (self) => (self.env ?? []).every((e) => !e.name.startsWith('LATHE_')),
      },
    ],
  );
}

/** The model to train: a built-in architecture or a custom image, exactly one. */
function modelSpecSchema(at: string) {
  return withCel(
    z
      .object({
        builtin: builtinModelSchema(at).optional(),
        custom: customModelSchema(at).optional(),
      })
      .describe('The model to train. Exactly one of builtin or custom is set.'),
    [
      {
        rule: 'has(self.builtin) != has(self.custom)',
        message: `${at}.model must set exactly one of builtin or custom`,
        holds: (self) => (self.builtin === undefined) !== (self.custom === undefined),
      },
    ],
  );
}

const EarlyStoppingSchema = z
  .object({
    monitor: z
      .string()
      .min(1)
      .max(64)
      .describe('The metric watched, e.g. val_loss or val_accuracy.')
      .default('val_loss'),
    patience: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .describe('Epochs without improvement before training stops.')
      .default(5),
    minDelta: z
      .number()
      .min(0)
      .describe('Smallest change that counts as an improvement.')
      .default(0),
  })
  .describe('Stop when the monitored metric stops improving. Unset trains for all epochs.');

/** Hyperparameters of a training run. */
export const HyperparametersSchema = z
  .object({
    epochs: z
      .number()
      .int()
      .min(1)
      .max(10000)
      .describe('Passes over the training data.')
      .default(50),
    batchSize: z
      .number()
      .int()
      .min(1)
      .max(65536)
      .describe('Examples per gradient step.')
      .default(32),
    learningRate: z.number().gt(0).max(10).describe('Step size of the optimizer.').default(0.001),
    optimizer: z.enum(['adam', 'sgd', 'rmsprop', 'adagrad']).describe('Optimizer.').default('adam'),
    validationSplit: z
      .number()
      .min(0)
      .max(0.5)
      .describe('Fraction of the train split held out to compute val_loss each epoch.')
      .default(0.1),
    earlyStopping: EarlyStoppingSchema.optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2147483647)
      .describe('Seed of weight initialisation and shuffling, for reproducible runs.')
      .default(42),
    extra: boundedRecord(
      z.string().max(1024),
      64,
      'Further hyperparameters for custom images, passed as LATHE_HP_<NAME> environment variables.',
    ).optional(),
  })
  .describe('Hyperparameters of the training run.');
export type Hyperparameters = z.infer<typeof HyperparametersSchema>;

/** The engines a distributed run can be handed to (`spec.distributed.backend`). */
export const DISTRIBUTED_BACKENDS = ['TrainJob', 'JobSet', 'IndexedJob'] as const;
export type DistributedBackendName = (typeof DISTRIBUTED_BACKENDS)[number];

/** torchrun's default rendezvous port, and Kubeflow Trainer's. */
export const DEFAULT_RENDEZVOUS_PORT = 29500;

/**
 * `spec.distributed`: train across several pods (workers), for images that support it (PyTorch
 * DDP through torchrun). The run is handed to an existing engine: Kubeflow Trainer's TrainJob,
 * JobSet, or an Indexed Job with a headless Service that the operator runs itself.
 */
export const DistributedSpecSchema = z
  .object({
    workers: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .describe(
        'Pods (nodes) training together. Every worker gets the same rendezvous environment (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, NODE_RANK, PET_*).',
      ),
    processesPerWorker: z
      .number()
      .int()
      .min(1)
      .max(256)
      .describe(
        "Processes each worker runs (torchrun's --nproc-per-node, PET_NPROC_PER_NODE). Unset: the GPUs requested per worker (spec.resources.gpu), or 1 without GPUs.",
      )
      .optional(),
    backend: z
      .enum(['Auto', ...DISTRIBUTED_BACKENDS])
      .describe(
        'The engine that runs the workers. Auto: TrainJob when Kubeflow Trainer serves it and a (Cluster)TrainingRuntime exists, else JobSet when installed, else an Indexed Job. A pinned engine that is not installed stalls the TrainingJob. status.distributed shows the choice and why.',
      )
      .default('Auto'),
    maxRestarts: z
      .number()
      .int()
      .min(0)
      .max(100)
      .describe(
        'Restarts of the whole worker group after a worker fails, before the TrainingJob fails. A failed worker restarts every worker, never one pod alone.',
      )
      .default(3),
    port: z
      .number()
      .int()
      .min(1024)
      .max(65535)
      .describe(
        'Rendezvous port on worker 0 (MASTER_PORT). Unset: 29500. Kubeflow Trainer sets its own (29500).',
      )
      .optional(),
  })
  .describe(
    'Train across several pods. Only for custom images that support it (PyTorch DDP through torchrun): the built-in TensorFlow.js trainer trains on one node.',
  );
export type DistributedSpec = z.infer<typeof DistributedSpecSchema>;

/** A Kueue LocalQueue name: a label value. */
const QUEUE_NAME_PATTERN = /^[a-z0-9A-Z]([-_.a-z0-9A-Z]*[a-z0-9A-Z])?$/;

/**
 * The schema of a TrainingJob spec found at `at` (`spec`, or `spec.template.spec` in a
 * RetrainPolicy), so that its rules' messages name the field where the user wrote it.
 */
export function trainingJobSpecSchema(at: string) {
  const spec = z
    .object({
      datasetRef: DatasetReferenceSchema,
      model: modelSpecSchema(at),
      task: z
        .enum(['classification', 'regression'])
        .describe(
          'The learning task. Unset: classification if the label column is categorical, boolean or string, regression if it is numeric. status.task shows the task used.',
        )
        .optional(),
      hyperparameters: HyperparametersSchema.prefault({}),
      fairness: TrainingFairnessSchema.optional(),
      modelCard: ModelCardSpecSchema.optional(),
      resources: ResourcesSchema.optional(),
      ...schedulingFields,
      backoffLimit: z
        .number()
        .int()
        .min(0)
        .max(20)
        .describe(
          'Retries of a failed training pod before the TrainingJob fails. A distributed run restarts its whole worker group instead, up to spec.distributed.maxRestarts.',
        )
        .default(2),
      activeDeadlineSeconds: z
        .number()
        .int()
        .min(1)
        .describe(
          'Deadline of the run in seconds, retries included; the TrainingJob fails when it passes. For a distributed run, of each attempt of the worker group (a passed deadline is not restarted).',
        )
        .optional(),
      ttlSecondsAfterFinished: z
        .number()
        .int()
        .min(0)
        .describe('Delete the TrainingJob this long after it finished. Its ModelVersion is kept.')
        .optional(),
      suspend: z
        .boolean()
        .describe('Suspend the run: no pod is started, and a running pod is stopped.')
        .default(false),
      distributed: DistributedSpecSchema.optional(),
      queueName: z
        .string()
        .min(1)
        .max(63)
        .regex(QUEUE_NAME_PATTERN, { message: 'must be a valid label value' })
        .describe(
          'Kueue LocalQueue to admit the run through: set as the label kueue.x-k8s.io/queue-name on the training workload (Job, JobSet or TrainJob). Kueue then suspends it until it is admitted.',
        )
        .optional(),
      modelName: modelName(
        'Name of the model the result is registered as: creates ModelVersion <modelName>-v<N>.',
      ),
    })
    .describe('The desired state of the TrainingJob.');
  return withCel(spec, [
    {
      rule: '!has(self.distributed) || self.distributed.workers == 1 || has(self.model.custom)',
      message: `${at}.distributed.workers: TensorFlow.js trains on one node; use a custom image that supports distributed training (such as the PyTorch trainer) for workers > 1`,
      fieldPath: '.distributed.workers',
      reason: 'FieldValueForbidden',
      holds: (self) =>
        self.distributed === undefined ||
        self.distributed.workers === 1 ||
        self.model.custom !== undefined,
    },
  ]);
}

/** `TrainingJob.spec`. */
export const TrainingJobSpecSchema = trainingJobSpecSchema('spec');
export type TrainingJobSpec = z.infer<typeof TrainingJobSpecSchema>;

const ProgressSchema = z
  .object({
    epoch: z.number().int().min(0).describe('Epochs completed.'),
    totalEpochs: z.number().int().min(1).describe('Epochs planned.'),
    loss: z.number().describe('Training loss of the latest epoch.').optional(),
    valLoss: z.number().describe('Validation loss of the latest epoch.').optional(),
    metrics: boundedRecord(
      z.number(),
      32,
      'Other metrics of the latest epoch, e.g. accuracy.',
    ).optional(),
    summary: boundedString(
      'One-line progress for kubectl get, e.g. "12/50 loss=0.214".',
      128,
    ).optional(),
  })
  .describe('Progress of the running training.');

/** The phase shown by `kubectl get`; derived from the conditions, never the other way round. */
export const TrainingJobPhaseSchema = z
  .enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Suspended'])
  .describe(
    'Summary of the conditions for kubectl get: Pending, Running, Succeeded, Failed or Suspended.',
  );

/** `TrainingJob.status`. */
export const TrainingJobStatusSchema = z
  .object({
    observedGeneration: observedGeneration.optional(),
    conditions: conditionsList(['Trained', 'Succeeded', 'Failed', 'Suspended']).optional(),
    phase: TrainingJobPhaseSchema.optional(),
    task: z
      .enum(['classification', 'regression'])
      .describe('The task used: spec.task, or the one derived from the label type.')
      .optional(),
    startTime: timestamp('When the training pod started.').optional(),
    completionTime: timestamp('When the run finished.').optional(),
    datasetVersion: datasetVersion('The Dataset version the model was trained on.').optional(),
    progress: ProgressSchema.optional(),
    attempts: z
      .number()
      .int()
      .min(0)
      .describe(
        'Training pods started so far; for a distributed run, attempts of the worker group.',
      )
      .optional(),
    jobName: dnsSubdomain('Name of the batch/v1 Job running the training.').optional(),
    modelVersion: z
      .object({
        name: dnsSubdomain('Name of the ModelVersion.'),
        version: z.number().int().min(1).describe('Its version number.'),
      })
      .describe('The ModelVersion this run produced.')
      .optional(),
    distributed: z
      .object({
        backend: z
          .enum(DISTRIBUTED_BACKENDS)
          .describe('The engine running the workers.')
          .optional(),
        reason: boundedString(
          'Why this engine: Pinned, TrainJobInstalled, JobSetInstalled, NoEngineInstalled, or why a pinned one cannot run (BackendNotInstalled).',
          128,
        ),
        message: boundedString('The choice in words.', 1024),
        workers: z.number().int().min(1).describe('Workers in the group.'),
        restarts: z
          .number()
          .int()
          .min(0)
          .describe(
            'Restarts of the whole worker group so far (bounded by spec.distributed.maxRestarts).',
          ),
        failedWorker: z
          .number()
          .int()
          .min(0)
          .describe('The worker (its rank) whose failure ended the latest attempt.')
          .optional(),
      })
      .describe('The distributed run: which engine runs it, why, and its group restarts.')
      .optional(),
    failure: z
      .object({
        reason: boundedString(
          'CamelCase reason, e.g. DatasetNotReady, InsufficientGPU, OutOfMemory, DeadlineExceeded, InvalidSpec.',
          128,
        ),
        message: boundedString('What happened and what to do about it.', 4096),
      })
      .describe('Why the run failed, set when phase is Failed.')
      .optional(),
  })
  .describe('The observed state of the TrainingJob.');
export type TrainingJobStatus = z.infer<typeof TrainingJobStatusSchema>;

/** A whole `TrainingJob` object. */
export const TrainingJobSchema = resourceSchema(
  'TrainingJob',
  TrainingJobSpecSchema,
  TrainingJobStatusSchema,
);
export type TrainingJob = z.infer<typeof TrainingJobSchema>;
/** A `TrainingJob` as written by a user, before defaults. */
export type TrainingJobInput = z.input<typeof TrainingJobSchema>;

/** Names, columns and subresources of `TrainingJob`. */
export const trainingJobKind = defineKind({
  kind: 'TrainingJob',
  plural: 'trainingjobs',
  shortNames: ['ltj'],
  description:
    'A TrainingJob trains one model on one Dataset version with given hyperparameters and resources (GPUs), and registers the result as a ModelVersion.',
  printerColumns: [
    {
      name: 'Model',
      type: 'string',
      jsonPath: '.spec.modelName',
      description: 'The model being trained.',
    },
    {
      name: 'Dataset-Version',
      type: 'string',
      jsonPath: '.status.datasetVersion',
      description: 'The Dataset version trained on.',
    },
    {
      name: 'Progress',
      type: 'string',
      jsonPath: '.status.progress.summary',
      description: 'Epochs done of total, and the latest loss.',
    },
    { name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'Phase of the run.' },
    {
      name: 'Backend',
      type: 'string',
      jsonPath: '.status.distributed.backend',
      description: 'The engine running a distributed run (TrainJob, JobSet, IndexedJob).',
      priority: 1,
    },
    {
      name: 'Model-Version',
      type: 'string',
      jsonPath: '.status.modelVersion.name',
      description: 'The ModelVersion produced.',
      priority: 1,
    },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.failure.reason',
      description: 'Why the run failed.',
      priority: 1,
    },
    conditionColumn('Ready', 'Ready', 1),
    AGE_COLUMN,
  ],
  selectableFields: ['.spec.modelName', '.spec.datasetRef.name'],
  schema: TrainingJobSchema,
  spec: TrainingJobSpecSchema,
  status: TrainingJobStatusSchema,
});
