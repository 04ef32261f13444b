/**
 * What a RetrainPolicy makes. Pure: the policy and the operator's configuration in.
 *
 * - For the schedule trigger: a CronJob whose pod runs the retrain trigger
 *   (`runtime-images/retrain`), under a ServiceAccount bound to a Role that can only create and
 *   list TrainingJobs in the namespace.
 *   The CronJob exists for every policy — suspended, without a schedule trigger — because its
 *   annotations hold the triggers' record (`trigger-record.ts`).
 * - For the other triggers (a new dataset version, drift, live accuracy, a manual request): the
 *   TrainingJob itself, built by the builder the retrain program uses too
 *   (`contract/retrain-run.ts`), named after what triggered it so it is made once.
 * - For a champion/challenger decision: an evaluation Job that scores the champion's artifact
 *   on the challenger's test split (the trainer image in `evaluate` mode).
 */

import { DEFAULT_TERMINATION_MESSAGE_PATH } from '../../../../contract/results.js';
import {
  type RetrainTrainingJob,
  type RetrainTrigger,
  retrainTrainingJob,
} from '../../../../contract/retrain-run.js';
import {
  EvaluateEnv,
  RESULT_PATH_ENV,
  RetrainEnv,
  TrainEnv,
} from '../../../../contract/runtime-env.js';
import type { TrainingFairness } from '../../api/fairness.js';
import type { RetrainPolicy } from '../../api/retrainpolicy.js';
import type { TrainingJobInput } from '../../api/trainingjob.js';
import type {
  CronJobObject,
  JobObject,
  RoleBindingObject,
  RoleObject,
  ServiceAccountObject,
} from '../../runtime/builtin-kinds.js';
import { childLabels } from '../../runtime/labels.js';
import type { OwnerReference } from '../../runtime/resource.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import { resourceRequirements } from '../shared/container.js';
import { literalEnv } from '../shared/kubelet-literal.js';
import { childName, shortHash } from '../shared/names.js';
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

export {
  POLICY_LABEL,
  /** The annotation a user sets on the policy (to any new value) to run now. */
  RUN_NOW_ANNOTATION,
  TRIGGER_LABEL,
} from '../../../../contract/retrain-run.js';

export type Trigger = RetrainTrigger;

/** The annotation of an evaluation Job naming the challenger ModelVersion it is for. */
export const CHALLENGER_ANNOTATION = 'lathe.dev/challenger';

/** The ServiceAccount, Role and RoleBinding of the retrain trigger. */
export function triggerIdentityName(policy: string): string {
  return childName(policy, 'retrain');
}

/** CronJob names are limited to 52 characters (their Jobs add a suffix). */
export function cronJobName(policy: string): string {
  return childName(policy, 'retrain', 52);
}

export function triggerIdentity(
  policy: RetrainPolicy,
  owner: OwnerReference,
): { serviceAccount: ServiceAccountObject; role: RoleObject; roleBinding: RoleBindingObject } {
  const name = triggerIdentityName(policy.metadata.name ?? '');
  const namespace = policy.metadata.namespace;
  const metadata = {
    name,
    namespace,
    labels: childLabels('RetrainPolicy', policy.metadata.name ?? ''),
    ownerReferences: [owner],
  };
  return {
    serviceAccount: {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata,
      automountServiceAccountToken: false,
    },
    role: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata,
      rules: [{ apiGroups: ['lathe.dev'], resources: ['trainingjobs'], verbs: ['create', 'list'] }],
    },
    roleBinding: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  };
}

/**
 * The policy's CronJob: the schedule trigger (suspended without one, or while the policy is),
 * carrying the triggers' record as annotations.
 */
export function desiredCronJob(
  policy: RetrainPolicy,
  options: { image: string; owner: OwnerReference; record: Record<string, string> },
): CronJobObject {
  const name = policy.metadata.name ?? '';
  const schedule = policy.spec.triggers.schedule;
  const labels = {
    ...childLabels('RetrainPolicy', name),
    'app.kubernetes.io/component': 'retrain-trigger',
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      name: cronJobName(name),
      namespace: policy.metadata.namespace,
      labels,
      annotations: options.record,
      ownerReferences: [options.owner],
    },
    spec: {
      // Without a schedule trigger the CronJob never fires: it only holds the record.
      schedule: schedule?.cron ?? '0 0 1 1 *',
      timeZone: schedule?.timeZone ?? 'Etc/UTC',
      // Overlapping trigger pods are pointless; the runs' own concurrency is the policy's.
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 1,
      suspend: policy.spec.suspend || !schedule,
      jobTemplate: {
        metadata: { labels },
        spec: {
          backoffLimit: 3,
          activeDeadlineSeconds: 300,
          template: {
            metadata: { labels },
            spec: {
              restartPolicy: 'Never',
              serviceAccountName: triggerIdentityName(name),
              automountServiceAccountToken: true,
              securityContext: restrictedPodSecurityContext,
              containers: [
                {
                  name: 'trigger',
                  image: options.image,
                  env: [
                    { name: RetrainEnv.namespace, value: policy.metadata.namespace ?? '' },
                    { name: RetrainEnv.policy, value: name },
                    { name: RetrainEnv.policyUid, value: policy.metadata.uid ?? '' },
                    literalEnv(RetrainEnv.template, JSON.stringify(policy.spec.template)),
                    { name: RetrainEnv.concurrencyPolicy, value: policy.spec.concurrencyPolicy },
                    {
                      name: RetrainEnv.runName,
                      valueFrom: {
                        fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" },
                      },
                    },
                  ],
                  resources: resourceRequirements({ cpu: '50m', memory: '256Mi' }),
                  securityContext: restrictedContainerSecurityContext,
                  terminationMessagePolicy: 'FallbackToLogsOnError',
                },
              ],
            },
          },
        },
      },
    },
  };
}

/** The name of a run the controller starts, from what triggered it. */
export function runName(
  policy: string,
  trigger: Exclude<Trigger, 'schedule'>,
  token: string,
): string {
  const short = { datasetChange: 'data', drift: 'drift', accuracy: 'accuracy', manual: 'manual' }[
    trigger
  ];
  return childName(policy, `${short}-${shortHash(token)}`);
}

/**
 * A TrainingJob the controller starts for `run`, from the template (`datasetVersion` pins the
 * data when given), carrying what it was started for.
 */
export function desiredRun(
  policy: RetrainPolicy,
  run: {
    name: string;
    trigger: Exclude<Trigger, 'schedule'>;
    datasetVersion?: string;
    manualRequest?: string;
    readingTime?: string;
  },
): RetrainTrainingJob<TrainingJobInput['spec']> {
  return retrainTrainingJob({
    namespace: policy.metadata.namespace ?? '',
    policy: { name: policy.metadata.name ?? '', uid: policy.metadata.uid ?? '' },
    name: run.name,
    trigger: run.trigger,
    template: {
      ...(policy.spec.template.metadata ? { metadata: policy.spec.template.metadata } : {}),
      spec: policy.spec.template.spec as TrainingJobInput['spec'],
    },
    ...(run.datasetVersion ? { datasetVersion: run.datasetVersion } : {}),
    ...(run.manualRequest !== undefined ? { manualRequest: run.manualRequest } : {}),
    ...(run.readingTime ? { readingTime: run.readingTime } : {}),
    blockOwnerDeletion: true,
  });
}

/** Scores `champion`'s artifact on the test split of the dataset version at `datasetUri`. */
export function desiredEvaluationJob(
  policy: RetrainPolicy,
  input: {
    name: string;
    champion: ModelVersionObject;
    /** The challenger ModelVersion the evaluation is for (named in an annotation). */
    challenger?: string;
    datasetUri: string;
    task: 'classification' | 'regression';
    image: string;
    store: ObjectStoreConfig;
    owner: OwnerReference;
    /** The challenger run's `spec.fairness`, when its rules compare with the champion. */
    fairness?: TrainingFairness | undefined;
  },
): JobObject {
  const labels = {
    ...childLabels('RetrainPolicy', policy.metadata.name ?? ''),
    'app.kubernetes.io/component': 'evaluate',
  };
  const storeAccess = objectStorePodAccess(
    input.store,
    policy.metadata.name ?? '',
    CredentialRole.evaluation,
  );
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.name,
      namespace: policy.metadata.namespace,
      labels,
      ...(input.challenger ? { annotations: { [CHALLENGER_ANNOTATION]: input.challenger } } : {}),
      ownerReferences: [input.owner],
    },
    spec: {
      backoffLimit: 1,
      activeDeadlineSeconds: 1800,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurityContext,
          containers: [
            {
              name: 'evaluate',
              image: input.image,
              args: ['evaluate'],
              env: [
                ...storeAccess.env,
                literalEnv(EvaluateEnv.modelUri, input.champion.spec.artifact.uri),
                { name: EvaluateEnv.modelDigest, value: input.champion.spec.artifact.digest },
                { name: EvaluateEnv.datasetUri, value: input.datasetUri },
                // Raw values of the champion's hashed PII columns are hashed with it.
                piiKeyEnv(),
                { name: TrainEnv.task, value: input.task },
                { name: RESULT_PATH_ENV, value: DEFAULT_TERMINATION_MESSAGE_PATH },
                // The champion's disparities too, for rules that compare with it.
                ...(input.fairness
                  ? [literalEnv(TrainEnv.fairness, JSON.stringify(input.fairness))]
                  : []),
              ],
              resources: resourceRequirements({ cpu: '500m', memory: '1Gi' }),
              securityContext: restrictedContainerSecurityContext,
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, storeAccess.volumeMount],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }, storeAccess.volume],
        },
      },
    },
  };
}
