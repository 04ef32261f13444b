/**
 * The trainer's settings, read from the environment the operator gives it (the contract's
 * `TrainEnv` and `ObjectStoreEnv`), validated at start-up: a bad variable is named in the error,
 * and the program exits before touching anything.
 */
import { z } from 'zod';
import { parseS3Uri } from '../../contract/object-store-layout.js';
import { DEFAULT_TERMINATION_MESSAGE_PATH } from '../../contract/results.js';
import {
  type BackendChoice,
  BackendChoiceSchema,
  EvaluateEnv,
  type ObjectStoreConfig,
  objectStoreFromEnv,
  parseEnv,
  RESULT_PATH_ENV,
  TrainEnv,
} from '../../contract/runtime-env.js';
import {
  type ModelCardSpec,
  ModelCardSpecSchema,
  type TrainingFairness,
  TrainingFairnessSchema,
} from '../../operator/src/api/fairness.js';
import {
  type BuiltinModel,
  BuiltinModelSchema,
  type Hyperparameters,
  HyperparametersSchema,
} from '../../operator/src/api/trainingjob.js';

export type TrainHyperparameters = Omit<Hyperparameters, 'extra'>;

export interface TrainSettings {
  namespace: string;
  name: string;
  /** `s3://<bucket>/datasets/<ns>/<dataset>/<version>/`. */
  datasetUri: string;
  datasetVersion: string;
  /** Where the artifact goes; manifest.json last. */
  outputUri: string;
  /** Where progress.json and history.json go. */
  runUri: string;
  task: 'classification' | 'regression';
  model: BuiltinModel;
  hyperparameters: TrainHyperparameters;
  backend: BackendChoice;
  gpus: number;
  objectStore: ObjectStoreConfig;
  resultPath: string;
  /** `spec.fairness`: group metrics options and the gate's rules. */
  fairness?: TrainingFairness;
  /** `spec.modelCard`: the intended-use fields of the model card. */
  modelCard?: ModelCardSpec;
}

/** An `s3://<bucket>/<prefix>/` variable. */
export const prefixUri = z
  .string()
  .min(1)
  .refine(
    (uri) => {
      try {
        parseS3Uri(uri);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'must be an s3://<bucket>/<prefix>/ URI' },
  );

/** Parses a JSON variable with `schema`, naming the variable and the field on error. */
export function jsonOf<S extends z.ZodType>(schema: S) {
  return z.string().transform((text, ctx): z.output<S> => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `not JSON (${(error as Error).message})` });
      return z.NEVER;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const at = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
        ctx.addIssue({ code: 'custom', message: `${at}${issue.message}` });
      }
      return z.NEVER;
    }
    return parsed.data;
  });
}

/** What every mode reads about where it runs: the backend, the GPUs, the result file. */
export const executionEnv = {
  [TrainEnv.backend]: BackendChoiceSchema.default('auto'),
  [TrainEnv.gpus]: z.coerce.number().int().min(0).default(0),
  [RESULT_PATH_ENV]: z.string().min(1).default(DEFAULT_TERMINATION_MESSAGE_PATH),
};

const TrainEnvSchema = z.object({
  [TrainEnv.namespace]: z.string().min(1),
  [TrainEnv.name]: z.string().min(1),
  [TrainEnv.datasetUri]: prefixUri,
  [TrainEnv.datasetVersion]: z.string().min(1),
  [TrainEnv.outputUri]: prefixUri,
  [TrainEnv.runUri]: prefixUri,
  [TrainEnv.task]: z.enum(['classification', 'regression']),
  [TrainEnv.model]: jsonOf(BuiltinModelSchema),
  [TrainEnv.hyperparameters]: jsonOf(HyperparametersSchema.omit({ extra: true })).default({
    epochs: 50,
    batchSize: 32,
    learningRate: 0.001,
    optimizer: 'adam',
    validationSplit: 0.1,
    seed: 42,
  }),
  [TrainEnv.fairness]: jsonOf(TrainingFairnessSchema).optional(),
  [TrainEnv.modelCard]: jsonOf(ModelCardSpecSchema).optional(),
  ...executionEnv,
});

/** Reads the trainer's settings; throws `RuntimeEnvError` naming every bad variable. */
export function trainSettingsFromEnv(env: Record<string, string | undefined>): TrainSettings {
  const e = parseEnv(TrainEnvSchema, env);
  return {
    namespace: e[TrainEnv.namespace],
    name: e[TrainEnv.name],
    datasetUri: e[TrainEnv.datasetUri],
    datasetVersion: e[TrainEnv.datasetVersion],
    outputUri: e[TrainEnv.outputUri],
    runUri: e[TrainEnv.runUri],
    task: e[TrainEnv.task],
    model: e[TrainEnv.model],
    hyperparameters: e[TrainEnv.hyperparameters],
    backend: e[TrainEnv.backend],
    gpus: e[TrainEnv.gpus],
    objectStore: objectStoreFromEnv(env),
    resultPath: e[RESULT_PATH_ENV],
    ...(e[TrainEnv.fairness] ? { fairness: e[TrainEnv.fairness] } : {}),
    ...(e[TrainEnv.modelCard] ? { modelCard: e[TrainEnv.modelCard] } : {}),
  } as TrainSettings;
}

/** The settings of the `evaluate` mode (`EvaluateEnv`, `LATHE_TASK`, the object store). */
export interface EvaluateSettings {
  /** The artifact to evaluate: `s3://<bucket>/models/<ns>/<model>/<version>/`. */
  modelUri: string;
  /** Its digest (`sha256:<hex>` of its manifest): the run refuses anything else. */
  modelDigest: string;
  /** The dataset version whose `test.raw.jsonl` is scored. */
  datasetUri: string;
  task: 'classification' | 'regression';
  backend: BackendChoice;
  gpus: number;
  objectStore: ObjectStoreConfig;
  resultPath: string;
  /** The challenger's `spec.fairness`: evaluate across the split's sensitive columns too. */
  fairness?: TrainingFairness;
}

const EvaluateEnvSchema = z.object({
  [EvaluateEnv.modelUri]: prefixUri,
  [EvaluateEnv.modelDigest]: z
    .string()
    .regex(/^sha256:[a-f0-9]{64}$/, { message: 'must be sha256:<64 lowercase hex digits>' }),
  [EvaluateEnv.datasetUri]: prefixUri,
  [TrainEnv.task]: z.enum(['classification', 'regression']),
  [TrainEnv.fairness]: jsonOf(TrainingFairnessSchema).optional(),
  ...executionEnv,
});

/** Reads the `evaluate` mode's settings; throws `RuntimeEnvError` naming every bad variable. */
export function evaluateSettingsFromEnv(env: Record<string, string | undefined>): EvaluateSettings {
  const e = parseEnv(EvaluateEnvSchema, env);
  return {
    modelUri: e[EvaluateEnv.modelUri],
    modelDigest: e[EvaluateEnv.modelDigest],
    datasetUri: e[EvaluateEnv.datasetUri],
    task: e[TrainEnv.task],
    backend: e[TrainEnv.backend],
    gpus: e[TrainEnv.gpus],
    objectStore: objectStoreFromEnv(env),
    resultPath: e[RESULT_PATH_ENV],
    ...(e[TrainEnv.fairness] ? { fairness: e[TrainEnv.fairness] } : {}),
  } as EvaluateSettings;
}
