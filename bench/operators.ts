/**
 * The two operators the benchmark compares, each started as its own process against the local
 * cluster (so its RSS is its own), and stopped with SIGTERM:
 *
 * - Lathe, built (`npm run build`) and run as in its image: `node dist/operator/src/main.js`,
 *   configured by environment, ready when `/readyz` answers 200 (every cache synced).
 * - The Go peer (`bench/go-peer/`), built through the Go module proxy into the cache by
 *   `bench/go-peer/build.sh`, ready when it prints `ready` (its ModelVersion cache synced).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { clusterInfo, eventually, repoRoot } from '../e2e/cluster/testenv.js';

export interface RunningOperator {
  pid: number;
  /** Ends the process (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Sends a signal without waiting (heap snapshots: SIGUSR2). */
  signal(name: NodeJS.Signals): void;
  /** Resolves when the process exits, however it ends: its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A TCP port nobody listens on now. */
async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function running(child: ChildProcess): RunningOperator {
  let exited = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    }),
  );
  return {
    pid: child.pid ?? 0,
    exited: exit,
    signal: (name) => {
      if (!exited) child.kill(name);
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/**
 * The Node.js flags of the operator image's entrypoint (runtime-images/operator/Dockerfile;
 * a test keeps the two equal), so the benchmark measures what ships.
 */
export const imageNodeFlags = ['--max-semi-space-size=4'];

export interface LatheOptions {
  namespace: string;
  workers: number;
  /** V8/Node flags before the script, e.g. `--max-semi-space-size=8`. */
  nodeFlags: readonly string[];
  /** Configure the object store (MinIO of the local cluster); off: no object-store reads. */
  objectStore: boolean;
  /** Campaign for a Lease in `namespace` under this identity; undefined: no leader election. */
  leaderIdentity?: string;
  /** For heap snapshots on SIGUSR2. */
  heapSnapshotDir?: string;
  /**
   * `dist` (default): the build, as the image runs it (`npm run build` first); `source`: the
   * TypeScript through tsx, for a test that should not build first (tsx adds some memory).
   */
  entry?: 'dist' | 'source';
  /** Append the operator's stdout and stderr (its JSON log) here instead of this process's stderr. */
  logPath?: string;
  /** `LATHE_LOG_LEVEL` (default `error`). */
  logLevel?: string;
}

/** Starts Lathe's operator and resolves once `/readyz` says every cache has synced. */
export async function startLathe(options: LatheOptions): Promise<RunningOperator> {
  const { minio, kubeconfigPath } = clusterInfo();
  const metricsPort = await freePort();
  const healthPort = await freePort();
  const snapshotFlags = options.heapSnapshotDir
    ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${options.heapSnapshotDir}`]
    : [];
  const entry =
    options.entry === 'source'
      ? ['--import', 'tsx', path.join(repoRoot, 'operator/src/main.ts')]
      : [path.join(repoRoot, 'dist/operator/src/main.js')];
  const log = options.logPath ? openSync(options.logPath, 'a') : undefined;
  const child = spawn(process.execPath, [...options.nodeFlags, ...snapshotFlags, ...entry], {
    cwd: repoRoot,
    stdio: ['ignore', log ?? 'ignore', log ?? 'inherit'],
    env: {
      ...process.env,
      KUBECONFIG: kubeconfigPath,
      LATHE_LOG_LEVEL: options.logLevel ?? 'error',
      LATHE_WATCH_NAMESPACES: options.namespace,
      LATHE_WORKERS: String(options.workers),
      LATHE_BIND_ADDRESS: '127.0.0.1',
      LATHE_METRICS_PORT: String(metricsPort),
      LATHE_HEALTH_PORT: String(healthPort),
      ...(options.leaderIdentity
        ? {
            LATHE_LEADER_ELECT: 'true',
            LATHE_LEADER_ELECTION_NAMESPACE: options.namespace,
            POD_NAME: options.leaderIdentity,
          }
        : { LATHE_LEADER_ELECT: 'false' }),
      ...(options.objectStore
        ? {
            LATHE_OBJECT_STORE_ENDPOINT: minio.endpoint,
            LATHE_OBJECT_STORE_BUCKET: minio.bucket,
            LATHE_OBJECT_STORE_ACCESS_KEY: minio.accessKey,
            LATHE_OBJECT_STORE_SECRET_KEY: minio.secretKey,
          }
        : {}),
    },
  });
  if (log !== undefined) closeSync(log);
  const operator = running(child);
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`the operator exited with ${child.exitCode}`);
      // Bounded: a port taken meanwhile by another program may accept and never answer.
      const response = await fetch(`http://127.0.0.1:${healthPort}/readyz`, {
        signal: AbortSignal.timeout(5_000),
      });
      if (response.status !== 200) throw new Error(`/readyz answered ${response.status}`);
    },
    { timeoutMs: 120_000, intervalMs: 200, what: 'Lathe ready' },
  ).catch(async (error: unknown) => {
    await operator.stop();
    throw error;
  });
  return operator;
}

export interface PeerOptions {
  binary: string;
  namespace: string;
  workers: number;
  qps: number;
  burst: number;
}

/** Builds the Go peer if its cache entry is missing; returns the binary's path. */
export async function buildPeer(): Promise<string> {
  const { stdout } = await promisify(execFile)(
    'bash',
    [path.join(repoRoot, 'bench/go-peer/build.sh')],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const binary = stdout.trim().split('\n').at(-1);
  if (!binary) throw new Error('bench/go-peer/build.sh printed no binary path');
  return binary;
}

/** Starts the Go peer and resolves once it reports its cache synced. */
export async function startPeer(options: PeerOptions): Promise<RunningOperator> {
  const { kubeconfigPath } = clusterInfo();
  const child = spawn(
    options.binary,
    [
      `--namespace=${options.namespace}`,
      `--qps=${options.qps}`,
      `--burst=${options.burst}`,
      `--workers=${options.workers}`,
      // A terminal reconcile error is logged at error level; keep logs out of the comparison.
      '--log-level=dpanic',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KUBECONFIG: kubeconfigPath } },
  );
  const operator = running(child);
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`The Go peer was not ready: ${stderr}`)),
      120_000,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/^ready$/m.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The Go peer exited with ${code}: ${stderr}`));
    });
  }).catch(async (error: unknown) => {
    await operator.stop();
    throw error;
  });
  // Keep draining its stderr so it never blocks on a full pipe.
  child.stderr?.on('data', () => undefined);
  return operator;
}
