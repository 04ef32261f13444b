/**
 * The objects of a chaos run: N Lathe objects across the four kinds a user creates, in the
 * order they are created. Pure: sizes and names in, objects out.
 *
 * Most are ModelVersions (cheap: the operator verifies a small artifact, no pod); a few are
 * Datasets (an ingestion pod each), TrainingJobs (a trainer pod each, two epochs of a small
 * MLP on iris, then a ModelVersion registered by the operator) and InferenceServices (a server
 * pod each, serving version 1 of a trained model), so the 2-core machine copes at 1,000 and
 * every controller — and every kind of child — is under the faults. The kinds are interleaved
 * through the run, and a TrainingJob's Dataset is created before it, so the faults hit every
 * kind in every state: pending, running, converged.
 */

/** What a kind of object is for the run: its plural and group/version. */
export const chaosKinds = {
  Dataset: 'datasets',
  TrainingJob: 'trainingjobs',
  ModelVersion: 'modelversions',
  InferenceService: 'inferenceservices',
} as const;

export type ChaosKind = keyof typeof chaosKinds;

export interface ChaosObject {
  apiVersion: 'lathe.dev/v1alpha1';
  kind: ChaosKind;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

/** How many of each kind, for `count` objects in all. */
export interface WorkloadMix {
  datasets: number;
  trainingJobs: number;
  inferenceServices: number;
  modelVersions: number;
}

/** Shares of the pod-running kinds; ModelVersions make up the rest. */
export const defaultShares = { datasets: 0.04, trainingJobs: 0.08, inferenceServices: 0.03 };

/** The label every object of a run carries, valued with the run's seed. */
export const CHAOS_RUN_LABEL = 'lathe.dev/chaos-run';

/** Model name of the ModelVersions created directly (all share one artifact). */
export const FIXTURE_MODEL = 'chaos-fixture';

/** `count` objects split by `shares`: at least one of each kind, ModelVersions the rest. */
export function workloadMix(count: number, shares = defaultShares): WorkloadMix {
  if (!Number.isInteger(count) || count < 4)
    throw new Error(`count must be a whole number ≥ 4, one of each kind (got ${count})`);
  const of = (share: number) => Math.max(1, Math.round(count * share));
  const datasets = of(shares.datasets);
  const trainingJobs = of(shares.trainingJobs);
  const inferenceServices = of(shares.inferenceServices);
  const modelVersions = count - datasets - trainingJobs - inferenceServices;
  if (modelVersions < 1)
    throw new Error(`shares ${JSON.stringify(shares)} leave no ModelVersion of ${count} objects`);
  return { datasets, trainingJobs, inferenceServices, modelVersions };
}

/** Model name trained by TrainingJob `i`: two runs per model, so version numbers are contended. */
export function trainedModelOf(i: number, mix: WorkloadMix): string {
  return `chaos-model-${i % modelsOf(mix)}`;
}

function modelsOf(mix: WorkloadMix): number {
  return Math.max(1, Math.ceil(mix.trainingJobs / 2));
}

export interface WorkloadOptions {
  namespace: string;
  count: number;
  seed: number;
  /** The artifact every directly created ModelVersion names (uploaded by the run). */
  fixtureArtifact: { uri: string; digest: string };
  /** The CSV the Datasets read: the iris example the local cluster uploads. */
  source?: { bucket: string; key: string };
  shares?: typeof defaultShares;
}

/** The objects in creation order (see the module header). */
export function chaosWorkload(options: WorkloadOptions): ChaosObject[] {
  const mix = workloadMix(options.count, options.shares);
  const metadata = (name: string) => ({
    name,
    namespace: options.namespace,
    labels: { [CHAOS_RUN_LABEL]: String(options.seed) },
  });
  const source = options.source ?? { bucket: 'lathe', key: 'shared/examples/iris.csv' };
  // Each kind's i-th object at its share of the way through the run; datasets first on a tie.
  const placed: { at: number; order: number; object: ChaosObject }[] = [];
  const place = (n: number, order: number, make: (i: number) => ChaosObject) => {
    for (let i = 0; i < n; i++) placed.push({ at: i / n, order, object: make(i) });
  };
  place(mix.datasets, 0, (i) => ({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: metadata(`chaos-ds-${i}`),
    spec: irisDatasetSpec(source),
  }));
  place(mix.trainingJobs, 1, (i) => ({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: metadata(`chaos-tj-${i}`),
    spec: {
      // Dataset floor(i·D/T) is placed at or before this job.
      datasetRef: { name: `chaos-ds-${Math.floor((i * mix.datasets) / mix.trainingJobs)}` },
      model: { builtin: { architecture: 'mlp', layers: [8] } },
      task: 'classification',
      hyperparameters: { epochs: 2, batchSize: 32, learningRate: 0.05, seed: 7 },
      resources: { cpu: '500m', memory: '768Mi' },
      backoffLimit: 3,
      modelName: trainedModelOf(i, mix),
    },
  }));
  place(mix.modelVersions, 2, (i) => ({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: metadata(`chaos-mv-${i}`),
    spec: {
      modelName: FIXTURE_MODEL,
      version: i + 1,
      artifact: { ...options.fixtureArtifact, format: 'tfjs' },
    },
  }));
  place(mix.inferenceServices, 3, (i) => ({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'InferenceService',
    metadata: metadata(`chaos-is-${i}`),
    spec: {
      model: { name: `chaos-model-${i % modelsOf(mix)}`, version: 1 },
      replicas: { min: 1, max: 1 },
      resources: { cpu: '100m', memory: '256Mi' },
    },
  }));
  return placed.sort((a, b) => a.at - b.at || a.order - b.order).map((p) => p.object);
}

/** The iris example Dataset (examples/dataset-iris.yaml) without its refresh interval. */
function irisDatasetSpec(source: { bucket: string; key: string }): Record<string, unknown> {
  return {
    source: { s3: source },
    format: 'csv',
    schema: {
      columns: [
        { name: 'sepal_length', type: 'number' },
        { name: 'sepal_width', type: 'number' },
        { name: 'petal_length', type: 'number' },
        { name: 'petal_width', type: 'number' },
        { name: 'species', type: 'categorical' },
      ],
      label: 'species',
    },
    preparation: { missingValues: { numeric: 'median' }, scaleNumerics: 'standard' },
    validation: { minRows: 100 },
    split: { testFraction: 0.2, seed: 7 },
  };
}
