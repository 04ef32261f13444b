/**
 * What a BatchPrediction's run will score, with what, before its Job exists: the model (a Ready
 * TensorFlow.js version of the selector, resolved as an InferenceService resolves its own), the
 * input (a Dataset version's raw splits, or objects under the namespace's prefixes, listed
 * with their sizes for the shards' byte ranges, or a URL, whose size only the shards ask: the
 * operator never connects to a user's URL), where it writes (`batchOutputPrefix`), and the
 * training statistics the shards count the inputs over (`stats.json` of the model's dataset
 * version, when there is one), or why the run cannot start yet — waiting for what is not there,
 * stalled on what will never do. Reads the caches and lists the store.
 *
 * A run that explains its rows needs a model whose artifact holds an explanation background
 * (`background.json`; artifacts trained before Lathe stored one have none): the plan reads the
 * artifact's manifest and stalls with `ModelNotExplainable` when it lists none, before any pod
 * starts, rather than letting every shard load the model to fail on it (the shard still checks,
 * for a manifest it could not read here).
 */
import type { BatchInput } from '../../../../contract/batch.js';
import { ArtifactManifestSchema, sha256Digest } from '../../../../contract/manifest.js';
import { type ObjectStore, StorageUnavailableError } from '../../../../contract/object-store.js';
import {
  batchOutputPrefix,
  DatasetFile,
  datasetVersionPrefix,
  isReadableByNamespace,
  keyInArtifact,
  MANIFEST_FILE,
  ModelFile,
  parseS3Uri,
  s3Uri,
} from '../../../../contract/object-store-layout.js';
import type { Readiness } from '../../runtime/conditions.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import { type BatchPredictionObject, latheKinds } from '../lathe-kinds.js';
import { MODEL_VERSIONS_BY_MODEL } from '../shared/indexes.js';
import { resolveModelVersion } from '../shared/resolve-model-version.js';
import { type BatchRun, shardCount } from './desired.js';

type Ctx = ReconcileContext<BatchPredictionObject>;

export const waiting = (reason: string, message: string): Readiness => ({
  state: 'progressing',
  reason,
  message,
});
export const stalled = (reason: string, message: string): Readiness => ({
  state: 'stalled',
  reason,
  message,
});

/** What the run scores with what, or why it cannot start yet. */
export async function planRun(
  bp: BatchPredictionObject,
  ctx: Ctx,
  store: ObjectStore,
  bucket: string,
): Promise<{ run: BatchRun } | { notStarted: Readiness }> {
  const namespace = bp.metadata.namespace ?? '';
  const model = bp.spec.model;
  const resolved = resolveModelVersion(
    ctx.byField(latheKinds.modelVersion, MODEL_VERSIONS_BY_MODEL, namespace, model.name),
    model.name,
    {
      ...(model.version !== undefined ? { version: model.version } : {}),
      ...(model.stage !== undefined ? { stage: model.stage } : {}),
    },
  );
  if (!resolved.ok) return { notStarted: waiting('WaitingForModel', resolved.message) };
  const mv = resolved.modelVersion;
  const modelFormat = mv.spec.artifact.format;
  if (modelFormat !== 'tfjs' && modelFormat !== 'onnx') {
    return {
      notStarted: stalled(
        'UnsupportedModelFormat',
        `ModelVersion ${mv.metadata.name} is a ${modelFormat} artifact; batch scoring runs TensorFlow.js (tfjs) and ONNX (onnx) models`,
      ),
    };
  }
  if (
    bp.spec.output.include.includes('explanations') &&
    (await artifactLacksBackground(store, mv.spec.artifact))
  ) {
    return {
      notStarted: stalled(
        'ModelNotExplainable',
        `ModelVersion ${mv.metadata.name} has no explanation background (${ModelFile.background}) in its artifact: it was trained before Lathe stored one, so its rows cannot be explained; retrain the model, or leave explanations out of spec.output.include`,
      ),
    };
  }
  const output = batchOutputPrefix(
    namespace,
    bp.metadata.name ?? '',
    bp.metadata.uid ?? 'run',
    bp.spec.output.prefix,
  );
  if (!output.ok) {
    return {
      notStarted: stalled('OutputOutsideNamespace', `spec.output.prefix ${output.message}`),
    };
  }
  const input = await planInput(bp, ctx, store, bucket);
  if ('notStarted' in input) return input;
  const statsUri = await trainingStatsUri(mv.spec.lineage?.dataset, namespace, store, bucket);
  return {
    run: {
      modelVersion: mv.metadata.name ?? '',
      modelUri: mv.spec.artifact.uri,
      modelDigest: mv.spec.artifact.digest,
      modelFormat,
      ...(input.dataset ? { dataset: input.dataset } : {}),
      input: input.input,
      ...(statsUri ? { statsUri } : {}),
      outputUri: s3Uri(bucket, output.prefix),
      shards: shardCount(bp),
    },
  };
}

/**
 * The `stats.json` of the model's dataset version, which the shards count their inputs over,
 * when the model has dataset lineage and the file exists (a version of an older Lathe has none:
 * the run then counts its predictions only).
 */
async function trainingStatsUri(
  lineage: { name: string; version: string } | undefined,
  namespace: string,
  store: ObjectStore,
  bucket: string,
): Promise<string | undefined> {
  if (!lineage) return undefined;
  const key = `${datasetVersionPrefix(namespace, lineage.name, lineage.version)}${DatasetFile.stats}`;
  return (await store.exists(bucket, key)) ? s3Uri(bucket, key) : undefined;
}

async function planInput(
  bp: BatchPredictionObject,
  ctx: Ctx,
  store: ObjectStore,
  bucket: string,
): Promise<
  { input: BatchInput; dataset?: { name: string; version: string } } | { notStarted: Readiness }
> {
  const namespace = bp.metadata.namespace ?? '';
  const ref = bp.spec.input.datasetRef;
  if (ref) {
    const ds = ctx.reader(latheKinds.dataset).get(namespace, ref.name);
    if (!ds) {
      return { notStarted: waiting('WaitingForDataset', `Dataset ${ref.name} does not exist`) };
    }
    const version = ref.version ?? ds.status?.currentVersion;
    if (!version) {
      return {
        notStarted: waiting('WaitingForDataset', `Dataset ${ref.name} has no version yet`),
      };
    }
    const prefix = datasetVersionPrefix(namespace, ref.name, version);
    const listed = await store.listObjects(bucket, prefix);
    const files = [DatasetFile.trainRaw, DatasetFile.testRaw]
      .map((file) => listed.find((o) => o.key === `${prefix}${file}`))
      .filter((o) => o !== undefined);
    if (listed.length === 0) {
      return {
        notStarted: waiting(
          'WaitingForDataset',
          `Dataset ${ref.name} version ${version} is not in the object store (yet)`,
        ),
      };
    }
    if (files.length < 2) {
      return {
        notStarted: stalled(
          'InputHasNoRawRows',
          `Dataset ${ref.name} version ${version} does not keep its rows before preparation (${DatasetFile.trainRaw}, ${DatasetFile.testRaw}): it was ingested by an older Lathe; refresh the Dataset to make a new version`,
        ),
      };
    }
    return {
      input: {
        objects: files.map((o) => ({
          uri: s3Uri(bucket, o.key),
          sizeBytes: o.sizeBytes,
          format: 'jsonl' as const,
        })),
        csv: { delimiter: ',', header: true },
      },
      dataset: { name: ref.name, version },
    };
  }
  const http = bp.spec.input.http;
  if (http) {
    return {
      input: {
        // No size: the shards ask the server (the operator makes no request to a user's URL).
        objects: [{ uri: http.url, format: http.format }],
        csv: { delimiter: http.csv.delimiter, header: http.csv.header },
      },
    };
  }
  const s3 = bp.spec.input.s3!;
  const where = s3.key ?? s3.prefix ?? '';
  if (!isReadableByNamespace(where, namespace)) {
    return {
      notStarted: stalled(
        'InputOutsideNamespace',
        `spec.input.s3 ${s3.key ? 'key' : 'prefix'} ${where} is outside namespace ${namespace}'s prefixes in s3://${bucket}/ (sources/${namespace}/, batch/${namespace}/, …, shared/): put the data under s3://${bucket}/sources/${namespace}/`,
      ),
    };
  }
  const listed = await store.listObjects(bucket, where);
  const objects = (
    s3.key
      ? listed.filter((o) => o.key === s3.key)
      : listed.filter((o) => !o.key.endsWith('/') && o.sizeBytes > 0)
  ).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (objects.length === 0) {
    return {
      notStarted: waiting('WaitingForInput', `Nothing to score at s3://${bucket}/${where} (yet)`),
    };
  }
  return {
    input: {
      objects: objects.map((o) => ({
        uri: s3Uri(bucket, o.key),
        sizeBytes: o.sizeBytes,
        format: s3.format,
      })),
      csv: { delimiter: s3.csv.delimiter, header: s3.csv.header },
    },
  };
}

/**
 * Whether the artifact's verified manifest lists no explanation background. A manifest that
 * cannot be read (but for an unavailable store: retried) or does not match `digest` decides
 * nothing here: the shards' verification reports it.
 */
export async function artifactLacksBackground(
  store: Pick<ObjectStore, 'read'>,
  artifact: { uri: string; digest: string },
): Promise<boolean> {
  const { bucket, key } = parseS3Uri(artifact.uri);
  let bytes: Buffer;
  try {
    bytes = await store.read(bucket, keyInArtifact(key, MANIFEST_FILE));
  } catch (error) {
    if (error instanceof StorageUnavailableError) throw error;
    return false;
  }
  if (sha256Digest(bytes) !== artifact.digest) return false;
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return false;
  }
  const manifest = ArtifactManifestSchema.safeParse(json);
  return manifest.success && !manifest.data.files.some((f) => f.path === ModelFile.background);
}
