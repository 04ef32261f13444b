/**
 * Runs the ingestion program as a child process, the way a pod runs it (environment in,
 * termination message out): for the integration tests and the benchmark.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type IngestResult, parseResult } from '../../contract/results.js';
import { type DatasetInput, DatasetSpecSchema } from '../../operator/src/api/dataset.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunOptions {
  store: { endpoint: string; bucket: string; accessKey: string; secretKey: string };
  name?: string;
  namespace?: string;
  /** More variables (source credentials), or overrides. */
  env?: Record<string, string>;
  /** Node.js flags, e.g. `--max-old-space-size=48`. */
  nodeArgs?: string[];
  /** The program to run: the TypeScript source through tsx (default), or a built `.js` file. */
  program?: string;
}

export interface IngestRun {
  code: number | null;
  result: IngestResult;
  /** stdout and stderr (the JSON log). */
  output: string;
  /** The peak resident set size the program logged, in bytes. */
  peakRssBytes: number | undefined;
  /** CPU time (user + system) the program logged. */
  cpuSeconds: number | undefined;
  /** Wall-clock time from start to exit. */
  seconds: number;
}

/** Runs the program on `spec` (defaults applied); resolves with its exit code and result. */
export async function runIngestProgram(
  spec: DatasetInput['spec'],
  options: RunOptions,
): Promise<IngestRun> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lathe-ingest-run-'));
  const resultPath = path.join(dir, 'result');
  const started = performance.now();
  try {
    const child = spawn(
      process.execPath,
      [
        ...(options.nodeArgs ?? []),
        ...(options.program
          ? [options.program]
          : ['--import', 'tsx', path.join(repoRoot, 'runtime-images/ingest/main.ts')]),
      ],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH,
          LATHE_DATASET_NAMESPACE: options.namespace ?? 'default',
          LATHE_DATASET_NAME: options.name ?? 'data',
          LATHE_DATASET_SPEC: JSON.stringify(DatasetSpecSchema.parse(spec)),
          LATHE_WORK_DIR: dir,
          LATHE_RESULT_PATH: resultPath,
          LATHE_OBJECT_STORE_ENDPOINT: options.store.endpoint,
          LATHE_OBJECT_STORE_BUCKET: options.store.bucket,
          LATHE_OBJECT_STORE_ACCESS_KEY: options.store.accessKey,
          LATHE_OBJECT_STORE_SECRET_KEY: options.store.secretKey,
          ...options.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const seconds = (performance.now() - started) / 1000;
    const result = parseResult('ingest', await readFile(resultPath, 'utf8').catch(() => undefined));
    if (!result) throw new Error(`the program wrote no result (exit ${code}); output:\n${output}`);
    const logged = (field: string) => {
      const match = new RegExp(`"${field}":([0-9.]+)`).exec(output);
      return match ? Number(match[1]) : undefined;
    };
    return {
      code,
      result,
      output,
      peakRssBytes: logged('peakRssBytes'),
      cpuSeconds: logged('cpuSeconds'),
      seconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
