/**
 * Writes a pod's volumes to its directory on the host (the side-effecting half of
 * `volumes.ts`). Files are replaced by write-then-rename so a process reading a token or a
 * secret never sees half a file, and volume directories are never replaced: they are the
 * sources of live bind mounts.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { volumeDirOf } from './node-dir.js';
import type { PodSources } from './pod-sources.js';
import { volumeContentOf } from './volumes.js';

/**
 * Writes every volume of `pod` under `podDir` and returns the host path of each volume by name.
 * Throws `ContainerConfigError` when a volume's source is missing.
 */
export function writeVolumes(
  podDir: string,
  pod: k8s.V1Pod,
  sources: PodSources,
  ips: { podIP: string; hostIP: string },
): Map<string, string> {
  // Compute everything first: a missing secret must not leave half the volumes written.
  const contents = (pod.spec?.volumes ?? []).map((v) => ({
    volume: v,
    content: volumeContentOf(pod, v, sources, ips),
  }));
  const hostPaths = new Map<string, string>();
  for (const { volume, content } of contents) {
    if (content.kind === 'hostPath') {
      if (content.create) mkdirSync(content.path, { recursive: true });
      hostPaths.set(volume.name, content.path);
      continue;
    }
    const dir = volumeDirOf(podDir, volume.name);
    mkdirSync(dir, { recursive: true });
    hostPaths.set(volume.name, dir);
    if (content.kind !== 'files') continue;
    for (const file of content.files) {
      const target = path.join(dir, path.normalize(file.path));
      if (!target.startsWith(dir + path.sep)) continue; // a path escaping the volume
      mkdirSync(path.dirname(target), { recursive: true });
      const temp = `${target}.lathe-tmp`;
      writeFileSync(temp, file.data, { mode: file.mode });
      renameSync(temp, target);
    }
  }
  return hostPaths;
}
