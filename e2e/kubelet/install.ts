/**
 * Installing Lathe on the local cluster as a user does on theirs: the images pushed to a
 * registry (on the real node, the cluster's own: `npm run images -- --push <registry>/lathe`,
 * building what changed first), then the Helm chart with the values `--push` wrote. The demo
 * and the real node's tests install it this one way.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { objectStoreSecretName } from '../cluster/cluster.js';
import { type ClusterInfo, helm, repoRoot } from '../cluster/testenv.js';

/** The release and namespace the demo and the tests install Lathe as. */
export const latheRelease = { name: 'lathe', namespace: 'lathe-system' } as const;

/** `helm upgrade --install` of the chart against the local cluster's object store. */
export function latheHelmInstallArgs(info: ClusterInfo, valuesFiles: string[] = []): string[] {
  return [
    'upgrade',
    '--install',
    latheRelease.name,
    path.join(repoRoot, 'charts/lathe'),
    '--namespace',
    latheRelease.namespace,
    '--set',
    `objectStore.endpoint=${info.minio.endpoint}`,
    '--set',
    `objectStore.credentialsSecret.name=${objectStoreSecretName}`,
    ...valuesFiles.flatMap((file) => ['-f', file]),
    '--wait',
    '--timeout',
    '180s',
  ];
}

/** Installs (or upgrades) Lathe with Helm; fails with Helm's message. */
export async function installLathe(info: ClusterInfo, valuesFiles: string[] = []): Promise<void> {
  const installed = await helm(latheHelmInstallArgs(info, valuesFiles), { timeoutMs: 200_000 });
  if (installed.code !== 0) throw new Error(`helm install failed:\n${installed.stderr}`);
}

/** The repository prefix Lathe's images go under in the local registry. */
export const registryPrefix = (registry: string) => `${registry}/lathe`;

export async function pushImagesTo(
  registry: string,
  log: (line: string) => void = (line) => console.error(line),
): Promise<string> {
  const args = [
    '--import',
    'tsx',
    path.join(repoRoot, 'scripts/images/cli.ts'),
    '--push',
    registryPrefix(registry),
    // The local registry speaks plain HTTP, inside the cluster's network.
    '--dest-tls-verify=false',
  ];
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
    for (const line of chunk.toString().split('\n').filter(Boolean)) log(line);
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) {
    throw new Error(
      `Pushing Lathe's images to ${registry} failed (exit ${code}):\n${stderr.split('\n').slice(-20).join('\n')}`,
    );
  }
  const valuesFile = stdout.trim().split('\n').at(-1) ?? '';
  if (!valuesFile.endsWith('.yaml'))
    throw new Error(`npm run images -- --push printed no values file:\n${stdout}`);
  return valuesFile;
}
