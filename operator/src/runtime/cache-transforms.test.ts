import { describe, expect, it } from 'vitest';
import { deploymentFailure, podFailure } from '../controllers/inferenceservice/rollout.js';
import { observeJobRun, podsOfJob } from '../controllers/shared/job-run.js';
import type { DeploymentObject, JobObject, PodObject } from './builtin-kinds.js';
import { cachedPod, cachedWorkload, defaultCacheTransforms } from './cache-transforms.js';
import { builtin, gvkString } from './resource.js';

const podSpec = {
  restartPolicy: 'Never',
  serviceAccountName: 'default',
  nodeName: 'lathe-node',
  securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  volumes: [{ name: 'tmp', emptyDir: {} }],
  tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }],
  containers: [
    {
      name: 'trainer',
      image: 'ghcr.io/lathe-dev/lathe-trainer:0.1.0',
      env: [
        { name: 'LATHE_RUN', value: 'runs/ns/tj/' },
        { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's', key: 'a' } } },
      ],
      resources: { limits: { cpu: '1', memory: '1Gi' } },
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
      terminationMessagePolicy: 'FallbackToLogsOnError',
    },
  ],
};

const job = (status: JobObject['status'], suspend = false): JobObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: {
    name: 'tj-train-g1',
    namespace: 'ns',
    uid: 'job-uid',
    labels: { 'app.kubernetes.io/managed-by': 'lathe', 'lathe.dev/trainingjob': 'tj' },
    annotations: { 'lathe.dev/dataset-version': 'v1' },
    ownerReferences: [
      {
        apiVersion: 'lathe.dev/v1alpha1',
        kind: 'TrainingJob',
        name: 'tj',
        uid: 't',
        controller: true,
      },
    ],
  },
  spec: {
    backoffLimit: 2,
    suspend,
    selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'job-uid' } },
    template: { metadata: { labels: { 'lathe.dev/trainingjob': 'tj' } }, spec: podSpec },
  },
  status,
});

const pod = (name: string, created: string, status: PodObject['status']): PodObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'ns',
    uid: `${name}-uid`,
    creationTimestamp: created,
    labels: {
      'batch.kubernetes.io/controller-uid': 'job-uid',
      'lathe.dev/trainingjob': 'tj',
      'lathe.dev/version': '3',
    },
    ownerReferences: [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        name: 'tj-train-g1',
        uid: 'job-uid',
        controller: true,
      },
    ],
  },
  spec: podSpec as PodObject['spec'],
  status,
});

const cases: { what: string; job: JobObject; pods: PodObject[] }[] = [
  { what: 'no pod yet', job: job({}), pods: [] },
  { what: 'suspended', job: job({}, true), pods: [] },
  {
    what: 'unschedulable for lack of GPUs',
    job: job({ active: 1 }),
    pods: [
      pod('p1', '2026-01-01T00:00:00Z', {
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
          },
        ],
      }),
    ],
  },
  {
    what: 'an image that cannot be pulled (the message names the spec image)',
    job: job({ active: 1 }),
    pods: [
      pod('p1', '2026-01-01T00:00:00Z', {
        phase: 'Pending',
        containerStatuses: [
          {
            name: 'trainer',
            image: 'ghcr.io/lathe-dev/lathe-trainer:0.1.0',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ImagePullBackOff' } },
          },
        ],
      }),
    ],
  },
  {
    what: 'running',
    job: job({ active: 1, startTime: '2026-01-01T00:00:01Z' }),
    pods: [
      pod('p1', '2026-01-01T00:00:00Z', { phase: 'Running', startTime: '2026-01-01T00:00:02Z' }),
    ],
  },
  {
    what: 'succeeded with a termination message',
    job: job({
      succeeded: 1,
      startTime: '2026-01-01T00:00:01Z',
      completionTime: '2026-01-01T00:05:00Z',
      conditions: [{ type: 'Complete', status: 'True' }],
    }),
    pods: [
      pod('p1', '2026-01-01T00:00:00Z', {
        phase: 'Succeeded',
        containerStatuses: [
          {
            name: 'trainer',
            image: 'x',
            imageID: 'y',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 0, message: '{"ok":true}' } },
          },
        ],
      }),
    ],
  },
  {
    what: 'failed, killed for memory, after a restart',
    job: job({
      failed: 2,
      conditions: [
        { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'x' },
      ],
    }),
    pods: [
      pod('p2', '2026-01-01T00:01:00Z', {
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'trainer',
            image: 'x',
            imageID: 'y',
            ready: false,
            restartCount: 1,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
            lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
          },
        ],
      }),
      pod('p1', '2026-01-01T00:00:00Z', { phase: 'Failed' }),
    ],
  },
];

describe('cache transforms', () => {
  it('keep metadata and status of a Pod whole, and only names, images and node of its spec', () => {
    const full = pod('p1', '2026-01-01T00:00:00Z', { phase: 'Running', podIP: '10.0.0.7' });
    const before = structuredClone(full);
    const cut = cachedPod(full);
    expect(full).toEqual(before);
    expect(cut.metadata).toEqual(full.metadata);
    expect(cut.status).toEqual(full.status);
    expect(cut.spec).toEqual({
      containers: [{ name: 'trainer', image: 'ghcr.io/lathe-dev/lathe-trainer:0.1.0' }],
      nodeName: 'lathe-node',
    });
    expect(JSON.stringify(cut).length).toBeLessThan(JSON.stringify(full).length / 2);
  });

  it('keep a Job spec but cut its pod template to names and images', () => {
    const full = job({ active: 1 });
    const cut = cachedWorkload(full) as JobObject;
    expect(cut.metadata).toEqual(full.metadata);
    expect(cut.spec?.backoffLimit).toBe(2);
    expect(cut.spec?.selector).toEqual(full.spec?.selector);
    expect(cut.spec?.template.metadata).toEqual(full.spec?.template.metadata);
    expect(cut.spec?.template.spec).toEqual({
      containers: [{ name: 'trainer', image: 'ghcr.io/lathe-dev/lathe-trainer:0.1.0' }],
      nodeName: 'lathe-node',
    });
  });

  it('leave objects without a spec as they are', () => {
    const bare = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } };
    expect(cachedPod(bare)).toBe(bare);
    expect(cachedWorkload(bare)).toBe(bare);
  });

  it('apply to Pods, Jobs and Deployments only', () => {
    expect(Object.keys(defaultCacheTransforms).sort()).toEqual(
      [builtin.deployment, builtin.job, builtin.pod].map(gvkString).sort(),
    );
  });

  it.each(cases)('give the Job-run reader the same answer on cut objects: $what', (c) => {
    const full = observeJobRun(c.job, podsOfJob(c.job, c.pods));
    const cutJob = cachedWorkload(c.job) as JobObject;
    const cutPods = c.pods.map((p) => cachedPod(p) as PodObject);
    expect(observeJobRun(cutJob, podsOfJob(cutJob, cutPods))).toEqual(full);
    expect(podFailure(cutPods)).toEqual(podFailure(c.pods));
  });

  it('give the serving readers the same answer on a cut Deployment', () => {
    const deployment: DeploymentObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'isvc-v3', namespace: 'ns', labels: { 'lathe.dev/version': '3' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { 'lathe.dev/version': '3' } },
        template: { metadata: { labels: { 'lathe.dev/version': '3' } }, spec: podSpec },
      } as DeploymentObject['spec'],
      status: {
        availableReplicas: 1,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "isvc-v3-abc" has timed out progressing.',
          },
        ],
      },
    };
    const cut = cachedWorkload(deployment) as DeploymentObject;
    expect(deploymentFailure(cut)).toEqual(deploymentFailure(deployment));
    expect(cut.spec?.replicas).toBe(2);
    expect(cut.status).toEqual(deployment.status);
  });
});
