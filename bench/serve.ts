/**
 * Serving benchmark, one run, side by side: Lathe's inference server against the KServe Python
 * model server (PyPI `kserve`) serving the same MLP (30 prepared features → 64 → 32 → 3, trained
 * here with TensorFlow.js; KServe gets the same weights in Keras from tensorflow-cpu), measured
 * with the same load generator (wrk), V1 and V2, one row per request, at concurrency 1 and 8,
 * in two CPU set-ups, one after the other. Lathe serves it twice: as TensorFlow.js (format
 * `tfjs`) and, the same weights written as ONNX (`Gemm`/`Relu`/`Softmax`,
 * `runtime-images/onnx/dense-network-onnx.ts`), on ONNX Runtime (format `onnx`); the table's
 * last columns are ONNX Runtime against TensorFlow.js:
 *
 * - pinned: each server pinned to core 0 (`taskset`, set when it starts, so thread pools are
 *   sized for one core), wrk to core 1 — the servers' efficiency per core;
 * - unpinned: nothing pinned, server and wrk free on every core of the machine (2 here) — what a
 *   client of a pod without a CPU limit sees. KServe then runs `--kserve-workers` uvicorn worker
 *   processes (default 2, one per core, KServe's documented way to use more cores; its event
 *   loop is single-threaded); Lathe's server is one process.
 *
 * Each set-up starts fresh servers, warms them, then measures Lathe and KServe cell by cell, back
 * to back. `--full` adds 32-row requests, concurrency 32, raw records, the bare `node:http`
 * floor and the bare forward pass (pinned). Figures, not assertions: this machine is shared, so
 * compare within the run (the ratios), not across runs.
 *
 *   npm run bench:serve [-- --duration 3] [--kserve-workers 2] [--full] [--cpu-prof DIR]
 *
 * It also times `:explain` on one raw row in the pinned set-up (Lathe only: KServe has no
 * built-in explainer since Alibi left it), one request at a time: p50 and p99 in ms.
 *
 * `--cpu-prof DIR` writes a V8 CPU profile of Lathe's server in the unpinned set-up to DIR.
 * `bench/kserve/prepare.sh` (run by the npm script) installs wrk and the KServe environment
 * into ~/.cache/lathe/bench once.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ObjectStore } from '../contract/object-store.js';
import { modelVersionPrefix } from '../contract/object-store-layout.js';
import { prepareRecord } from '../contract/prepared-data.js';
import { ServeEnv } from '../contract/runtime-env.js';
import { isHealthy, up } from '../e2e/cluster/cluster.js';
import { clusterInfo, repoRoot } from '../e2e/cluster/testenv.js';
import {
  fixtureRows,
  makeFixtureArtifact,
  onnxFixtureArtifact,
  uploadFixtureArtifact,
} from '../runtime-images/server/fixture.js';
import { loadTensorflow } from '../runtime-images/server/tensorflow.js';
import { percentile } from './stats.js';

const exec = promisify(execFile);
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]) || fallback;
};
const option = (name: string) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const durationS = flag('--duration', 3);
const kserveWorkers = flag('--kserve-workers', 2);
const full = args.includes('--full');
const cpuProfDir = option('--cpu-prof');
const SERVER_CORE = '0';
const LOAD_CORE = '1';
const HIDDEN = [64, 32];
/** Numeric inputs added to the fixture's four (six prepared features): 30 features in all. */
const NOISE_INPUTS = 24;

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** How the processes get CPUs: `pinned` is servers on core 0 and wrk on core 1. */
type CpuSetup = 'pinned' | 'unpinned';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function toMicros(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value : match[2] === 'ms' ? value * 1000 : value * 1e6;
}

/** `command argv` as run in `setup`: under `taskset -c core` when pinned. */
function placed(
  setup: CpuSetup,
  core: string,
  command: string,
  argv: string[],
): [string, string[]] {
  return setup === 'pinned' ? ['taskset', ['-c', core, command, ...argv]] : [command, argv];
}

/** Runs wrk (on the load core when pinned) and reads its summary. */
async function wrk(
  setup: CpuSetup,
  url: string,
  body: string,
  connections: number,
  seconds: number,
  dir: string,
): Promise<WrkResult> {
  const script = path.join(dir, `post-${randomBytes(4).toString('hex')}.lua`);
  await writeFile(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`,
  );
  const [command, argv] = placed(setup, LOAD_CORE, 'wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    '-s',
    script,
    url,
  ]);
  const { stdout } = await exec(command, argv, { maxBuffer: 16 * 1024 * 1024 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p50 = toMicros(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1] ?? '');
  const p99 = toMicros(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    stdout,
  );
  const errors = non2xx + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50, p99, errors };
}

/** The environment of Lathe's server for the benchmark, serving `uri` as model `mlp` on `port`. */
function latheServerEnv(
  uri: string,
  digest: string,
  port: number,
  format: 'tfjs' | 'onnx' = 'tfjs',
): NodeJS.ProcessEnv {
  const { minio } = clusterInfo();
  return {
    PATH: process.env.PATH,
    LATHE_OBJECT_STORE_ENDPOINT: minio.endpoint,
    LATHE_OBJECT_STORE_BUCKET: minio.bucket,
    LATHE_OBJECT_STORE_ACCESS_KEY: minio.accessKey,
    LATHE_OBJECT_STORE_SECRET_KEY: minio.secretKey,
    [ServeEnv.modelName]: 'mlp',
    [ServeEnv.modelVersion]: '1',
    [ServeEnv.modelUri]: uri,
    [ServeEnv.modelDigest]: digest,
    [ServeEnv.modelFormat]: format,
    [ServeEnv.port]: String(port),
    [ServeEnv.bindAddress]: '127.0.0.1',
    [ServeEnv.batchMaxSize]: '32',
    [ServeEnv.batchMaxLatencyMs]: '5',
    [ServeEnv.backend]: 'auto',
    LATHE_RESULT_PATH: path.join(os.tmpdir(), `lathe-bench-serve-result-${port}`),
  };
}

/** Sequential V1 `:explain` requests with `body` (2 untimed); latency percentiles in ms. */
async function explainLatency(port: number, body: string, requests = 30) {
  const times: number[] = [];
  let explanation: { method: string; samples?: number; backgroundRows: number } | undefined;
  for (let i = 0; i < requests + 2; i++) {
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${port}/v1/models/mlp:explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const answer = (await response.json()) as { explanations?: (typeof explanation)[] };
    if (response.status !== 200)
      throw new Error(`:explain answered ${response.status}: ${JSON.stringify(answer)}`);
    if (i >= 2) times.push(performance.now() - started);
    explanation = answer.explanations?.[0];
  }
  times.sort((a, b) => a - b);
  return { ...explanation!, p50: percentile(times, 50), p99: percentile(times, 99), requests };
}

async function waitFor(
  url: string,
  child: ChildProcess,
  output: () => string,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited with ${child.exitCode}:\n${output()}`);
    const ok = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready:\n${output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function start(setup: CpuSetup, command: string, argv: string[], env: NodeJS.ProcessEnv) {
  const [placedCommand, placedArgv] = placed(setup, SERVER_CORE, command, argv);
  const child = spawn(placedCommand, placedArgv, {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => output };
}

/** Stops `child` and waits for it to exit (so the next set-up starts on idle cores). */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const us = (n: number) =>
  Number.isFinite(n) ? (n >= 1000 ? `${(n / 1000).toFixed(2)} ms` : `${n.toFixed(0)} µs`) : '–';

interface Cell {
  setup: CpuSetup;
  protocol: 'v1' | 'v2';
  rows: number;
  concurrency: number;
  lathe: WrkResult;
  kserve: WrkResult;
  /** Lathe's server on ONNX Runtime, the same weights. */
  onnx: WrkResult;
}

async function main(): Promise<void> {
  const venv = process.env.LATHE_KSERVE_VENV;
  if (!venv) throw new Error('LATHE_KSERVE_VENV is unset: run through "npm run bench:serve"');
  if (!(await isHealthy())) await up();
  const { minio } = clusterInfo();
  const store = new ObjectStore(minio);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lathe-bench-serve-'));
  const namespace = `bench-${randomBytes(3).toString('hex')}`;
  const prefix = modelVersionPrefix(namespace, 'mlp', 1);
  const children: ChildProcess[] = [];
  try {
    const { tf } = await loadTensorflow('wasm');
    const artifact = await makeFixtureArtifact(tf, {
      hidden: HIDDEN,
      epochs: 10,
      noiseInputs: NOISE_INPUTS,
    });
    await uploadFixtureArtifact(store, minio.bucket, prefix, artifact);
    for (const [file, bytes] of Object.entries(artifact.files))
      await writeFile(path.join(dir, file), bytes);
    const uri = `s3://${minio.bucket}/${prefix}`;
    const onnxArtifact = onnxFixtureArtifact(artifact);
    const onnxPrefix = modelVersionPrefix(namespace, 'mlp', 3);
    await uploadFixtureArtifact(store, minio.bucket, onnxPrefix, onnxArtifact);
    const onnxUri = `s3://${minio.bucket}/${onnxPrefix}`;

    const raw = fixtureRows('classification', 32, 5, NOISE_INPUTS).map(
      ({ species: _label, ...r }) => r,
    );
    const prepared = raw.map((r) => prepareRecord(artifact.schema, r));
    const features = artifact.schema.features.length;
    const inputNames = artifact.schema.inputs.map((input) => input.name);
    const bodies = (rows: number) => ({
      v1: JSON.stringify({ instances: prepared.slice(0, rows) }),
      v2: JSON.stringify({
        inputs: [
          {
            name: 'features',
            datatype: 'FP32',
            shape: [rows, features],
            data: prepared.slice(0, rows).flat(),
          },
        ],
      }),
      v1Raw: JSON.stringify({ instances: raw.slice(0, rows) }),
      v2Raw: JSON.stringify({
        inputs: inputNames.map((name) => ({
          name,
          datatype: name === 'colour' ? 'BYTES' : name === 'fresh' ? 'BOOL' : 'FP64',
          shape: [rows],
          data: raw.slice(0, rows).map((r) => r[name]),
        })),
      }),
    });
    const urls = (port: number) => ({
      v1: `http://127.0.0.1:${port}/v1/models/mlp:predict`,
      v2: `http://127.0.0.1:${port}/v2/models/mlp/infer`,
    });

    console.log(
      `Serving benchmark: MLP ${features}→${HIDDEN.join('→')}→3, wrk, ${durationS} s per cell, ${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the start`,
    );
    console.log(
      `Lathe: lathe-server (TensorFlow.js, backend auto, batch ≤32/5 ms), one process · KServe: kserve 0.21.0, Keras (tensorflow-cpu 2.21.0), 1 uvicorn worker pinned, ${kserveWorkers} unpinned · ONNX: lathe-server on ONNX Runtime (onnxruntime-node, CPU, intra-op threads = the CPUs it may use), same batching`,
    );
    const header = `${'cpus'.padEnd(9)}${'protocol'.padEnd(9)}${'rows'.padStart(5)}${'conc'.padStart(6)} │ ${'Lathe req/s'.padStart(11)}${'p50'.padStart(10)}${'p99'.padStart(10)} │ ${'KServe req/s'.padStart(12)}${'p50'.padStart(10)}${'p99'.padStart(10)} │ ${'req/s ×'.padStart(8)}${'p50 ×'.padStart(7)}${'p99 ×'.padStart(7)} │ ${'ONNX req/s'.padStart(10)}${'p50'.padStart(10)}${'p99'.padStart(10)} │ ${'vs TF.js ×'.padStart(10)}${'p50 ×'.padStart(7)}${'p99 ×'.padStart(7)}`;
    const cells: Cell[] = [];
    const coldStarts: { setup: CpuSetup; lathe: number; kserve: number; onnx: number }[] = [];
    let httpFloor: WrkResult | undefined;

    for (const setup of ['pinned', 'unpinned'] as const) {
      const running: ChildProcess[] = [];
      const lathePort = await freePort();
      const profile =
        setup === 'unpinned' && cpuProfDir
          ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(cpuProfDir)]
          : [];
      // Cold start: process start to ready (model read, verified and loaded), one server at a
      // time, so neither slows the other's start.
      const latheSpawned = performance.now();
      const lathe = start(
        setup,
        process.execPath,
        [...profile, '--import', 'tsx', 'runtime-images/server/main.ts'],
        latheServerEnv(uri, artifact.digest, lathePort),
      );
      running.push(lathe.child);
      children.push(lathe.child);
      await waitFor(
        `http://127.0.0.1:${lathePort}/v2/health/ready`,
        lathe.child,
        lathe.output,
        "Lathe's server",
      );
      const latheColdStartS = (performance.now() - latheSpawned) / 1000;
      const onnxPort = await freePort();
      const onnxSpawned = performance.now();
      const onnx = start(
        setup,
        process.execPath,
        ['--import', 'tsx', 'runtime-images/server/main.ts'],
        latheServerEnv(onnxUri, onnxArtifact.digest, onnxPort, 'onnx'),
      );
      running.push(onnx.child);
      children.push(onnx.child);
      await waitFor(
        `http://127.0.0.1:${onnxPort}/v2/health/ready`,
        onnx.child,
        onnx.output,
        "Lathe's server on ONNX Runtime",
      );
      const onnxColdStartS = (performance.now() - onnxSpawned) / 1000;
      const kservePort = await freePort();
      const kserveSpawned = performance.now();
      const kserve = start(
        setup,
        path.join(venv, 'bin/python'),
        [
          path.join(repoRoot, 'bench/kserve/mlp_server.py'),
          '--model_dir',
          dir,
          '--model_name',
          'mlp',
          '--http_port',
          String(kservePort),
          '--workers',
          String(setup === 'pinned' ? 1 : kserveWorkers),
        ],
        { PATH: process.env.PATH, TF_CPP_MIN_LOG_LEVEL: '2', CUDA_VISIBLE_DEVICES: '' },
      );
      running.push(kserve.child);
      children.push(kserve.child);
      // The HTTP floor: a bare node:http server that reads and parses the JSON body and answers
      // a fixed prediction, no model: what no Node.js server can go below on this machine.
      const floorPort = await freePort();
      if (full && setup === 'pinned') {
        const floor = start(
          setup,
          process.execPath,
          [
            '-e',
            `const b = '{"predictions":[{"label":"setosa","probabilities":[0.1,0.2,0.7]}]}';
           require('node:http').createServer((q, s) => { const c = []; q.on('data', (d) => c.push(d));
             q.on('end', () => { try { JSON.parse(Buffer.concat(c)); } catch {}
               s.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length }); s.end(b); }); })
           .listen(${floorPort}, '127.0.0.1');`,
          ],
          { PATH: process.env.PATH },
        );
        running.push(floor.child);
        children.push(floor.child);
        await waitFor(`http://127.0.0.1:${floorPort}/`, floor.child, floor.output, 'the floor');
      }
      await waitFor(
        `http://127.0.0.1:${kservePort}/v2/health/ready`,
        kserve.child,
        kserve.output,
        'KServe',
      );
      const kserveColdStartS = (performance.now() - kserveSpawned) / 1000;
      coldStarts.push({
        setup,
        lathe: latheColdStartS,
        kserve: kserveColdStartS,
        onnx: onnxColdStartS,
      });
      const lUrls = urls(lathePort);
      const kUrls = urls(kservePort);
      const oUrls = urls(onnxPort);

      if (setup === 'pinned') {
        // Same model on both sides: the two servers' probabilities for the same rows.
        const probabilities = async (port: number) => {
          const response = await fetch(urls(port).v1, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: bodies(32).v1,
          });
          const body = (await response.json()) as {
            predictions: (number[] | { probabilities: number[] })[];
          };
          return body.predictions.flatMap((p) => (Array.isArray(p) ? p : p.probabilities));
        };
        const [lp, kp, op] = [
          await probabilities(lathePort),
          await probabilities(kservePort),
          await probabilities(onnxPort),
        ];
        const maxDiff = Math.max(...lp.map((v, i) => Math.abs(v - kp[i]!)));
        const onnxDiff = Math.max(...lp.map((v, i) => Math.abs(v - op[i]!)));
        console.log(
          `Same model: largest difference between the probabilities on 32 rows of Lathe (TensorFlow.js) and KServe: ${maxDiff.toExponential(1)}; and Lathe on ONNX Runtime: ${onnxDiff.toExponential(1)}\n`,
        );
        console.log(header);
        console.log('─'.repeat(header.length));
      }
      // Warm both (JIT, Keras tracing, every KServe worker, connection set-up).
      for (const protocol of ['v1', 'v2'] as const) {
        await wrk(setup, lUrls[protocol], bodies(1)[protocol], 8, 1, dir);
        await wrk(setup, kUrls[protocol], bodies(1)[protocol], 8, 1, dir);
        await wrk(setup, oUrls[protocol], bodies(1)[protocol], 8, 1, dir);
      }

      for (const protocol of ['v1', 'v2'] as const) {
        for (const rows of full ? [1, 32] : [1]) {
          for (const concurrency of full ? [1, 8, 32] : [1, 8]) {
            const body = bodies(rows)[protocol];
            const l = await wrk(setup, lUrls[protocol], body, concurrency, durationS, dir);
            const k = await wrk(setup, kUrls[protocol], body, concurrency, durationS, dir);
            const o = await wrk(setup, oUrls[protocol], body, concurrency, durationS, dir);
            cells.push({ setup, protocol, rows, concurrency, lathe: l, kserve: k, onnx: o });
            const errors =
              l.errors + k.errors + o.errors > 0
                ? `  (errors: Lathe ${l.errors}, KServe ${k.errors}, ONNX ${o.errors})`
                : '';
            console.log(
              `${setup.padEnd(9)}${protocol.padEnd(9)}${String(rows).padStart(5)}${String(concurrency).padStart(6)} │ ${fmt(l.rps).padStart(11)}${us(l.p50).padStart(10)}${us(l.p99).padStart(10)} │ ${fmt(k.rps).padStart(12)}${us(k.p50).padStart(10)}${us(k.p99).padStart(10)} │ ${fmt(l.rps / k.rps, 2).padStart(8)}${fmt(l.p50 / k.p50, 2).padStart(7)}${fmt(l.p99 / k.p99, 2).padStart(7)} │ ${fmt(o.rps).padStart(10)}${us(o.p50).padStart(10)}${us(o.p99).padStart(10)} │ ${fmt(o.rps / l.rps, 2).padStart(10)}${fmt(o.p50 / l.p50, 2).padStart(7)}${fmt(o.p99 / l.p99, 2).padStart(7)}${errors}`,
            );
          }
        }
      }

      if (full && setup === 'pinned') {
        for (const [protocol, key] of [
          ['v1', 'v1Raw'],
          ['v2', 'v2Raw'],
        ] as const) {
          for (const concurrency of [1, 8]) {
            const r = await wrk(
              setup,
              lUrls[protocol],
              bodies(1)[key],
              concurrency,
              durationS,
              dir,
            );
            console.log(
              `  Lathe on raw records (prepared by the server), ${protocol}, 1 row, concurrency ${concurrency}: ${fmt(r.rps)} req/s, p50 ${us(r.p50)}, p99 ${us(r.p99)}${r.errors ? ` (errors ${r.errors})` : ''}`,
            );
          }
        }
        httpFloor = await wrk(
          setup,
          `http://127.0.0.1:${floorPort}/`,
          bodies(1).v1,
          1,
          durationS,
          dir,
        );
        console.log(
          `  HTTP floor (node:http answering a fixed body, no model), 1 row, concurrency 1: ${fmt(httpFloor.rps)} req/s, p50 ${us(httpFloor.p50)}, p99 ${us(httpFloor.p99)}`,
        );
      }
      if (setup === 'pinned') {
        const explain = await explainLatency(
          lathePort,
          JSON.stringify({ instances: raw.slice(0, 1) }),
        );
        console.log(
          `  Lathe :explain, V1, 1 raw row (${explain.method}${explain.samples ? `, ${explain.samples} coalitions` : ''} × ${explain.backgroundRows} background rows), concurrency 1: p50 ${explain.p50.toFixed(1)} ms, p99 ${explain.p99.toFixed(1)} ms (${explain.requests} requests)`,
        );
        const onnxExplain = await explainLatency(
          onnxPort,
          JSON.stringify({ instances: raw.slice(0, 1) }),
        );
        console.log(
          `  Lathe on ONNX Runtime, the same :explain: p50 ${onnxExplain.p50.toFixed(1)} ms, p99 ${onnxExplain.p99.toFixed(1)} ms`,
        );
      }
      // SIGTERM lets Node write the CPU profile; the next set-up starts on idle cores.
      await Promise.all(running.map(stop));
    }

    console.log(
      '\nCold start of a replica (process start to ready: the model read from MinIO, verified and loaded; what a request held by the activator waits for once its pod runs):',
    );
    for (const c of coldStarts)
      console.log(
        `  ${c.setup.padEnd(9)} Lathe ${c.lathe.toFixed(2)} s, KServe ${c.kserve.toFixed(2)} s (${(c.lathe / c.kserve).toFixed(2)}×), Lathe on ONNX Runtime ${c.onnx.toFixed(2)} s`,
      );
    console.log(
      '\nONNX Runtime against TensorFlow.js in Lathe’s server (same weights, same server; ×: ONNX / TF.js):',
    );
    for (const c of cells)
      console.log(
        `  ${c.setup.padEnd(9)} ${c.protocol} ${c.rows} row(s), concurrency ${String(c.concurrency).padStart(2)}: req/s ${fmt(c.onnx.rps / c.lathe.rps, 2)}×, p50 ${fmt(c.onnx.p50 / c.lathe.p50, 2)}×, p99 ${fmt(c.onnx.p99 / c.lathe.p99, 2)}×`,
      );
    console.log('\nTargets (unpinned, 1 row, concurrency 8: req/s ≥ 5× KServe, p99 ≤ 0.5×):');
    for (const protocol of ['v1', 'v2'] as const) {
      const cell = cells.find(
        (c) =>
          c.setup === 'unpinned' && c.protocol === protocol && c.rows === 1 && c.concurrency === 8,
      )!;
      const rpsRatio = cell.lathe.rps / cell.kserve.rps;
      const p99Ratio = cell.lathe.p99 / cell.kserve.p99;
      console.log(
        `  ${protocol}: req/s ${fmt(rpsRatio, 2)}× (${rpsRatio >= 5 ? 'met' : 'NOT met'}); p99 ${fmt(p99Ratio, 2)}× (${p99Ratio <= 0.5 ? 'met' : 'NOT met'})`,
      );
    }
    if (cpuProfDir) console.log(`CPU profile of Lathe's server (unpinned) in ${cpuProfDir}`);

    // The demo's model has the shape of the fixture without noise: 4 raw columns (exact
    // Shapley), 3 classes, an MLP of 32 and 16 units.
    const demoShaped = await makeFixtureArtifact(tf, { hidden: [32, 16], epochs: 10 });
    const demoPrefix = modelVersionPrefix(namespace, 'mlp', 2);
    await uploadFixtureArtifact(store, minio.bucket, demoPrefix, demoShaped);
    const demoPort = await freePort();
    const demoServer = start(
      'pinned',
      process.execPath,
      ['--import', 'tsx', 'runtime-images/server/main.ts'],
      latheServerEnv(`s3://${minio.bucket}/${demoPrefix}`, demoShaped.digest, demoPort),
    );
    children.push(demoServer.child);
    await waitFor(
      `http://127.0.0.1:${demoPort}/v2/health/ready`,
      demoServer.child,
      demoServer.output,
      "Lathe's server (the demo's model shape)",
    );
    const demoRow = fixtureRows('classification', 1, 9).map(({ species: _label, ...r }) => r);
    const demoExplain = await explainLatency(demoPort, JSON.stringify({ instances: demoRow }));
    await stop(demoServer.child);
    console.log(
      `\n:explain on the demo's model shape (4 raw columns, 3 classes, MLP 32-16; pinned, 1 raw row, ${demoExplain.method} × ${demoExplain.backgroundRows} background rows), concurrency 1: p50 ${demoExplain.p50.toFixed(1)} ms, p99 ${demoExplain.p99.toFixed(1)} ms (${demoExplain.requests} requests)`,
    );
    if (!full) return;

    const bareRows = [];
    for (const backend of ['wasm', 'cpu']) {
      const bare = await exec(
        'taskset',
        [
          '-c',
          SERVER_CORE,
          process.execPath,
          '--import',
          'tsx',
          'bench/serve-bare-predict.ts',
          uri,
          artifact.digest,
          backend,
          '1',
          '32',
        ],
        { cwd: repoRoot, maxBuffer: 1024 * 1024 },
      );
      bareRows.push(...JSON.parse(bare.stdout.trim().split('\n').pop()!));
    }
    type Bare = {
      backend: string;
      rows: number;
      forward: { p50: number; p99: number };
      predict: { p50: number; p99: number };
    };
    console.log(
      '\nBare forward pass in process (no HTTP, pinned), per call incl. input tensor and reading the output:',
    );
    for (const b of bareRows as Bare[]) {
      console.log(
        `  ${b.backend.padEnd(5)} ${String(b.rows).padStart(2)} row(s): forward p50 ${us(b.forward.p50)} (p99 ${us(b.forward.p99)}); model.predict p50 ${us(b.predict.p50)} (p99 ${us(b.predict.p99)})`,
      );
    }
    const bare1 = (bareRows as Bare[]).find((b) => b.backend === 'wasm' && b.rows === 1)!;
    for (const protocol of ['v1', 'v2'] as const) {
      const p50 = cells.find(
        (c) =>
          c.setup === 'pinned' && c.protocol === protocol && c.rows === 1 && c.concurrency === 1,
      )!.lathe.p50;
      console.log(
        `  ${protocol}, 1 row, concurrency 1, pinned: Lathe p50 ${us(p50)} = ${fmt(p50 / bare1.forward.p50, 2)}× the bare forward pass (${us(bare1.forward.p50)}); the HTTP floor alone is ${us(httpFloor?.p50 ?? Number.NaN)}`,
      );
    }
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await store.removePrefix(minio.bucket, `models/${namespace}/`).catch(() => 0);
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
