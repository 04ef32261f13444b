/**
 * The web console program (`console/main.ts`) run as a child process against the local
 * cluster — environment in, JSON log out, the cluster's admin kubeconfig standing in for the
 * console's ServiceAccount — and the viewers who sign in to it: a ServiceAccount with a
 * read-only Role per namespace and a token from the TokenRequest API (`kubectl create token`),
 * as a user of the console would get one. For the console's browser tests and its benchmark.
 * Test support only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { FleetObject } from '../../bench/console-fleet.js';
import { latheKinds } from '../../operator/src/controllers/lathe-kinds.js';
import type { KubeClient } from '../../operator/src/runtime/kube-client.js';
import { freePort } from '../cluster/ports.js';
import { clusterInfo, eventually, kubectlOrThrow, repoRoot } from '../cluster/testenv.js';

/** A started console. */
export interface ConsoleProgram {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** Everything it wrote so far, stdout and stderr. */
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts the console on a free loopback port, watching `namespaces` (all when empty) with the
 * local MinIO as its object store, and waits until its caches are synced (`/readyz`).
 */
export async function startConsoleProgram(
  options: { namespaces?: readonly string[]; env?: Record<string, string> } = {},
): Promise<ConsoleProgram> {
  const info = clusterInfo();
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'console/main.ts')],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        KUBECONFIG: info.kubeconfigPath,
        LATHE_CONSOLE_BIND_ADDRESS: '127.0.0.1',
        LATHE_CONSOLE_PORT: String(port),
        LATHE_LOG_LEVEL: process.env.LATHE_TEST_LOG_LEVEL ?? 'warn',
        ...(options.namespaces?.length
          ? { LATHE_WATCH_NAMESPACES: options.namespaces.join(',') }
          : {}),
        LATHE_OBJECT_STORE_ENDPOINT: info.minio.endpoint,
        LATHE_OBJECT_STORE_BUCKET: info.minio.bucket,
        LATHE_OBJECT_STORE_ACCESS_KEY: info.minio.accessKey,
        LATHE_OBJECT_STORE_SECRET_KEY: info.minio.secretKey,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const program = { child, base: `http://127.0.0.1:${port}`, output: () => output, exited };
  await eventually(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`the console exited with ${child.exitCode}:\n${output}`);
      const response = await fetch(`${program.base}/readyz`);
      if (response.status !== 200)
        throw new Error(`/readyz answered ${response.status}: ${await response.text()}`);
    },
    { timeoutMs: 120_000, intervalMs: 500, what: 'the console to sync its caches' },
  );
  return program;
}

/** Stops the console (SIGTERM) and waits for it to exit. */
export async function stopConsoleProgram(program: ConsoleProgram | undefined): Promise<void> {
  if (!program) return;
  if (program.child.exitCode === null) program.child.kill('SIGTERM');
  await program.exited;
}

/** Lathe's kinds, as a Role's resources. */
const latheResources = [
  'datasets',
  'trainingjobs',
  'modelversions',
  'inferenceservices',
  'retrainpolicies',
  'batchpredictions',
];

/**
 * A viewer: ServiceAccount `name` in `home`, allowed to get, list and watch Lathe's kinds in
 * each of `readable` (a Role and RoleBinding there) and nothing else. Returns a token for it
 * from the TokenRequest API (`kubectl create token`), valid for an hour.
 */
export async function viewerToken(
  home: string,
  name: string,
  readable: readonly string[],
): Promise<string> {
  await kubectlOrThrow(['-n', home, 'create', 'serviceaccount', name]);
  for (const namespace of readable) {
    await kubectlOrThrow([
      '-n',
      namespace,
      'create',
      'role',
      `${name}-read`,
      '--verb=get,list,watch',
      `--resource=${latheResources.map((r) => `${r}.lathe.dev`).join(',')}`,
    ]);
    await kubectlOrThrow([
      '-n',
      namespace,
      'create',
      'rolebinding',
      `${name}-read`,
      `--role=${name}-read`,
      `--serviceaccount=${home}:${name}`,
    ]);
  }
  return (await kubectlOrThrow(['-n', home, 'create', 'token', name, '--duration=1h'])).trim();
}

/**
 * Creates each object and writes its status through the status subresource (what the
 * operator would have written), `parallel` at a time — objects for the console to show
 * without running the operator.
 */
export async function createWithStatus(
  client: KubeClient,
  objects: readonly FleetObject[],
  parallel = 8,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < objects.length) {
      const { kind, object, status } = objects[next++]!;
      const resource = latheKinds[kind].resource;
      await client.create(resource, object);
      await client.patch(
        resource,
        object.metadata?.namespace,
        object.metadata?.name ?? '',
        'merge',
        { status },
        { subresource: 'status' },
      );
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}
