/**
 * `helm install` of the chart on the local cluster, into a fresh namespace that enforces the
 * `restricted` Pod Security Standard. The operator runs as two pods under its own
 * ServiceAccount, so RBAC is the real thing: the pods must become Ready and elect a leader,
 * the leader must reconcile a ModelVersion (status, finalizer, clean-up on delete), its log
 * must show no "forbidden", and its effective permissions must be exactly what the code
 * declares, with no wildcard and nothing the API server does not serve.
 *
 * The release watches only its own namespace (so it never touches other suites' objects),
 * which binds the ClusterRole there with a RoleBinding; the cluster-wide binding is covered
 * by chart.test.ts and by the end-to-end suite's install into lathe-system.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  helm,
  kubectl,
  stateDir,
} from '../../e2e/cluster/testenv.js';
import { engineResources } from '../../operator/src/controllers/trainingjob/distributed/choose.js';
import {
  clusterRoleRules,
  clusterScopedRules,
  leaderElectionRoleRules,
} from '../../operator/src/rbac/cluster-permissions.js';
import {
  type PermissionRule,
  permissionDifferences,
  permissionsNotIn,
} from '../../operator/src/rbac/permissions.js';
import { chartDir, repoRoot } from './chart-testing.js';

const release = 'lathe';
const replicas = 2;
const leaseName = 'lathe-operator-leader';
const objectStoreSecret = 'lathe-object-store';

interface PodJson {
  metadata: { name: string; uid: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      state?: Record<string, { reason?: string; message?: string }>;
    }[];
  };
}

async function kubectlJson<T>(args: string[]): Promise<T> {
  const result = await kubectl([...args, '-o', 'json']);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

async function rawJson<T>(apiPath: string): Promise<T> {
  const result = await kubectl(['get', '--raw', apiPath]);
  if (result.code !== 0) throw new Error(`GET ${apiPath} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** The resources (with subresources) the API server serves in `group`, and their verbs. */
async function servedVerbs(group: string): Promise<Map<string, string[]>> {
  const paths =
    group === ''
      ? ['/api/v1']
      : (await rawJson<{ versions: { groupVersion: string }[] }>(`/apis/${group}`)).versions.map(
          (v) => `/apis/${v.groupVersion}`,
        );
  const served = new Map<string, string[]>();
  for (const apiPath of paths) {
    const list = await rawJson<{ resources: { name: string; verbs: string[] }[] }>(apiPath);
    for (const r of list.resources) {
      served.set(r.name, [...new Set([...(served.get(r.name) ?? []), ...r.verbs])]);
    }
  }
  return served;
}

/** A one-line account of a pod, for failure messages. */
function podSummary(pod: PodJson): string {
  const conditions = (pod.status.conditions ?? []).map(
    (c) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`,
  );
  const containers = (pod.status.containerStatuses ?? []).map((c) => {
    const [state, detail] = Object.entries(c.state ?? {})[0] ?? ['unknown', {}];
    return `${c.name}: ${state}${detail.reason ? ` ${detail.reason}` : ''}${detail.message ? ` ${detail.message}` : ''}, restarts ${c.restartCount}`;
  });
  return `${pod.metadata.name} on ${pod.spec.nodeName ?? '<unscheduled>'}: ${pod.status.phase}; ${conditions.join(' ')}; ${containers.join('; ')}`;
}

/**
 * The resource permissions `kubectl auth can-i --list` shows for `user` in `namespace`, as
 * rules. Non-resource URLs (`/api/*`, `/healthz`: discovery every authenticated user gets)
 * are left out.
 */
async function effectivePermissions(user: string, namespace: string): Promise<PermissionRule[]> {
  const result = await kubectl(['auth', 'can-i', '--list', `--as=${user}`, '-n', namespace]);
  if (result.code !== 0) throw new Error(`kubectl auth can-i --list failed: ${result.stderr}`);
  const rules: PermissionRule[] = [];
  for (const line of result.stdout.split('\n').slice(1)) {
    const match = /^(\S+)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$/.exec(line);
    if (!match) continue;
    const [, qualified = '', , names = '', verbs = ''] = match;
    // `resource.group/subresource`; the core group has no dot.
    const [resourceAndGroup = '', subresource] = qualified.split('/');
    const dot = resourceAndGroup.indexOf('.');
    const resource = dot < 0 ? resourceAndGroup : resourceAndGroup.slice(0, dot);
    const group = dot < 0 ? '' : resourceAndGroup.slice(dot + 1);
    const list = (s: string) => s.split(/\s+/).filter((v) => v !== '');
    rules.push({
      apiGroups: [group],
      resources: [subresource ? `${resource}/${subresource}` : resource],
      verbs: list(verbs),
      ...(list(names).length > 0 ? { resourceNames: list(names) } : {}),
    });
  }
  return rules;
}

describe('helm install on the local cluster', () => {
  let namespace = '';
  let serviceAccount = '';

  beforeAll(async () => {
    namespace = await createTestNamespace('lathe-chart', {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
    // The chart reads the object-store keys from a Secret in its own namespace.
    const secret = await kubectlJson<{ data: Record<string, string> }>([
      '-n',
      'lathe-system',
      'get',
      'secret',
      objectStoreSecret,
    ]);
    const copy = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: objectStoreSecret, namespace },
      data: secret.data,
    };
    const applied = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(copy) });
    if (applied.code !== 0)
      throw new Error(`Could not copy the object-store Secret: ${applied.stderr}`);

    const installed = await helm([
      'install',
      release,
      chartDir,
      '--namespace',
      namespace,
      '--set',
      `replicaCount=${replicas}`,
      '--set',
      `objectStore.endpoint=${clusterInfo().minio.endpoint}`,
      '--set',
      `objectStore.credentialsSecret.name=${objectStoreSecret}`,
      '--set',
      'logLevel=debug',
      // Only this namespace: the operator must not touch other suites' objects. This also
      // binds the ClusterRole with a RoleBinding here rather than cluster-wide.
      '--set',
      `watchNamespaces[0]=${namespace}`,
    ]);
    if (installed.code !== 0) throw new Error(`helm install failed:\n${installed.stderr}`);
    serviceAccount = `system:serviceaccount:${namespace}:${release}`;
  });

  afterAll(async () => {
    if (!namespace) return;
    // While the operator still runs, so it can remove its finalizers; after a failed test,
    // strip any that are left, so the namespace can go.
    await kubectl(['-n', namespace, 'delete', 'modelversions', '--all', '--timeout=30s']);
    await helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '60s']);
    const left = await kubectl(['-n', namespace, 'get', 'modelversions', '-o', 'name']);
    for (const name of left.stdout.split('\n').filter((n) => n !== '')) {
      await kubectl([
        '-n',
        namespace,
        'patch',
        name,
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]);
    }
    await deleteTestNamespace(namespace);
  });

  it('admits the operator pod template under the restricted profile', async () => {
    const deployment = await kubectlJson<{
      spec: { template: { metadata: unknown; spec: unknown } };
    }>(['-n', namespace, 'get', 'deployment', release]);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'restricted-probe', namespace },
      spec: deployment.spec.template.spec,
    };
    const dryRun = await kubectl(['create', '--dry-run=server', '-f', '-'], {
      input: JSON.stringify(pod),
    });
    expect(dryRun.stderr).not.toMatch(/violates PodSecurity|Warning/);
    expect(dryRun.code, dryRun.stderr).toBe(0);
  });

  it(`runs ${replicas} Ready operator pods under the release's ServiceAccount`, async () => {
    const nodes = await kubectlJson<{ items: unknown[] }>(['get', 'nodes']);
    expect(
      nodes.items.length,
      'no Node is registered: the process node (e2e/node) is not running',
    ).toBeGreaterThan(0);
    await eventually(
      async () => {
        const pods = await kubectlJson<{ items: PodJson[] }>([
          '-n',
          namespace,
          'get',
          'pods',
          '-l',
          'app.kubernetes.io/name=lathe',
        ]);
        const ready = pods.items.filter((p) =>
          p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        if (ready.length < replicas) {
          // No pods at all usually means no ReplicaSet: is kube-controller-manager running?
          const workloads = await kubectl(['-n', namespace, 'get', 'deployment,replicaset']);
          const events = await kubectl([
            '-n',
            namespace,
            'get',
            'events',
            '--sort-by=.lastTimestamp',
          ]);
          throw new Error(
            `${ready.length}/${replicas} pods Ready:\n${pods.items.map(podSummary).join('\n') || '(no pods)'}\n` +
              `${workloads.stdout}${workloads.stderr}\n${events.stdout.split('\n').slice(-8).join('\n')}`,
          );
        }
      },
      { timeoutMs: 120_000, intervalMs: 1_000, what: 'operator pods Ready' },
    );
    const pods = await kubectlJson<{ items: { spec: { serviceAccountName: string } }[] }>([
      '-n',
      namespace,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/name=lathe',
    ]);
    expect(pods.items.map((p) => p.spec.serviceAccountName)).toEqual(Array(replicas).fill(release));
  });

  it('runs the console Ready under its own ServiceAccount, answering through lathe-console:http', async () => {
    await eventually(
      async () => {
        const pods = await kubectlJson<{ items: PodJson[] }>([
          '-n',
          namespace,
          'get',
          'pods',
          '-l',
          'app.kubernetes.io/name=lathe-console',
        ]);
        const ready = pods.items.filter((p) =>
          p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        if (ready.length !== 1)
          throw new Error(`console pods:\n${pods.items.map(podSummary).join('\n') || '(none)'}`);
      },
      { timeoutMs: 120_000, intervalMs: 1_000, what: 'the console pod Ready' },
    );
    const service = await kubectlJson<{
      spec: { clusterIP: string; ports: { name: string; port: number }[] };
    }>(['-n', namespace, 'get', 'service', `${release}-console`]);
    const port = service.spec.ports.find((p) => p.name === 'http')?.port;
    // This host routes the cluster's Service addresses (e2e/cluster/network.ts).
    const url = `http://${service.spec.clusterIP}:${port}/`;
    const anonymous = await eventually(() => fetch(url), { what: `GET ${url}` });
    expect(anonymous.status).toBe(401);
    const token = (await kubectl(['-n', namespace, 'create', 'token', release])).stdout.trim();
    const page = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Needs attention');
  });

  it('elects one of the pods as leader through the Lease', async () => {
    const holder = await eventually(
      async () => {
        const lease = await kubectlJson<{ spec: { holderIdentity?: string } }>([
          '-n',
          namespace,
          'get',
          'lease',
          leaseName,
        ]);
        if (!lease.spec.holderIdentity) throw new Error('the Lease has no holder yet');
        return lease.spec.holderIdentity;
      },
      { timeoutMs: 60_000, what: 'a leader' },
    );
    const pods = await kubectlJson<{ items: PodJson[] }>([
      '-n',
      namespace,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/name=lathe',
    ]);
    // The holder identity is `<pod name>_<random>`, unique per process.
    expect(pods.items.map((p) => p.metadata.name)).toContain(holder.replace(/_[a-f0-9]+$/, ''));
  });

  it('reconciles a ModelVersion under its own permissions: status, finalizer, clean-up', async () => {
    // The example a user would apply, with an artifact that is not uploaded (the controller
    // waits for it) and deletionPolicy Delete (the controller manages a finalizer).
    const example = parse(
      readFileSync(path.join(repoRoot, 'examples/registry/modelversion-iris.yaml'), 'utf8'),
    ) as {
      metadata: Record<string, unknown>;
      spec: {
        modelName: string;
        version: number;
        artifact: { uri: string };
        deletionPolicy?: string;
      };
    };
    example.metadata = { name: 'chart-test-v1', namespace };
    // deletionPolicy Delete needs the version's own prefix in this namespace.
    example.spec.artifact.uri = `s3://lathe/models/${namespace}/${example.spec.modelName}/${example.spec.version}/`;
    example.spec.deletionPolicy = 'Delete';
    const applied = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(example) });
    expect(applied.code, applied.stderr).toBe(0);

    await eventually(
      async () => {
        const mv = await kubectlJson<{
          metadata: { generation: number; finalizers?: string[] };
          status?: { observedGeneration?: number; conditions?: unknown[] };
        }>(['-n', namespace, 'get', 'modelversion', 'chart-test-v1']);
        expect(mv.metadata.finalizers ?? []).toContain('lathe.dev/artifact-cleanup');
        expect(mv.status?.observedGeneration).toBe(mv.metadata.generation);
        expect(mv.status?.conditions?.length ?? 0).toBeGreaterThan(0);
      },
      { timeoutMs: 60_000, what: 'the operator to reconcile the ModelVersion' },
    );

    // Deleting waits on the finalizer, which only the operator removes.
    const deleted = await kubectl([
      '-n',
      namespace,
      'delete',
      'modelversion',
      'chart-test-v1',
      '--timeout=60s',
    ]);
    expect(deleted.code, deleted.stderr).toBe(0);
  });

  it('has exactly the declared permissions, with no wildcard', async () => {
    const operator = await effectivePermissions(serviceAccount, namespace);
    // What every authenticated ServiceAccount may do (self reviews), from one with no bindings.
    const baseline = await effectivePermissions(
      `system:serviceaccount:${namespace}:no-bindings`,
      namespace,
    );
    const granted = permissionsNotIn(operator, baseline);
    for (const rule of operator) {
      expect(
        [...rule.apiGroups, ...rule.resources, ...rule.verbs, ...(rule.resourceNames ?? [])].join(
          ' ',
        ),
      ).not.toContain('*');
    }
    const declared = [
      ...clusterRoleRules(),
      ...clusterScopedRules(),
      ...leaderElectionRoleRules(leaseName),
    ];
    expect(permissionDifferences(declared, granted)).toEqual([]);
  });

  it('grants nothing the installed roles do not declare, and nothing the API server does not serve', async () => {
    const clusterRole = await kubectlJson<{ rules: PermissionRule[] }>([
      'get',
      'clusterrole',
      `${release}-${namespace}`,
    ]);
    const role = await kubectlJson<{ rules: PermissionRule[] }>([
      '-n',
      namespace,
      'get',
      'role',
      `${release}-leader-election`,
    ]);
    const clusterScopedRole = await kubectlJson<{ rules: PermissionRule[] }>([
      'get',
      'clusterrole',
      `${release}-${namespace}-cluster-scoped`,
    ]);
    expect(permissionDifferences(clusterRoleRules(), clusterRole.rules)).toEqual([]);
    expect(permissionDifferences(clusterScopedRules(), clusterScopedRole.rules)).toEqual([]);
    expect(permissionDifferences(leaderElectionRoleRules(leaseName), role.rules)).toEqual([]);

    // Every (group, resource, verb) must be one the API server serves: a permission on a
    // resource or verb that does not exist is dead weight (a renamed kind, a typo). The
    // distributed-training engines' kinds (JobSet, Kubeflow Trainer) are the exception: they are
    // served only where those optional engines are installed, which this cluster has not.
    const optionalGroups = new Set<string>(Object.values(engineResources).map((r) => r.group));
    const unserved: string[] = [];
    const discovery = new Map<string, Map<string, string[]>>();
    for (const rule of [...clusterRole.rules, ...clusterScopedRole.rules, ...role.rules]) {
      for (const group of rule.apiGroups) {
        if (optionalGroups.has(group)) continue;
        if (!discovery.has(group)) discovery.set(group, await servedVerbs(group));
        const served = discovery.get(group) ?? new Map<string, string[]>();
        for (const resource of rule.resources) {
          // `finalizers` is an RBAC-only subresource (blockOwnerDeletion checks); its owner must exist.
          const [base = '', sub] = resource.split('/');
          const verbs =
            sub === 'finalizers'
              ? served.has(base)
                ? ['update']
                : []
              : (served.get(resource) ?? []);
          for (const verb of rule.verbs)
            if (!verbs.includes(verb)) unserved.push(`${group || 'core'}/${resource} ${verb}`);
        }
      }
    }
    expect(unserved).toEqual([]);
  });

  it('installs the admission policy, bound, for the release service account (the API server serves it)', async () => {
    const policy = await kubectlJson<{
      spec: { matchConditions: { expression: string }[] };
    }>(['get', 'validatingadmissionpolicy', `${release}-${namespace}`]);
    expect(policy.spec.matchConditions.map((c) => c.expression)).toEqual([
      `request.userInfo.username == "${serviceAccount}"`,
    ]);
    const binding = await kubectlJson<{ spec: { policyName: string } }>([
      'get',
      'validatingadmissionpolicybinding',
      `${release}-${namespace}`,
    ]);
    expect(binding.spec.policyName).toBe(`${release}-${namespace}`);
  });

  it('logs no "forbidden" from the API server', async () => {
    const pods = await kubectlJson<{ items: PodJson[] }>([
      '-n',
      namespace,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/name=lathe',
    ]);
    expect(pods.items.length).toBe(replicas);
    const logOf = (pod: PodJson) =>
      path.join(
        stateDir,
        'node/pods',
        `${namespace}_${pod.metadata.name}_${pod.metadata.uid}`,
        'operator.log',
      );
    // Wait for what proves every replica has used its permissions: its informers listed and
    // watched, and its elector read the Lease (the leader took it and started its controllers,
    // the standby saw it held).
    await eventually(
      () => {
        const logs = pods.items.map((pod) => readFileSync(logOf(pod), 'utf8'));
        for (const log of logs) {
          expect(log).toMatch(/Synced the informer cache/);
          expect(log).toMatch(/Acquired the leader lease|Waiting for the leader lease/);
        }
        expect(logs.some((log) => /Started the controller/.test(log))).toBe(true);
      },
      { timeoutMs: 60_000, what: 'every replica to use its permissions' },
    );
    for (const pod of pods.items) {
      const file = logOf(pod);
      const log = readFileSync(file, 'utf8');
      // The log is the operator's: it started and served health, so an empty match means something.
      expect(log, file).toMatch(/Started the metrics and health servers/);
      const forbidden = log.split('\n').filter((line) => /forbidden/i.test(line));
      expect(forbidden, `${file} has "forbidden"`).toEqual([]);
    }
  });

  it('helm uninstall removes everything it installed, cluster-scoped RBAC included', async () => {
    const uninstalled = await helm([
      'uninstall',
      release,
      '--namespace',
      namespace,
      '--wait',
      '--timeout',
      '60s',
    ]);
    expect(uninstalled.code, uninstalled.stderr).toBe(0);
    await eventually(
      async () => {
        const left = await kubectl([
          'get',
          'deployment,replicaset,pod,serviceaccount,service,role,rolebinding',
          '-n',
          namespace,
          '-l',
          `app.kubernetes.io/instance=${release}`,
          '-o',
          'name',
        ]);
        const clusterScoped = await kubectl([
          'get',
          'clusterrole,clusterrolebinding,validatingadmissionpolicy,validatingadmissionpolicybinding',
          '-l',
          `app.kubernetes.io/instance=${release}`,
          '-o',
          'name',
        ]);
        const ours = clusterScoped.stdout
          .split('\n')
          .filter((n) => n.endsWith(`/${release}-${namespace}`));
        const remaining = [...left.stdout.split('\n'), ...ours].filter((n) => n.trim() !== '');
        if (remaining.length > 0) throw new Error(`still there: ${remaining.join(', ')}`);
      },
      { timeoutMs: 60_000, what: 'the release to be gone' },
    );
    // CRDs are deliberately left: deleting them would delete every user's Lathe objects.
    const crds = await kubectl(['get', 'crd', 'modelversions.lathe.dev', '-o', 'name']);
    expect(crds.code).toBe(0);
  });
});
