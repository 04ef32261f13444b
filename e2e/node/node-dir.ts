/**
 * Where the node keeps each pod's files under `LATHE_NODE_DIR`:
 *
 *   pods/<namespace>_<name>_<uid>/
 *     <container>.log               stdout and stderr of every run, appended
 *     <container>.termination-log   bind-mounted at the container's terminationMessagePath
 *     <container>.pid               the running process (see stale-processes.ts)
 *     volumes/<volume>/             emptyDir, secret, configMap, projected contents
 *
 * The same layout is read by humans (`tail -f <nodeDir>/pods/<ns>_<pod>_<uid>/<container>.log`) in place
 * of `kubectl logs`.
 */
import path from 'node:path';

export interface PodKey {
  namespace: string;
  name: string;
  uid: string;
}

export function podDirOf(nodeDir: string, pod: PodKey): string {
  return path.join(nodeDir, 'pods', `${pod.namespace}_${pod.name}_${pod.uid}`);
}

export function volumeDirOf(podDir: string, volume: string): string {
  return path.join(podDir, 'volumes', volume);
}

export function containerFileOf(
  podDir: string,
  container: string,
  kind: 'log' | 'termination-log' | 'pid',
): string {
  return path.join(podDir, `${container}.${kind}`);
}
