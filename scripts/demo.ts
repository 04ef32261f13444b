/**
 * `npm run demo`: the main job on the local cluster, end to end, narrated.
 *
 * Until training and serving land, it brings the local cluster up and shows the process node
 * running a Job and a Deployment that answers HTTP on its pod IPs. The cluster is left running
 * for exploration.
 */
import * as k8s from '@kubernetes/client-node';
import { isHealthy, up } from '../e2e/cluster/cluster.js';
import { clusterInfo, eventually, kubeConfig, kubectl } from '../e2e/cluster/testenv.js';

const step = (text: string) => console.log(`\n==> ${text}`);

async function must(args: string[], input?: string): Promise<string> {
  const result = await kubectl(args, input === undefined ? {} : { input });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

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
  console.log(await must(['get', 'nodes', '-o', 'wide']));

  step(`Running a Job and a Deployment on the process node (namespace ${namespace})`);
  await kubectl(['create', 'namespace', namespace]);
  await eventually(() => must(['-n', namespace, 'get', 'serviceaccount', 'default']), {
    what: 'default ServiceAccount',
  });
  await kubectl(['-n', namespace, 'delete', 'job', 'hello', '--ignore-not-found', '--wait=true']);
  await must(['apply', '-f', '-'], jobManifest);
  await must(['apply', '-f', '-'], deploymentManifest);
  await must(['-n', namespace, 'wait', '--for=condition=Complete', 'job/hello', '--timeout=120s']);
  const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  const [jobPod] = (await core.listNamespacedPod({ namespace, labelSelector: 'job-name=hello' }))
    .items;
  console.log(
    `job/hello is Complete; pod ${jobPod?.metadata?.name} exited ${jobPod?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode}`,
  );

  await must(['-n', namespace, 'rollout', 'status', 'deployment/echo', '--timeout=120s']);
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
