/**
 * Batch scoring benchmark (issue 23): Lathe's BatchPrediction shard program against what a
 * Python user scores a file with in-process — pandas `read_csv`, the same preparation, Keras
 * `model.predict(x, batch_size=1024)` — on the same MLP and the same raw file, at equal cores;
 * then Lathe at parallelism 2. Rows per second, CPU time and peak resident memory of each.
 *
 *   npm run bench:batch [-- --rows 1000000]
 *
 * - Data: a seeded raw CSV of the serving fixture's columns (`fixtureRows` with 24 noise inputs:
 *   28 raw columns, 30 prepared features) and an `id` column, with a few empty cells in the
 *   imputed columns and an unseen category (`blue`, to `__other__`). Written to local disk for
 *   pandas, and uploaded to the local cluster's MinIO under `sources/<bench ns>/` for Lathe (the
 *   cluster is brought up if it is not healthy, and down again at the end if it was started here).
 * - Model: the fixture MLP (30 → 64 → 32 → 3), trained here with TensorFlow.js, uploaded as a
 *   Lathe artifact (`uploadFixtureArtifact`); Keras gets the same `model.json` + `weights.bin`
 *   (bench/python/keras_batch.py builds the Keras model as bench/kserve/mlp_server.py does).
 * - Lathe: the built trainer program (`npm run build`; `node dist/runtime-images/trainer/main.js
 *   batch`, as in its image, native TensorFlow from `runtime-images/tensorflow/prepare.sh` as the
 *   image's `LATHE_TFJS_NODE_DIR`), one process per shard with the `BatchEnv` variables and the
 *   `NODE_OPTIONS` (heap, young generation) a pod of the Indexed Job gets: it reads its byte range from MinIO, verifies and loads the model,
 *   prepares, scores 1,024 rows per pass, writes its part (JSON Lines: id, label, probabilities)
 *   and uploads it and its marker. Parallelism 1: one shard pinned to core 0 (`taskset -c 0`);
 *   parallelism 2: two shards at once, on cores 0 and 1. Row counts are checked from the markers.
 * - Keras: bench/python/keras_batch.py in the KServe benchmark's venv (tensorflow-cpu, Keras 3,
 *   pandas, numpy: bench/kserve/prepare.sh), pinned to core 0 with TensorFlow's intra- and
 *   inter-op threads at 1; it reads the file from disk and writes its JSON Lines to disk.
 *
 * Each side is a fresh process timed from start to exit (interpreter start, imports, model load
 * included) with /usr/bin/time: wall, user + system CPU, and peak RSS (`%M`). Lathe's side also
 * makes MinIO work (serving its range, storing the part): MinIO's CPU seconds during each run are
 * shown apart, not pinned and not counted in Lathe's CPU. The outputs are compared row by row
 * (ids, labels, largest probability difference), and so are the two-shard parts, concatenated,
 * against the one-shard part (and whether they are the same bytes). Figures, not assertions:
 * this machine is shared.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  type BatchInput,
  type BatchOutputOptions,
  type BatchShardMarker,
  BatchShardMarkerSchema,
  batchMarkerFile,
  batchPartFile,
} from '../contract/batch.js';
import { ObjectStore } from '../contract/object-store.js';
import {
  batchRunPrefix,
  modelVersionPrefix,
  sourcesPrefix,
} from '../contract/object-store-layout.js';
import { parseResult } from '../contract/results.js';
import { BatchEnv } from '../contract/runtime-env.js';
import { down, isHealthy, up } from '../e2e/cluster/cluster.js';
import { recordedPid } from '../e2e/cluster/processes.js';
import { clusterInfo, repoRoot, stateDir } from '../e2e/cluster/testenv.js';
import {
  batchNodeOptions,
  DEFAULT_BATCH_RESOURCES,
} from '../operator/src/controllers/batchprediction/desired.js';
import {
  fixtureRows,
  makeFixtureArtifact,
  uploadFixtureArtifact,
} from '../runtime-images/server/fixture.js';
import { loadTensorflow } from '../runtime-images/server/tensorflow.js';
import { cpuSeconds } from './resources.js';

const exec = promisify(execFile);
const args = process.argv.slice(2);
const rowsArg = args.includes('--rows') ? Number(args[args.indexOf('--rows') + 1]) : 1_000_000;
if (!Number.isInteger(rowsArg) || rowsArg < 1) {
  throw new Error(`--rows must be a positive integer, not ${args[args.indexOf('--rows') + 1]}`);
}
const ROWS = rowsArg;
/** The serving benchmark's MLP: 6 fixture features + 24 noise inputs = 30 features → 64 → 32 → 3. */
const HIDDEN = [64, 32];
const NOISE_INPUTS = 24;
const PASSTHROUGH = ['id'];
const OUTPUT: BatchOutputOptions = {
  format: 'jsonl',
  include: ['label', 'probabilities'],
  passthroughColumns: PASSTHROUGH,
};

/** One process, timed by /usr/bin/time. */
interface Measured {
  wallSeconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  output: string;
}

/** A row of the table: one set-up's processes together. */
interface Setup {
  name: string;
  rows: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** MinIO's CPU seconds during the run (Lathe only). */
  storeCpuSeconds?: number;
  /** Peak RSS of each process. */
  peakRssBytes: number[];
}

async function timed<T>(what: string, action: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await action();
  console.error(`[bench] ${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** Runs `command` pinned to `core` under /usr/bin/time; rejects on a non-zero exit. */
async function measured(
  core: number,
  command: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  timeFile: string,
): Promise<Measured> {
  const started = performance.now();
  const child: ChildProcess = spawn(
    '/usr/bin/time',
    ['-f', '%e %U %S %M', '-o', timeFile, 'taskset', '-c', String(core), command, ...argv],
    { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const [code] = (await once(child, 'close')) as [number | null];
  const wallSeconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${command} ${argv.join(' ')} exited with ${code}:\n${output}`);
  const [, user, system, maxRssKiB] = (await readFile(timeFile, 'utf8')).trim().split(/\s+/);
  return {
    wallSeconds,
    cpuSeconds: Number(user) + Number(system),
    peakRssBytes: Number(maxRssKiB) * 1024,
    output,
  };
}

/** The CSV line of a fixture row with its id; a few cells left empty (imputed by both sides). */
function csvLine(id: number, row: Record<string, unknown>, columns: readonly string[]): string {
  const cells = columns.map((column) => {
    if (column === 'id') return String(id);
    if (column === 'length' && id % 101 === 0) return '';
    if (column === 'colour' && id % 103 === 0) return '';
    if (column === 'fresh' && id % 107 === 0) return '';
    return String(row[column]);
  });
  return `${cells.join(',')}\n`;
}

/** Writes `rows` raw rows (seeded, 10,000 per generator seed) to `file`; its size in bytes. */
async function writeRawCsv(file: string, rows: number, columns: readonly string[]) {
  const out = createWriteStream(file);
  out.write(`${columns.join(',')}\n`);
  const chunk = 10_000;
  for (let from = 0; from < rows; from += chunk) {
    const batch = fixtureRows(
      'classification',
      Math.min(chunk, rows - from),
      1000 + from / chunk,
      NOISE_INPUTS,
    );
    let text = '';
    for (const [i, row] of batch.entries()) text += csvLine(from + i, row, columns);
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return (await stat(file)).size;
}

/** The lines of a byte stream. */
function linesOf(chunks: AsyncIterable<Buffer> | Readable): AsyncIterator<string> {
  const input = chunks instanceof Readable ? chunks : Readable.from(chunks);
  return createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })[Symbol.asyncIterator]();
}

interface Agreement {
  rows: number;
  idMismatches: number;
  labelMismatches: number;
  errorRows: number;
  maxProbabilityDiff: number;
  /** The first rows whose labels differ, with both sides' probabilities. */
  examples: string[];
}

type OutputRow = {
  id: unknown;
  label?: string;
  probabilities?: Record<string, number>;
  error?: string;
};

/** Compares two outputs (`reference` the Keras file or Lathe's one-shard part), line by line. */
async function compareOutputs(
  lathe: AsyncIterable<Buffer>,
  reference: AsyncIterable<Buffer> | Readable,
): Promise<Agreement> {
  const a = linesOf(lathe);
  const b = linesOf(reference);
  const agreement: Agreement = {
    rows: 0,
    idMismatches: 0,
    labelMismatches: 0,
    errorRows: 0,
    maxProbabilityDiff: 0,
    examples: [],
  };
  for (;;) {
    const [x, y] = await Promise.all([a.next(), b.next()]);
    if (x.done || y.done) {
      if (!x.done || !y.done)
        throw new Error(`the outputs differ in length (at row ${agreement.rows})`);
      return agreement;
    }
    const l = JSON.parse(x.value) as OutputRow;
    const k = JSON.parse(y.value) as OutputRow;
    agreement.rows++;
    if (String(l.id) !== String(k.id)) agreement.idMismatches++;
    if (l.error !== undefined) {
      agreement.errorRows++;
      continue;
    }
    if (l.label !== k.label) {
      agreement.labelMismatches++;
      if (agreement.examples.length < 3)
        agreement.examples.push(
          `id ${String(l.id)}: ${JSON.stringify(l.probabilities)} / ${JSON.stringify(k.probabilities)}`,
        );
    }
    for (const [label, p] of Object.entries(l.probabilities ?? {})) {
      const diff = Math.abs(p - (k.probabilities?.[label] ?? Number.NaN));
      if (!(diff <= agreement.maxProbabilityDiff)) agreement.maxProbabilityDiff = diff;
    }
  }
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

async function main(): Promise<void> {
  const venv = (
    await timed('KServe venv (bench/kserve/prepare.sh; cached after the first run)', () =>
      exec('bash', [path.join(repoRoot, 'bench/kserve/prepare.sh')], { maxBuffer: 1 << 20 }),
    )
  ).stdout
    .trim()
    .split('\n')
    .at(-1)!;
  const python = path.join(venv, 'bin/python');
  const tfjsNodeDir = (
    await timed('native TensorFlow.js (runtime-images/tensorflow/prepare.sh; cached)', () =>
      exec('bash', [path.join(repoRoot, 'runtime-images/tensorflow/prepare.sh')], {
        maxBuffer: 1 << 20,
      }),
    )
  ).stdout
    .trim()
    .split('\n')
    .at(-1)!;
  await timed('npm run build', () => exec('npm', ['run', 'build'], { cwd: repoRoot }));
  const startedCluster = !(await isHealthy());
  if (startedCluster) await timed('cluster:up', () => up());
  const { minio } = clusterInfo();
  const store = new ObjectStore(minio);
  const minioPid = await recordedPid(stateDir, 'minio');
  const namespace = `bench-batch-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lathe-bench-batch-'));
  const cores = os.availableParallelism();
  try {
    // The model: trained here, uploaded as Lathe's trainer would, its files on disk for Keras.
    const { tf } = await loadTensorflow('wasm');
    const artifact = await timed('train the fixture MLP (TensorFlow.js)', () =>
      makeFixtureArtifact(tf, { hidden: HIDDEN, epochs: 10, noiseInputs: NOISE_INPUTS }),
    );
    const modelPrefix = modelVersionPrefix(namespace, 'mlp', 1);
    await uploadFixtureArtifact(store, minio.bucket, modelPrefix, artifact);
    const modelDir = path.join(dir, 'model');
    await exec('mkdir', ['-p', modelDir]);
    for (const [file, bytes] of Object.entries(artifact.files))
      await writeFile(path.join(modelDir, file), bytes);

    // The data: on disk for pandas, in MinIO for Lathe.
    const columns = ['id', ...artifact.schema.inputs.map((input) => input.name)];
    const csv = path.join(dir, 'data.csv');
    const sizeBytes = await timed(`generate ${ROWS} rows`, () => writeRawCsv(csv, ROWS, columns));
    const sourceKey = `${sourcesPrefix(namespace)}data.csv`;
    await timed(`upload ${mib(sizeBytes)} MiB to MinIO`, () =>
      store.upload(minio.bucket, sourceKey, csv, sizeBytes, 'text/csv'),
    );
    const input: BatchInput = {
      objects: [{ uri: `s3://${minio.bucket}/${sourceKey}`, sizeBytes, format: 'csv' }],
      csv: { delimiter: ',', header: true },
    };

    // Keras, one core.
    const kerasOut = path.join(dir, 'keras.jsonl');
    const keras = await timed('Keras, 1 core', () =>
      measured(
        0,
        python,
        [
          path.join(repoRoot, 'bench/python/keras_batch.py'),
          csv,
          modelDir,
          kerasOut,
          PASSTHROUGH.join(','),
          '1',
        ],
        { PATH: process.env.PATH, TF_CPP_MIN_LOG_LEVEL: '2', CUDA_VISIBLE_DEVICES: '' },
        path.join(dir, 'time-keras'),
      ),
    );
    const kerasReport = JSON.parse(keras.output.trim().split('\n').at(-1)!) as Record<
      string,
      number | string
    >;
    if (kerasReport.rows !== ROWS)
      throw new Error(`Keras scored ${kerasReport.rows} rows, not ${ROWS}`);

    // Lathe: `shards` processes at once, shard i on core i, as the pods of an Indexed Job.
    const runLathe = async (shards: number) => {
      const outputPrefix = batchRunPrefix(
        namespace,
        `shards-${shards}`,
        randomBytes(4).toString('hex'),
      );
      const env = (index: number): NodeJS.ProcessEnv => ({
        PATH: process.env.PATH,
        LATHE_OBJECT_STORE_ENDPOINT: minio.endpoint,
        LATHE_OBJECT_STORE_BUCKET: minio.bucket,
        LATHE_OBJECT_STORE_ACCESS_KEY: minio.accessKey,
        LATHE_OBJECT_STORE_SECRET_KEY: minio.secretKey,
        LATHE_TFJS_NODE_DIR: tfjsNodeDir,
        // The heap flags a shard's pod gets at the default resources.
        NODE_OPTIONS: batchNodeOptions(DEFAULT_BATCH_RESOURCES.memory).value,
        [BatchEnv.modelUri]: `s3://${minio.bucket}/${modelPrefix}`,
        [BatchEnv.modelDigest]: artifact.digest,
        [BatchEnv.input]: JSON.stringify(input),
        [BatchEnv.output]: JSON.stringify(OUTPUT),
        [BatchEnv.outputUri]: `s3://${minio.bucket}/${outputPrefix}`,
        [BatchEnv.shards]: String(shards),
        [BatchEnv.shardIndex]: String(index),
        LATHE_RESULT_PATH: path.join(dir, `result-${shards}-${index}`),
      });
      const storeCpuBefore = await cpuSeconds(minioPid);
      const started = performance.now();
      const processes = await Promise.all(
        Array.from({ length: shards }, (_, index) =>
          measured(
            index % cores,
            process.execPath,
            ['dist/runtime-images/trainer/main.js', 'batch'],
            env(index),
            path.join(dir, `time-${shards}-${index}`),
          ),
        ),
      );
      const wallSeconds = (performance.now() - started) / 1000;
      const storeCpuSeconds = (await cpuSeconds(minioPid)) - storeCpuBefore;
      const markers: BatchShardMarker[] = [];
      for (let index = 0; index < shards; index++) {
        const result = parseResult(
          'batch',
          await readFile(path.join(dir, `result-${shards}-${index}`), 'utf8'),
        );
        if (result?.outcome !== 'succeeded')
          throw new Error(
            `shard ${index} of ${shards}: ${JSON.stringify(result)}\n${processes[index]!.output}`,
          );
        markers.push(
          BatchShardMarkerSchema.parse(
            JSON.parse(
              (await store.read(minio.bucket, `${outputPrefix}${batchMarkerFile(index)}`)).toString(
                'utf8',
              ),
            ),
          ),
        );
      }
      const rows = markers.reduce((sum, m) => sum + m.rows, 0);
      const failed = markers.reduce((sum, m) => sum + m.failedRecords, 0);
      if (rows !== ROWS || failed !== 0)
        throw new Error(`${shards} shard(s) wrote ${rows} rows (${failed} failed), not ${ROWS}`);
      const backend = /Chose the TensorFlow\.js backend ([\w-]+)/.exec(processes[0]!.output)?.[1];
      const setup: Setup = {
        name: `Lathe, ${shards} shard${shards > 1 ? 's' : ''}, ${shards} core${shards > 1 ? 's' : ''}`,
        rows,
        wallSeconds,
        cpuSeconds: processes.reduce((sum, p) => sum + p.cpuSeconds, 0),
        storeCpuSeconds,
        peakRssBytes: processes.map((p) => p.peakRssBytes),
      };
      return { setup, outputPrefix, markers, backend: backend ?? 'unknown' };
    };
    const one = await timed('Lathe, 1 shard, 1 core', () => runLathe(1));
    const two = await timed('Lathe, 2 shards, 2 cores', () => runLathe(2));

    // The outputs: Lathe's one-shard part against Keras' file, then the two shards' parts,
    // concatenated in shard order, against the one-shard part (rows, and bytes).
    const onePart = () =>
      store.openRead(minio.bucket, `${one.outputPrefix}${batchPartFile(0, OUTPUT.format)}`);
    const agreement = await timed('compare Lathe with Keras', async () =>
      compareOutputs(await onePart(), createReadStream(kerasOut)),
    );
    const concatenated = createHash('sha256');
    async function* twoParts(): AsyncGenerator<Buffer> {
      for (const marker of two.markers) {
        for await (const chunk of await store.openRead(
          minio.bucket,
          `${two.outputPrefix}${marker.part}`,
        )) {
          concatenated.update(chunk);
          yield chunk;
        }
      }
    }
    const shardAgreement = await timed('compare 2 shards with 1', async () =>
      compareOutputs(twoParts(), await onePart()),
    );
    const shardsIdentical = concatenated.digest('hex') === one.markers[0]!.sha256;

    const kerasSetup: Setup = {
      name: 'Keras, 1 core (pandas + predict)',
      rows: kerasReport.rows as number,
      wallSeconds: keras.wallSeconds,
      cpuSeconds: keras.cpuSeconds,
      peakRssBytes: [keras.peakRssBytes],
    };
    const setups = [kerasSetup, one.setup, two.setup];
    console.log(
      `\nBatch scoring: ${ROWS} rows (${mib(sizeBytes)} MiB CSV, ${columns.length} columns), MLP ${artifact.schema.features.length}→${HIDDEN.join('→')}→3, ${cores} cores, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      `Lathe: dist/runtime-images/trainer/main.js batch (backend ${one.backend}), CSV from MinIO, JSON Lines part + marker to MinIO · Keras: pandas ${kerasReport.pandas} read_csv from disk + preparation, Keras ${kerasReport.keras} (tensorflow-cpu ${kerasReport.tensorflow}) model.predict(batch_size=1024), to_json to disk`,
    );
    const header = `${'setup'.padEnd(34)}${'rows'.padStart(9)}${'wall s'.padStart(9)}${'CPU s'.padStart(8)}${'MinIO CPU s'.padStart(13)}${'rows/s'.padStart(10)}${'rows/CPU-s'.padStart(12)}${'peak MiB'.padStart(12)}`;
    console.log(header);
    console.log('─'.repeat(header.length));
    for (const s of setups) {
      console.log(
        `${s.name.padEnd(34)}${String(s.rows).padStart(9)}${fmt(s.wallSeconds).padStart(9)}${fmt(s.cpuSeconds).padStart(8)}${(s.storeCpuSeconds === undefined ? '–' : fmt(s.storeCpuSeconds)).padStart(13)}${fmt(s.rows / s.wallSeconds, 0).padStart(10)}${fmt(s.rows / s.cpuSeconds, 0).padStart(12)}${s.peakRssBytes.map(mib).join(' + ').padStart(12)}`,
      );
    }
    const ratio = kerasSetup.wallSeconds / one.setup.wallSeconds;
    console.log(
      `\nLathe ÷ Keras rows/s at 1 core: ${fmt(ratio, 2)}× wall (${fmt(kerasSetup.cpuSeconds / one.setup.cpuSeconds, 2)}× on CPU time) — target ≥ 1×: ${ratio >= 1 ? 'met' : 'NOT met'}`,
    );
    console.log(
      `Lathe 2 shards ÷ 1 shard rows/s: ${fmt(one.setup.wallSeconds / two.setup.wallSeconds, 2)}× (shards of ${two.markers.map((m) => m.rows).join(' + ')} rows)`,
    );
    console.log(
      `Keras steps: imports ${fmt(kerasReport.importSeconds as number)} s, read_csv ${fmt(kerasReport.readSeconds as number)} s, prepare ${fmt(kerasReport.prepareSeconds as number)} s, load ${fmt(kerasReport.loadSeconds as number)} s, predict ${fmt(kerasReport.predictSeconds as number)} s, write ${fmt(kerasReport.writeSeconds as number)} s`,
    );
    console.log(
      `Agreement (Lathe 1 shard vs Keras, ${agreement.rows} rows): ids differ on ${agreement.idMismatches}, labels differ on ${agreement.labelMismatches}, error rows ${agreement.errorRows}, largest probability difference ${agreement.maxProbabilityDiff.toExponential(2)} (${agreement.maxProbabilityDiff <= 1e-4 ? 'within' : 'NOT within'} 1e-4)`,
    );
    for (const example of agreement.examples) console.log(`  label differs: ${example}`);
    console.log(
      `Lathe 2 shards (parts concatenated) vs 1 shard: ids differ on ${shardAgreement.idMismatches}, labels differ on ${shardAgreement.labelMismatches}, largest probability difference ${shardAgreement.maxProbabilityDiff.toExponential(2)}; ${shardsIdentical ? 'byte for byte the same' : 'not byte for byte the same'}`,
    );
    for (const example of shardAgreement.examples) console.log(`  label differs: ${example}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
    for (const prefix of [`models/${namespace}/`, sourcesPrefix(namespace), `batch/${namespace}/`])
      await store.removePrefix(minio.bucket, prefix).catch(() => 0);
    if (startedCluster) await timed('cluster:down', () => down());
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
