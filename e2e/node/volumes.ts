/**
 * Pod volumes on the host: what each volume contains (pure, from the pod spec and its
 * pre-read sources) and which bind mounts give a container its `volumeMounts`.
 *
 * Supported: emptyDir, hostPath, secret, configMap, downwardAPI and projected (secret,
 * configMap, downwardAPI, serviceAccountToken). Secret, configMap, downward-API and projected
 * volumes are read-only, as on a real kubelet.
 */
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { BindMount } from './bwrap.js';
import { ContainerConfigError, podFieldValue } from './pod-fields.js';
import {
  defaultTokenExpirationSeconds,
  type MintedToken,
  type PodSources,
  tokenKey,
} from './pod-sources.js';

export interface VolumeFile {
  /** Relative to the volume's root. */
  path: string;
  data: Buffer;
  mode: number;
}

export type VolumeContent =
  | { kind: 'emptyDir' }
  | { kind: 'hostPath'; path: string; create: boolean }
  | { kind: 'files'; files: VolumeFile[] };

export const serviceAccountMountPath = '/var/run/secrets/kubernetes.io/serviceaccount';
const syntheticVolume = 'kube-api-access-lathe';

/**
 * The pod as the node runs it: with the service-account token volume that the ServiceAccount
 * admission plugin normally injects, when it is missing and automounting is not disabled.
 */
export function withServiceAccountVolume(pod: k8s.V1Pod): k8s.V1Pod {
  const spec = pod.spec;
  if (!spec || spec.automountServiceAccountToken === false) return pod;
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  const mounted = containers.some((c) =>
    (c.volumeMounts ?? []).some(
      (m) => path.posix.normalize(m.mountPath).replace(/\/+$/, '') === serviceAccountMountPath,
    ),
  );
  if (mounted) return pod;
  const volume: k8s.V1Volume = {
    name: syntheticVolume,
    projected: {
      defaultMode: 0o644,
      sources: [
        {
          serviceAccountToken: { path: 'token', expirationSeconds: defaultTokenExpirationSeconds },
        },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
    },
  };
  const mount: k8s.V1VolumeMount = {
    name: syntheticVolume,
    mountPath: serviceAccountMountPath,
    readOnly: true,
  };
  const addMount = (c: k8s.V1Container) => ({
    ...c,
    volumeMounts: [...(c.volumeMounts ?? []), mount],
  });
  return {
    ...pod,
    spec: {
      ...spec,
      volumes: [...(spec.volumes ?? []), volume],
      containers: spec.containers.map(addMount),
      ...(spec.initContainers ? { initContainers: spec.initContainers.map(addMount) } : {}),
    },
  };
}

type Items = { key: string; path: string; mode?: number }[] | undefined;

function keyedFiles(
  data: Record<string, Buffer> | null | undefined,
  what: string,
  items: Items,
  optional: boolean | undefined,
  mode: number,
): VolumeFile[] {
  if (!data) {
    if (optional) return [];
    throw new ContainerConfigError(`${what} not found`);
  }
  if (!items?.length) {
    return Object.entries(data).map(([key, value]) => ({ path: key, data: value, mode }));
  }
  const files: VolumeFile[] = [];
  for (const item of items) {
    const value = data[item.key];
    if (value === undefined) {
      if (optional) continue;
      throw new ContainerConfigError(`${what} has no key "${item.key}"`);
    }
    files.push({ path: item.path, data: value, mode: item.mode ?? mode });
  }
  return files;
}

function downwardFiles(
  pod: k8s.V1Pod,
  items: k8s.V1DownwardAPIVolumeFile[] | undefined,
  ips: { podIP: string; hostIP: string },
  mode: number,
): VolumeFile[] {
  return (items ?? []).map((item) => ({
    path: item.path,
    data: Buffer.from(item.fieldRef ? podFieldValue(pod, item.fieldRef.fieldPath, ips) : ''),
    mode: item.mode ?? mode,
  }));
}

/** The token a projected source asks for, from the minted ones. */
function tokenOf(sources: PodSources, source: k8s.V1ServiceAccountTokenProjection): MintedToken {
  const key = tokenKey({
    audience: source.audience || undefined,
    expirationSeconds: source.expirationSeconds ?? defaultTokenExpirationSeconds,
  });
  const token = sources.tokens.get(key);
  if (!token) throw new ContainerConfigError('service account token was not issued');
  return token;
}

/**
 * The content of `volume`. Throws `ContainerConfigError` naming the missing object or key
 * when a non-optional source is absent, and for volume types the node does not support.
 */
export function volumeContentOf(
  pod: k8s.V1Pod,
  volume: k8s.V1Volume,
  sources: PodSources,
  ips: { podIP: string; hostIP: string },
): VolumeContent {
  const namespace = pod.metadata?.namespace ?? 'default';
  if (volume.emptyDir) return { kind: 'emptyDir' };
  if (volume.hostPath) {
    const type = volume.hostPath.type ?? '';
    return { kind: 'hostPath', path: volume.hostPath.path, create: type === 'DirectoryOrCreate' };
  }
  if (volume.secret) {
    const name = volume.secret.secretName ?? '';
    const mode = volume.secret.defaultMode ?? 0o644;
    const files = keyedFiles(
      sources.secrets.get(name),
      `secret "${name}"`,
      volume.secret.items,
      volume.secret.optional,
      mode,
    );
    return { kind: 'files', files };
  }
  if (volume.configMap) {
    const name = volume.configMap.name ?? '';
    const mode = volume.configMap.defaultMode ?? 0o644;
    const files = keyedFiles(
      sources.configMaps.get(name),
      `configmap "${name}"`,
      volume.configMap.items,
      volume.configMap.optional,
      mode,
    );
    return { kind: 'files', files };
  }
  if (volume.downwardAPI) {
    const mode = volume.downwardAPI.defaultMode ?? 0o644;
    return { kind: 'files', files: downwardFiles(pod, volume.downwardAPI.items, ips, mode) };
  }
  if (volume.projected) {
    const mode = volume.projected.defaultMode ?? 0o644;
    const files: VolumeFile[] = [];
    for (const source of volume.projected.sources ?? []) {
      if (source.secret) {
        const name = source.secret.name ?? '';
        files.push(
          ...keyedFiles(
            sources.secrets.get(name),
            `secret "${name}"`,
            source.secret.items,
            source.secret.optional,
            mode,
          ),
        );
      }
      if (source.configMap) {
        const name = source.configMap.name ?? '';
        const what = `configmap "${name}" in namespace ${namespace}`;
        files.push(
          ...keyedFiles(
            sources.configMaps.get(name),
            what,
            source.configMap.items,
            source.configMap.optional,
            mode,
          ),
        );
      }
      if (source.downwardAPI)
        files.push(...downwardFiles(pod, source.downwardAPI.items, ips, mode));
      if (source.serviceAccountToken) {
        const token = tokenOf(sources, source.serviceAccountToken);
        files.push({
          path: source.serviceAccountToken.path,
          data: Buffer.from(token.token),
          mode: 0o600,
        });
      }
    }
    return { kind: 'files', files };
  }
  const type = Object.keys(volume).find((k) => k !== 'name') ?? 'unknown';
  throw new ContainerConfigError(
    `volume "${volume.name}": type ${type} is not supported by the process node`,
  );
}

/** The volume types mounted read-only whatever the volumeMount says. */
export function isReadOnlyVolume(volume: k8s.V1Volume): boolean {
  return Boolean(volume.secret || volume.configMap || volume.downwardAPI || volume.projected);
}

/**
 * The bind mounts of a container: its volumeMounts (with subPath) and its termination
 * message file. `hostPathOf` maps a volume name to its directory on the host.
 */
export function containerMounts(options: {
  container: k8s.V1Container;
  volumes: readonly k8s.V1Volume[];
  hostPathOf: (volume: k8s.V1Volume) => string;
  terminationLogPath: string;
}): BindMount[] {
  const { container } = options;
  const mounts: BindMount[] = [];
  for (const m of container.volumeMounts ?? []) {
    const volume = options.volumes.find((v) => v.name === m.name);
    if (!volume) {
      throw new ContainerConfigError(`volumeMount "${m.name}" refers to no volume of the pod`);
    }
    const root = options.hostPathOf(volume);
    const subPath = m.subPath ? path.normalize(m.subPath) : '';
    if (subPath.startsWith('..') || path.isAbsolute(subPath)) {
      throw new ContainerConfigError(
        `volumeMount "${m.name}": subPath "${m.subPath}" leaves the volume`,
      );
    }
    mounts.push({
      hostPath: subPath ? path.join(root, subPath) : root,
      containerPath: m.mountPath,
      readOnly: Boolean(m.readOnly) || isReadOnlyVolume(volume),
    });
  }
  mounts.push({
    hostPath: options.terminationLogPath,
    containerPath: container.terminationMessagePath ?? '/dev/termination-log',
    readOnly: false,
  });
  return mounts;
}
