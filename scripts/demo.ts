/**
 * `npm run demo`: the whole loop on the local cluster, narrated as it happens.
 *
 * The local cluster comes up; Lathe is installed with its Helm chart; the examples are applied
 * (a Dataset, a TrainingJob, an InferenceService and a RetrainPolicy); the demo follows the
 * ingestion, the training epoch by epoch, the ModelVersion's verification, promotes it to
 * production, waits for the InferenceService, and sends predictions through its Service on both
 * protocols. It prints the evaluation metrics, a request and its response, and the commands to
 * try next, and leaves the cluster running. A failure names the step and the object to
 * `kubectl describe`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ObjectStore } from '../contract/object-store.js';
import { ModelFile, parseS3Uri } from '../contract/object-store-layout.js';
import { isHealthy, objectStoreNamespace, up } from '../e2e/cluster/cluster.js';
import {
  clusterInfo,
  eventually,
  kubectl,
  kubectlOrThrow,
  repoRoot,
} from '../e2e/cluster/testenv.js';
import { requestedNodeKind } from '../e2e/kubelet/config.js';
import {
  installLathe,
  latheHelmInstallArgs,
  latheRelease,
  pushImagesTo,
  registryPrefix,
} from '../e2e/kubelet/install.js';
import type { RowExplanation } from '../runtime-images/server/explain.js';
import { consoleService, prepareConsole } from './demo/console.js';
import { showOtherFrameworks } from './demo/frameworks.js';
import {
  type Conditions,
  condition,
  current,
  follow,
  getJson,
  namespace,
  promoteToProduction,
  servedAt,
  step,
  verifiedModelVersion,
} from './demo/narration.js';

const examples = [
  'dataset-iris.yaml',
  'trainingjob-iris.yaml',
  'inferenceservice-iris.yaml',
  'retrainpolicy-iris.yaml',
];

async function main(): Promise<void> {
  // `--node kubelet` (or LATHE_NODE=kubelet): the real node, every pod a container.
  const nodeKind = requestedNodeKind(process.argv.slice(2));
  step(
    `Bringing the local cluster up with ${nodeKind === 'kubelet' ? 'a real kubelet on containerd' : 'the process node'} (the first run builds its components: ~10 minutes, once)`,
  );
  const running = (await isHealthy()) ? (clusterInfo().node ?? 'process') : undefined;
  if (running === nodeKind) console.log('A local cluster is already running; using it.');
  else await up({ nodeKind });
  const info = clusterInfo();
  console.log(await kubectlOrThrow(['get', 'nodes', '-o', 'wide']));

  const valuesFiles: string[] = [];
  if (info.registry) {
    step(
      `Pushing Lathe's images to the cluster's registry (${info.registry}), built from the Dockerfiles`,
    );
    console.log(`$ npm run images -- --push ${info.registry}/lathe --dest-tls-verify=false`);
    const valuesFile = await pushImagesTo(info.registry, () => undefined);
    console.log(`Helm values naming them: ${valuesFile}`);
    valuesFiles.push(valuesFile);
  }

  step("Installing Lathe's CRDs and the operator with Helm (namespace lathe-system)");
  const install = latheHelmInstallArgs(info, valuesFiles);
  console.log(`$ helm ${install.join(' ').replace(repoRoot, '.')}`);
  await installLathe(info, valuesFiles);
  console.log(
    await kubectlOrThrow([
      '-n',
      objectStoreNamespace,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/name=lathe',
    ]),
  );

  step(`Applying the examples to namespace ${namespace}`);
  await kubectl(['create', 'namespace', namespace]);
  for (const file of examples) {
    console.log(`$ kubectl -n ${namespace} apply -f examples/${file}`);
    console.log(
      (
        await kubectlOrThrow([
          '-n',
          namespace,
          'apply',
          '-f',
          path.join(repoRoot, 'examples', file),
        ])
      ).trim(),
    );
  }

  step(
    `The web console, started by the chart beside the operator (${latheRelease.namespace}/${consoleService})`,
  );
  const consoleAccess = await prepareConsole(namespace);
  console.log(`  address: ${consoleAccess.url} (follow the loop there as it runs)`);
  for (const line of consoleAccess.lines) console.log(`  $ ${line}`);

  step('Ingesting the Iris data: read, validated, prepared, split and versioned', 'dataset/iris');
  let lastIngestion = '';
  const dataset = await follow(
    async () => {
      const ds = await getJson<{
        status?: {
          conditions?: Conditions;
          currentVersion?: string;
          rows?: number;
          trainRows?: number;
          testRows?: number;
          labels?: Record<string, number>;
          columns?: {
            name: string;
            type: string;
            mean?: number;
            stddev?: number;
            missing: number;
          }[];
          lastIngestion?: {
            phase: string;
            trigger: string;
            jobName: string;
            reason?: string;
            message?: string;
          };
        };
      }>('dataset', 'iris');
      const run = ds.status?.lastIngestion;
      const line = run
        ? `  ingestion ${run.jobName}: ${run.phase}${run.reason ? ` (${run.reason}: ${run.message})` : ''}`
        : '';
      if (line && line !== lastIngestion) {
        lastIngestion = line;
        console.log(line);
      }
      if (condition(ds.status, 'Stalled')?.status === 'True')
        throw new Error(condition(ds.status, 'Stalled')?.message);
      return condition(ds.status, 'Ready')?.status === 'True' ? ds : undefined;
    },
    300_000,
    'Dataset iris Ready',
  );
  const s = dataset.status!;
  console.log(
    `  version ${s.currentVersion}: ${s.rows} rows (train ${s.trainRows}, test ${s.testRows})`,
  );
  console.log(
    `  labels: ${Object.entries(s.labels ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  for (const c of s.columns ?? []) {
    if (c.mean !== undefined)
      console.log(
        `  ${c.name.padEnd(14)} mean ${c.mean.toFixed(3)}  stddev ${c.stddev?.toFixed(3)}  missing ${c.missing}`,
      );
  }

  step('Training the model (TensorFlow.js), epoch by epoch', 'trainingjob/iris-mlp-1');
  let lastProgress = '';
  const trained = await follow(
    async () => {
      const tj = await getJson<{
        status?: {
          phase?: string;
          progress?: { summary?: string };
          modelVersion?: { name: string };
          failure?: { reason: string; message: string };
          conditions?: Conditions;
        };
      }>('trainingjob', 'iris-mlp-1');
      const line = `  ${tj.status?.phase ?? 'Pending'} ${tj.status?.progress?.summary ?? condition(tj.status, 'Ready')?.message ?? ''}`;
      if (line !== lastProgress) {
        lastProgress = line;
        console.log(line);
      }
      if (tj.status?.phase === 'Failed')
        throw new Error(`${tj.status.failure?.reason}: ${tj.status.failure?.message}`);
      return tj.status?.phase === 'Succeeded' ? tj : undefined;
    },
    600_000,
    'TrainingJob iris-mlp-1 Succeeded',
  );
  const mvName = trained.status?.modelVersion?.name ?? '';

  step(
    `Verifying ModelVersion ${mvName}: every byte of the artifact against its digest`,
    `modelversion/${mvName}`,
  );
  const mv = await verifiedModelVersion<{
    spec: {
      metrics?: Record<string, number>;
      artifact: { uri: string; digest: string };
      lineage?: {
        dataset: { name: string; version: string };
        trainingJob?: { name: string; backend?: string };
      };
    };
    status?: {
      conditions?: Conditions;
      importance?: { score: string; columns: { column: string; mean: number; std: number }[] };
    };
  }>(mvName);
  console.log(`  artifact ${mv.spec.artifact.uri} (${mv.spec.artifact.digest})`);
  console.log(
    `  lineage: Dataset ${mv.spec.lineage?.dataset.name} version ${mv.spec.lineage?.dataset.version}, TrainingJob ${mv.spec.lineage?.trainingJob?.name}, backend ${mv.spec.lineage?.trainingJob?.backend}`,
  );
  console.log('  test metrics (held-out split):');
  for (const [k, v] of Object.entries(mv.spec.metrics ?? {}))
    console.log(`    ${k.padEnd(10)} ${v.toFixed(4)}`);
  const store = new ObjectStore(info.minio);
  const { bucket, key } = parseS3Uri(mv.spec.artifact.uri);
  const metricsFile = JSON.parse(
    (await store.read(bucket, `${key}${ModelFile.metrics}`)).toString('utf8'),
  ) as {
    classes?: string[];
    confusionMatrix?: number[][];
  };
  if (metricsFile.confusionMatrix && metricsFile.classes) {
    console.log(
      `  confusion matrix (rows: true class, columns: predicted) ${metricsFile.classes.join(' / ')}`,
    );
    for (const [i, row] of metricsFile.confusionMatrix.entries())
      console.log(
        `    ${metricsFile.classes[i]?.padEnd(12)} ${row.map((n) => String(n).padStart(4)).join('')}`,
      );
  }

  const importance = mv.status?.importance;
  if (importance) {
    console.log(
      `  top features (permutation importance: the drop in ${importance.score} when a column is shuffled; from model-card.json)`,
    );
    for (const { column, mean, std } of importance.columns.slice(0, 5))
      console.log(`    ${column.padEnd(14)} ${mean.toFixed(4)} ± ${std.toFixed(4)}`);
  }

  step(`Promoting ${mvName} to production`, `modelversion/${mvName}`);
  await promoteToProduction(mvName);

  step(
    'Serving it: InferenceService iris (KServe V1 and Open Inference V2)',
    'inferenceservice/iris',
  );
  const base = await servedAt('iris');
  console.log(
    await kubectlOrThrow(['-n', namespace, 'get', 'inferenceservice', 'iris', '-o', 'wide']),
  );

  step(`Predicting through the Service (${base}) on both protocols`, 'inferenceservice/iris');
  const csv = (await readFile(path.join(repoRoot, 'examples/data/iris.csv'), 'utf8'))
    .trim()
    .split('\n');
  const header = csv[0]!.split(',');
  const rows = [1, 60, 120].map((i) =>
    Object.fromEntries(
      csv[i]!.split(',').map((v, j) => [header[j]!, Number.isNaN(Number(v)) ? v : Number(v)]),
    ),
  );
  const instances = rows.map(({ species: _label, ...features }) => features);
  const v1Body = { instances };
  const v1 = await eventually(async () => {
    const r = await fetch(`${base}/v1/models/iris:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(v1Body),
    });
    if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
    return (await r.json()) as { predictions: { label: string; probabilities: number[] }[] };
  });
  console.log(`  POST ${base}/v1/models/iris:predict`);
  console.log(`  request:  ${JSON.stringify(v1Body)}`);
  console.log(
    `  response: ${JSON.stringify(v1).slice(0, 400)}${JSON.stringify(v1).length > 400 ? '…' : ''}`,
  );
  for (const [i, p] of v1.predictions.entries())
    console.log(`    row ${i + 1}: predicted ${p.label}, actually ${rows[i]!.species}`);
  const v2Body = {
    inputs: Object.keys(instances[0]!).map((name) => ({
      name,
      shape: [instances.length],
      datatype: 'FP32',
      data: instances.map((r) => r[name]),
    })),
  };
  const v2r = await fetch(`${base}/v2/models/iris/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(v2Body),
  });
  const v2 = (await v2r.json()) as {
    model_version?: string;
    outputs?: { name: string; data: unknown[] }[];
  };
  console.log(
    `  POST ${base}/v2/models/iris/infer -> HTTP ${v2r.status}, model_version ${v2.model_version}, labels ${JSON.stringify(v2.outputs?.find((o) => o.name === 'label')?.data)}`,
  );

  step(`Explaining one prediction (${base}/v1/models/iris:explain)`, 'inferenceservice/iris');
  const explainBody = { instances: [instances[1]] };
  const explainedResponse = await fetch(`${base}/v1/models/iris:explain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(explainBody),
  });
  if (!explainedResponse.ok)
    throw new Error(
      `:explain answered HTTP ${explainedResponse.status}: ${await explainedResponse.text()}`,
    );
  const explained = (await explainedResponse.json()) as {
    predictions: { label: string }[];
    explanations: RowExplanation[];
  };
  const [why] = explained.explanations;
  const label = explained.predictions[0]!.label;
  const k = why!.outputs.indexOf(label);
  console.log(`  request:  ${JSON.stringify(explainBody)}`);
  console.log(
    `  predicted ${label}: probability ${why!.prediction[k]!.toFixed(3)} = base ${why!.baseValue[k]!.toFixed(3)} (the mean over a sample of training rows) plus each column's Shapley value (${why!.method}):`,
  );
  for (const [column, values] of Object.entries(why!.values).sort(
    (a, b) => Math.abs(b[1][k]!) - Math.abs(a[1][k]!),
  ))
    console.log(`    ${column.padEnd(14)} ${values[k]! >= 0 ? '+' : ''}${values[k]!.toFixed(3)}`);
  console.log(`  additivity residual ${why!.residual[k]!.toExponential(1)}`);

  step(
    'Scoring the whole Iris table in batch, each prediction explained (BatchPrediction iris-batch: the Dataset version, 4 shards, 2 at a time)',
    'batchprediction/iris-batch',
  );
  console.log(`$ kubectl -n ${namespace} apply -f examples/batchprediction-iris.yaml`);
  await kubectlOrThrow([
    '-n',
    namespace,
    'apply',
    '-f',
    path.join(repoRoot, 'examples', 'batchprediction-iris.yaml'),
  ]);
  const scored = await follow(
    async () => {
      const bp = await getJson<{
        status?: {
          phase?: string;
          conditions?: Conditions;
          output?: { uri: string; manifest?: string };
        };
      }>('batchprediction', 'iris-batch');
      if (bp.status?.phase === 'Failed')
        throw new Error(condition(bp.status, 'Complete')?.message ?? 'the batch run failed');
      return bp.status?.phase === 'Succeeded' ? bp : undefined;
    },
    300_000,
    'BatchPrediction iris-batch Succeeded',
  );
  console.log(
    (
      await kubectlOrThrow(['-n', namespace, 'get', 'batchprediction', 'iris-batch', '-o', 'wide'])
    ).trim(),
  );
  const manifestUri = scored.status!.output!.manifest!;
  const manifestAt = parseS3Uri(manifestUri);
  const batchManifest = JSON.parse(
    (await store.read(manifestAt.bucket, manifestAt.key)).toString('utf8'),
  ) as { rows: number; parts: { path: string; rows: number }[] };
  console.log(
    `  manifest ${manifestUri}: ${batchManifest.rows} rows in ${batchManifest.parts.length} parts (${batchManifest.parts.map((p) => p.rows).join(' + ')})`,
  );
  const firstPart = `${manifestAt.key.slice(0, manifestAt.key.lastIndexOf('/') + 1)}${batchManifest.parts[0]!.path}`;
  console.log(`  first rows of ${batchManifest.parts[0]!.path}:`);
  for (const line of (await store.read(manifestAt.bucket, firstPart))
    .toString('utf8')
    .split('\n')
    .slice(0, 3))
    console.log(`    ${line}`);

  await showOtherFrameworks(
    instances,
    base,
    info.registry ? registryPrefix(info.registry) : undefined,
  );

  step(
    "Tenant isolation: the server's own object-store credentials reach only its model and its request log",
    'secret/iris-serve-store',
  );
  const secret = JSON.parse(
    (await kubectl(['-n', namespace, 'get', 'secret', 'iris-serve-store', '-o', 'json'])).stdout,
  ) as { metadata: { annotations: Record<string, string> }; data: Record<string, string> };
  const decoded = (key: string) => Buffer.from(secret.data[key] ?? '', 'base64').toString();
  console.log(`  grant:   ${secret.metadata.annotations['lathe.dev/object-store-grant']}`);
  console.log(`  expires: ${secret.metadata.annotations['lathe.dev/object-store-expires-at']}`);
  const scoped = new ObjectStore({
    endpoint: info.minio.endpoint,
    accessKey: decoded('accessKey'),
    secretKey: decoded('secretKey'),
    sessionToken: decoded('sessionToken'),
  });
  const attempt = async (what: string, action: () => Promise<unknown>) => {
    const outcome = await action().then(
      () => 'allowed',
      (error: Error) => (/access denied/i.test(error.message) ? 'refused by MinIO' : error.message),
    );
    console.log(`  ${what.padEnd(58)} ${outcome}`);
  };
  const served = parseS3Uri(
    (await getJson<{ spec: { artifact: { uri: string } } }>('modelversion', mvName)).spec.artifact
      .uri,
  );
  await attempt(`read ${served.key}manifest.json`, () =>
    scoped.read(served.bucket, `${served.key}manifest.json`),
  );
  await attempt(`read datasets/${namespace}/iris/ (not the server's)`, () =>
    scoped.list(info.minio.bucket, `datasets/${namespace}/iris/`),
  );
  await attempt('list another namespace, models/team-b/', () =>
    scoped.list(info.minio.bucket, 'models/team-b/'),
  );
  await attempt('list the whole bucket', () => scoped.list(info.minio.bucket, ''));

  step(
    'Retraining now: the policy trains a challenger and promotes it only if it beats production',
    'retrainpolicy/iris-nightly',
  );
  const runNow = [
    '-n',
    namespace,
    'annotate',
    'retrainpolicy',
    'iris-nightly',
    `lathe.dev/run-now=${Date.now()}`,
    '--overwrite',
  ];
  console.log(`$ kubectl ${runNow.join(' ')}`);
  type PolicyStatus = {
    lastTrainingJob?: { name: string };
    lastPromotion?: { time: string; decision: string; reason: string };
  };
  const policyStatus = async () =>
    (await getJson<{ status?: PolicyStatus }>('retrainpolicy', 'iris-nightly')).status ?? {};
  const before = (await policyStatus()).lastPromotion?.time;
  await kubectlOrThrow(runNow);
  const decided = await follow(
    async () => {
      const { lastTrainingJob, lastPromotion } = await policyStatus();
      return lastTrainingJob && lastPromotion && lastPromotion.time !== before
        ? { run: lastTrainingJob.name, decision: lastPromotion }
        : undefined;
    },
    600_000,
    'A champion/challenger decision of RetrainPolicy iris-nightly',
  );
  console.log(`  run ${decided.run}: ${decided.decision.decision} (${decided.decision.reason})`);

  if (info.node === 'kubelet') {
    step('Every pod above is a container on the real kubelet: its logs and a shell-less exec');
    const pods = (
      await kubectlOrThrow([
        '-n',
        namespace,
        'get',
        'pods',
        '-o',
        'name',
        '--field-selector=status.phase=Running',
      ])
    )
      .split('\n')
      .filter(Boolean);
    for (const pod of pods.slice(0, 1)) {
      console.log(`$ kubectl -n ${namespace} logs ${pod} --tail=2`);
      console.log((await kubectlOrThrow(['-n', namespace, 'logs', pod, '--tail=2'])).trim());
      const exec = [
        '-n',
        namespace,
        'exec',
        pod,
        '--',
        'node',
        '-e',
        'console.log("uid", process.getuid())',
      ];
      console.log(
        `$ kubectl -n ${namespace} exec ${pod} -- node -e 'console.log("uid", process.getuid())'`,
      );
      console.log((await kubectlOrThrow(exec)).trim());
    }
  }

  step('Done. The cluster is still running; try:');
  console.log(`  source .lathe/env.sh
  kubectl -n ${namespace} get lathe                      # every Lathe object and its state
  kubectl -n ${namespace} describe inferenceservice iris
  kubectl -n ${namespace} get batchpredictions -o wide          # the batch run, its shards and output
  kubectl -n ${namespace} describe modelversion ${mvName}     # importance, model card, fairness
  curl -s -X POST ${base}/v1/models/iris:explain -H 'content-type: application/json' \\
       -d '{"instances":[{"sepal_length":6.1,"sepal_width":2.8,"petal_length":4.7,"petal_width":1.2}]}'
  curl -s ${base}/v2/models/iris
  curl -s -X POST ${base}/v1/models/iris:predict -H 'content-type: application/json' \\
       -d '{"instances":[{"sepal_length":6.1,"sepal_width":2.8,"petal_length":4.7,"petal_width":1.2}]}'
  kubectl -n ${namespace} annotate dataset iris lathe.dev/refresh="$(date +%s)" --overwrite   # read the source again
  kubectl -n ${namespace} annotate retrainpolicy iris-nightly lathe.dev/run-now="$(date +%s)" --overwrite   # retrain now
  Web console: ${consoleAccess.url}
  ${consoleAccess.lines.join('\n  ')}
  MinIO: ${info.minio.endpoint} (credentials in .lathe/minio.env)
  Stop it with: npm run cluster:down`);
}

main().catch(async (error: Error) => {
  console.error(`\nThe demo failed at: ${current.step}\n${error.message}`);
  const inspect = current.inspect;
  if (inspect) {
    console.error(
      `Inspect it with: source .lathe/env.sh && kubectl -n ${namespace} describe ${inspect}`,
    );
    const described = await kubectl(['-n', namespace, 'describe', inspect]).catch(() => undefined);
    if (described?.stdout) console.error(described.stdout.split('\n').slice(-30).join('\n'));
  }
  process.exit(1);
});
