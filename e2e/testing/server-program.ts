/**
 * The inference server program (`runtime-images/server/main.ts`) run as a child process the
 * way a pod runs it — environment in, JSON log out, the local cluster's MinIO as its store — for
 * the server's cluster tests. Test support only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { modelVersionPrefix } from '../../contract/object-store-layout.js';
import { ServeEnv } from '../../contract/runtime-env.js';
import { freePort } from '../cluster/ports.js';
import { clusterInfo, eventually, repoRoot } from '../cluster/testenv.js';
import { programObjectStoreEnv } from './controllers.js';

/** A started server program. */
export interface ServerProgram {
  child: ChildProcess;
  port: number;
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** Everything it wrote so far, stdout and stderr. */
  output: () => string;
  /** Its exit code, once it exited. */
  exited: Promise<number | null>;
  /** Where it writes its result (`LATHE_RESULT_PATH`). */
  resultPath: string;
}

export interface ServerProgramOptions {
  /** The layout namespace its model lies under (`models/<namespace>/iris/<version>/`). */
  namespace: string;
  version: number;
  /** The artifact's verified digest. */
  digest: string;
  /** Where its result file goes. */
  workDir: string;
  /** More variables, or overrides. */
  env?: Record<string, string>;
}

/**
 * Starts the server on a free loopback port, serving model `iris` version `version` of
 * `namespace` from MinIO; does not wait for it to be ready (`waitForServer`).
 */
export async function startServerProgram(options: ServerProgramOptions): Promise<ServerProgram> {
  const { minio } = clusterInfo();
  const { namespace, version, digest, workDir } = options;
  const port = await freePort();
  const resultPath = path.join(workDir, `result-${port}`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'runtime-images/server/main.ts')],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        ...programObjectStoreEnv(),
        [ServeEnv.namespace]: namespace,
        [ServeEnv.inferenceService]: 'iris',
        [ServeEnv.modelName]: 'iris',
        [ServeEnv.modelVersion]: String(version),
        [ServeEnv.modelUri]: `s3://${minio.bucket}/${modelVersionPrefix(namespace, 'iris', version)}`,
        [ServeEnv.modelDigest]: digest,
        [ServeEnv.port]: String(port),
        [ServeEnv.bindAddress]: '127.0.0.1',
        [ServeEnv.podName]: `iris-v${version}-test`,
        LATHE_RESULT_PATH: resultPath,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    port,
    base: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    resultPath,
  };
}

/** Waits until `server` answers ready; fails with its output if it exits first. */
export async function waitForServer(server: ServerProgram): Promise<void> {
  await eventually(
    async () => {
      if (server.child.exitCode !== null) {
        throw new Error(`the server exited with ${server.child.exitCode}:\n${server.output()}`);
      }
      const response = await fetch(`${server.base}/v2/health/ready`);
      if (response.status !== 200) throw new Error(`ready answered ${response.status}`);
    },
    { timeoutMs: 90_000, what: 'the server to become ready' },
  );
}

/** Stops `server` (SIGTERM) and waits for it to exit. */
export async function stopServerProgram(server: ServerProgram): Promise<void> {
  if (server.child.exitCode === null) server.child.kill('SIGTERM');
  await server.exited;
}
