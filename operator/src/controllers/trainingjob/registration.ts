/**
 * The registration step: a successful run becomes exactly one ModelVersion `<model>-v<N>`,
 * and its artifact is copied under `models/<ns>/<model>/<N>/` for the ModelVersion controller
 * to verify. The ModelVersion is not owned: it outlives the TrainingJob.
 *
 * Exactly one, even if the operator restarts between steps or the status is wiped: the
 * ModelVersion carries the TrainingJob's UID as a label, and is what says the run is
 * registered. The cache finds it through a field index; but a ModelVersion created a moment
 * ago may not be in the cache yet, so before a version number is claimed the API server is
 * asked (a list by that label). The number is claimed by creating the ModelVersion
 * (`AlreadyExists` means another run of the model took it: try the next). The copy is
 * idempotent, and repeated until the ModelVersion reports its artifact verified.
 */

import { ArtifactManifestSchema } from '../../../../contract/manifest.js';
import { ObjectNotFoundError, type ObjectStore } from '../../../../contract/object-store.js';
import {
  keyInArtifact,
  MANIFEST_FILE,
  modelVersionPrefix,
  parseS3Uri,
  s3Uri,
} from '../../../../contract/object-store-layout.js';
import type { TrainResult } from '../../../../contract/results.js';
import { isConditionTrue } from '../../runtime/conditions.js';
import { indexField, type ReconcileContext } from '../../runtime/controller.js';
import { isAlreadyExists } from '../../runtime/kube-client.js';
import type { Step } from '../../runtime/steps.js';
import { latheKinds, type ModelVersionObject, type TrainingJobObject } from '../lathe-kinds.js';
import { MODEL_VERSIONS_BY_MODEL, modelVersionsByModel } from '../shared/indexes.js';
import { desiredModelVersion, TRAINING_JOB_UID_LABEL } from './desired.js';
import { succeededCondition, type TrainingFacts } from './status.js';

/** Field index of ModelVersions by the UID of the TrainingJob that registered them. */
export const MODEL_VERSIONS_BY_TRAINING_JOB = 'trainingjob.modelversions-by-trainingjob-uid';

export const modelVersionIndexes = [
  indexField(latheKinds.modelVersion, MODEL_VERSIONS_BY_TRAINING_JOB, (mv) => [
    mv.metadata?.labels?.[TRAINING_JOB_UID_LABEL],
  ]),
  // The numbers a model's versions took.
  modelVersionsByModel,
];

/** Version numbers tried when several runs of one model finish at once. */
const MAX_VERSION_CLAIMS = 20;

type Ctx = ReconcileContext<TrainingJobObject>;
type Succeeded = Extract<TrainResult, { outcome: 'succeeded' }>;

/** The ModelVersion the cache holds for this TrainingJob (the oldest, should there be two). */
export function cachedModelVersionOf(
  tj: TrainingJobObject,
  ctx: Pick<Ctx, 'byField'>,
): ModelVersionObject | undefined {
  const uid = tj.metadata.uid;
  if (!uid) return undefined;
  return ctx
    .byField(
      latheKinds.modelVersion,
      MODEL_VERSIONS_BY_TRAINING_JOB,
      tj.metadata.namespace ?? '',
      uid,
    )
    .sort((a, b) => a.spec.version - b.spec.version)[0];
}

/** The next version number after the highest one `versions` took. Pure. */
export function nextVersionNumber(versions: readonly { spec: { version: number } }[]): number {
  return Math.max(0, ...versions.map((mv) => mv.spec.version)) + 1;
}

async function claimModelVersion(
  tj: TrainingJobObject,
  result: Succeeded,
  datasetVersion: string,
  ctx: Ctx,
  bucket: string,
): Promise<ModelVersionObject> {
  const namespace = tj.metadata.namespace ?? '';
  const model = tj.spec.modelName;
  const resource = latheKinds.modelVersion.resource;
  // The cache may not have seen a ModelVersion this TrainingJob registered a moment ago.
  const mine = await ctx.client.list<ModelVersionObject>(resource, {
    namespace,
    labelSelector: `${TRAINING_JOB_UID_LABEL}=${tj.metadata.uid}`,
  });
  const existing = mine.items.sort((a, b) => a.spec.version - b.spec.version)[0];
  if (existing) return existing;
  let version = nextVersionNumber(
    ctx.byField(latheKinds.modelVersion, MODEL_VERSIONS_BY_MODEL, namespace, model),
  );
  for (let tries = 0; tries < MAX_VERSION_CLAIMS; tries++, version++) {
    const desired = desiredModelVersion(tj, result, {
      version,
      datasetVersion,
      artifactUri: s3Uri(bucket, modelVersionPrefix(namespace, model, version)),
    });
    try {
      const created = await ctx.client.create<ModelVersionObject>(
        resource,
        desired as ModelVersionObject,
      );
      await ctx.events.record(
        tj,
        'Normal',
        'ModelVersionRegistered',
        'Register',
        `Registered ModelVersion ${created.metadata?.name} (${Object.entries(result.metrics)
          .map(([k, v]) => `${k}=${v.toPrecision(4)}`)
          .slice(0, 6)
          .join(', ')})`,
      );
      return created;
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
  }
  throw new Error(`No free version number for model ${model} after ${MAX_VERSION_CLAIMS} tries`);
}

/** Copies every file of the manifest at `from`, then the manifest, to `to` (server-side). */
export async function copyArtifact(store: ObjectStore, from: string, to: string): Promise<void> {
  const source = parseS3Uri(from);
  const target = parseS3Uri(to);
  const manifestBytes = await store.read(source.bucket, keyInArtifact(source.key, MANIFEST_FILE));
  try {
    const existing = await store.read(target.bucket, keyInArtifact(target.key, MANIFEST_FILE));
    if (existing.equals(manifestBytes)) return;
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
  }
  const manifest = ArtifactManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  // Every file first, the manifest last: a half-copied artifact reads as "not there yet".
  for (const path of [...manifest.files.map((f) => f.path), MANIFEST_FILE]) {
    await store.copy(
      { bucket: source.bucket, key: keyInArtifact(source.key, path) },
      { bucket: target.bucket, key: keyInArtifact(target.key, path) },
    );
  }
}

/** The registration step (see the module header). */
export const registrationStep: Step<TrainingJobObject, TrainingFacts> = {
  name: 'registration',
  async run(tj, ctx, facts) {
    const { result, storage } = facts;
    const succeeded = facts.run?.phase === 'Succeeded' && result?.outcome === 'succeeded';
    let registered = facts.registered;
    if (!registered && succeeded && storage && facts.dataset) {
      registered = await claimModelVersion(
        tj,
        result,
        facts.dataset.version,
        ctx,
        storage.config.bucket,
      );
    }
    if (!registered) return { conditions: [succeededCondition(facts)] };
    // Until the ModelVersion controller has verified it, the artifact may be half-copied.
    if (succeeded && storage && !isConditionTrue(registered.status?.conditions, 'Ready'))
      await copyArtifact(storage.store, result.artifact.uri, registered.spec.artifact.uri);
    const modelVersion = {
      name: registered.metadata?.name ?? '',
      version: registered.spec.version,
    };
    return {
      facts: { modelVersion },
      conditions: [succeededCondition({ ...facts, modelVersion })],
    };
  },
};
