/**
 * The PyTorch trainer run as a pod runs it, its object store replaced by a directory
 * (`run_on_directory.py`): one process, then DistributedDataParallel over gloo with two
 * processes that torchrun starts from the PET_* variables the operator sets, which must reach
 * the single process's accuracy. The artifact must verify with the operator's verifier, its
 * files must parse with the contract's schemas, and its ONNX model must compute what torch's
 * own TorchScript computes. Needs the trainer's environment (Debian's python3-torch;
 * `npm run cluster:prepare` installs it).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArtifactReader, verifyArtifact } from '../../contract/manifest.js';
import { ObjectNotFoundError } from '../../contract/object-store.js';
import {
  ModelMetricsSchema,
  parseResult,
  TrainingHistorySchema,
  TrainingProgressSchema,
  type TrainResult,
} from '../../contract/results.js';
import {
  type NumericTable,
  preparedVersionOf,
  syntheticClassification,
  syntheticRegression,
} from '../trainer/prepared-fixture.js';
import {
  preparePytorchEnv,
  pytorchPythonPath,
  pytorchTrainerDir,
  torchscriptOutputs,
} from './pytorch-env.js';

let python: string;
let root: string;

beforeAll(async () => {
  python = await preparePytorchEnv();
  root = mkdtempSync(path.join(os.tmpdir(), 'lathe-pytorch-'));
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** The directory store: `s3://lathe/<key>` is `<root>/lathe/<key>`. */
const directory: ArtifactReader = {
  async read(bucket, key) {
    try {
      return readFileSync(path.join(root, bucket, key));
    } catch {
      throw new ObjectNotFoundError(`s3://${bucket}/${key}`);
    }
  },
  async digestOf(bucket, key) {
    const bytes = await this.read(bucket, key);
    return {
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      sizeBytes: bytes.length,
    };
  },
};

function fileAt(uri: string, file: string): Buffer {
  return readFileSync(path.join(root, uri.slice('s3://'.length), file));
}

/** Writes a prepared version of `table` into the store; its URI and name. */
function storeVersion(
  name: string,
  table: NumericTable,
): { uri: string; version: string; test: Buffer } {
  const { files } = preparedVersionOf(table, 0.2, 11);
  const version = createHash('sha256').update(files['manifest.json']!).digest('hex').slice(0, 16);
  const dir = path.join(root, 'lathe/datasets/ns', name, version);
  mkdirSync(dir, { recursive: true });
  for (const [file, bytes] of Object.entries(files)) writeFileSync(path.join(dir, file), bytes);
  return { uri: `s3://lathe/datasets/ns/${name}/${version}/`, version, test: files['test.csv']! };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Run {
  code: number;
  output: string;
  result: TrainResult | undefined;
  runUri: string;
}

/** Runs `run_on_directory.py ROOT ...args` with `env`; its exit code, output and result text. */
async function runHarness(
  args: string[],
  env: Record<string, string>,
  resultPath: string,
): Promise<{ code: number; output: string; resultText: string }> {
  writeFileSync(resultPath, '');
  const harness = path.join(pytorchTrainerDir, 'run_on_directory.py');
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      python,
      [harness, root, ...args],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: os.homedir(),
          PYTHONPATH: pytorchPythonPath,
          LATHE_OBJECT_STORE_ENDPOINT: 'http://127.0.0.1:9',
          LATHE_OBJECT_STORE_ACCESS_KEY: 'unused',
          LATHE_OBJECT_STORE_SECRET_KEY: 'unused',
          LATHE_RESULT_PATH: resultPath,
          ...env,
        },
        maxBuffer: 64 << 20,
      },
      (error, stdout, stderr) => {
        const exit = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code: exit, output: `${stdout}${stderr}` });
      },
    );
  });
  return { code, output, resultText: readFileSync(resultPath, 'utf8') };
}

/** Runs the trainer (`run_on_directory.py`) with the contract's environment plus `extra`. */
async function runTrainer(
  job: string,
  dataset: { uri: string; version: string },
  task: 'classification' | 'regression',
  hyperparameters: Record<string, unknown>,
  extra: Record<string, string> = {},
): Promise<Run> {
  const runUri = `s3://lathe/runs/ns/${job}/`;
  const { code, output, resultText } = await runHarness(
    [],
    {
      LATHE_DATASET_URI: dataset.uri,
      LATHE_DATASET_VERSION: dataset.version,
      LATHE_OUTPUT_URI: `${runUri}artifact/`,
      LATHE_RUN_URI: runUri,
      LATHE_TASK: task,
      LATHE_HYPERPARAMETERS: JSON.stringify(hyperparameters),
      ...extra,
    },
    path.join(root, `${job}.result`),
  );
  return { code, output, result: parseResult('train', resultText), runUri };
}

function succeeded(run: Run): TrainResult & { outcome: 'succeeded' } {
  expect(run.result, run.output).toMatchObject({ outcome: 'succeeded' });
  expect(run.code, run.output).toBe(0);
  return run.result as TrainResult & { outcome: 'succeeded' };
}

/** The features of a prepared split (CSV without its header and label column). */
function featuresOf(csv: Buffer): number[][] {
  return csv
    .toString()
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(',').slice(0, -1).map(Number));
}

/** ONNX Runtime's outputs for `rows` of the artifact's model.onnx, with its declared names. */
async function onnxOutputs(
  modelFile: string,
  rows: number[][],
): Promise<{ inputs: string[]; outputs: string[]; values: number[][] }> {
  const program = `
import json, sys
import numpy as np, onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
rows = np.asarray(json.load(sys.stdin), dtype=np.float32)
print(json.dumps({"inputs": [i.name for i in session.get_inputs()],
                  "outputs": [o.name for o in session.get_outputs()],
                  "values": session.run(None, {"features": rows})[0].tolist()}))
`;
  return new Promise((resolve, reject) => {
    const child = execFile(python, ['-c', program, modelFile], (error, stdout, stderr) =>
      error ? reject(new Error(stderr)) : resolve(JSON.parse(stdout)),
    );
    child.stdin?.end(JSON.stringify(rows));
  });
}

const hyperparameters = { epochs: 15, batchSize: 32, learningRate: 0.01, seed: 7 };

describe('the PyTorch trainer', () => {
  let classes: { uri: string; version: string; test: Buffer };
  let single: TrainResult & { outcome: 'succeeded' };

  beforeAll(() => {
    classes = storeVersion('synthetic', syntheticClassification(600, 5, 3));
  });

  it('trains a classifier in one process and writes an ONNX artifact the operator verifies', async () => {
    const run = await runTrainer('single', classes, 'classification', hyperparameters, {
      LATHE_HP_LAYERS: '32,16',
    });
    single = succeeded(run);
    expect(single).toMatchObject({ backend: 'pytorch', epochs: 15, artifact: { format: 'onnx' } });
    expect(single.metrics.accuracy).toBeGreaterThan(0.85);
    const verification = await verifyArtifact(directory, single.artifact);
    expect(verification).toMatchObject({ verified: true, files: 4 });

    const metrics = ModelMetricsSchema.parse(
      JSON.parse(fileAt(single.artifact.uri, 'metrics.json').toString()),
    );
    expect(metrics).toMatchObject({
      task: 'classification',
      classes: ['class-0', 'class-1', 'class-2'],
      evaluatedOn: { datasetVersion: classes.version, split: 'test', rows: 120 },
    });
    expect(metrics.metrics).toEqual(single.metrics);
    expect(metrics.framework).toMatch(/^PyTorch 1\.13/);
    const history = TrainingHistorySchema.parse(
      JSON.parse(fileAt(run.runUri, 'history.json').toString()),
    );
    expect(history.epochs.map((e) => e.epoch)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(Object.keys(history.epochs[0]!.metrics).sort()).toEqual(['accuracy', 'val_accuracy']);
    expect(history.epochs.at(-1)!.loss).toBeLessThan(history.epochs[0]!.loss);
    const progress = TrainingProgressSchema.parse(
      JSON.parse(fileAt(run.runUri, 'progress.json').toString()),
    );
    expect(progress).toMatchObject({ epoch: 15, totalEpochs: 15, backend: 'pytorch' });
  }, 60_000);

  it('exports ONNX that computes what torch computes: probabilities over the schema classes', async () => {
    expect(single, 'the training test ran first').toBeDefined();
    const rows = featuresOf(classes.test);
    const dir = path.join(root, single.artifact.uri.slice('s3://'.length));
    const onnx = await onnxOutputs(path.join(dir, 'model.onnx'), rows);
    const torch = await torchscriptOutputs(python, path.join(dir, 'model.pt'), rows);
    expect(onnx.inputs).toEqual(['features']);
    expect(onnx.outputs).toEqual(['probabilities']);
    expect(onnx.values).toHaveLength(rows.length);
    for (const [r, row] of onnx.values.entries()) {
      expect(row).toHaveLength(3);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      for (const [c, value] of row.entries()) expect(value).toBeCloseTo(torch[r]![c]!, 5);
    }
  }, 60_000);

  it('evaluates its artifact on the raw test rows as it scored the prepared ones (evaluate mode)', async () => {
    expect(single, 'the training test ran first').toBeDefined();
    const { code, output, resultText } = await runHarness(
      ['evaluate'],
      {
        LATHE_EVALUATE_MODEL_URI: single.artifact.uri,
        LATHE_EVALUATE_MODEL_DIGEST: single.artifact.digest,
        LATHE_DATASET_URI: classes.uri,
        LATHE_TASK: 'classification',
      },
      path.join(root, 'evaluate.result'),
    );
    const result = parseResult('evaluate', resultText);
    expect(result, output).toMatchObject({ outcome: 'succeeded', rows: 120 });
    expect(code, output).toBe(0);
    if (result?.outcome !== 'succeeded') throw new Error('unreachable');
    // The same rows, prepared from test.raw.jsonl by the model's schema instead of read from
    // test.csv, through ONNX Runtime instead of torch: the same figures to float precision.
    expect(Object.keys(result.metrics).sort()).toEqual(Object.keys(single.metrics).sort());
    expect(result.metrics.accuracy).toBe(single.metrics.accuracy);
    expect(result.metrics.loss).toBeCloseTo(single.metrics.loss!, 4);
  }, 60_000);

  it('refuses to evaluate an artifact whose manifest is not the recorded one', async () => {
    expect(single, 'the training test ran first').toBeDefined();
    const { code, resultText } = await runHarness(
      ['evaluate'],
      {
        LATHE_EVALUATE_MODEL_URI: single.artifact.uri,
        LATHE_EVALUATE_MODEL_DIGEST: `sha256:${'0'.repeat(64)}`,
        LATHE_DATASET_URI: classes.uri,
        LATHE_TASK: 'classification',
      },
      path.join(root, 'evaluate-forged.result'),
    );
    expect(code).toBe(1);
    expect(parseResult('evaluate', resultText)).toMatchObject({
      outcome: 'failed',
      reason: 'ArtifactInvalid',
    });
  }, 60_000);

  it('trains the same model under torchrun with two DDP processes started from PET_*', async () => {
    expect(single, 'the single-process test ran first').toBeDefined();
    const run = await runTrainer('ddp', classes, 'classification', hyperparameters, {
      LATHE_HP_LAYERS: '32,16',
      // What the operator gives a worker pod; the program starts torchrun itself.
      PET_NNODES: '1',
      PET_NPROC_PER_NODE: '2',
      PET_NODE_RANK: '0',
      PET_MASTER_ADDR: '127.0.0.1',
      PET_MASTER_PORT: String(await freePort()),
    });
    const ddp = succeeded(run);
    expect(run.output).toContain('"worldSize": 2');
    expect(ddp.epochs).toBe(15);
    // The same examples per step (batchSize split across ranks): the same accuracy, and the
    // losses equal but for float summation order.
    expect(ddp.metrics.accuracy).toBe(single.metrics.accuracy);
    expect(ddp.metrics.loss).toBeCloseTo(single.metrics.loss!, 4);
    expect(await verifyArtifact(directory, ddp.artifact)).toMatchObject({ verified: true });
    expect(JSON.parse(fileAt(ddp.artifact.uri, 'metrics.json').toString()).framework).toContain(
      'DistributedDataParallel over gloo, 2 processes',
    );
  }, 120_000);

  it('trains as two pods of one process each, and both pods report rank 0’s result', async () => {
    expect(single, 'the single-process test ran first').toBeDefined();
    const port = String(await freePort());
    const pod = (rank: number) =>
      runHarness(
        [],
        {
          LATHE_DATASET_URI: classes.uri,
          LATHE_DATASET_VERSION: classes.version,
          LATHE_OUTPUT_URI: 's3://lathe/runs/ns/pods/artifact/',
          LATHE_RUN_URI: 's3://lathe/runs/ns/pods/',
          LATHE_TASK: 'classification',
          LATHE_HYPERPARAMETERS: JSON.stringify(hyperparameters),
          LATHE_HP_LAYERS: '32,16',
          // As the operator sets them for worker `rank` of two (worker 0's address).
          WORLD_SIZE: '2',
          RANK: String(rank),
          NODE_RANK: String(rank),
          PET_NNODES: '2',
          PET_NPROC_PER_NODE: '1',
          PET_NODE_RANK: String(rank),
          PET_MASTER_ADDR: '127.0.0.1',
          PET_MASTER_PORT: port,
        },
        path.join(root, `pod-${rank}.result`),
      );
    const [first, second] = await Promise.all([pod(0), pod(1)]);
    expect(first.code, first.output).toBe(0);
    expect(second.code, second.output).toBe(0);
    const result = parseResult('train', first.resultText);
    expect(result).toMatchObject({ outcome: 'succeeded' });
    expect(parseResult('train', second.resultText)).toEqual(result);
    if (result?.outcome !== 'succeeded') throw new Error('unreachable');
    expect(result.metrics.accuracy).toBe(single.metrics.accuracy);
    expect(await verifyArtifact(directory, result.artifact)).toMatchObject({ verified: true });
  }, 120_000);

  it('trains a regression in the label units and stops early on val_loss', async () => {
    const prices = storeVersion('prices', syntheticRegression(500, 4));
    const run = await runTrainer(
      'regression',
      prices,
      'regression',
      { epochs: 300, batchSize: 32, learningRate: 0.01, seed: 3, earlyStopping: { patience: 3 } },
      { LATHE_HP_LAYERS: '16' },
    );
    const result = succeeded(run);
    expect(Object.keys(result.metrics).sort()).toEqual(['loss', 'mae', 'mse', 'r2', 'rmse']);
    expect(result.metrics.r2).toBeGreaterThan(0.95);
    expect(result.epochs).toBeLessThan(300);
    const rows = featuresOf(prices.test).slice(0, 20);
    const dir = path.join(root, result.artifact.uri.slice('s3://'.length));
    const onnx = await onnxOutputs(path.join(dir, 'model.onnx'), rows);
    expect(onnx.outputs).toEqual(['predictions']);
    const labels = prices.test
      .toString()
      .trim()
      .split('\n')
      .slice(1, 21)
      .map((line) => Number(line.split(',').at(-1)));
    // In the label's units (tens of thousands), not the standardised ones it trained on.
    const meanError =
      onnx.values.reduce((sum, [value], i) => sum + Math.abs(value! - labels[i]!), 0) / rows.length;
    expect(meanError).toBeLessThan(0.2 * result.metrics.rmse! + 2 * result.metrics.mae!);
    expect(Math.min(...onnx.values.map(([v]) => v!))).toBeGreaterThan(1000);
  }, 60_000);

  it.each([
    [
      { LATHE_HP_LAYERS: '64,wide' },
      {},
      'LATHE_HP_LAYERS: must be 1 to 16 comma-separated unit counts',
    ],
    [{ LATHE_HP_ACTIVATION: 'gelu' }, {}, 'LATHE_HP_ACTIVATION: must be one of relu, tanh'],
    [{}, { batchSize: 0 }, 'hyperparameters.batchSize: must be >= 1'],
    [{}, { optimizer: 'lamb' }, 'hyperparameters.optimizer: must be one of adam, sgd'],
  ])(
    'refuses an invalid environment %j %j with exit 2, naming the variable',
    async (extra, hp, message) => {
      const run = await runTrainer(
        'invalid',
        classes,
        'classification',
        { ...hyperparameters, ...hp },
        extra,
      );
      expect(run.code, run.output).toBe(2);
      expect(run.result).toMatchObject({ outcome: 'failed', reason: 'InternalError' });
      expect((run.result as { message: string }).message).toContain(message);
    },
    60_000,
  );

  it('fails an early-stopping monitor the run does not compute, naming the choices', async () => {
    const run = await runTrainer('monitor', classes, 'classification', {
      ...hyperparameters,
      validationSplit: 0,
      earlyStopping: { monitor: 'val_accuracy' },
    });
    expect(run.code, run.output).toBe(1);
    expect(run.result).toMatchObject({
      outcome: 'failed',
      reason: 'TrainingFailed',
      message:
        'earlyStopping.monitor val_accuracy is not computed by this run: choose one of loss, accuracy (val_* metrics need validationSplit > 0)',
    });
  }, 60_000);
});

describe('when the PyTorch trainer starts torchrun itself', () => {
  it.each([
    [{}, false],
    [{ PET_NNODES: '1', PET_NPROC_PER_NODE: '1' }, false],
    [{ PET_NNODES: '2', PET_NPROC_PER_NODE: '1' }, true],
    [{ PET_NNODES: '1', PET_NPROC_PER_NODE: '4' }, true],
    [{ PET_NNODES: '1:3', PET_NPROC_PER_NODE: '1' }, true],
    // Started by torchrun already (its children have LOCAL_RANK): never again.
    [{ PET_NNODES: '2', PET_NPROC_PER_NODE: '2', LOCAL_RANK: '0' }, false],
    // PyTorchJob's one process per pod: WORLD_SIZE and RANK, joined directly.
    [{ WORLD_SIZE: '2', RANK: '1' }, false],
  ])('%j: %s', async (env, expected) => {
    const program = `
import json, sys
from lathe_pytorch.distributed import torchrun_needed
print(json.dumps(torchrun_needed(json.loads(sys.argv[1]))))
`;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        python,
        ['-c', program, JSON.stringify(env)],
        { env: { PYTHONPATH: pytorchPythonPath } },
        (error, out, err) => (error ? reject(new Error(err)) : resolve(out)),
      ),
    );
    expect(JSON.parse(stdout)).toBe(expected);
  });
});
