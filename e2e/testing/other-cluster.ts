/**
 * A second local cluster beside the shared one, in a state directory of its own, driven the way a
 * user drives one: `cli.ts up|down` and `kubectl` with its kubeconfig and binaries.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { type ClusterInfo, repoRoot } from '../cluster/testenv.js';

const exec = promisify(execFile);

/** `cluster:up`/`cluster:down` (with `flags`) for the cluster in `stateDir`. */
export function clusterCli(stateDir: string, command: 'up' | 'down', flags: string[] = []) {
  return exec(process.execPath, ['--import', 'tsx', 'e2e/cluster/cli.ts', command, ...flags], {
    cwd: repoRoot,
    env: { ...process.env, LATHE_STATE_DIR: stateDir },
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** `kubectl args` against `cluster`, with `input` on its stdin. */
export function kubectlOn(cluster: ClusterInfo, args: string[], input?: string) {
  const run = exec('kubectl', args, {
    env: {
      ...process.env,
      KUBECONFIG: cluster.kubeconfigPath,
      PATH: [...cluster.binDirs, process.env.PATH].join(path.delimiter),
    },
  });
  if (input !== undefined) run.child.stdin?.end(input);
  return run;
}
