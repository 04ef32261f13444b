/**
 * Training benchmark, one run, side by side: training samples/s of the benchmark model on every
 * TensorFlow.js backend present and on Keras (TensorFlow 2.15.1 CPU from PyPI) with the same
 * model (mlp [64, 32] relu, softmax, Adam 0.001), data and batch size (64 and 512), and test
 * accuracy next to scikit-learn's LogisticRegression on the same split.
 *
 *   npm run bench:train [-- --rounds 2]
 *
 * Every run is a fresh process; samples/s is that of the median epoch after the first (the
 * first is warm-up: kernel caches, tracing), the best of `--rounds` interleaved rounds.
 * Figures and ratios, no assertions: this machine is shared and noisy. The Python environments
 * and the native addon are built (once, cached) if missing.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { tensorflowBackends } from '../contract/runtime-env.js';
import { repoRoot } from '../e2e/cluster/testenv.js';
import { pythonOf } from '../runtime-images/python/env-dir.js';
import {
  type NumericTable,
  preparedVersionOf,
} from '../runtime-images/trainer/prepared-fixture.js';

const exec = promisify(execFile);
const seed = 7;
const throughputEpochs: Record<number, number> = { 64: 4, 512: 8 };
const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 2) || 2;
const accuracyRuns = { synthetic: { epochs: 10, batch: 64 }, digits: { epochs: 40, batch: 64 } };

interface Run {
  backend: string;
  epochSeconds: number[];
  trainRows: number;
  accuracy: number;
}

async function prepare(script: string, args: string[]): Promise<string> {
  const { stdout } = await exec('bash', [path.join(repoRoot, script), ...args], {
    maxBuffer: 16 << 20,
  });
  return stdout.trim().split('\n').at(-1)!;
}

async function runJson<T>(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<T> {
  const { stdout } = await exec(command, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    maxBuffer: 256 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

/**
 * Samples/s of the median epoch after the first: the median keeps a burst of load from other
 * processes on this shared machine out of the figure, on both sides alike.
 */
function throughput(run: Run): number {
  const measured = run.epochSeconds.slice(1).sort((a, b) => a - b);
  const middle = measured.length / 2;
  const median =
    measured.length % 2 === 1
      ? measured[Math.floor(middle)]!
      : (measured[middle - 1]! + measured[middle]!) / 2;
  return run.trainRows / median;
}

async function tfjsRun(backend: string, dir: string, batch: number, epochs: number) {
  try {
    return await runJson<Run>(process.execPath, [
      '--import',
      'tsx',
      'bench/train-worker.ts',
      backend,
      dir,
      String(batch),
      String(epochs),
      String(seed),
    ]);
  } catch (error) {
    if ((error as { code?: number }).code === 3) return undefined;
    throw error;
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pad = (s: string, n: number) => s.padEnd(n);

async function main(): Promise<void> {
  console.log('Preparing (cached after the first run): native addon, Python environments...');
  await prepare('runtime-images/tensorflow/prepare.sh', []).catch((error: Error) => {
    console.log(
      `  the native addon could not be built; native backends will be absent:\n${error.message}`,
    );
  });
  const sklearn = pythonOf(
    await prepare('runtime-images/python/prepare-env.sh', [
      'trainer-sklearn',
      'runtime-images/trainer-sklearn/requirements.txt',
    ]),
  );
  const keras = pythonOf(
    await prepare('runtime-images/python/prepare-env.sh', [
      'bench-keras',
      'bench/python/keras-requirements.txt',
    ]),
  );
  const pythonPath = { PYTHONPATH: path.join(repoRoot, 'bench/python') };

  const work = mkdtempSync(path.join(os.tmpdir(), 'lathe-bench-train-'));
  const dirs: Record<string, string> = {};
  const shapes: Record<string, string> = {};
  for (const name of ['synthetic', 'digits'] as const) {
    const data = await runJson<{ features: string[]; rows: number[][]; labels: string[] }>(
      sklearn,
      ['bench/python/datasets.py', name],
    );
    const table: NumericTable = {
      featureNames: data.features,
      rows: data.rows,
      labels: data.labels,
      labelName: 'label',
      task: 'classification',
    };
    const { files, schema } = preparedVersionOf(table, 0.2, seed);
    dirs[name] = path.join(work, name);
    mkdirSync(dirs[name]!);
    for (const [file, bytes] of Object.entries(files)) {
      writeFileSync(path.join(dirs[name]!, file), bytes);
    }
    shapes[name] =
      `${data.rows.length} rows (${Math.round(data.rows.length * 0.8)} train / ${Math.round(data.rows.length * 0.2)} test), ${data.features.length} features, ${schema.label.classes!.length} classes`;
  }

  console.log(
    `\nTraining throughput, samples/s (median epoch, the first left out; best of ${rounds} rounds)`,
  );
  console.log(`  data: synthetic, ${shapes.synthetic}; model mlp [64, 32] relu, Adam 0.001`);
  const rows: { name: string; perBatch: Record<number, number> }[] = [];
  // Keras as installed (TensorFlow's thread pools sized by the cores), and with one thread per
  // pool, the TensorFlow.js trainer's choice for this small model: ratios are against the faster.
  const kerasConfigs = [
    { name: 'default threads', env: {} },
    { name: '1 thread', env: { TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' } },
  ];
  const kerasRows = kerasConfigs.map((c) => ({ ...c, perBatch: {} as Record<number, number> }));
  const bestKeras: Record<number, number> = {};
  let kerasVersion = '';
  // Rounds, each running every configuration once, and the best round of each kept: a burst of
  // load from other work on this shared machine then slows one round, not the comparison.
  const plan = Array.from({ length: rounds }, () => [64, 512]).flat();
  for (const batch of plan) {
    const epochs = throughputEpochs[batch]!;
    for (const config of kerasRows) {
      const k = await runJson<Run & { version: string }>(
        keras,
        [
          'bench/python/keras_train.py',
          dirs.synthetic!,
          String(batch),
          String(epochs),
          String(seed),
        ],
        { ...pythonPath, ...config.env },
      );
      kerasVersion = k.version;
      config.perBatch[batch] = Math.max(config.perBatch[batch] ?? 0, throughput(k));
      bestKeras[batch] = Math.max(bestKeras[batch] ?? 0, throughput(k));
    }
    for (const backend of tensorflowBackends) {
      const run = await tfjsRun(backend, dirs.synthetic!, batch, epochs);
      if (!run) continue;
      // A GPU build without a usable GPU runs as native CPU: report it once, under its name.
      if (run.backend !== backend) continue;
      let row = rows.find((r) => r.name === backend);
      if (!row) {
        row = { name: backend, perBatch: {} };
        rows.push(row);
      }
      row.perBatch[batch] = Math.max(row.perBatch[batch] ?? 0, throughput(run));
    }
  }
  console.log(
    `  ${pad('', 30)}${pad('batch 64', 12)}${pad('vs Keras', 10)}${pad('batch 512', 12)}vs Keras (the faster Keras row)`,
  );
  const line = (name: string, perBatch: Record<number, number>) => {
    const cells = [64, 512].map((b) => {
      const v = perBatch[b];
      return v === undefined
        ? [pad('absent', 12), pad('', 10)]
        : [pad(fmt(v), 12), pad(`${(v / bestKeras[b]!).toFixed(2)}x`, 10)];
    });
    console.log(`  ${pad(name, 30)}${cells.flat().join('')}`);
  };
  for (const row of rows) line(`tfjs ${row.name}`, row.perBatch);
  for (const row of kerasRows) line(`keras ${kerasVersion}, ${row.name}`, row.perBatch);
  const absent = tensorflowBackends.filter((b) => !rows.some((r) => r.name === b));
  if (absent.length > 0) console.log(`  absent here: ${absent.join(', ')}`);

  console.log(
    '\nTest accuracy on the held-out split, next to LogisticRegression on the same split',
  );
  for (const name of ['synthetic', 'digits'] as const) {
    const { epochs, batch } = accuracyRuns[name];
    const lr = await runJson<{ accuracy: number; version: string }>(
      sklearn,
      ['bench/python/logistic_regression.py', dirs[name]!],
      pythonPath,
    );
    console.log(`  ${name}: ${shapes[name]}; ${epochs} epochs, batch ${batch}`);
    console.log(
      `    ${pad(`LogisticRegression (scikit-learn ${lr.version})`, 44)}${lr.accuracy.toFixed(4)}`,
    );
    const k = await runJson<Run>(
      keras,
      ['bench/python/keras_train.py', dirs[name]!, String(batch), String(epochs), String(seed)],
      pythonPath,
    );
    console.log(
      `    ${pad('keras mlp [64, 32]', 44)}${k.accuracy.toFixed(4)}  (${k.accuracy - lr.accuracy >= 0 ? '+' : ''}${(k.accuracy - lr.accuracy).toFixed(4)})`,
    );
    for (const row of rows) {
      const run = await tfjsRun(row.name, dirs[name]!, batch, epochs);
      if (!run) continue;
      const delta = run.accuracy - lr.accuracy;
      console.log(
        `    ${pad(`tfjs ${row.name} mlp [64, 32]`, 44)}${run.accuracy.toFixed(4)}  (${delta >= 0 ? '+' : ''}${delta.toFixed(4)})`,
      );
    }
  }
  rmSync(work, { recursive: true, force: true });
}

await main();
