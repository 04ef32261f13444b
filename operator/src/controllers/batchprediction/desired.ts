/**
 * The Indexed Job of a BatchPrediction run: one completion per shard, `parallelism` at once,
 * each pod the trainer image's `batch` mode scoring its shard (`contract/batch.ts`). Pure.
 *
 * A shard that fails is retried alone (`backoffLimitPerIndex`), and a retried shard rewrites its
 * part from the start, so a killed pod leaves neither a duplicate nor a missing row. The pod
 * failure policy tells retries apart the way the exit codes do (`RuntimeExitCode`): a shard
 * whose data is bad (1: too many failed records, an input that is not what it should be) is not
 * retried (`FailIndex`), an invalid environment (2) fails the run at once (`FailJob`, an
 * operator bug), and anything else — the store unreachable (75), a pod killed or evicted — is
 * retried within the limit.
 *
 * An HTTP input's request headers come from the user's Secret as a read-only volume (one file per
 * header, as a Dataset's ingestion Job gets them), never as values in the Job; the install's HTTP
 * source policy goes with them, and the shard enforces it on every connection.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import type { BatchInput, BatchOutputOptions } from '../../../../contract/batch.js';
import { DEFAULT_TERMINATION_MESSAGE_PATH, RuntimeExitCode } from '../../../../contract/results.js';
import {
  BatchEnv,
  type ObjectStoreConfig,
  RESULT_PATH_ENV,
} from '../../../../contract/runtime-env.js';
import { type BatchPrediction, DEFAULT_BATCH_EXPLANATIONS } from '../../api/batchprediction.js';
import { quantityValue } from '../../api/quantity.js';
import type { HttpSourcePolicy } from '../../config.js';
import type { JobObject, Wire } from '../../runtime/builtin-kinds.js';
import { childLabels } from '../../runtime/labels.js';
import type { OwnerReference } from '../../runtime/resource.js';
import { nodeHeapEnv, resourceRequirements } from '../shared/container.js';
import { httpSourcePolicyEnv } from '../shared/http-source-policy.js';
import { literalEnv } from '../shared/kubelet-literal.js';
import { childName } from '../shared/names.js';
import { CredentialRole, type Grant, objectStorePodAccess } from '../shared/object-store-access.js';
import { piiKeyEnv } from '../shared/pii-key.js';
import {
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from '../shared/pod-security.js';

/** Where an HTTP input's headers Secret is mounted in a shard. */
const HEADERS_DIR = '/var/run/lathe/input-headers';

/** Each shard's resources unless the spec says otherwise. */
export const DEFAULT_BATCH_RESOURCES = { cpu: '1', memory: '1Gi' } as const;

/**
 * The young generation's semi-spaces of a shard: a sixteenth of its memory, 16 to 64 MiB (a
 * shard makes short-lived strings and records per row; `nodeHeapEnv`).
 */
export function batchSemiSpaceMb(memoryLimit: string | number): number {
  return Math.min(64, Math.max(16, Math.floor(quantityValue(memoryLimit) / 16 / 2 ** 20)));
}

/** The `NODE_OPTIONS` of a shard under `memoryLimit`: its heap and young generation. */
export function batchNodeOptions(memoryLimit: string | number) {
  return nodeHeapEnv(memoryLimit, 128, batchSemiSpaceMb(memoryLimit));
}

/** Annotations that pin what the run scores with, read back for status. */
export const BatchAnnotation = {
  modelVersion: 'lathe.dev/batch-model-version',
  modelDigest: 'lathe.dev/batch-model-digest',
  dataset: 'lathe.dev/batch-dataset',
  datasetVersion: 'lathe.dev/batch-dataset-version',
  objects: 'lathe.dev/batch-input-objects',
  sizeBytes: 'lathe.dev/batch-input-bytes',
  outputUri: 'lathe.dev/batch-output-uri',
  /** The training statistics the shards count their inputs over (drift), when there are any. */
  statsUri: 'lathe.dev/batch-stats-uri',
  /** What the shards may read and write (`Grant`, JSON): their credentials are renewed to it. */
  grant: 'lathe.dev/batch-grant',
} as const;

/** The run's Job: `<name>-batch`. */
export function batchJobName(bp: Pick<BatchPrediction, 'metadata'>): string {
  return childName(bp.metadata.name ?? '', 'batch');
}

/** What one run scores, with what, and where it writes: resolved once, pinned in its Job. */
export interface BatchRun {
  modelVersion: string;
  modelUri: string;
  modelDigest: string;
  /** The artifact's format: `tfjs` or `onnx` (the plan refuses others). */
  modelFormat: 'tfjs' | 'onnx';
  dataset?: { name: string; version: string };
  input: BatchInput;
  /** `stats.json` of the model's dataset version, when it has one. */
  statsUri?: string;
  outputUri: string;
  shards: number;
}

/** The shard count of `bp`: `spec.shards`, else one per pod at once. */
export function shardCount(bp: Pick<BatchPrediction, 'spec'>): number {
  return bp.spec.shards ?? bp.spec.parallelism;
}

export function desiredBatchJob(
  bp: BatchPrediction,
  run: BatchRun,
  options: {
    image: string;
    store: ObjectStoreConfig;
    owner: OwnerReference;
    grant: Grant;
    /** Where an HTTP input may connect (the operator's `httpSource`); none: the defaults. */
    httpSource?: HttpSourcePolicy;
  },
): JobObject {
  const name = bp.metadata.name ?? '';
  const labels = {
    ...childLabels('BatchPrediction', name),
    'app.kubernetes.io/component': 'batch',
  };
  const storeAccess = objectStorePodAccess(options.store, name, CredentialRole.batch);
  const resources = {
    cpu: bp.spec.resources?.cpu ?? DEFAULT_BATCH_RESOURCES.cpu,
    memory: bp.spec.resources?.memory ?? DEFAULT_BATCH_RESOURCES.memory,
  };
  const output: BatchOutputOptions = {
    format: bp.spec.output.format,
    include: [...bp.spec.output.include],
    passthroughColumns: [...(bp.spec.passthroughColumns ?? [])],
    ...(bp.spec.output.include.includes('explanations')
      ? { explanations: bp.spec.output.explanations ?? { ...DEFAULT_BATCH_EXPLANATIONS } }
      : {}),
  };
  const env: Wire<V1EnvVar>[] = [
    ...storeAccess.env,
    literalEnv(BatchEnv.modelUri, run.modelUri),
    { name: BatchEnv.modelDigest, value: run.modelDigest },
    { name: BatchEnv.modelFormat, value: run.modelFormat },
    literalEnv(BatchEnv.input, JSON.stringify(run.input)),
    literalEnv(BatchEnv.output, JSON.stringify(output)),
    literalEnv(BatchEnv.outputUri, run.outputUri),
    { name: BatchEnv.shards, value: String(run.shards) },
    ...(run.statsUri ? [literalEnv(BatchEnv.statsUri, run.statsUri)] : []),
    { name: BatchEnv.maxFailedRecordsPercent, value: String(bp.spec.maxFailedRecordsPercent) },
    // The model's hashed PII columns hash raw values with the namespace's key, as serving does.
    piiKeyEnv(),
    { name: RESULT_PATH_ENV, value: DEFAULT_TERMINATION_MESSAGE_PATH },
    batchNodeOptions(resources.memory),
  ];
  const http = bp.spec.input.http;
  const headersSecret = http?.headersSecretRef?.name;
  if (http && options.httpSource) env.push(...httpSourcePolicyEnv(options.httpSource));
  if (headersSecret) env.push({ name: BatchEnv.httpHeadersDir, value: HEADERS_DIR });
  const sizes = run.input.objects.map((o) => o.sizeBytes);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: batchJobName(bp),
      namespace: bp.metadata.namespace,
      labels,
      annotations: {
        [BatchAnnotation.modelVersion]: run.modelVersion,
        [BatchAnnotation.modelDigest]: run.modelDigest,
        ...(run.dataset
          ? {
              [BatchAnnotation.dataset]: run.dataset.name,
              [BatchAnnotation.datasetVersion]: run.dataset.version,
            }
          : {}),
        [BatchAnnotation.objects]: String(run.input.objects.length),
        // An HTTP input's size is known to its shards only.
        ...(sizes.every((size) => size !== undefined)
          ? { [BatchAnnotation.sizeBytes]: String(sizes.reduce((sum, size) => sum + size, 0)) }
          : {}),
        [BatchAnnotation.outputUri]: run.outputUri,
        ...(run.statsUri ? { [BatchAnnotation.statsUri]: run.statsUri } : {}),
        [BatchAnnotation.grant]: JSON.stringify(options.grant),
      },
      ownerReferences: [options.owner],
    },
    spec: {
      completionMode: 'Indexed',
      completions: run.shards,
      parallelism: Math.min(bp.spec.parallelism, run.shards),
      backoffLimitPerIndex: bp.spec.retriesPerShard,
      ...(bp.spec.activeDeadlineSeconds
        ? { activeDeadlineSeconds: bp.spec.activeDeadlineSeconds }
        : {}),
      podFailurePolicy: {
        rules: [
          {
            action: 'FailJob',
            onExitCodes: {
              containerName: 'batch',
              operator: 'In',
              values: [RuntimeExitCode.invalidEnvironment],
            },
          },
          {
            action: 'FailIndex',
            onExitCodes: {
              containerName: 'batch',
              operator: 'In',
              values: [RuntimeExitCode.failed],
            },
          },
        ],
      },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurityContext,
          containers: [
            {
              name: 'batch',
              image: options.image,
              args: ['batch'],
              env,
              resources: resourceRequirements(resources),
              securityContext: restrictedContainerSecurityContext,
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                storeAccess.volumeMount,
                ...(headersSecret
                  ? [{ name: 'input-headers', mountPath: HEADERS_DIR, readOnly: true }]
                  : []),
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: {} },
            storeAccess.volume,
            ...(headersSecret
              ? [{ name: 'input-headers', secret: { secretName: headersSecret } }]
              : []),
          ],
        },
      },
    },
  };
}
