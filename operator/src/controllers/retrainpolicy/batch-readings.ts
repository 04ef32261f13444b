/**
 * Drift readings from batch runs, for a drift trigger whose `source` is `batch` or `any`: a
 * BatchPrediction records the distribution of what it scored (its shards' counts, merged in its
 * manifest: `contract/batch.ts`), so a model scored only in bulk — or a service scored in bulk
 * too — is watched for drift the way SageMaker Model Monitor watches batch-transform jobs.
 *
 * The evidence is the newest Succeeded BatchPrediction of the namespace that scored the version
 * in use: the InferenceService's primary version when the trigger names one, else the policy's
 * model in the promotion's target stage (production by default). Its merged counts against that
 * version's training statistics give the reading, with the trigger's metric, through the same
 * `driftOfCounts` the served check uses; the reading's time is the run's completion, so one run
 * is one reading — acted on at most once, and a later run counts only a check interval after
 * the one that started the last run (`triggers.ts`).
 */
import { BatchManifestSchema } from '../../../../contract/batch.js';
import type { DatasetStats } from '../../../../contract/dataset-stats.js';
import { driftOfCounts } from '../../../../contract/distribution-counts.js';
import { ObjectNotFoundError } from '../../../../contract/object-store.js';
import { parseS3Uri } from '../../../../contract/object-store-layout.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { ExpiringMap } from '../../runtime/expiring-map.js';
import {
  type BatchPredictionObject,
  latheKinds,
  type ModelVersionObject,
  type RetrainPolicyObject,
} from '../lathe-kinds.js';
import { MODEL_VERSIONS_BY_MODEL } from '../shared/indexes.js';
import { resolveModelVersion } from '../shared/resolve-model-version.js';
import type { RetrainFacts } from './facts.js';
import { BATCH_BY_MODEL_VERSION } from './indexes.js';
import { type Blocked, type DriftReading, trainingStatsOf } from './readings.js';

type Ctx = ReconcileContext<RetrainPolicyObject>;

/**
 * The newest Succeeded run among `batches` that scored `modelVersion` and wrote its manifest,
 * by completion time (then name, so the choice is stable). Pure.
 */
export function newestBatchEvidence(
  batches: readonly BatchPredictionObject[],
  modelVersion: string,
): BatchPredictionObject | undefined {
  const finished = (bp: BatchPredictionObject) => Date.parse(bp.status?.completionTime ?? '') || 0;
  return batches
    .filter(
      (bp) =>
        bp.status?.phase === 'Succeeded' &&
        bp.status.model?.modelVersion === modelVersion &&
        bp.status.output?.manifest,
    )
    .sort(
      (a, b) =>
        finished(b) - finished(a) || (b.metadata.name ?? '').localeCompare(a.metadata.name ?? ''),
    )[0];
}

/** The version a batch reading must have scored: the service's primary, else the promoted one. */
function versionInUse(
  policy: RetrainPolicyObject,
  ctx: Ctx,
): { mv: ModelVersionObject } | { blocked: Blocked } {
  const namespace = policy.metadata.namespace ?? '';
  const service = policy.spec.triggers.drift?.inferenceServiceRef?.name;
  if (service) {
    const isvc = ctx.reader(latheKinds.inferenceService).get(namespace, service);
    const primary = isvc?.status?.servedVersions?.find((v) => v.role === 'primary');
    const mv = primary
      ? ctx.reader(latheKinds.modelVersion).get(namespace, primary.modelVersion)
      : undefined;
    if (!mv) {
      return {
        blocked: {
          reason: 'NoReference',
          message: `InferenceService ${service} serves no ModelVersion a BatchPrediction could have scored`,
        },
      };
    }
    return { mv };
  }
  const model = policy.spec.template.spec.modelName;
  const stage = policy.spec.promotion?.targetStage ?? 'production';
  const resolved = resolveModelVersion(
    ctx.byField(latheKinds.modelVersion, MODEL_VERSIONS_BY_MODEL, namespace, model),
    model,
    { stage },
  );
  if (!resolved.ok) {
    return {
      blocked: {
        reason: 'NoReference',
        message: `No ${stage} version of model ${model} to compare batch runs against: ${resolved.message}`,
      },
    };
  }
  return { mv: resolved.modelVersion };
}

/** Measures drift from the newest batch run of the version in use, against its training data. */
export async function measureBatchDrift(
  policy: RetrainPolicyObject,
  ctx: Ctx,
  storage: NonNullable<RetrainFacts['storage']>,
  statsCache: ExpiringMap<string, DatasetStats>,
): Promise<{ drift: DriftReading } | { blocked: Blocked }> {
  const drift = policy.spec.triggers.drift!;
  const namespace = policy.metadata.namespace ?? '';
  const inUse = versionInUse(policy, ctx);
  if ('blocked' in inUse) return inUse;
  const { mv } = inUse;
  const version = mv.metadata.name ?? '';
  const lineage = mv.spec.lineage?.dataset;
  if (!lineage) {
    return {
      blocked: {
        reason: 'NoReference',
        message: `ModelVersion ${version} has no dataset lineage to compare against`,
      },
    };
  }
  const bp = newestBatchEvidence(
    ctx.byField(latheKinds.batchPrediction, BATCH_BY_MODEL_VERSION, namespace, version),
    version,
  );
  if (!bp) {
    return {
      blocked: {
        reason: 'NoBatchEvidence',
        message: `No Succeeded BatchPrediction has scored ${version} yet`,
      },
    };
  }
  const name = bp.metadata.name ?? '';
  const { bucket, key } = parseS3Uri(bp.status?.output?.manifest ?? '');
  let counts: ReturnType<typeof BatchManifestSchema.parse>['distribution'];
  try {
    const manifest = BatchManifestSchema.safeParse(
      JSON.parse((await storage.store.read(bucket, key)).toString('utf8')),
    );
    counts = manifest.success ? manifest.data.distribution : undefined;
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError) && !(error instanceof SyntaxError)) throw error;
  }
  if (!counts || counts.columns.length === 0) {
    return {
      blocked: {
        reason: 'NoBatchEvidence',
        message: `BatchPrediction ${name} counted no inputs over training statistics (its manifest has none)`,
      },
    };
  }
  const training = await trainingStatsOf(lineage, namespace, storage, statsCache);
  if ('blocked' in training) return training;
  const report = driftOfCounts(training.stats.distributions, counts, drift.metric);
  const reading: DriftReading = {
    time: bp.status?.completionTime ?? ctx.now().toISOString(),
    value: Math.round(report.value * 1e4) / 1e4,
    ...(report.feature ? { feature: report.feature } : {}),
    samples: report.samples,
    modelVersion: version,
    batchPrediction: name,
  };
  ctx.log.info({ drift: reading }, 'Measured drift of a BatchPrediction’s inputs');
  return { drift: reading };
}
