/**
 * Which TensorFlow.js backend serves fastest: the inference server's forward pass
 * (`ServedModel.predict`) on native TensorFlow (`@tensorflow/tfjs-node`, one and two intra-op
 * threads), WebAssembly and plain JavaScript, at batch 1 (a lone request) and 32 (a full
 * micro-batch), on the server's fixture model (`runtime-images/server/fixture.ts`) at two sizes:
 * its default (6 → 8 → 3) and the one `bench:serve` uses (6 → 64 → 32 → 3).
 *
 *   npm run bench:serve-backends [-- --rounds 2]
 *
 * No cluster: the artifact is read from a directory through the server's own loader. Each
 * backend runs in a fresh process, pinned to one core when `taskset` exists (a server replica's
 * budget; the two-thread native run gets two); the figure is the best p50 of `--rounds` interleaved rounds. Figures and ratios, no
 * assertions: this machine is shared, so compare within one run. What `auto` picks for serving
 * follows these figures (docs/server.md).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MANIFEST_FILE } from '../contract/object-store-layout.js';
import { repoRoot } from '../e2e/cluster/testenv.js';
import { makeFixtureArtifact } from '../runtime-images/server/fixture.js';
import { loadTensorflow } from '../runtime-images/tensorflow/backend.js';

const exec = promisify(execFile);
const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 2) || 2;
const BATCHES = [1, 32];
const MODELS = [
  { name: 'fixture default, hidden [8]', hidden: [8] },
  { name: 'bench:serve model, hidden [64, 32]', hidden: [64, 32] },
];
const RUNS = [
  { label: 'tensorflow, 1 thread', backend: 'tensorflow', threads: 1, cores: '0' },
  { label: 'tensorflow, 2 threads', backend: 'tensorflow', threads: 2, cores: '0,1' },
  { label: 'wasm', backend: 'wasm', threads: 1, cores: '0' },
  { label: 'cpu (plain JS)', backend: 'cpu', threads: 1, cores: '0' },
];

interface Timing {
  rows: number;
  forward: { p50: number; p99: number };
}

const pinned = existsSync('/usr/bin/taskset');

async function worker(
  { backend, threads, cores }: (typeof RUNS)[number],
  dir: string,
): Promise<Timing[] | string> {
  const command = [
    process.execPath,
    '--import',
    'tsx',
    'bench/serve-backends-worker.ts',
    backend,
    dir,
    String(threads),
    ...BATCHES.map(String),
  ];
  try {
    const { stdout } = pinned
      ? await exec('taskset', ['-c', cores, ...command], { cwd: repoRoot, maxBuffer: 16 << 20 })
      : await exec(command[0]!, command.slice(1), { cwd: repoRoot, maxBuffer: 16 << 20 });
    return (JSON.parse(stdout.trim().split('\n').at(-1)!) as { results: Timing[] }).results;
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return e.code === 3 ? `not present: ${e.stderr?.trim()}` : `failed: ${e.stderr?.trim()}`;
  }
}

const us = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} ms` : `${n.toFixed(1)} µs`);

async function main(): Promise<void> {
  const { tf } = await loadTensorflow({ choice: 'cpu', gpus: 0 });
  console.log(
    `Forward pass of the inference server (ServedModel.predict), p50 per call, best of ${rounds} rounds${pinned ? ', each process pinned to core 0 (two threads: cores 0 and 1)' : ''}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (const model of MODELS) {
    const artifact = await makeFixtureArtifact(tf, { hidden: model.hidden, epochs: 5 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lathe-bench-backends-'));
    try {
      for (const [file, bytes] of Object.entries(artifact.files))
        writeFileSync(path.join(dir, file), bytes);
      writeFileSync(path.join(dir, MANIFEST_FILE), artifact.manifest);
      const best = new Map<string, Timing[] | string>();
      for (let round = 0; round < rounds; round++) {
        for (const run of RUNS) {
          const timings = await worker(run, dir);
          const previous = best.get(run.label);
          if (
            typeof timings === 'string' ||
            previous === undefined ||
            typeof previous === 'string'
          ) {
            if (previous === undefined || typeof previous === 'string')
              best.set(run.label, timings);
            continue;
          }
          best.set(
            run.label,
            timings.map((t, i) => (t.forward.p50 < previous[i]!.forward.p50 ? t : previous[i]!)),
          );
        }
      }
      const wasm = best.get('wasm');
      console.log(`\n  ${model.name}`);
      console.log(
        `  ${'backend'.padEnd(24)}${BATCHES.map((b) => `batch ${b} p50 (p99)`.padEnd(24) + 'vs wasm'.padEnd(10)).join('')}`,
      );
      for (const run of RUNS) {
        const timings = best.get(run.label)!;
        if (typeof timings === 'string') {
          console.log(`  ${run.label.padEnd(24)}${timings}`);
          continue;
        }
        const cells = timings.map((t, i) => {
          const base = typeof wasm === 'string' ? undefined : wasm?.[i]?.forward.p50;
          const ratio = base === undefined ? '–' : `${(base / t.forward.p50).toFixed(2)}x`;
          return `${`${us(t.forward.p50)} (${us(t.forward.p99)})`.padEnd(24)}${ratio.padEnd(10)}`;
        });
        console.log(`  ${run.label.padEnd(24)}${cells.join('')}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log('\n  (vs wasm: how many times faster than WebAssembly; above 1 is faster)');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
