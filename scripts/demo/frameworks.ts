/**
 * The demo's "every framework" step: the same Iris version trained by the scikit-learn image and
 * by the PyTorch image across two pods (DistributedDataParallel, handed to whichever engine the
 * cluster has), both exported to ONNX, verified, promoted and served by the same inference
 * server as the TensorFlow.js model — and the three asked the same question.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { kubectlOrThrow, repoRoot } from '../../e2e/cluster/testenv.js';
import {
  type Conditions,
  follow,
  getJson,
  namespace,
  promoteToProduction,
  servedAt,
  step,
  verifiedModelVersion,
} from './narration.js';

const runs = [
  {
    files: ['trainingjob-iris-sklearn.yaml', 'inferenceservice-iris-sklearn.yaml'],
    job: 'iris-sklearn-1',
    service: 'iris-sklearn',
  },
  {
    files: ['trainingjob-iris-pytorch.yaml', 'inferenceservice-iris-torch.yaml'],
    job: 'iris-torch-1',
    service: 'iris-torch',
  },
];

interface TrainingJobStatus {
  phase?: string;
  modelVersion?: { name: string };
  failure?: { reason: string; message: string };
  distributed?: { backend?: string; message?: string; workers: number; restarts: number };
}

interface ModelVersionView {
  spec: {
    artifact: { format: string };
    metrics?: Record<string, number>;
    lineage?: { trainingJob?: { backend?: string } };
  };
  status?: { conditions?: Conditions };
}

type Prediction = { label: string; probabilities: number[] };

async function predictV1(base: string, model: string, instances: unknown[]): Promise<Prediction[]> {
  const response = await fetch(`${base}/v1/models/${model}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances }),
  });
  if (!response.ok) throw new Error(`${model}: HTTP ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { predictions: Prediction[] }).predictions;
}

/** Where the examples name Lathe's images. */
const latheImagePrefix = 'ghcr.io/lathe-dev';

/**
 * Trains, verifies, promotes and serves the scikit-learn and PyTorch models, then prints the
 * three models' answers to `instances` side by side (`tfjsBase`: the TensorFlow.js service;
 * `imagePrefix`: the registry prefix Lathe's images were pushed to, on the real node).
 */
export async function showOtherFrameworks(
  instances: Record<string, unknown>[],
  tfjsBase: string,
  imagePrefix?: string,
): Promise<void> {
  step(
    'Every framework through the same loop: scikit-learn, and PyTorch on 2 pods (DistributedDataParallel), both exported to ONNX',
    'trainingjob/iris-torch-1',
  );
  for (const file of runs.flatMap((r) => r.files)) {
    console.log(`$ kubectl -n ${namespace} apply -f examples/${file}`);
    const manifest = await readFile(path.join(repoRoot, 'examples', file), 'utf8');
    // On the real node the images come from the cluster's registry, where the demo pushed them.
    const input = imagePrefix
      ? manifest.replaceAll(`${latheImagePrefix}/`, `${imagePrefix}/`)
      : manifest;
    await kubectlOrThrow(['-n', namespace, 'apply', '-f', '-'], { input });
  }
  const trained = await Promise.all(
    runs.map(({ job }) =>
      follow(
        async () => {
          const tj = await getJson<{ status?: TrainingJobStatus }>('trainingjob', job);
          if (tj.status?.phase === 'Failed')
            throw new Error(`${job}: ${tj.status.failure?.reason}: ${tj.status.failure?.message}`);
          return tj.status?.phase === 'Succeeded' ? tj.status : undefined;
        },
        600_000,
        `TrainingJob ${job} Succeeded`,
      ),
    ),
  );
  console.log(
    (await kubectlOrThrow(['-n', namespace, 'get', 'trainingjobs', '-o', 'wide'])).trim(),
  );
  const torch = trained[1]?.distributed;
  if (torch)
    console.log(
      `  iris-torch-1 ran ${torch.workers} workers on ${torch.backend} (${torch.message}); group restarts: ${torch.restarts}`,
    );

  for (const [i, { service }] of runs.entries()) {
    const mvName = trained[i]?.modelVersion?.name ?? '';
    const mv = await verifiedModelVersion<ModelVersionView>(mvName);
    console.log(
      `  ${mvName}: format ${mv.spec.artifact.format}, trained with ${mv.spec.lineage?.trainingJob?.backend}, test accuracy ${mv.spec.metrics?.accuracy?.toFixed(4)}; served by InferenceService ${service} once in production`,
    );
    await promoteToProduction(mvName);
  }

  const answers = [
    { model: 'iris (TensorFlow.js)', predictions: await predictV1(tfjsBase, 'iris', instances) },
  ];
  for (const { service } of runs) {
    const base = await servedAt(service);
    answers.push({
      model: `${service} (ONNX Runtime)`,
      predictions: await predictV1(base, service, instances),
    });
  }
  console.log(
    (
      await kubectlOrThrow([
        '-n',
        namespace,
        'get',
        'inferenceservices',
        ...runs.map((r) => r.service),
      ])
    ).trim(),
  );
  console.log(
    '  the same rows, three frameworks, one server (V1 :predict; label and its probability):',
  );
  for (const { model, predictions } of answers)
    console.log(
      `    ${model.padEnd(28)} ${predictions
        .map((p) => `${p.label} ${Math.max(...p.probabilities).toFixed(3)}`.padEnd(20))
        .join('')}`,
    );
}
