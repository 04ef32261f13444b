/**
 * Lineage, pure: for each model, where each of its versions came from and where it went —
 * Dataset version → TrainingJob → ModelVersion (stage) → InferenceService (role, traffic) —
 * and, for a run a RetrainPolicy started, what triggered it. MLflow links a registered version
 * to its run (and users ask it to link back, mlflow#17134); Lathe keeps every link on the
 * objects themselves, so the whole chain is read from the caches:
 *
 * - a ModelVersion's `spec.lineage` names its Dataset version and TrainingJob;
 * - a TrainingJob a policy started carries the policy and trigger labels and the annotations
 *   saying what it acted on (`contract/retrain-run.ts`): the dataset version, the manual
 *   request, the time of the drift or accuracy reading (whose value and threshold are the
 *   policy's `status.lastDrift`/`lastAccuracy` and `spec.triggers`, when still the same
 *   reading);
 * - an InferenceService's `status.servedVersions` names the ModelVersions it serves and their
 *   traffic shares (the numbers `kubectl get -o yaml` shows).
 *
 * A run the history limits deleted leaves its ModelVersion; the chain then says so.
 */
import {
  DATASET_VERSION_ANNOTATION,
  POLICY_LABEL,
  READING_ANNOTATION,
  type RetrainTrigger,
  RUN_NOW_ANNOTATION,
  triggerOf,
} from '../contract/retrain-run.js';
import type { ConsoleObjects } from './kinds.js';

type TrainingJob = ConsoleObjects['trainingJob'];
type ModelVersion = ConsoleObjects['modelVersion'];
type InferenceService = ConsoleObjects['inferenceService'];
type RetrainPolicy = ConsoleObjects['retrainPolicy'];

/** What started a run of a RetrainPolicy, with the inputs and threshold the trigger used. */
export interface RunTrigger {
  policy: string;
  trigger: RetrainTrigger;
  /** The trigger's input, in words: "dataset version 3f2a…", "drift psi 0.31 at …". */
  input: string;
  /** The rule it passed: "drift > 0.2", "cron @daily", … (empty when unknown). */
  threshold: string;
}

/** One InferenceService serving a version. */
export interface Serving {
  service: InferenceService;
  role: 'primary' | 'canary';
  trafficPercent: number;
  replicas: number;
  readyReplicas: number;
}

/** The chain of one ModelVersion (or of a run that has not produced one yet). */
export interface VersionLineage {
  dataset?: { name: string; version?: string };
  trainingJob?: { name: string; object: TrainingJob | undefined };
  trigger?: RunTrigger;
  modelVersion?: ModelVersion;
  servedBy: Serving[];
}

/** Every version of one model, newest first, and the policies that retrain it. */
export interface ModelLineage {
  namespace: string;
  model: string;
  versions: VersionLineage[];
  policies: RetrainPolicy[];
}

/** The trigger of `run`, if a RetrainPolicy started it (`policy` is that policy, if visible). */
export function runTrigger(
  run: TrainingJob,
  policy: RetrainPolicy | undefined,
): RunTrigger | undefined {
  const policyName = run.metadata.labels?.[POLICY_LABEL];
  const trigger = triggerOf(run);
  if (!policyName || !trigger) return undefined;
  const annotations = run.metadata.annotations ?? {};
  const triggers = policy?.spec.triggers;
  const reading = annotations[READING_ANNOTATION];
  switch (trigger) {
    case 'datasetChange':
      return {
        policy: policyName,
        trigger,
        input: `dataset version ${annotations[DATASET_VERSION_ANNOTATION] ?? run.spec.datasetRef.version ?? '(latest)'}`,
        threshold: 'a new dataset version',
      };
    case 'manual':
      return {
        policy: policyName,
        trigger,
        input: `lathe.dev/run-now=${annotations[RUN_NOW_ANNOTATION] ?? ''}`,
        threshold: '',
      };
    case 'schedule':
      return {
        policy: policyName,
        trigger,
        input: `scheduled at ${run.metadata.creationTimestamp ?? ''}`,
        threshold: triggers?.schedule
          ? `cron ${triggers.schedule.cron} (${triggers.schedule.timeZone})`
          : '',
      };
    case 'drift': {
      const drift = triggers?.drift;
      const last = policy?.status?.lastDrift;
      const value =
        last && last.time === reading
          ? ` ${drift?.metric ?? 'psi'} ${last.value}${last.feature ? ` (feature ${last.feature})` : ''}${last.samples !== undefined ? ` on ${last.samples} rows` : ''}`
          : '';
      return {
        policy: policyName,
        trigger,
        input: `drift${value} measured at ${reading ?? '(unknown)'}`,
        threshold: drift ? `drift ${drift.metric} > ${drift.threshold}` : '',
      };
    }
    case 'accuracy': {
      const accuracy = triggers?.accuracy;
      const last = policy?.status?.lastAccuracy;
      const value =
        last && last.time === reading ? ` ${last.value} on ${last.samples} labelled rows` : '';
      return {
        policy: policyName,
        trigger,
        input: `live accuracy${value} read at ${reading ?? '(unknown)'}`,
        threshold: accuracy
          ? `accuracy < ${accuracy.minimum} on ≥ ${accuracy.minSamples} rows`
          : '',
      };
    }
  }
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * The lineage of every model among `objects` (all of one viewer's visible objects, already
 * filtered by namespace), sorted by namespace and model. O(objects).
 */
export function modelLineages(objects: {
  trainingJobs: readonly TrainingJob[];
  modelVersions: readonly ModelVersion[];
  inferenceServices: readonly InferenceService[];
  retrainPolicies: readonly RetrainPolicy[];
}): ModelLineage[] {
  const models = new Map<string, ModelLineage>();
  const modelOf = (namespace: string, model: string) => {
    const k = key(namespace, model);
    let lineage = models.get(k);
    if (!lineage) {
      lineage = { namespace, model, versions: [], policies: [] };
      models.set(k, lineage);
    }
    return lineage;
  };
  const policies = new Map(
    objects.retrainPolicies.map((p) => [key(p.metadata.namespace ?? '', p.metadata.name ?? ''), p]),
  );
  const runs = new Map(
    objects.trainingJobs.map((tj) => [
      key(tj.metadata.namespace ?? '', tj.metadata.name ?? ''),
      tj,
    ]),
  );
  const serving = new Map<string, Serving[]>();
  for (const service of objects.inferenceServices) {
    for (const served of service.status?.servedVersions ?? []) {
      const k = key(service.metadata.namespace ?? '', served.modelVersion);
      serving.set(k, [
        ...(serving.get(k) ?? []),
        {
          service,
          role: served.role,
          trafficPercent: served.trafficPercent,
          replicas: served.replicas,
          readyReplicas: served.readyReplicas,
        },
      ]);
    }
  }
  const runsWithVersion = new Set<string>();
  for (const mv of objects.modelVersions) {
    const ns = mv.metadata.namespace ?? '';
    const runName = mv.spec.lineage?.trainingJob?.name;
    const run = runName ? runs.get(key(ns, runName)) : undefined;
    if (run) runsWithVersion.add(key(ns, runName!));
    const policyName = run?.metadata.labels?.[POLICY_LABEL];
    modelOf(ns, mv.spec.modelName).versions.push({
      ...(mv.spec.lineage
        ? {
            dataset: {
              name: mv.spec.lineage.dataset.name,
              version: mv.spec.lineage.dataset.version,
            },
          }
        : {}),
      ...(runName ? { trainingJob: { name: runName, object: run } } : {}),
      ...(run
        ? optionalTrigger(
            runTrigger(run, policyName ? policies.get(key(ns, policyName)) : undefined),
          )
        : {}),
      modelVersion: mv,
      servedBy: serving.get(key(ns, mv.metadata.name ?? '')) ?? [],
    });
  }
  for (const run of objects.trainingJobs) {
    const ns = run.metadata.namespace ?? '';
    const name = run.metadata.name ?? '';
    if (runsWithVersion.has(key(ns, name))) continue;
    // A run whose ModelVersion is not (yet, or no longer) there: in progress, failed, or its
    // version was deleted. Its status may still name the version.
    const policyName = run.metadata.labels?.[POLICY_LABEL];
    modelOf(ns, run.spec.modelName).versions.push({
      dataset: {
        name: run.spec.datasetRef.name,
        ...(run.status?.datasetVersion ? { version: run.status.datasetVersion } : {}),
      },
      trainingJob: { name, object: run },
      ...optionalTrigger(
        runTrigger(run, policyName ? policies.get(key(ns, policyName)) : undefined),
      ),
      servedBy: [],
    });
  }
  for (const service of objects.inferenceServices)
    modelOf(service.metadata.namespace ?? '', service.spec.model.name);
  for (const policy of objects.retrainPolicies) {
    const model = (policy.spec.template.spec as { modelName?: string }).modelName;
    if (model) modelOf(policy.metadata.namespace ?? '', model).policies.push(policy);
  }
  for (const lineage of models.values()) lineage.versions.sort(newestFirst);
  return [...models.values()].sort(
    (a, b) => a.namespace.localeCompare(b.namespace) || a.model.localeCompare(b.model),
  );
}

function optionalTrigger(trigger: RunTrigger | undefined): { trigger?: RunTrigger } {
  return trigger ? { trigger } : {};
}

/** Versions by number, newest first; runs without a version (in progress) before them all. */
function newestFirst(a: VersionLineage, b: VersionLineage): number {
  const va = a.modelVersion?.spec.version ?? Number.POSITIVE_INFINITY;
  const vb = b.modelVersion?.spec.version ?? Number.POSITIVE_INFINITY;
  if (va !== vb) return vb - va;
  const ta = a.trainingJob?.object?.metadata.creationTimestamp ?? '';
  const tb = b.trainingJob?.object?.metadata.creationTimestamp ?? '';
  return tb.localeCompare(ta);
}
