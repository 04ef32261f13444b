/**
 * What the real node's tests share: Lathe installed with Helm from the images in the cluster's
 * registry (the global setup pushed them), and a look into a pod's containers through the
 * kubelet (`kubectl logs`, `kubectl exec`).
 */
import path from 'node:path';
import { clusterInfo, kubectl, stateDir } from '../cluster/testenv.js';
import { installLathe } from './install.js';

/** The Helm values naming the pushed images (copied into the state directory by the setup). */
export function imagesValuesPath(): string {
  return path.join(stateDir, 'lathe-images.yaml');
}

/** Installs (or upgrades to) Lathe from the pushed images: idempotent, any test may call it. */
export async function installLatheFromRegistry(): Promise<void> {
  await installLathe(clusterInfo(), [imagesValuesPath()]);
}

/** Runs `node -e script` in a pod's container through the kubelet; rejects with kubectl's error. */
export async function execNode(
  namespace: string,
  pod: string,
  script: string,
  container?: string,
): Promise<string> {
  const result = await kubectl([
    '-n',
    namespace,
    'exec',
    pod,
    ...(container ? ['-c', container] : []),
    '--',
    'node',
    '-e',
    script,
  ]);
  if (result.code !== 0)
    throw new Error(`kubectl exec ${namespace}/${pod} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** What a container sees of itself: its user, and whether its root filesystem takes a write. */
export const selfInspection = `
const fs = require('node:fs');
let root = 'writable';
try { fs.writeFileSync('/.lathe-write-probe', ''); } catch (error) { root = error.code; }
console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), root }));
`;
