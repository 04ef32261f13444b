/**
 * What the real node needs on the host before it starts, and what `cluster:down` takes away:
 * its cgroup parent, the host paths its mount namespace binds over (created only where
 * missing, and recorded so that exactly those are removed again), and the sandbox image.
 * Everything else it writes is under the state directory, in its own mount namespace.
 */
import { mkdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterLayout } from '../cluster/components.js';
import type { NetworkPlan } from '../cluster/network-plan.js';
import { createCgroupParent, removeCgroupParent } from './cgroups.js';
import { cgroupParentOf, realNodePaths, sandboxImageOf } from './config.js';
import { writePauseArchive } from './pause-image.js';

const mountpointsRecord = (stateDir: string) => path.join(stateDir, 'real-node-mountpoints.json');

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** Prepares a fresh real node for `layout` (its state wiped: a new node, as `up` makes). */
export async function prepareRealNodeHost(layout: ClusterLayout): Promise<void> {
  const paths = realNodePaths(layout.stateDir);
  await rm(paths.base, { recursive: true, force: true });
  await mkdir(paths.base, { recursive: true });
  await createCgroupParent(cgroupParentOf(layout.network));
  const created: string[] = [];
  for (const { hostPath } of paths.binds) {
    if (await exists(hostPath)) continue;
    await mkdir(hostPath, { recursive: true });
    created.push(hostPath);
  }
  await writeFile(mountpointsRecord(layout.stateDir), `${JSON.stringify(created)}\n`);
  const pause = layout.binaries.pause;
  if (!pause || !layout.pauseTag) throw new Error('the pause component is not built');
  await writePauseArchive(pause, sandboxImageOf(layout.pauseTag), paths.pauseArchive);
}

/**
 * After the node's processes are stopped: kills what still runs in its cgroups (the pods'
 * containers) and removes them, and removes the mount points `prepareRealNodeHost` created.
 * Returns what it removed.
 */
export async function tearDownRealNodeHost(
  stateDir: string,
  network: NetworkPlan | undefined,
): Promise<string[]> {
  const removed: string[] = [];
  if (network) {
    for (const dir of await removeCgroupParent(cgroupParentOf(network)))
      removed.push(`cgroup ${dir}`);
  }
  const record = await readFile(mountpointsRecord(stateDir), 'utf8').catch(() => '[]');
  for (const mountpoint of JSON.parse(record) as string[]) {
    // Only while empty: a path someone else has since put something in stays.
    if (
      await rmdir(mountpoint).then(
        () => true,
        () => false,
      )
    )
      removed.push(`dir ${mountpoint}`);
  }
  await rm(mountpointsRecord(stateDir), { force: true });
  return removed;
}
