/**
 * The objects the console benchmark serves pages from: a fleet of models, each with its
 * Dataset, RetrainPolicy, InferenceService, runs (TrainingJobs) and the ModelVersions they
 * produced, spread over a few namespaces, with the statuses the operator would have written —
 * most healthy, some failed, stalled, drifting or degraded, and one champion/challenger
 * decision per policy — so every page has real rows, links and attention items to render.
 * Pure: the benchmark creates them and writes each status through the status subresource
 * (the operator need not run). The unit test parses each through its kind's schema, so the
 * fleet keeps up with the API.
 */
import type { KubeObject } from '../operator/src/runtime/resource.js';

/** The Lathe kinds the fleet has, by the key `latheKinds` uses. */
export type FleetKind =
  | 'dataset'
  | 'trainingJob'
  | 'modelVersion'
  | 'inferenceService'
  | 'retrainPolicy';

/** One object to create, and the status to write once it exists. */
export interface FleetObject {
  kind: FleetKind;
  object: KubeObject & { spec: Record<string, unknown> };
  status: Record<string, unknown>;
}

/** Runs per model; each successful one produced a ModelVersion. */
export const RUNS_PER_MODEL = 8;

const API_VERSION = 'lathe.dev/v1alpha1';
const kindNames: Record<FleetKind, string> = {
  dataset: 'Dataset',
  trainingJob: 'TrainingJob',
  modelVersion: 'ModelVersion',
  inferenceService: 'InferenceService',
  retrainPolicy: 'RetrainPolicy',
};

/** A deterministic lowercase hex string of `length` digits from `seed`. */
function hex(seed: string, length: number): string {
  let out = '';
  let h = 2166136261;
  while (out.length < length) {
    for (const c of `${seed}/${out.length}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, length);
}

function condition(
  type: string,
  status: 'True' | 'False',
  reason: string,
  message: string,
  at: string,
) {
  return { type, status, reason, message, lastTransitionTime: at };
}

/** One model's objects: index `g` among the fleet's models. */
function modelObjects(g: number, namespace: string, now: Date): FleetObject[] {
  const model = `model-${g}`;
  const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
  const meta = (name: string) => ({ name, namespace, labels: { 'bench.lathe.dev/model': model } });
  const make = (
    kind: FleetKind,
    name: string,
    spec: Record<string, unknown>,
    status: Record<string, unknown>,
  ): FleetObject => ({
    kind,
    object: { apiVersion: API_VERSION, kind: kindNames[kind], metadata: meta(name), spec },
    status,
  });
  const datasetName = `${model}-data`;
  const datasetStalled = g % 11 === 5;
  const versions = [0, 1, 2].map((i) => ({
    version: hex(`${model}/data/${i}`, 16),
    createdAt: at(60 * 24 * (3 - i)),
    rows: 1000 + 10 * g + i,
    trainRows: 800 + 8 * g + i,
    testRows: 200 + 2 * g,
  }));
  const current = versions[2]!;
  const objects: FleetObject[] = [
    make(
      'dataset',
      datasetName,
      {
        source: { s3: { bucket: 'lathe', key: `sources/${namespace}/${model}.csv` } },
        schema: { label: 'label' },
      },
      {
        observedGeneration: 1,
        conditions: datasetStalled
          ? [
              condition(
                'Ready',
                'False',
                'SourceUnavailable',
                `s3://lathe/sources/${namespace}/${model}.csv: NoSuchKey`,
                at(30),
              ),
              condition(
                'Stalled',
                'True',
                'SourceUnavailable',
                `s3://lathe/sources/${namespace}/${model}.csv: NoSuchKey`,
                at(30),
              ),
            ]
          : [
              condition(
                'Ready',
                'True',
                'VersionAvailable',
                `version ${current.version}: ${current.rows} rows`,
                at(60),
              ),
              condition('Validated', 'True', 'Passed', 'every validation rule passed', at(60)),
            ],
        currentVersion: current.version,
        rows: current.rows,
        trainRows: current.trainRows,
        testRows: current.testRows,
        columns: [
          { name: 'x1', type: 'number', missing: 0, mean: 0.5, stddev: 0.29, min: 0, max: 1 },
          { name: 'x2', type: 'number', missing: g % 3, mean: 5.1, stddev: 1.2, min: 1, max: 9 },
          { name: 'label', type: 'categorical', missing: 0, distinct: 3 },
        ],
        versions: [...versions].reverse(),
        lastRefreshTime: at(60),
        ingestedGeneration: 1,
        lastIngestion: {
          jobName: `${datasetName}-ingest-${hex(`${model}/job`, 5)}`,
          trigger: 'Refresh',
          attempt: 1,
          phase: datasetStalled ? 'Failed' : 'Succeeded',
          startTime: at(62),
          completionTime: at(61),
        },
        labels: { a: 400 + g, b: 350, c: 250 },
      },
    ),
  ];

  const produced: { name: string; version: number; accuracy: number; run: string }[] = [];
  for (let i = 1; i <= RUNS_PER_MODEL; i++) {
    const run = `${model}-run-${i}`;
    const failed = (g + i) % 9 === 0;
    const running = i === RUNS_PER_MODEL && g % 4 === 1;
    const epochs = 20 + (i % 3) * 10;
    const epoch = running ? Math.floor(epochs / 2) : epochs;
    const loss = 1.1 / (1 + epoch / 8) + 0.01 * (i % 4);
    const accuracy = Math.min(0.99, 0.7 + 0.03 * i - 0.02 * ((g + i) % 3));
    const trained = !failed && !running;
    const version = produced.length + 1;
    const started = at(60 * (RUNS_PER_MODEL - i) + 50);
    objects.push(
      make(
        'trainingJob',
        run,
        {
          datasetRef: { name: datasetName },
          model: { builtin: { architecture: 'mlp', layers: [16 + i] } },
          hyperparameters: { epochs, batchSize: 32, learningRate: 0.001 * i, seed: i },
          modelName: model,
        },
        {
          observedGeneration: 1,
          conditions: failed
            ? [
                condition(
                  'Ready',
                  'False',
                  'OutOfMemory',
                  'the training pod was OOM-killed (limit 1Gi)',
                  at(60 * (RUNS_PER_MODEL - i) + 40),
                ),
                condition(
                  'Failed',
                  'True',
                  'OutOfMemory',
                  'the training pod was OOM-killed (limit 1Gi)',
                  at(60 * (RUNS_PER_MODEL - i) + 40),
                ),
              ]
            : running
              ? [condition('Ready', 'False', 'Training', `epoch ${epoch}/${epochs}`, started)]
              : [
                  condition(
                    'Ready',
                    'True',
                    'Succeeded',
                    `registered ${model}-v${version}`,
                    at(60 * (RUNS_PER_MODEL - i) + 30),
                  ),
                  condition(
                    'Succeeded',
                    'True',
                    'ModelRegistered',
                    `registered ${model}-v${version}`,
                    at(60 * (RUNS_PER_MODEL - i) + 30),
                  ),
                ],
          phase: failed ? 'Failed' : running ? 'Running' : 'Succeeded',
          task: 'classification',
          startTime: started,
          ...(running ? {} : { completionTime: at(60 * (RUNS_PER_MODEL - i) + 30) }),
          datasetVersion: current.version,
          progress: {
            epoch,
            totalEpochs: epochs,
            loss,
            valLoss: loss * 1.1,
            metrics: { accuracy },
            summary: `${epoch}/${epochs} loss=${loss.toFixed(3)}`,
          },
          attempts: 1,
          jobName: `${run}-train`,
          ...(trained ? { modelVersion: { name: `${model}-v${version}`, version } } : {}),
          ...(failed
            ? {
                failure: {
                  reason: 'OutOfMemory',
                  message: 'the training pod was OOM-killed (limit 1Gi)',
                },
              }
            : {}),
        },
      ),
    );
    if (trained) produced.push({ name: `${model}-v${version}`, version, accuracy, run });
  }

  // The newest version is in production; the one before it was the champion it beat; every
  // third model also has a staging candidate being tried as a canary.
  const productionIndex = produced.length - 1;
  const stagingIndex = g % 3 === 0 && produced.length > 2 ? produced.length - 2 : -1;
  for (const [index, mv] of produced.entries()) {
    const stage =
      index === productionIndex
        ? 'production'
        : index === stagingIndex
          ? 'staging'
          : index < productionIndex - 2
            ? 'archived'
            : 'none';
    const digest = `sha256:${hex(`${model}/${mv.version}`, 64)}`;
    objects.push(
      make(
        'modelVersion',
        mv.name,
        {
          modelName: model,
          version: mv.version,
          artifact: {
            uri: `s3://lathe/models/${namespace}/${model}/${mv.version}/`,
            format: 'tfjs',
            digest,
          },
          metrics: { accuracy: mv.accuracy, f1: mv.accuracy - 0.02, loss: 1 - mv.accuracy },
          hyperparameters: {
            epochs: '30',
            batchSize: '32',
            learningRate: String(0.001 * mv.version),
          },
          lineage: {
            dataset: { name: datasetName, version: current.version },
            trainingJob: { name: mv.run, backend: 'tensorflow' },
          },
          stage,
        },
        {
          observedGeneration: 1,
          conditions: [
            condition('Ready', 'True', 'Verified', `artifact verified: ${digest}`, at(30)),
            condition(
              'ArtifactVerified',
              'True',
              'DigestMatched',
              'every file matches the manifest',
              at(30),
            ),
          ],
          verifiedDigest: digest,
          sizeBytes: 40_000 + 100 * mv.version,
          stage,
          stageTransitionTime: at(20),
        },
      ),
    );
  }

  const champion = produced[productionIndex];
  const previous = produced[productionIndex - 1];
  const canary = produced[stagingIndex];
  const degraded = g % 13 === 7;
  const drifting = g % 5 === 2;
  objects.push(
    make(
      'inferenceService',
      model,
      {
        model: { name: model, stage: 'production' },
        replicas: { min: 1, max: 4 },
        ...(canary ? { canary: { stage: 'staging', trafficPercent: 10 } } : {}),
      },
      {
        observedGeneration: 1,
        conditions: degraded
          ? [
              condition(
                'Ready',
                'False',
                'ReplicasUnavailable',
                '0/2 replicas ready: CrashLoopBackOff',
                at(5),
              ),
            ]
          : [
              condition(
                'Ready',
                'True',
                'Serving',
                `serving ${champion?.name ?? 'nothing'}`,
                at(15),
              ),
            ],
        url: `http://${model}.${namespace}.svc.cluster.local`,
        servedVersions: [
          ...(champion
            ? [
                {
                  version: champion.version,
                  modelVersion: champion.name,
                  role: 'primary',
                  replicas: 2,
                  readyReplicas: degraded ? 0 : 2,
                  trafficPercent: canary ? 90 : 100,
                },
              ]
            : []),
          ...(canary
            ? [
                {
                  version: canary.version,
                  modelVersion: canary.name,
                  role: 'canary',
                  replicas: 1,
                  readyReplicas: 1,
                  trafficPercent: 10,
                },
              ]
            : []),
        ],
        replicas: 2,
        load: { requestsPerSecond: 3 + (g % 7), concurrency: 0.5, p95LatencyMs: 8 + (g % 5) },
        drift: {
          time: at(10),
          metric: 'psi',
          value: drifting ? 0.34 : 0.04,
          feature: 'x2',
          samples: 500,
          retrainPolicy: `${model}-retrain`,
        },
      },
    ),
  );

  const rejected = g % 2 === 1;
  objects.push(
    make(
      'retrainPolicy',
      `${model}-retrain`,
      {
        template: {
          spec: {
            datasetRef: { name: datasetName },
            model: { builtin: { architecture: 'mlp', layers: [16] } },
            modelName: model,
          },
        },
        triggers: {
          datasetChange: true,
          drift: {
            inferenceServiceRef: { name: model },
            metric: 'psi',
            threshold: 0.2,
            checkInterval: '15m',
          },
        },
        promotion: { metric: 'accuracy', direction: 'maximize', minImprovement: 0.005 },
      },
      {
        observedGeneration: 1,
        conditions: [condition('Ready', 'True', 'Watching', 'watching 2 triggers', at(120))],
        lastRunTime: at(50),
        lastTrainingJob: { name: `${model}-run-${RUNS_PER_MODEL}` },
        lastTrigger: drifting ? 'drift' : 'datasetChange',
        ...(champion && previous
          ? {
              lastPromotion: rejected
                ? {
                    time: at(25),
                    decision: 'Rejected',
                    metric: 'accuracy',
                    challenger: { modelVersion: previous.name, value: previous.accuracy },
                    champion: { modelVersion: champion.name, value: champion.accuracy },
                    reason: `accuracy ${previous.accuracy.toFixed(3)} does not beat ${champion.accuracy.toFixed(3)} + 0.005`,
                  }
                : {
                    time: at(25),
                    decision: 'Promoted',
                    metric: 'accuracy',
                    challenger: { modelVersion: champion.name, value: champion.accuracy },
                    champion: { modelVersion: previous.name, value: previous.accuracy },
                    reason: `accuracy ${champion.accuracy.toFixed(3)} beats ${previous.accuracy.toFixed(3)} + 0.005 on the same test split`,
                  },
            }
          : {}),
        lastDrift: { time: at(10), value: drifting ? 0.34 : 0.04, feature: 'x2', samples: 500 },
        lastDatasetVersion: current.version,
      },
    ),
  );
  return objects;
}

/**
 * `total` objects (exactly) for models spread round-robin over `namespaces`, statuses as of
 * `now`. Models are added whole until the last, which is cut at `total`.
 */
export function consoleFleet(
  total: number,
  namespaces: readonly string[],
  now: Date,
): FleetObject[] {
  if (!Number.isInteger(total) || total < 1)
    throw new Error(`total must be a positive integer, not ${total}`);
  if (namespaces.length === 0) throw new Error('namespaces must name at least one namespace');
  const fleet: FleetObject[] = [];
  for (let g = 0; fleet.length < total; g++)
    fleet.push(...modelObjects(g, namespaces[g % namespaces.length]!, now));
  return fleet.slice(0, total);
}
