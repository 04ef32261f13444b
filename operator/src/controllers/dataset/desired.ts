/**
 * The ingestion Job of a Dataset run: pure, from the Dataset, the planned run and the
 * operator's configuration.
 *
 * The pod runs the ingestion program (`runtime-images/ingest`) with the contract's environment
 * (`IngestEnv`): the Dataset's spec as JSON, the object store (credentials that may read
 * the namespace's prefixes and write only this dataset's, from the Dataset's
 * `<dataset>-ingest-store` Secret), and the source's credentials straight from the
 * user's Secrets (`secretKeyRef`, a Secret volume for HTTP headers) — never a credential in
 * the Job itself. An HTTP source also gets the install's address policy (deny/allow CIDRs, the
 * API server's addresses), which the program enforces on every connection. It runs once
 * (`backoffLimit: 0`): the controller retries with backoff and records each attempt. Node.js's heap is bounded below the memory limit, so the program
 * spills to its work volume instead of being OOM-killed.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import { DEFAULT_TERMINATION_MESSAGE_PATH } from '../../../../contract/results.js';
import { IngestEnv, RESULT_PATH_ENV } from '../../../../contract/runtime-env.js';
import type { Dataset } from '../../api/dataset.js';
import type { HttpSourcePolicy } from '../../config.js';
import type { JobObject, Wire } from '../../runtime/builtin-kinds.js';
import { childLabels } from '../../runtime/labels.js';
import type { OwnerReference } from '../../runtime/resource.js';
import { nodeHeapEnv, resourceRequirements } from '../shared/container.js';
import { httpSourcePolicyEnv } from '../shared/http-source-policy.js';
import { literalEnv } from '../shared/kubelet-literal.js';
import {
  CredentialRole,
  type ObjectStoreConfig,
  objectStorePodAccess,
} from '../shared/object-store-access.js';
import { piiKeyEnv } from '../shared/pii-key.js';
import {
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from '../shared/pod-security.js';
import { type PlannedRun, RunAnnotation } from './runs.js';

export const DEFAULT_INGEST_RESOURCES = { cpu: '500m', memory: '512Mi' } as const;
/** A run that takes longer than this is stopped (DeadlineExceeded) and retried. */
export const INGEST_DEADLINE_SECONDS = 6 * 3600;

const WORK_DIR = '/work';
const HEADERS_DIR = '/var/run/lathe/source-headers';

export function desiredIngestJob(
  ds: Dataset,
  run: PlannedRun,
  options: {
    image: string;
    store: ObjectStoreConfig;
    owner: OwnerReference;
    /** Where an HTTP source may connect (the operator's `httpSource`); none: the defaults. */
    httpSource?: HttpSourcePolicy;
  },
): JobObject {
  const name = ds.metadata.name ?? '';
  const namespace = ds.metadata.namespace ?? '';
  const labels = { ...childLabels('Dataset', name), 'app.kubernetes.io/component': 'ingest' };
  const resources = { ...DEFAULT_INGEST_RESOURCES, ...(ds.spec.resources ?? {}) };
  const source = ds.spec.source;

  const storeAccess = objectStorePodAccess(options.store, name, CredentialRole.ingestion);
  const env: Wire<V1EnvVar>[] = [
    ...storeAccess.env,
    { name: IngestEnv.namespace, value: namespace },
    { name: IngestEnv.name, value: name },
    // The spec is the user's text (URLs, keys, a query): the kubelet must expand nothing in it.
    literalEnv(IngestEnv.spec, JSON.stringify(ds.spec)),
    { name: IngestEnv.workDir, value: WORK_DIR },
    { name: RESULT_PATH_ENV, value: DEFAULT_TERMINATION_MESSAGE_PATH },
    nodeHeapEnv(resources.memory),
  ];
  if (source.s3?.credentialsSecretRef) {
    const secret = source.s3.credentialsSecretRef.name;
    env.push(
      {
        name: IngestEnv.s3AccessKey,
        valueFrom: { secretKeyRef: { name: secret, key: 'AWS_ACCESS_KEY_ID' } },
      },
      {
        name: IngestEnv.s3SecretKey,
        valueFrom: { secretKeyRef: { name: secret, key: 'AWS_SECRET_ACCESS_KEY' } },
      },
    );
  }
  if (source.postgres) {
    const ref = source.postgres.connectionSecretRef;
    env.push({
      name: IngestEnv.postgresUri,
      valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } },
    });
  }
  if (source.http && options.httpSource) env.push(...httpSourcePolicyEnv(options.httpSource));
  // A PII column with Hash is hashed with the namespace's key (`shared/pii-key.ts`).
  if (ds.spec.preparation.pii?.some((p) => p.action === 'Hash')) env.push(piiKeyEnv());
  const headersSecret = source.http?.headersSecretRef?.name;
  if (headersSecret) env.push({ name: IngestEnv.httpHeadersDir, value: HEADERS_DIR });

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: run.jobName,
      namespace,
      labels,
      annotations: {
        [RunAnnotation.generation]: String(run.generation),
        [RunAnnotation.trigger]: run.trigger,
        [RunAnnotation.attempt]: String(run.attempt),
        [RunAnnotation.request]: run.request,
      },
      ownerReferences: [options.owner],
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: INGEST_DEADLINE_SECONDS,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurityContext,
          containers: [
            {
              name: 'ingest',
              image: options.image,
              env,
              resources: resourceRequirements(resources),
              securityContext: restrictedContainerSecurityContext,
              // A crash before the program wrote its result still says why.
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: [
                { name: 'work', mountPath: WORK_DIR },
                { name: 'tmp', mountPath: '/tmp' },
                storeAccess.volumeMount,
                ...(headersSecret
                  ? [{ name: 'source-headers', mountPath: HEADERS_DIR, readOnly: true }]
                  : []),
              ],
            },
          ],
          volumes: [
            { name: 'work', emptyDir: {} },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            storeAccess.volume,
            ...(headersSecret
              ? [{ name: 'source-headers', secret: { secretName: headersSecret } }]
              : []),
          ],
        },
      },
    },
  };
}
