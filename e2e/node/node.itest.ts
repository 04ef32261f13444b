/**
 * The process node on the real local cluster: workloads a user applies go through the API
 * server, admission, the scheduler and the controllers, and the node runs them.
 */
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubeConfig,
  kubectl,
} from '../cluster/testenv.js';

let core: k8s.CoreV1Api;
let batch: k8s.BatchV1Api;
let namespace: string;

async function apply(manifest: string): Promise<void> {
  const result = await kubectl(['apply', '-n', namespace, '-f', '-'], { input: manifest });
  if (result.code !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
}

async function podsWithLabel(selector: string): Promise<k8s.V1Pod[]> {
  return (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
}

async function pod(name: string): Promise<k8s.V1Pod> {
  return core.readNamespacedPod({ name, namespace });
}

async function getText(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

beforeAll(async () => {
  const kc = kubeConfig();
  core = kc.makeApiClient(k8s.CoreV1Api);
  batch = kc.makeApiClient(k8s.BatchV1Api);
  namespace = await createTestNamespace('node');
  // Pods are admitted only once the service account controller made the default account.
  await eventually(() => core.readNamespacedServiceAccount({ name: 'default', namespace }), {
    what: 'default service account',
  });
});

afterAll(async () => {
  if (namespace) await deleteTestNamespace(namespace);
});

describe('the process node', () => {
  it('is Ready and advertises GPUs', async () => {
    const node = await core.readNode({ name: clusterInfo().nodeName });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status?.allocatable?.['nvidia.com/gpu']).toBeDefined();
    expect(node.metadata?.labels?.['kubernetes.io/os']).toBe('linux');
  });

  it('runs a Job to completion, and deleting the Job garbage-collects its pods', async () => {
    await apply(`
apiVersion: batch/v1
kind: Job
metadata: {name: done}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: lathe.dev/test/busybox
        command: [sh, -c, 'echo working; sleep 1; echo finished']
`);
    await eventually(
      async () => {
        const job = await batch.readNamespacedJob({ name: 'done', namespace });
        const complete = job.status?.conditions?.find((c) => c.type === 'Complete');
        if (complete?.status !== 'True')
          throw new Error(`Job not Complete: ${JSON.stringify(job.status)}`);
      },
      { timeoutMs: 60_000, what: 'Job Complete' },
    );
    const [jobPod] = await podsWithLabel('job-name=done');
    expect(jobPod?.status?.phase).toBe('Succeeded');
    expect(jobPod?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });

    await batch.deleteNamespacedJob({ name: 'done', namespace, propagationPolicy: 'Background' });
    await eventually(
      async () => {
        const left = await podsWithLabel('job-name=done');
        if (left.length > 0) throw new Error(`${left.length} pods of the deleted Job remain`);
      },
      { timeoutMs: 60_000, what: 'Job pods garbage-collected' },
    );
  });

  it('fires a Job from a CronJob', async () => {
    await apply(`
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: '* * * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: main, image: lathe.dev/test/busybox, command: [echo, tick]}
`);
    await eventually(
      async () => {
        const jobs = await batch.listNamespacedJob({ namespace });
        const fired = jobs.items.filter((j) => j.metadata?.ownerReferences?.[0]?.name === 'tick');
        const done = fired.find((j) =>
          j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'),
        );
        if (!done) throw new Error(`no completed Job from the CronJob yet (${fired.length} fired)`);
      },
      { timeoutMs: 150_000, intervalMs: 2_000, what: 'CronJob fired a Job' },
    );
  });

  it('runs a Deployment whose pods are Ready and answer HTTP on their own pod IPs', async () => {
    await apply(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: http
        image: lathe.dev/test/http
        ports: [{name: http, containerPort: 8080}]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
        livenessProbe: {tcpSocket: {port: 8080}, periodSeconds: 2}
`);
    const pods = await eventually(
      async () => {
        const ready = (await podsWithLabel('app=web')).filter(
          (p) =>
            p.status?.phase === 'Running' &&
            p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        if (ready.length !== 2) throw new Error(`${ready.length}/2 pods Running and Ready`);
        return ready;
      },
      { timeoutMs: 90_000, what: 'Deployment pods Ready' },
    );
    const ips = pods.map((p) => p.status?.podIP);
    expect(new Set(ips).size).toBe(2);
    for (const p of pods) {
      const body = JSON.parse(await getText(`http://${p.status?.podIP}:8080/`));
      expect(body).toEqual({ pod: p.metadata?.name, ip: p.status?.podIP });
    }
  });

  it('gives a process secrets and config maps as env and as files', async () => {
    await apply(`
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast, 'app.conf': 'threads=4'}
---
apiVersion: v1
kind: Pod
metadata: {name: volumes}
spec:
  containers:
  - name: http
    image: lathe.dev/test/http
    env:
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}
    - {name: LABEL, value: 'mode-$(MODE)'}
    volumeMounts:
    - {name: creds, mountPath: /etc/creds}
    - {name: settings, mountPath: /etc/app}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - {name: creds, secret: {secretName: creds}}
  - {name: settings, configMap: {name: settings}}
  - {name: scratch, emptyDir: {}}
`);
    const ip = await eventually(
      async () => {
        const p = await pod('volumes');
        await getText(`http://${p.status?.podIP}:8080/healthz`);
        return p.status?.podIP;
      },
      { timeoutMs: 60_000, what: 'pod answering' },
    );
    const base = `http://${ip}:8080`;
    expect(await getText(`${base}/env/PASSWORD`)).toBe('s3cret');
    expect(await getText(`${base}/env/MODE`)).toBe('fast');
    expect(await getText(`${base}/env/LABEL`)).toBe('mode-fast');
    expect(await getText(`${base}/env/KUBERNETES_SERVICE_HOST`)).toBeTruthy();
    expect(await getText(`${base}/file?path=/etc/creds/password`)).toBe('s3cret');
    expect(await getText(`${base}/file?path=/etc/app/app.conf`)).toBe('threads=4');
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    expect(await getText(`${base}/file?path=${sa}/namespace`)).toBe(namespace);
    expect(await getText(`${base}/file?path=${sa}/token`)).toMatch(/^ey/);
    expect(await getText(`${base}/file?path=${sa}/ca.crt`)).toContain('BEGIN CERTIFICATE');
  });

  it('reports a failing container’s exit code, Error and termination message', async () => {
    await apply(`
apiVersion: v1
kind: Pod
metadata: {name: fails}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: lathe.dev/test/busybox
    command: [sh, -c, 'echo "model not found" > /dev/termination-log; exit 3']
`);
    const failed = await eventually(
      async () => {
        const p = await pod('fails');
        if (p.status?.phase !== 'Failed') throw new Error(`phase ${p.status?.phase}`);
        return p;
      },
      { timeoutMs: 60_000, what: 'pod Failed' },
    );
    expect(failed.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 3,
      reason: 'Error',
      message: 'model not found\n',
    });
  });

  it('leaves a pod with an unmapped image Waiting with ErrImagePull', async () => {
    await apply(`
apiVersion: v1
kind: Pod
metadata: {name: unmapped}
spec:
  containers: [{name: main, image: 'example.com/not/here:1.0'}]
`);
    const waiting = await eventually(
      async () => {
        const state = (await pod('unmapped')).status?.containerStatuses?.[0]?.state?.waiting;
        if (!state?.reason?.match(/^(ErrImagePull|ImagePullBackOff)$/)) {
          throw new Error(`waiting: ${JSON.stringify(state)}`);
        }
        return state;
      },
      { timeoutMs: 30_000, what: 'ErrImagePull' },
    );
    expect(waiting.message).toContain('example.com/not/here');
  });

  it('keeps a pod that wants more GPUs than the node has Pending', async () => {
    await apply(`
apiVersion: v1
kind: Pod
metadata: {name: greedy}
spec:
  containers:
  - name: main
    image: lathe.dev/test/busybox
    command: [sleep, '60']
    resources: {limits: {nvidia.com/gpu: '64'}}
`);
    await eventually(
      async () => {
        const p = await pod('greedy');
        const scheduled = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
        if (!scheduled?.message?.includes('Insufficient nvidia.com/gpu')) {
          throw new Error(`PodScheduled: ${JSON.stringify(scheduled)}`);
        }
        expect(p.status?.phase).toBe('Pending');
        expect(p.spec?.nodeName).toBeUndefined();
      },
      { timeoutMs: 30_000, what: 'Insufficient nvidia.com/gpu' },
    );
  });

  it('rejects a root pod in a namespace enforcing the restricted pod security standard', async () => {
    const restricted = await createTestNamespace('restricted', {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    try {
      await eventually(
        () => core.readNamespacedServiceAccount({ name: 'default', namespace: restricted }),
        { what: 'default service account' },
      );
      const result = await kubectl(['apply', '-n', restricted, '-f', '-'], {
        input: `
apiVersion: v1
kind: Pod
metadata: {name: root}
spec:
  containers:
  - name: main
    image: lathe.dev/test/busybox
    command: [sleep, '60']
    securityContext: {runAsUser: 0}
`,
      });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/violates PodSecurity "restricted/);
    } finally {
      await deleteTestNamespace(restricted);
    }
  });
});
