/**
 * What a TrainingJob makes: the training Job, and on success the ModelVersion. Pure: the
 * TrainingJob, the resolved dataset version and the operator's configuration in, objects out.
 *
 * The Job runs Lathe's trainer (or the image of `spec.model.custom`) once per *training spec*,
 * with the contract's environment (`TrainEnv`): where the prepared dataset version is, where to
 * write the artifact, progress and history, the task, the model and hyperparameters. GPUs are
 * requested as `nvidia.com/gpu` (limits), with the toleration GPU nodes are usually tainted
 * with and the GPU variant of the image; scheduling fields pass through verbatim.
 */
import type { V1EnvVar, V1PodTemplateSpec } from '@kubernetes/client-node';
import {
  DEFAULT_TERMINATION_MESSAGE_PATH,
  type TrainResult,
} from '../../../../contract/results.js';
import { RESULT_PATH_ENV, TrainEnv } from '../../../../contract/runtime-env.js';
import type { ModelVersion } from '../../api/modelversion.js';
import type { TrainingJob, TrainingJobSpec } from '../../api/trainingjob.js';
import type { JobObject, Wire } from '../../runtime/builtin-kinds.js';
import { childLabels, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../runtime/labels.js';
import type { OwnerReference } from '../../runtime/resource.js';
import { gpuTolerations, nodeHeapEnv, resourceRequirements } from '../shared/container.js';
import { literalEnv, literalsForKubelet } from '../shared/kubelet-literal.js';
import { childName, shortHash } from '../shared/names.js';
import {
  CredentialRole,
  type ObjectStoreConfig,
  objectStorePodAccess,
} from '../shared/object-store-access.js';
import {
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from '../shared/pod-security.js';
import { KUEUE_QUEUE_NAME_LABEL } from './distributed/backend.js';

export const DEFAULT_TRAINING_RESOURCES = { cpu: '1', memory: '2Gi' } as const;
/** The label (and annotation) that ties a ModelVersion to the TrainingJob that produced it. */
export const TRAINING_JOB_UID_LABEL = 'lathe.dev/trainingjob-uid';
export const TRAINING_JOB_LABEL = 'lathe.dev/trainingjob';
/**
 * Annotations of the training Job: the dataset version and task it trains on (pinned when the
 * Job is created; the status reads them back from the Job, not from itself).
 */
export const TrainingAnnotation = {
  datasetVersion: 'lathe.dev/dataset-version',
  task: 'lathe.dev/task',
} as const;

/** Spec fields that change neither what is trained nor the Job's template. */
const NOT_TRAINING_FIELDS: ReadonlySet<string> = new Set(['suspend', 'ttlSecondsAfterFinished']);

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A short hash of the training-relevant spec (all but `suspend`, `ttlSecondsAfterFinished`). */
export function trainingSpecHash(spec: TrainingJobSpec): string {
  const relevant = Object.fromEntries(
    Object.entries(spec).filter(([field]) => !NOT_TRAINING_FIELDS.has(field)),
  );
  return shortHash(canonicalJson(relevant));
}

/** The training Job of the TrainingJob's current training spec: `<name>-train-<hash>`. */
export function trainingJobName(tj: TrainingJob): string {
  return childName(tj.metadata.name ?? '', `train-${trainingSpecHash(tj.spec)}`);
}

export interface TrainingRun {
  datasetVersion: string;
  /** `s3://…/datasets/<ns>/<dataset>/<version>/`. */
  datasetUri: string;
  /** `s3://…/runs/<ns>/<job>/`. */
  runUri: string;
  /** `s3://…/runs/<ns>/<job>/artifact/`. */
  outputUri: string;
  task: 'classification' | 'regression';
}

/** `LATHE_HP_<NAME>`: an extra hyperparameter as a variable name (upper case, `_` for others). */
export function extraHyperparameterVariable(name: string): string {
  return `${TrainEnv.extraHyperparameterPrefix}${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/** One trainer pod, as a Job's (or JobSet's) template carries it. */
export type TrainerPodTemplate = Wire<V1PodTemplateSpec> & {
  metadata: { labels: Record<string, string> };
  spec: NonNullable<Wire<V1PodTemplateSpec>['spec']>;
};

/** What the training pod needs besides the TrainingJob and its run. */
export interface TrainerPodOptions {
  image: string;
  gpuImage: string;
  store: ObjectStoreConfig;
}

/** The labels of a TrainingJob's training children and pods. */
export function trainerLabels(tj: TrainingJob): Record<string, string> {
  return {
    ...childLabels('TrainingJob', tj.metadata.name ?? ''),
    'app.kubernetes.io/component': 'trainer',
  };
}

/**
 * The trainer's pod: Lathe's trainer (or the custom image) with the contract's environment,
 * resources, scheduling and the object-store credentials; every backend runs this pod.
 */
export function trainerPodTemplate(
  tj: TrainingJob,
  run: TrainingRun,
  options: TrainerPodOptions,
  labels: Record<string, string>,
): TrainerPodTemplate {
  const name = tj.metadata.name ?? '';
  const namespace = tj.metadata.namespace ?? '';
  const spec = tj.spec;
  const gpus = spec.resources?.gpu ?? 0;
  const resources = {
    cpu: spec.resources?.cpu ?? DEFAULT_TRAINING_RESOURCES.cpu,
    memory: spec.resources?.memory ?? DEFAULT_TRAINING_RESOURCES.memory,
  };
  const { extra, ...hyperparameters } = spec.hyperparameters;
  const builtin = spec.model.builtin;
  const custom = spec.model.custom;

  // A custom image gets the same credentials as Lathe's: this run's dataset version and run only.
  const storeAccess = objectStorePodAccess(options.store, name, CredentialRole.training);
  const env: Wire<V1EnvVar>[] = [
    ...storeAccess.env,
    { name: TrainEnv.namespace, value: namespace },
    { name: TrainEnv.name, value: name },
    { name: TrainEnv.datasetUri, value: run.datasetUri },
    { name: TrainEnv.datasetVersion, value: run.datasetVersion },
    { name: TrainEnv.outputUri, value: run.outputUri },
    { name: TrainEnv.runUri, value: run.runUri },
    { name: TrainEnv.task, value: run.task },
    literalEnv(TrainEnv.hyperparameters, JSON.stringify(hyperparameters)),
    { name: TrainEnv.gpus, value: String(gpus) },
    { name: RESULT_PATH_ENV, value: DEFAULT_TERMINATION_MESSAGE_PATH },
    ...(spec.fairness ? [literalEnv(TrainEnv.fairness, JSON.stringify(spec.fairness))] : []),
    ...(spec.modelCard ? [literalEnv(TrainEnv.modelCard, JSON.stringify(spec.modelCard))] : []),
    ...Object.entries(extra ?? {}).map(([key, value]) =>
      literalEnv(extraHyperparameterVariable(key), value),
    ),
  ];
  if (builtin) {
    const { backend, ...model } = builtin;
    env.push(
      literalEnv(TrainEnv.model, JSON.stringify(model)),
      { name: TrainEnv.backend, value: backend },
      nodeHeapEnv(resources.memory, 128),
    );
  }
  for (const variable of custom?.env ?? []) env.push(literalEnv(variable.name, variable.value));

  const tolerations = gpuTolerations(gpus, spec.tolerations ?? []);
  const image = custom?.image ?? (gpus > 0 ? options.gpuImage : options.image);

  return {
    metadata: { labels },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: restrictedPodSecurityContext,
      ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
      ...(tolerations.length > 0 ? { tolerations } : {}),
      ...(spec.affinity ? { affinity: spec.affinity as JobAffinity } : {}),
      ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
      containers: [
        {
          name: 'trainer',
          image,
          ...(custom?.command ? { command: literalsForKubelet(custom.command) } : {}),
          ...(custom?.args ? { args: literalsForKubelet(custom.args) } : {}),
          env,
          resources: resourceRequirements({ ...resources, gpu: gpus }),
          securityContext: restrictedContainerSecurityContext,
          terminationMessagePolicy: 'FallbackToLogsOnError',
          volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, storeAccess.volumeMount],
        },
      ],
      volumes: [{ name: 'tmp', emptyDir: {} }, storeAccess.volume],
    },
  };
}

/** The annotations that pin a run's dataset version and task on its top object. */
export function runAnnotations(run: TrainingRun): Record<string, string> {
  return {
    [TrainingAnnotation.datasetVersion]: run.datasetVersion,
    [TrainingAnnotation.task]: run.task,
  };
}

/**
 * The training Job of a single-pod run. With `spec.queueName` it carries Kueue's label and is
 * created suspended: Kueue resumes it when the queue admits it.
 */
export function desiredTrainingJob(
  tj: TrainingJob,
  run: TrainingRun,
  options: TrainerPodOptions & { owner: OwnerReference },
): JobObject {
  const spec = tj.spec;
  const labels = trainerLabels(tj);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: trainingJobName(tj),
      namespace: tj.metadata.namespace ?? '',
      labels: spec.queueName ? { ...labels, [KUEUE_QUEUE_NAME_LABEL]: spec.queueName } : labels,
      annotations: runAnnotations(run),
      ownerReferences: [options.owner],
    },
    spec: {
      backoffLimit: spec.backoffLimit,
      ...(spec.activeDeadlineSeconds ? { activeDeadlineSeconds: spec.activeDeadlineSeconds } : {}),
      suspend: spec.suspend || spec.queueName !== undefined,
      template: trainerPodTemplate(tj, run, options, labels),
    },
  };
}

type JobAffinity = NonNullable<TrainerPodTemplate['spec']['affinity']>;

/** The hyperparameters a ModelVersion records, as strings (at most 64). */
export function hyperparameterStrings(tj: TrainingJob): Record<string, string> {
  const out: Record<string, string> = {};
  const { extra, earlyStopping, ...plain } = tj.spec.hyperparameters;
  for (const [key, value] of Object.entries(plain)) out[key] = String(value);
  if (earlyStopping) {
    for (const [key, value] of Object.entries(earlyStopping))
      out[`earlyStopping.${key}`] = String(value);
  }
  const builtin = tj.spec.model.builtin;
  if (builtin) {
    out.architecture = builtin.architecture;
    if (builtin.layers) out.layers = builtin.layers.join(',');
    out.activation = builtin.activation;
    out.dropout = String(builtin.dropout);
  } else if (tj.spec.model.custom) {
    out.image = tj.spec.model.custom.image;
  }
  for (const [key, value] of Object.entries(extra ?? {})) out[key] = value;
  return Object.fromEntries(Object.entries(out).slice(0, 64));
}

/** The ModelVersion `<model>-v<version>` a successful run registers. */
export function desiredModelVersion(
  tj: TrainingJob,
  result: Extract<TrainResult, { outcome: 'succeeded' }>,
  options: { version: number; artifactUri: string; datasetVersion: string },
): ModelVersion {
  const name = tj.metadata.name ?? '';
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: {
      name: modelVersionName(tj.spec.modelName, options.version),
      namespace: tj.metadata.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        [TRAINING_JOB_LABEL]: name,
        [TRAINING_JOB_UID_LABEL]: tj.metadata.uid ?? '',
      },
    },
    spec: {
      modelName: tj.spec.modelName,
      version: options.version,
      artifact: {
        uri: options.artifactUri,
        format: result.artifact.format,
        digest: result.artifact.digest,
      },
      // Four decimals, as `kubectl get` shows them; metrics.json in the artifact keeps them whole.
      metrics: Object.fromEntries(
        Object.entries(result.metrics)
          .slice(0, 64)
          .map(([k, v]) => [k, Number.isFinite(v) ? Math.round(v * 1e4) / 1e4 : v]),
      ),
      hyperparameters: hyperparameterStrings(tj),
      lineage: {
        dataset: { name: tj.spec.datasetRef.name, version: options.datasetVersion },
        trainingJob: {
          name,
          uid: tj.metadata.uid,
          backend: result.backend,
          // A custom image evaluates its own models when they are champions.
          ...(tj.spec.model.custom ? { image: tj.spec.model.custom.image } : {}),
        },
      },
      stage: 'none',
      deletionPolicy: 'Retain',
    },
  };
}

export function modelVersionName(model: string, version: number): string {
  return `${model}-v${version}`;
}
