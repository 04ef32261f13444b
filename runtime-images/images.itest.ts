/**
 * Smoke tests of the built images (`npm run images`), each run with podman and runc as a pod
 * would run it under the `restricted` profile: user 65532, read-only root filesystem, every
 * capability dropped, no privilege escalation, no shell (the Node.js images have none), only
 * mounted directories writable. The containers share the host network, so they reach the local
 * cluster's MinIO at the same address as the tests.
 *
 * - operator: `--version` and `--help` (every module loads), and `console --version`;
 * - ingest: reads a small CSV over HTTP, writes a dataset version and its result;
 * - trainer: trains one epoch on a small prepared dataset version (native TensorFlow), and
 *   leaves an artifact that verifies;
 * - trainer-sklearn: the same with scikit-learn;
 * - trainer-pytorch: the same with PyTorch, then as two DistributedDataParallel processes that
 *   the image's torchrun starts from PET_* (the same accuracy);
 * - server: loads the trainer's model, answers V2 `ready` and a V2 inference; the same with the
 *   scikit-learn trainer's ONNX model (ONNX Runtime's library and what it links, in the image);
 * - retrain: starts and fails with a configuration error naming its variables.
 *
 * The images are built (or found up to date, in seconds) before the tests; `.ci/run` builds them
 * before `npm test` so a cold build is timed on its own.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyArtifact } from '../contract/manifest.js';
import type { ObjectStore } from '../contract/object-store.js';
import { datasetVersionPrefix, s3Uri, trainingRunPrefix } from '../contract/object-store-layout.js';
import { parseResult, type TrainResult } from '../contract/results.js';
import { clusterInfo, eventually, repoRoot } from '../e2e/cluster/testenv.js';
import { programObjectStoreEnv, testStore } from '../e2e/testing/controllers.js';
import { type ImageName, readManifest, toolEnv } from '../scripts/images/cli.js';
import { type NumericTable, preparedVersionOf } from './trainer/prepared-fixture.js';

const namespace = `images-${randomBytes(3).toString('hex')}`;
/** Every container of this file is named with this prefix and removed at the end. */
const containerPrefix = `lathe-smoke-${process.pid}`;
const cgroupParent = 'lathe-images';
let store: ObjectStore;
let bucket: string;
let workDir: string;

function reference(name: ImageName): string {
  const image = readManifest().images.find((entry) => entry.name === name);
  if (!image) throw new Error(`the manifest has no ${name} image: run npm run images`);
  return image.reference;
}

/** A directory the container's user (65532) may write, as an emptyDir would be. */
function writableDir(name: string): string {
  const made = mkdtempSync(path.join(workDir, `${name}-`));
  chownSync(made, 65532, 65532);
  chmodSync(made, 0o755);
  return made;
}

/** Removes a cgroup and the ones podman made in it (conmon's), deepest first, once empty. */
function removeCgroupTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return; // absent
  }
  for (const entry of entries) removeCgroupTree(path.join(dir, entry));
  try {
    rmdirSync(dir);
  } catch {
    // still holds a process: another run's container
  }
}

interface ContainerOptions {
  env?: Record<string, string>;
  /** host directory -> container path, read-write */
  mounts?: Record<string, string>;
  args?: string[];
  name?: string;
}

/** `podman run` with the restricted profile's settings. */
function podmanArgs(image: string, options: ContainerOptions): string[] {
  return [
    'run',
    '--rm',
    `--name=${options.name ?? `${containerPrefix}-${randomBytes(3).toString('hex')}`}`,
    '--network=host',
    '--read-only',
    '--read-only-tmpfs=false',
    '--user=65532:65532',
    '--cap-drop=all',
    '--security-opt=no-new-privileges',
    `--cgroup-parent=${cgroupParent}`,
    ...Object.entries(options.env ?? {}).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
    // Every pod Lathe creates has an emptyDir at /tmp; nothing else is writable.
    ...Object.entries({ [writableDir('tmp')]: '/tmp', ...options.mounts }).flatMap(
      ([host, inside]) => ['-v', `${host}:${inside}:rw`],
    ),
    image,
    ...(options.args ?? []),
  ];
}

interface Finished {
  code: number | null;
  output: string;
}

function runImage(image: string, options: ContainerOptions = {}): Promise<Finished> {
  const child = spawn('podman', podmanArgs(image, options), {
    env: toolEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

const smallTable: NumericTable = (() => {
  const rows: number[][] = [];
  const labels: string[] = [];
  for (let i = 0; i < 80; i++) {
    const a = Math.sin(i * 1.7) * 2;
    const b = Math.cos(i * 0.9) * 2;
    rows.push([a, b]);
    labels.push(a + b > 0 ? 'yes' : 'no');
  }
  return { featureNames: ['a', 'b'], rows, labels, labelName: 'label', task: 'classification' };
})();

let dataset: { uri: string; version: string };

function trainEnv(job: string): Record<string, string> {
  const runPrefix = trainingRunPrefix(namespace, job);
  return {
    ...programObjectStoreEnv(),
    LATHE_TRAINING_JOB_NAMESPACE: namespace,
    LATHE_TRAINING_JOB_NAME: job,
    LATHE_DATASET_URI: dataset.uri,
    LATHE_DATASET_VERSION: dataset.version,
    LATHE_OUTPUT_URI: s3Uri(bucket, `${runPrefix}artifact/`),
    LATHE_RUN_URI: s3Uri(bucket, runPrefix),
    LATHE_TASK: 'classification',
    LATHE_MODEL: JSON.stringify({ architecture: 'mlp', layers: [8] }),
    LATHE_HYPERPARAMETERS: JSON.stringify({ epochs: 1, batchSize: 16, seed: 1 }),
    LATHE_RESULT_PATH: '/result/result',
  };
}

async function train(
  image: string,
  job: string,
  env: Record<string, string> = {},
): Promise<TrainResult & { outcome: 'succeeded' }> {
  const results = writableDir(`result-${job}`);
  const run = await runImage(image, {
    env: { ...trainEnv(job), ...env },
    mounts: { [results]: '/result' },
  });
  const result = parseResult(
    'train',
    readFileSync(path.join(results, 'result'), 'utf8').toString(),
  );
  expect(result, run.output).toMatchObject({ outcome: 'succeeded', epochs: 1 });
  expect(run.code, run.output).toBe(0);
  if (result?.outcome !== 'succeeded') throw new Error('unreachable');
  expect(await verifyArtifact(store, result.artifact)).toMatchObject({ verified: true });
  return result;
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the image smoke tests need root (podman)');
  // Builds what is missing or out of date; seconds when `.ci/run` or a developer already did.
  // Asynchronously: a rebuild takes minutes, and a blocked event loop would starve the test
  // runner's heartbeat and the keep-alive connections this file opens next.
  const status = await new Promise<number | null>((resolve, reject) => {
    const build = spawn(process.execPath, ['--import', 'tsx', 'scripts/images/cli.ts'], {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    build.once('error', reject);
    build.once('exit', resolve);
  });
  if (status !== 0) throw new Error(`npm run images failed (exit ${status})`);
  workDir = mkdtempSync(path.join(os.tmpdir(), 'lathe-images-itest-'));
  chmodSync(workDir, 0o755);
  ({ store } = testStore());
  bucket = clusterInfo().minio.bucket;
  await store.ensureBucket(bucket);
  const version = 'v-smoke';
  const prefix = datasetVersionPrefix(namespace, 'smoke', version);
  for (const [file, bytes] of Object.entries(preparedVersionOf(smallTable, 0.25, 3).files)) {
    await store.write(bucket, `${prefix}${file}`, bytes);
  }
  dataset = { uri: s3Uri(bucket, prefix), version };
}, 45 * 60_000);

afterAll(async () => {
  // Nothing left running: every container of this run, then the cgroups podman made.
  const list = spawnSync(
    'podman',
    ['ps', '-a', '--filter', `name=${containerPrefix}`, '--format', '{{.Names}}'],
    { env: toolEnv(), encoding: 'utf8' },
  );
  for (const name of list.stdout.split('\n').filter(Boolean)) {
    spawnSync('podman', ['rm', '-f', '-t', '0', name], { env: toolEnv() });
  }
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    removeCgroupTree(`/sys/fs/cgroup/${controller}/${cgroupParent}`);
  }
  // A keep-alive connection MinIO closed while the containers ran fails once: try again.
  for (const prefix of store ? [`datasets/${namespace}/`, `runs/${namespace}/`] : []) {
    await eventually(() => store.removePrefix(bucket, prefix), {
      timeoutMs: 20_000,
      what: `removing ${prefix}`,
    });
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the built images', () => {
  it('every image runs as 65532 with its program as the entrypoint and OCI labels', () => {
    for (const image of readManifest().images) {
      const inspected = spawnSync(
        'podman',
        ['image', 'inspect', '--format', '{{json .Config}}', image.reference],
        { env: toolEnv(), encoding: 'utf8' },
      );
      const config = JSON.parse(inspected.stdout) as {
        User: string;
        Entrypoint: string[];
        Labels: Record<string, string>;
      };
      expect(config.User, image.name).toBe('65532:65532');
      expect(config.Entrypoint[0], image.name).toMatch(/^(\/usr\/local\/bin\/node|python)$/);
      expect(config.Labels['org.opencontainers.image.source']).toBe(
        'https://github.com/lathe-dev/lathe',
      );
      expect(config.Labels['org.opencontainers.image.version']).toBe(image.tag);
      expect(config.Labels['org.opencontainers.image.revision']).toBe(image.revision);
    }
  });

  it('the Node.js images have no shell', () => {
    const shell = spawnSync(
      'podman',
      [
        'run',
        '--rm',
        '--network=host',
        '--entrypoint=/bin/sh',
        reference('operator'),
        '-c',
        'true',
      ],
      { env: toolEnv(), encoding: 'utf8' },
    );
    expect(shell.status).not.toBe(0);
  });

  it('the operator reports its version and usage', async () => {
    const version = await runImage(reference('operator'), { args: ['--version'] });
    expect(version.output).toMatch(/^lathe-operator \d+\.\d+\.\d+ \(Node\.js v20\.19\.\d+\)/);
    expect(version.code).toBe(0);
    const help = await runImage(reference('operator'), { args: ['--help'] });
    expect(help.output).toContain('Usage: lathe-operator');
    expect(help.code).toBe(0);
    // The web console ships in the same image (the chart runs it with `console`).
    const consoleVersion = await runImage(reference('operator'), {
      args: ['console', '--version'],
    });
    expect(consoleVersion.output).toMatch(/^lathe-console \d+\.\d+\.\d+ \(Node\.js v20\.19\.\d+\)/);
    expect(consoleVersion.code).toBe(0);
  });

  it('ingest reads a small CSV over HTTP and writes a dataset version', async () => {
    const csv = [
      'a,b,label',
      ...smallTable.rows.map((row, i) => `${row.join(',')},${smallTable.labels[i]}`),
    ].join('\n');
    const server: Server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/csv' }).end(`${csv}\n`);
    });
    // The ingestion program refuses loopback sources; the host's address on the cluster's
    // link is reached the same way through the host network.
    const host = clusterInfo().hostAddress;
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const { port } = server.address() as { port: number };
    try {
      const results = writableDir('ingest-result');
      const run = await runImage(reference('ingest'), {
        env: {
          ...programObjectStoreEnv(),
          LATHE_DATASET_NAMESPACE: namespace,
          LATHE_DATASET_NAME: 'csv',
          LATHE_DATASET_SPEC: JSON.stringify({
            source: { http: { url: `http://${host}:${port}/data.csv` } },
            schema: { label: 'label' },
          }),
          LATHE_RESULT_PATH: '/result/result',
        },
        mounts: { [results]: '/result', [writableDir('ingest-work')]: '/work' },
      });
      const result = parseResult('ingest', readFileSync(path.join(results, 'result'), 'utf8'));
      expect(result, run.output).toMatchObject({ outcome: 'succeeded', rows: 80 });
      expect(run.code, run.output).toBe(0);
    } finally {
      server.close();
    }
  });

  let trained: TrainResult & { outcome: 'succeeded' };

  it('the trainer trains one epoch on native TensorFlow', async () => {
    trained = await train(reference('trainer'), 'tf');
    expect(trained.backend).toBe('tensorflow');
  });

  let trainedOnnx: TrainResult & { outcome: 'succeeded' };

  it('the scikit-learn trainer trains on the same version', async () => {
    trainedOnnx = await train(reference('trainer-sklearn'), 'sklearn');
    expect(trainedOnnx.artifact.format).toBe('onnx');
  });

  it('the PyTorch trainer trains on the same version, alone and as two DDP processes under torchrun', async () => {
    const single = await train(reference('trainer-pytorch'), 'pytorch');
    expect(single).toMatchObject({ backend: 'pytorch', artifact: { format: 'onnx' } });
    // A worker pod as the operator starts it: PET_* only; the image starts torchrun itself,
    // which needs nothing writable but the result path and /tmp.
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const ddp = await train(reference('trainer-pytorch'), 'pytorch-ddp', {
      PET_NNODES: '1',
      PET_NPROC_PER_NODE: '2',
      PET_NODE_RANK: '0',
      PET_MASTER_ADDR: '127.0.0.1',
      PET_MASTER_PORT: String(port),
    });
    expect(ddp.metrics.accuracy).toBe(single.metrics.accuracy);
  });

  it.each([
    ['TensorFlow.js model', () => trained],
    ['scikit-learn trainer’s ONNX model (ONNX Runtime in the image)', () => trainedOnnx],
  ])('the server loads the trained %s, answers V2 ready and an inference', async (_, model) => {
    const served = model();
    expect(served, 'the trainer test ran first').toBeDefined();
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const name = `${containerPrefix}-server-${served.artifact.format}`;
    const child: ChildProcess = spawn(
      'podman',
      podmanArgs(reference('server'), {
        name,
        env: {
          ...programObjectStoreEnv(),
          LATHE_INFERENCE_SERVICE_NAMESPACE: namespace,
          LATHE_INFERENCE_SERVICE: 'smoke',
          LATHE_MODEL_NAME: 'smoke',
          LATHE_MODEL_VERSION: '1',
          LATHE_MODEL_URI: served.artifact.uri,
          LATHE_MODEL_DIGEST: served.artifact.digest,
          LATHE_MODEL_FORMAT: served.artifact.format,
          LATHE_PORT: String(port),
          LATHE_BIND_ADDRESS: '127.0.0.1',
          LATHE_POD_NAME: 'smoke-server',
          LATHE_RESULT_PATH: '/result/result',
        },
        mounts: { [writableDir('server-result')]: '/result' },
      }),
      { env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`the server exited:\n${output}`);
          const response = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
          if (response.status !== 200) throw new Error(`ready answered ${response.status}`);
        },
        { timeoutMs: 90_000, what: 'the server image to become ready' },
      );
      const response = await fetch(`http://127.0.0.1:${port}/v2/models/smoke/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          inputs: [
            { name: 'a', shape: [2], datatype: 'FP64', data: [1.5, -1] },
            { name: 'b', shape: [2], datatype: 'FP64', data: [0.5, -1] },
          ],
        }),
      });
      const body = await response.text();
      expect(response.status, `${body}\n${output}`).toBe(200);
      expect(JSON.parse(body)).toMatchObject({ model_name: 'smoke', model_version: '1' });
    } finally {
      spawnSync('podman', ['stop', '-t', '10', name], { env: toolEnv() });
      await exited;
    }
  });

  it('the retrain trigger starts and names its missing configuration', async () => {
    const run = await runImage(reference('retrain'));
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/LATHE_/);
  });

  it('the activator starts and names its missing configuration', async () => {
    const run = await runImage(reference('activator'));
    expect(run.code).toBe(2);
    expect(run.output).toMatch(/Invalid environment[\s\S]*LATHE_/);
  });
});
