/**
 * Vitest global setup for the `kubelet` project: one local cluster on the real node for the run,
 * in a state directory of its own (`.lathe-kubelet/`, so a developer's process-node cluster in
 * `.lathe/` keeps running beside it), and Lathe's images pushed to its registry.
 *
 * A healthy real-node cluster already there is reused and left running; otherwise one is brought
 * up here and taken down when the run ends.
 */
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const kubeletStateDir = path.join(repoRoot, '.lathe-kubelet');

export default async function setup(): Promise<() => Promise<void>> {
  // Before the cluster modules load: they read the state directory once.
  process.env.LATHE_STATE_DIR = kubeletStateDir;
  const { down, isHealthy, up } = await import('../cluster/cluster.js');
  const { clusterInfo } = await import('../cluster/testenv.js');
  const { pushImagesTo } = await import('./install.js');
  const { imagesValuesPath } = await import('./testing.js');

  const reuse = (await isHealthy()) && clusterInfo().node === 'kubelet';
  if (reuse) console.error('[cluster] Reusing the running real-node cluster');
  else await up({ nodeKind: 'kubelet' });
  const registry = clusterInfo().registry;
  if (!registry) throw new Error('the real-node cluster has no registry');
  const values = await pushImagesTo(registry, (line) => console.error(line));
  await copyFile(values, imagesValuesPath());
  return async () => {
    if (!reuse) await down();
  };
}
