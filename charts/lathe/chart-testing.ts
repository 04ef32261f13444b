/**
 * What the chart's tests share: the chart's path, the helm binary (from the local cluster's
 * component cache, so the unit tests need no cluster), rendering with `helm template`, and the
 * checks a rendered pod must pass.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

export const chartDir = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(chartDir, '../..');

/**
 * The helm binary: `$LATHE_HELM` if set, else the one `npm run cluster:prepare` built into the
 * component cache. It never builds (minutes of work inside a test would time the test runner
 * out); on a machine where nothing is built yet it fails, saying to run that command.
 */
export function helmBinary(): string {
  if (process.env.LATHE_HELM) return process.env.LATHE_HELM;
  const dirs = execFileSync(
    'bash',
    [path.join(repoRoot, 'e2e/cluster/build-components.sh'), '--locate'],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const found = dirs.map((dir) => path.join(dir, 'helm')).find((file) => existsSync(file));
  if (!found) throw new Error(`No helm binary in the component cache (${dirs.join(', ')})`);
  return found;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Helm's own state in a throw-away directory, so a developer's repositories and plugins do not matter. */
const helmHome = mkdtempSync(path.join(os.tmpdir(), 'lathe-chart-test-'));

/** Runs helm without a cluster; never throws on a non-zero exit. */
export function runHelm(helm: string, args: string[]): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    execFile(
      helm,
      args,
      {
        env: {
          ...process.env,
          HELM_CACHE_HOME: path.join(helmHome, 'cache'),
          HELM_CONFIG_HOME: path.join(helmHome, 'config'),
          HELM_DATA_HOME: path.join(helmHome, 'data'),
        },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(
            new Error(`helm ${args.join(' ')} could not run: ${error.message}`, { cause: error }),
          );
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/** A rendered Kubernetes object, loosely typed. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Whether a rendered object belongs to the web console (`console-*.yaml`), not the operator. */
export function isConsoleManifest(m: Manifest): boolean {
  return m.metadata.labels?.['app.kubernetes.io/component'] === 'console';
}

/** Splits `helm template` output into objects, dropping empty documents. */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0)
        throw new Error(`helm rendered invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null && typeof m === 'object');
}

/** `--set` arguments for a map of values (`{ replicaCount: 2 }` → `--set replicaCount=2`). */
export function setArgs(values: Record<string, string | number | boolean>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--set', `${key}=${value}`]);
}

/** The pod template of a workload, or the pod itself. */
export function podSpecOf(m: Manifest): k8s.V1PodSpec | undefined {
  if (m.kind === 'Pod') return m.spec as k8s.V1PodSpec;
  const spec = m.spec as
    | {
        template?: { spec?: k8s.V1PodSpec };
        jobTemplate?: { spec?: { template?: { spec?: k8s.V1PodSpec } } };
      }
    | undefined;
  return spec?.template?.spec ?? spec?.jobTemplate?.spec?.template?.spec;
}

/** The volume types the Pod Security Standards `restricted` profile allows. */
const restrictedVolumeTypes = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/**
 * How `spec` falls short of the Pod Security Standards `restricted` profile (v1.33), plus the
 * chart's own rule of a read-only root filesystem; empty when it complies. Each entry names the
 * field to fix, like the PodSecurity admission message.
 */
export function restrictedViolations(spec: k8s.V1PodSpec): string[] {
  const problems: string[] = [];
  const pod = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC)
    problems.push('host namespaces must not be shared');
  for (const volume of spec.volumes ?? []) {
    const types = Object.keys(volume).filter((k) => k !== 'name');
    if (types.some((t) => !restrictedVolumeTypes.has(t)))
      problems.push(`volume "${volume.name}" has a restricted type (${types.join(', ')})`);
  }
  if (pod.runAsUser === 0) problems.push('pod securityContext.runAsUser must not be 0');
  const podSeccomp = pod.seccompProfile?.type;
  if (podSeccomp !== undefined && podSeccomp !== 'RuntimeDefault' && podSeccomp !== 'Localhost') {
    problems.push(
      `pod securityContext.seccompProfile.type must be RuntimeDefault or Localhost (got ${podSeccomp})`,
    );
  }
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = c.securityContext ?? {};
    const where = `container "${c.name}"`;
    if (sc.privileged) problems.push(`${where} must not be privileged`);
    if (sc.allowPrivilegeEscalation !== false)
      problems.push(`${where} must set securityContext.allowPrivilegeEscalation=false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL'))
      problems.push(`${where} must set securityContext.capabilities.drop=["ALL"]`);
    const added = (sc.capabilities?.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (added.length > 0) problems.push(`${where} must not add capabilities ${added.join(', ')}`);
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true)
      problems.push(`${where} (or the pod) must set securityContext.runAsNonRoot=true`);
    if (sc.runAsUser === 0) problems.push(`${where} securityContext.runAsUser must not be 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
      problems.push(
        `${where} (or the pod) must set securityContext.seccompProfile.type to RuntimeDefault or Localhost`,
      );
    }
    if (sc.readOnlyRootFilesystem !== true)
      problems.push(`${where} must set securityContext.readOnlyRootFilesystem=true`);
    for (const port of c.ports ?? []) {
      if (port.hostPort) problems.push(`${where} must not use hostPort ${port.hostPort}`);
    }
  }
  return problems;
}
