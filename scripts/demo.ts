/**
 * `npm run demo`: the main job on the local cluster, end to end, narrated.
 *
 * Until training and serving land, it covers what exists: the local cluster comes up; Lathe's
 * CRDs and the operator are installed with Helm; a model artifact is registered as the
 * `ModelVersion` of `examples/modelversion-iris.yaml`, which the operator verifies against the
 * object store (and a tampered one it refuses); and the process node runs a Job and a
 * Deployment that answers HTTP on its pod IPs. The cluster is left running for exploration.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import {
  isHealthy,
  objectStoreNamespace,
  objectStoreSecretName,
  up,
} from '../e2e/cluster/cluster.js';
import {
  clusterInfo,
  eventually,
  helm,
  kubeConfig,
  kubectl,
  kubectlOrThrow,
  repoRoot,
} from '../e2e/cluster/testenv.js';
import { manifestFor } from '../operator/src/contract/manifest.js';
import { modelVersionPrefix } from '../operator/src/contract/object-store-layout.js';
import { ObjectStore } from '../operator/src/storage/object-store.js';

const step = (text: string) => console.log(`\n==> ${text}`);

const namespace = 'lathe-demo';

const jobManifest = `
apiVersion: batch/v1
kind: Job
metadata: { name: hello, namespace: ${namespace} }
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: hello
        image: lathe.dev/test/busybox
        command: [sh, -c, 'echo "hello from $(hostname) as pod $POD_NAME"; echo sha256 of this pod name: $(echo -n $POD_NAME | sha256sum | cut -c1-16)']
        env:
        - name: POD_NAME
          valueFrom: { fieldRef: { fieldPath: metadata.name } }
`;

const deploymentManifest = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: ${namespace} }
spec:
  replicas: 2
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo } }
    spec:
      containers:
      - name: http
        image: lathe.dev/test/http
        env:
        - name: POD_IP
          valueFrom: { fieldRef: { fieldPath: status.podIP } }
        - name: POD_NAME
          valueFrom: { fieldRef: { fieldPath: metadata.name } }
        readinessProbe:
          httpGet: { path: /healthz, port: 8080 }
          periodSeconds: 1
`;

async function main(): Promise<void> {
  step('Bringing the local cluster up (first run builds its components: ~10 minutes, once)');
  if (await isHealthy()) console.log('A local cluster is already running; using it.');
  else await up();
  const info = clusterInfo();
  console.log(await kubectlOrThrow(['get', 'nodes', '-o', 'wide']));

  await kubectl(['create', 'namespace', namespace]);
  await eventually(() => kubectlOrThrow(['-n', namespace, 'get', 'serviceaccount', 'default']), {
    what: 'default ServiceAccount',
  });

  step("Installing Lathe's CRDs and the operator with Helm (namespace lathe-system)");
  const installed = await helm(
    [
      'upgrade',
      '--install',
      'lathe',
      path.join(repoRoot, 'charts/lathe'),
      '--namespace',
      objectStoreNamespace,
      '--set',
      `objectStore.endpoint=${info.minio.endpoint}`,
      '--set',
      `objectStore.credentialsSecret.name=${objectStoreSecretName}`,
      '--wait',
      '--timeout',
      '180s',
    ],
    { timeoutMs: 200_000 },
  );
  if (installed.code !== 0) throw new Error(`helm install failed:\n${installed.stderr}`);
  console.log(
    await kubectlOrThrow([
      '-n',
      objectStoreNamespace,
      'get',
      'deployment,pods',
      '-l',
      'app.kubernetes.io/name=lathe',
    ]),
  );

  step('Registering a trained model: artifact in MinIO, ModelVersion in the cluster');
  const store = new ObjectStore(info.minio);
  const register = async (name: string, version: number, tamper: boolean) => {
    const prefix = modelVersionPrefix(namespace, 'iris', version);
    const files = {
      'model.json': Buffer.from('{"format":"layers-model","modelTopology":{}}'),
      'group1-shard1of1.bin': randomBytes(4096),
    };
    const { manifest, digest } = manifestFor(files);
    for (const [file, bytes] of Object.entries(files))
      await store.write(info.minio.bucket, `${prefix}${file}`, bytes);
    await store.write(info.minio.bucket, `${prefix}manifest.json`, manifest);
    // A tampered artifact: a weight shard changes after its digest was recorded.
    if (tamper)
      await store.write(info.minio.bucket, `${prefix}group1-shard1of1.bin`, randomBytes(4096));
    const example = parse(
      await readFile(path.join(repoRoot, 'examples/modelversion-iris.yaml'), 'utf8'),
    );
    example.metadata = { name, namespace };
    example.spec.version = version;
    example.spec.stage = tamper ? 'staging' : 'production';
    example.spec.artifact = {
      ...example.spec.artifact,
      uri: `s3://${info.minio.bucket}/${prefix}`,
      digest,
    };
    await kubectlOrThrow(['apply', '-f', '-'], { input: stringify(example) });
    console.log(
      `modelversion/${name}: s3://${info.minio.bucket}/${prefix} ${digest}${tamper ? ' (then tampered with)' : ''}`,
    );
  };
  await register('iris-v1', 1, false);
  await register('iris-v2', 2, true);
  await kubectlOrThrow([
    '-n',
    namespace,
    'wait',
    '--for=condition=Ready',
    'modelversion/iris-v1',
    '--timeout=60s',
  ]);
  await kubectlOrThrow([
    '-n',
    namespace,
    'wait',
    '--for=condition=Stalled',
    'modelversion/iris-v2',
    '--timeout=60s',
  ]);
  console.log(await kubectlOrThrow(['-n', namespace, 'get', 'lathe']));
  const refused = await kubectlOrThrow([
    '-n',
    namespace,
    'get',
    'modelversion/iris-v2',
    '-o',
    "jsonpath={.status.conditions[?(@.type=='Stalled')].message}",
  ]);
  console.log(`iris-v2 is refused: ${refused}`);

  step(`Running a Job and a Deployment on the process node (namespace ${namespace})`);
  await kubectl(['-n', namespace, 'delete', 'job', 'hello', '--ignore-not-found', '--wait=true']);
  await kubectlOrThrow(['apply', '-f', '-'], { input: jobManifest });
  await kubectlOrThrow(['apply', '-f', '-'], { input: deploymentManifest });
  await kubectlOrThrow([
    '-n',
    namespace,
    'wait',
    '--for=condition=Complete',
    'job/hello',
    '--timeout=120s',
  ]);
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const [jobPod] = (await core.listNamespacedPod({ namespace, labelSelector: 'job-name=hello' }))
    .items;
  console.log(
    `job/hello is Complete; pod ${jobPod?.metadata?.name} exited ${jobPod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode}`,
  );

  await kubectlOrThrow(['-n', namespace, 'rollout', 'status', 'deployment/echo', '--timeout=120s']);
  const pods = (await core.listNamespacedPod({ namespace, labelSelector: 'app=echo' })).items;
  for (const pod of pods) {
    const ip = pod.status?.podIP;
    const body = await (await fetch(`http://${ip}:8080/`)).text();
    console.log(`GET http://${ip}:8080/ -> ${body}`);
  }

  step('Done. The cluster is still running:');
  console.log(`  source .lathe/env.sh && kubectl get all -n ${namespace}
  MinIO: ${info.minio.endpoint} (credentials in .lathe/minio.env)
  Stop it with: npm run cluster:down`);
}

main().catch((error: Error) => {
  console.error(`\nThe demo failed: ${error.message}`);
  process.exit(1);
});
