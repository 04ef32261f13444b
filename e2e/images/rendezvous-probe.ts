/**
 * A distributed "trainer" for the cluster tests of `spec.distributed`: it proves the
 * rendezvous across pods the way torch.distributed's static rendezvous does, without PyTorch.
 *
 * Every worker reads `MASTER_ADDR`, `MASTER_PORT`, `WORLD_SIZE` and `NODE_RANK` (and checks
 * torchrun's `PET_*` agree). Worker 0 listens on `MASTER_PORT`; the others resolve
 * `MASTER_ADDR` (retrying while the cluster DNS does not know it yet) and say hello with their
 * rank and hostname. Once worker 0 has a hello from every rank it holds `PROBE_HOLD_SECONDS`
 * (so a test can kill a worker mid-run), answers each with `done`, writes a small artifact
 * (`ranks.json`: who said hello) under `LATHE_OUTPUT_URI` with its manifest, and reports the
 * contract's train result; the others exit 0 after their `done`. A worker whose peer vanishes
 * fails, as a DDP process would. `PROBE_FAIL_RANK` makes that rank fail at once (a crashing
 * worker), with its message as the termination message.
 *
 * The `lathe.dev/test/rendezvous-probe` image of the process node (`e2e/node/images.ts`).
 */
import net from 'node:net';
import os from 'node:os';
import { manifestFor } from '../../contract/manifest.js';
import { ObjectStore } from '../../contract/object-store.js';
import { MANIFEST_FILE, parseS3Uri } from '../../contract/object-store-layout.js';
import { DEFAULT_TERMINATION_MESSAGE_PATH, writeResult } from '../../contract/results.js';
import { objectStoreFromEnv, RESULT_PATH_ENV } from '../../contract/runtime-env.js';

const env = process.env;
const resultPath = env[RESULT_PATH_ENV] ?? DEFAULT_TERMINATION_MESSAGE_PATH;
const number = (name: string) => {
  const value = Number(env[name]);
  if (!Number.isInteger(value)) throw new Error(`${name} is ${env[name] ?? 'unset'}`);
  return value;
};

const masterAddr = env.MASTER_ADDR ?? '';
const port = number('MASTER_PORT');
const worldSize = number('WORLD_SIZE');
const rank = number('NODE_RANK');
const holdMs = Number(env.PROBE_HOLD_SECONDS ?? '0') * 1000;
const deadline = Date.now() + Number(env.PROBE_TIMEOUT_SECONDS ?? '120') * 1000;

function fail(message: string): never {
  writeResult({ kind: 'train', outcome: 'failed', reason: 'TrainingFailed', message }, resultPath);
  console.error(`rank ${rank}: ${message}`);
  process.exit(1);
}

function checkTorchrunAgrees(): void {
  const pairs: [string, string][] = [
    ['PET_MASTER_ADDR', masterAddr],
    ['PET_MASTER_PORT', String(port)],
    ['PET_NNODES', String(worldSize)],
    ['PET_NODE_RANK', String(rank)],
  ];
  for (const [name, expected] of pairs)
    if (env[name] !== expected) fail(`${name} is ${env[name]}, expected ${expected}`);
}

type Hello = { rank: number; hostname: string };

async function lead(): Promise<Hello[]> {
  const hellos: Hello[] = [{ rank: 0, hostname: os.hostname() }];
  const sockets: net.Socket[] = [];
  let finished = false;
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (!buffered.includes('\n')) return;
      hellos.push(JSON.parse(buffered.split('\n')[0] ?? '{}') as Hello);
      console.log(`rank 0: hello from rank ${hellos.at(-1)?.rank}`);
    });
    socket.on('close', () => {
      if (!finished) fail('a worker left before the group finished');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '0.0.0.0', resolve));
  while (hellos.length < worldSize) {
    if (Date.now() > deadline) fail(`only ${hellos.length} of ${worldSize} workers said hello`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, holdMs));
  finished = true;
  for (const socket of sockets) socket.end('done\n');
  server.close();
  return hellos.sort((a, b) => a.rank - b.rank);
}

async function follow(): Promise<void> {
  for (;;) {
    if (Date.now() > deadline) fail(`could not reach ${masterAddr}:${port}`);
    const outcome = await new Promise<'done' | 'retry'>((resolve) => {
      const socket = net.connect(port, masterAddr);
      let connected = false;
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('connect', () => {
        connected = true;
        socket.write(`${JSON.stringify({ rank, hostname: os.hostname() })}\n`);
      });
      socket.on('data', (chunk: string) => {
        answer += chunk;
      });
      socket.on('error', () => {
        if (!connected) resolve('retry');
      });
      socket.on('close', () => {
        if (!connected) return resolve('retry');
        if (answer.startsWith('done')) return resolve('done');
        fail('worker 0 went away before the group finished');
      });
    });
    if (outcome === 'done') return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function publish(hellos: Hello[]): Promise<void> {
  const store = new ObjectStore(objectStoreFromEnv(env));
  const output = parseS3Uri(env.LATHE_OUTPUT_URI ?? '');
  const files = { 'ranks.json': Buffer.from(`${JSON.stringify({ worldSize, hellos })}\n`) };
  const { manifest, digest } = manifestFor(files);
  for (const [name, bytes] of Object.entries(files))
    await store.write(output.bucket, `${output.key}${name}`, bytes, 'application/json');
  await store.write(output.bucket, `${output.key}${MANIFEST_FILE}`, manifest, 'application/json');
  writeResult(
    {
      kind: 'train',
      outcome: 'succeeded',
      artifact: { uri: env.LATHE_OUTPUT_URI ?? '', digest, format: 'other' },
      metrics: { workers: hellos.length },
      backend: 'rendezvous-probe',
      epochs: 1,
    },
    resultPath,
  );
}

checkTorchrunAgrees();
if (env.PROBE_FAIL_RANK === String(rank)) fail(`rank ${rank} was told to fail (PROBE_FAIL_RANK)`);
if (rank === 0) {
  const hellos = await lead();
  await publish(hellos);
  console.log(`rank 0: ${hellos.length} workers met`);
} else {
  await follow();
  console.log(`rank ${rank}: done`);
}
