/**
 * Ingestion benchmark: Lathe's ingestion program against pandas `read_csv` plus the same
 * preparation (bench/pandas_ingest.py), on the same generated CSV, at a few sizes, side by
 * side, with the ratio of rows per second and each side's peak resident memory.
 *
 *   npm run bench:ingest [-- --rows 100000,500000,2000000] [--formats csv,parquet]
 *
 * - Lathe: the built program (`npm run build`; `node dist/runtime-images/ingest/main.js`, as
 *   in its image) reads the file over HTTP from this process, profiles, validates, splits,
 *   fits on the train split, writes the prepared splits and statistics, and uploads the
 *   version to the local cluster's MinIO. Its time is from start to exit, upload included.
 * - pandas: `read_csv` of the same file from disk, the same preparation (mean / most frequent
 *   imputation, one-hot encoding, standard scaling fitted on a stratified seeded 80/20 train
 *   split, per-column statistics and train deciles), and `to_csv` of both splits. pandas and
 *   numpy come from PyPI into a venv cached under ~/.cache/lathe/venvs (bench/pandas-venv.sh).
 *
 * Each size is measured twice: as CSV, and as Parquet (`format: parquet`; the same table
 * written by pandas' `to_parquet`, pyarrow, snappy, its default row groups) against pandas'
 * `read_parquet` plus the same preparation.
 *
 * Rows per second are given on wall-clock time and on CPU time (user + system), because this
 * machine is shared and its wall-clock times are noisy; the load average is printed with each
 * line. Figures, not assertions.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ObjectStore } from '../contract/object-store.js';
import { down, isHealthy, up } from '../e2e/cluster/cluster.js';
import { clusterInfo, repoRoot } from '../e2e/cluster/testenv.js';
import { runIngestProgram } from '../runtime-images/ingest/child-process.js';
import { generatedCsv } from '../runtime-images/ingest/generated-data.js';

const exec = promisify(execFile);
const args = process.argv.slice(2);
const rowsArg = args.includes('--rows')
  ? args[args.indexOf('--rows') + 1]!
  : '100000,500000,2000000';
const sizes = rowsArg.split(',').map(Number);
const formats = (
  args.includes('--formats') ? args[args.indexOf('--formats') + 1]! : 'csv,parquet'
).split(',') as ('csv' | 'parquet')[];

/** Writes a CSV as Parquet with pandas' defaults (pyarrow, snappy, row groups of 1Mi rows). */
const TO_PARQUET =
  'import sys, pandas as pd; pd.read_csv(sys.argv[1]).to_parquet(sys.argv[2], index=False)';
const parquetOf = (csv: string) => csv.replace(/\.csv$/, '.parquet');

interface Side {
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const rate = (rows: number, seconds: number) => `${(rows / seconds / 1000).toFixed(0)}k`;

async function timed<T>(what: string, action: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await action();
  console.error(`[bench] ${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

async function writeGenerated(file: string, rows: number): Promise<number> {
  const out = createWriteStream(file);
  for (const chunk of generatedCsv(rows, 7)) if (!out.write(chunk)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  return (await stat(file)).size;
}

async function main(): Promise<void> {
  const python = (
    await timed('pandas venv (bench/pandas-venv.sh; cached after the first run)', () =>
      exec('bash', [path.join(repoRoot, 'bench/pandas-venv.sh')]),
    )
  ).stdout.trim();
  await timed('npm run build', () => exec('npm', ['run', 'build'], { cwd: repoRoot }));
  const startedCluster = !(await isHealthy());
  if (startedCluster) await timed('cluster:up', () => up());
  const { minio } = clusterInfo();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lathe-bench-ingest-'));
  let file = '';
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    createReadStream(req.url?.endsWith('.parquet') ? parquetOf(file) : file).pipe(res);
  });
  // The program refuses loopback sources: serve on the host's address on the cluster's link.
  const host = clusterInfo().hostAddress;
  server.listen(0, host);
  await once(server, 'listening');
  const base = `http://${host}:${(server.address() as AddressInfo).port}`;

  const lines: string[] = [];
  /** One format at one size: Lathe's program over HTTP, then pandas on the same file. */
  async function measure(format: 'csv' | 'parquet', rows: number): Promise<void> {
    const source = format === 'csv' ? file : parquetOf(file);
    const run = await runIngestProgram(
      { source: { http: { url: `${base}/data.${format}` } }, format, schema: { label: 'label' } },
      {
        store: minio,
        namespace: 'bench',
        name: `ingest-${rows}-${format}`,
        program: path.join(repoRoot, 'dist/runtime-images/ingest/main.js'),
      },
    );
    if (run.result.outcome !== 'succeeded') {
      throw new Error(`ingestion failed: ${JSON.stringify(run.result)}\n${run.output}`);
    }
    const lathe: Side = {
      seconds: run.seconds,
      cpuSeconds: run.cpuSeconds!,
      peakRssBytes: run.peakRssBytes!,
    };
    const out = path.join(dir, 'pandas');
    await exec('mkdir', ['-p', out]);
    const { stdout } = await exec(python, [
      path.join(repoRoot, 'bench/pandas_ingest.py'),
      source,
      'label',
      out,
    ]);
    const pandas = JSON.parse(stdout) as Side & { rows: number };
    if (pandas.rows !== rows) throw new Error(`pandas read ${pandas.rows} rows, not ${rows}`);
    lines.push(
      [
        `${String(rows).padStart(9)} rows ${format.padEnd(7)} ${mib((await stat(source)).size).padStart(8)}`,
        `Lathe ${rate(rows, lathe.seconds).padStart(5)} rows/s (cpu ${rate(rows, lathe.cpuSeconds).padStart(5)})  RSS ${mib(lathe.peakRssBytes).padStart(8)}`,
        `pandas ${rate(rows, pandas.seconds).padStart(5)} rows/s (cpu ${rate(rows, pandas.cpuSeconds).padStart(5)})  RSS ${mib(pandas.peakRssBytes).padStart(8)}`,
        `ratio ${(pandas.seconds / lathe.seconds).toFixed(2)} (cpu ${(pandas.cpuSeconds / lathe.cpuSeconds).toFixed(2)}, RSS ${(lathe.peakRssBytes / pandas.peakRssBytes).toFixed(2)})`,
        `load ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
      ].join(' | '),
    );
    console.error(`[bench] ${lines.at(-1)}`);
  }
  try {
    for (const rows of sizes) {
      file = path.join(dir, `data-${rows}.csv`);
      await writeGenerated(file, rows);
      // The same table as Parquet, as a data platform would export it (pyarrow, snappy).
      await exec(python, ['-c', TO_PARQUET, file, parquetOf(file)]);
      for (const format of formats) await measure(format, rows);
      await rm(file, { force: true });
      await rm(parquetOf(file), { force: true });
    }
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
    await new ObjectStore(minio).removePrefix(minio.bucket, 'datasets/bench/');
    if (startedCluster) await down();
  }
  console.log(
    '\nIngestion, Lathe (built program, HTTP source, upload to MinIO) vs pandas read_csv / read_parquet + the same preparation + to_csv',
  );
  console.log(
    'ratio = Lathe rows/s ÷ pandas rows/s (above 1: Lathe is faster); RSS = Lathe ÷ pandas; load = 1, 5, 15 min\n',
  );
  for (const line of lines) console.log(line);
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
