/**
 * The chart, rendered with `helm template` (no cluster): every pod meets the `restricted`
 * profile, RBAC is exactly the declared permissions with no wildcard, the environment is what
 * the operator's configuration accepts, and bad values fail with a message naming them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../operator/src/config.js';
import { engineResources } from '../../operator/src/controllers/trainingjob/distributed/choose.js';
import {
  clusterRoleRules,
  clusterScopedRules,
  leaderElectionRoleRules,
} from '../../operator/src/rbac/cluster-permissions.js';
import {
  type PermissionRule,
  resourceVerbs,
  wildcardsIn,
} from '../../operator/src/rbac/permissions.js';
import { builtin } from '../../operator/src/runtime/resource.js';
import {
  chartDir,
  helmBinary,
  isConsoleManifest,
  type Manifest,
  parseManifests,
  podSpecOf,
  repoRoot,
  restrictedViolations,
  runHelm,
  setArgs,
} from './chart-testing.js';

const namespace = 'lathe-system';
const objectStore = {
  'objectStore.endpoint': 'http://minio.minio.svc:9000',
  'objectStore.credentialsSecret.name': 'lathe-object-store',
};

let helm: string;

// The first run on a fresh machine builds helm into the component cache.
beforeAll(() => {
  helm = helmBinary();
}, 30 * 60_000);

async function render(
  values: Record<string, string | number | boolean> = {},
  extraArgs: string[] = [],
): Promise<Manifest[]> {
  const result = await runHelm(helm, [
    'template',
    'lathe',
    chartDir,
    '--namespace',
    namespace,
    ...setArgs(values),
    ...extraArgs,
  ]);
  if (result.code !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

/** The one operator object of `kind` (the console's are in console.test.ts). */
function only(manifests: Manifest[], kind: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && !isConsoleManifest(m));
  if (found.length !== 1) throw new Error(`expected one ${kind}, rendered ${found.length}`);
  return found[0] as Manifest;
}

/** The operator's admission policy (or its binding), not the activator's. */
function operatorPolicy(manifests: Manifest[], kind = 'ValidatingAdmissionPolicy'): Manifest {
  return only(
    manifests.filter((m) => !m.metadata.name.endsWith('-activator')),
    kind,
  );
}

function operatorContainer(manifests: Manifest[]): k8s.V1Container {
  const spec = podSpecOf(only(manifests, 'Deployment'));
  const container = spec?.containers.find((c) => c.name === 'operator');
  if (!container) throw new Error('the Deployment has no "operator" container');
  return container;
}

function envOf(container: k8s.V1Container, name: string): k8s.V1EnvVar | undefined {
  return container.env?.find((e) => e.name === name);
}

/** Value sets the chart must render correctly with; each is checked by every test below. */
const valueSets: { name: string; values: Record<string, string | number | boolean> }[] = [
  { name: 'defaults', values: {} },
  { name: 'two replicas with an object store', values: { replicaCount: 2, ...objectStore } },
  {
    name: 'watched namespaces',
    values: { 'watchNamespaces[0]': 'team-a', 'watchNamespaces[1]': 'team-b' },
  },
  { name: 'no leader election, one replica', values: { 'leaderElection.enabled': false } },
  {
    name: 'refused namespaces',
    values: { 'refusedNamespaces[0]': 'ops', 'refusedNamespaces[1]': 'kube-system' },
  },
  {
    name: 'existing service account, no RBAC',
    values: { 'serviceAccount.create': false, 'serviceAccount.name': 'ops', 'rbac.create': false },
  },
  {
    name: 'an HTTP source policy',
    values: {
      'ingestion.httpSource.denyCIDRs[0]': '10.96.0.0/12',
      'ingestion.httpSource.denyCIDRs[1]': 'fd00::/8',
      'ingestion.httpSource.allowCIDRs[0]': '10.96.12.34/32',
    },
  },
  { name: 'shared pod credentials', values: { 'objectStore.podCredentials.mode': 'shared' } },
  {
    name: 'ServiceMonitor and custom affinity',
    values: { 'metrics.serviceMonitor.enabled': true, 'affinity.nodeAffinity': 'null' },
  },
];

describe.each(valueSets)('rendered with $name', ({ values }) => {
  let manifests: Manifest[];
  beforeAll(async () => {
    manifests = await render(values);
  });

  it('every pod meets the restricted Pod Security Standard and has a read-only root filesystem', () => {
    const pods = manifests.map(podSpecOf).filter((s): s is k8s.V1PodSpec => s !== undefined);
    expect(pods.length).toBeGreaterThan(0);
    for (const spec of pods) expect(restrictedViolations(spec)).toEqual([]);
  });

  it('no RBAC rule has a wildcard', () => {
    const rules = manifests
      .filter((m) => m.kind === 'ClusterRole' || m.kind === 'Role')
      .flatMap((m) => (m.rules as PermissionRule[] | undefined) ?? []);
    expect(wildcardsIn(rules)).toEqual([]);
  });

  it('the operator listens on its pod IP, from the downward API', () => {
    const container = operatorContainer(manifests);
    expect(envOf(container, 'LATHE_BIND_ADDRESS')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'status.podIP',
    );
    expect(envOf(container, 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(envOf(container, 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'metadata.namespace',
    );
  });

  it('the operator container has requests, limits, probes on the health port and a writable /tmp', () => {
    const deployment = only(manifests, 'Deployment');
    const spec = podSpecOf(deployment);
    const container = operatorContainer(manifests);
    expect(container.command).toBeUndefined();
    expect(container.resources?.requests).toMatchObject({
      cpu: expect.anything(),
      memory: expect.anything(),
    });
    expect(container.resources?.limits).toMatchObject({
      cpu: expect.anything(),
      memory: expect.anything(),
    });
    for (const probe of [
      container.livenessProbe,
      container.readinessProbe,
      container.startupProbe,
    ]) {
      expect(probe?.httpGet?.port).toBe('health');
    }
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container.ports?.map((p) => p.name).sort()).toEqual(['health', 'metrics']);
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(spec?.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    expect(spec?.automountServiceAccountToken).toBe(true);
    expect(spec?.terminationGracePeriodSeconds).toBe(30);
    expect(
      (deployment.spec as k8s.V1DeploymentSpec).template.metadata?.labels?.[
        'app.kubernetes.io/name'
      ],
    ).toBe('lathe');
  });

  it('sets an environment the operator configuration accepts', () => {
    const container = operatorContainer(manifests);
    // What the kubelet would resolve: downward API fields and Secret keys.
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      const secretKey = e.valueFrom?.secretKeyRef?.key;
      env[e.name] =
        e.value ??
        (field === 'status.podIP'
          ? '10.0.0.7'
          : field === 'metadata.name'
            ? 'lathe-0'
            : field === 'metadata.namespace'
              ? namespace
              : undefined) ??
        (secretKey ? `secret-${secretKey}` : '');
    }
    const config = loadConfig(env, 'host');
    expect(config.bindAddress).toBe('10.0.0.7');
    expect(config.leaderElection.enabled).toBe(values['leaderElection.enabled'] !== false);
    if (config.leaderElection.enabled) expect(config.leaderElection.namespace).toBe(namespace);
    expect(config.httpSource.denyCIDRs).toEqual(
      values['ingestion.httpSource.denyCIDRs[0]'] ? ['10.96.0.0/12', 'fd00::/8'] : [],
    );
    expect(config.httpSource.allowCIDRs).toEqual(
      values['ingestion.httpSource.allowCIDRs[0]'] ? ['10.96.12.34/32'] : [],
    );
    expect(config.refusedNamespaces).toEqual(
      values['refusedNamespaces[0]'] ? ['kube-system', 'ops'] : ['kube-system'],
    );
    expect(config.objectStoreCredentials).toEqual(
      values['objectStore.podCredentials.mode'] === 'shared'
        ? { mode: 'shared', durationSeconds: 43200 }
        : { mode: 'scoped', durationSeconds: 43200 },
    );
  });
});

describe('object-store credentials of the pods', () => {
  it('are scoped by default, and the STS endpoint and role reach the operator when set', async () => {
    const scoped = operatorContainer(
      await render({
        'objectStore.podCredentials.stsEndpoint': 'https://sts.eu-west-1.amazonaws.com',
        'objectStore.podCredentials.roleArn': 'arn:aws:iam::123456789012:role/lathe-pods',
        'objectStore.podCredentials.durationSeconds': 3600,
      }),
    );
    expect(envOf(scoped, 'LATHE_OBJECT_STORE_CREDENTIALS')?.value).toBe('scoped');
    expect(envOf(scoped, 'LATHE_OBJECT_STORE_CREDENTIALS_DURATION_SECONDS')?.value).toBe('3600');
    expect(envOf(scoped, 'LATHE_OBJECT_STORE_STS_ENDPOINT')?.value).toBe(
      'https://sts.eu-west-1.amazonaws.com',
    );
    expect(envOf(scoped, 'LATHE_OBJECT_STORE_STS_ROLE_ARN')?.value).toBe(
      'arn:aws:iam::123456789012:role/lathe-pods',
    );
  });

  it('refuses a mode it does not know and a lifetime under 15 minutes', async () => {
    await expect(render({ 'objectStore.podCredentials.mode': 'open' })).rejects.toThrow(/mode/);
    await expect(render({ 'objectStore.podCredentials.durationSeconds': 60 })).rejects.toThrow(
      /durationSeconds/,
    );
  });
});

describe('the restricted check itself', () => {
  const weakened: { set: Record<string, string | number | boolean>; violation: string }[] = [
    {
      set: { 'securityContext.allowPrivilegeEscalation': true },
      violation: 'allowPrivilegeEscalation=false',
    },
    {
      set: { 'securityContext.readOnlyRootFilesystem': false },
      violation: 'readOnlyRootFilesystem=true',
    },
    {
      set: { 'securityContext.capabilities.drop': 'null' },
      violation: 'capabilities.drop=["ALL"]',
    },
    {
      set: { 'securityContext.runAsNonRoot': false, 'podSecurityContext.runAsNonRoot': false },
      violation: 'runAsNonRoot=true',
    },
    {
      set: {
        'securityContext.seccompProfile': 'null',
        'podSecurityContext.seccompProfile.type': 'Unconfined',
      },
      violation: 'seccompProfile.type',
    },
  ];

  it.each(weakened)('flags a pod rendered with $set', async ({ set, violation }) => {
    const spec = podSpecOf(only(await render(set), 'Deployment'));
    expect(restrictedViolations(spec as k8s.V1PodSpec).join('\n')).toContain(violation);
  });
});

describe('RBAC', () => {
  it('the ClusterRoles grant exactly the permissions the code declares, cluster-scoped reads apart', async () => {
    const roles = (await render()).filter((m) => m.kind === 'ClusterRole' && !isConsoleManifest(m));
    const scoped = (m: Manifest) => m.metadata.name.endsWith('-cluster-scoped');
    expect(roles.filter((m) => !scoped(m)).map((m) => m.rules)).toEqual([clusterRoleRules()]);
    expect(roles.filter(scoped).map((m) => m.rules)).toEqual([clusterScopedRules()]);
  });

  it('the leader-election Role grants only the Lease the operator is told to use', async () => {
    const manifests = await render({ 'leaderElection.leaseName': 'my-lease' });
    expect(only(manifests, 'Role').rules).toEqual(leaderElectionRoleRules('my-lease'));
    expect(envOf(operatorContainer(manifests), 'LATHE_LEADER_ELECTION_ID')?.value).toBe('my-lease');
  });

  it('binds cluster-wide by default, and only in the watched namespaces when they are set', async () => {
    const roleRefs = (manifests: Manifest[]) =>
      manifests
        .filter((m) => m.kind === 'ClusterRoleBinding' && !isConsoleManifest(m))
        .map((m) => (m.roleRef as k8s.V1RoleRef).name)
        .sort();
    const clusterWide = await render();
    expect(roleRefs(clusterWide)).toEqual([
      `lathe-${namespace}`,
      `lathe-${namespace}-cluster-scoped`,
    ]);

    // Only the cluster-scoped reads stay cluster-wide: no RoleBinding could grant them.
    const scoped = await render({ 'watchNamespaces[0]': 'team-a', 'watchNamespaces[1]': 'team-b' });
    expect(roleRefs(scoped)).toEqual([`lathe-${namespace}-cluster-scoped`]);
    const bindings = scoped.filter(
      (m) =>
        m.kind === 'RoleBinding' &&
        !isConsoleManifest(m) &&
        (m.roleRef as k8s.V1RoleRef).kind === 'ClusterRole',
    );
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    expect(envOf(operatorContainer(scoped), 'LATHE_WATCH_NAMESPACES')?.value).toBe('team-a,team-b');
  });

  it('renders no RBAC and no ServiceAccount when told not to, and runs as the named account', async () => {
    const manifests = await render({
      'serviceAccount.create': false,
      'serviceAccount.name': 'ops',
      'rbac.create': false,
    });
    expect(
      manifests
        .filter((m) => !isConsoleManifest(m))
        .map((m) => m.kind)
        .filter((k) => /Role|ServiceAccount/.test(k)),
    ).toEqual([]);
    expect(podSpecOf(only(manifests, 'Deployment'))?.serviceAccountName).toBe('ops');
  });

  it.each([
    { memory: '512Mi', nodeOptions: '', expected: '--max-old-space-size=384' },
    { memory: '2Gi', nodeOptions: '', expected: '--max-old-space-size=1536' },
    { memory: '1000M', nodeOptions: '', expected: '--max-old-space-size=714' },
    { memory: '536870912', nodeOptions: '', expected: '--max-old-space-size=384' },
    {
      memory: '512Mi',
      nodeOptions: '--max-semi-space-size=4',
      expected: '--max-old-space-size=384 --max-semi-space-size=4',
    },
    {
      memory: '512Mi',
      nodeOptions: '--max-old-space-size=300',
      expected: '--max-old-space-size=300',
    },
    { memory: '1.5Gi', nodeOptions: '', expected: undefined },
  ])(
    'limits the V8 heap to 3/4 of a $memory container ($nodeOptions)',
    async ({ memory, nodeOptions, expected }) => {
      const manifests = await render({ 'resources.limits.memory': memory, nodeOptions });
      expect(envOf(operatorContainer(manifests), 'NODE_OPTIONS')?.value).toBe(expected);
    },
  );
});

/** Helm's `--api-versions`, as the API server of a cluster that serves admission policies would. */
const withAdmissionPolicies = [
  '--api-versions',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy',
];

/** `group/resource` for each resource of `rules` granted one of `verbs`; subresources dropped. */
function resourcesWith(rules: readonly PermissionRule[], verbs: readonly string[]): string[] {
  const found = rules
    .filter((r) => r.verbs.some((v) => verbs.includes(v)))
    .flatMap((r) =>
      r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res.split('/')[0]}`)),
    );
  return [...new Set(found)].sort();
}

interface PolicySpec {
  failurePolicy: string;
  matchConstraints: {
    resourceRules: {
      apiGroups: string[];
      resources: string[];
      operations: string[];
    }[];
  };
  matchConditions: { expression: string }[];
  variables: { name: string; expression: string }[];
  validations: { expression: string }[];
}

describe('admission policy', () => {
  it('is installed where the API server serves ValidatingAdmissionPolicy, unless disabled', async () => {
    const kinds = (ms: Manifest[]) => ms.map((m) => m.kind).filter((k) => k.includes('Admission'));
    // The operator's policy and the activator's, each with its binding.
    expect(kinds(await render({}, withAdmissionPolicies))).toEqual([
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'ValidatingAdmissionPolicyBinding',
    ]);
    // `helm template` without the capability, like an API server older than 1.30.
    expect(kinds(await render())).toEqual([]);
    expect(
      kinds(await render({ 'admissionPolicy.enabled': false }, withAdmissionPolicies)),
    ).toEqual([]);
  });

  it('binds the policy to deny, and applies it only to the operator service account', async () => {
    const manifests = await render(
      { 'serviceAccount.create': false, 'serviceAccount.name': 'ops-bot' },
      withAdmissionPolicies,
    );
    const policy = operatorPolicy(manifests);
    const binding = operatorPolicy(manifests, 'ValidatingAdmissionPolicyBinding');
    expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ['Deny'] });
    const spec = policy.spec as PolicySpec;
    expect(spec.failurePolicy).toBe('Fail');
    expect(spec.matchConditions.map((c) => c.expression)).toEqual([
      `request.userInfo.username == "system:serviceaccount:${namespace}:ops-bot"`,
    ]);
  });

  it('covers every kind the ClusterRole lets the operator create, change or delete, but Lathe’s own and Events', async () => {
    const spec = operatorPolicy(await render({}, withAdmissionPolicies)).spec as PolicySpec;
    const matched = spec.matchConstraints.resourceRules.flatMap((rule) => {
      expect(rule.operations).toEqual(['CREATE', 'UPDATE', 'DELETE']);
      return rule.apiGroups.flatMap((g) => rule.resources.map((r) => `${g}/${r}`));
    });
    const written = resourcesWith(clusterRoleRules(), [
      'create',
      'update',
      'patch',
      'delete',
      'deletecollection',
    ]).filter((r) => !r.startsWith('lathe.dev/') && !r.startsWith('events.k8s.io/'));
    expect([...matched].sort()).toEqual(written);
  });

  it('denies writes in kube-system and in the refused namespaces', async () => {
    const spec = operatorPolicy(
      await render({ 'refusedNamespaces[0]': 'ops' }, withAdmissionPolicies),
    ).spec as PolicySpec;
    expect(spec.variables.find((v) => v.name === 'refusedNamespaces')?.expression).toBe(
      '["kube-system","ops"]',
    );
    expect(spec.validations[0]?.expression).toBe(
      '!(request.namespace in variables.refusedNamespaces)',
    );
  });

  it('lets an activator’s service account change nothing of an InferenceService but its activation annotation', async () => {
    const manifests = await render({}, withAdmissionPolicies);
    const policy = manifests.find(
      (m) => m.kind === 'ValidatingAdmissionPolicy' && m.metadata.name.endsWith('-activator'),
    );
    const binding = manifests.find(
      (m) =>
        m.kind === 'ValidatingAdmissionPolicyBinding' && m.metadata.name.endsWith('-activator'),
    );
    expect(binding?.spec).toEqual({
      policyName: policy?.metadata.name,
      validationActions: ['Deny'],
    });
    const spec = policy?.spec as PolicySpec;
    expect(spec.matchConstraints.resourceRules).toEqual([
      expect.objectContaining({
        apiGroups: ['lathe.dev'],
        resources: ['inferenceservices', 'inferenceservices/status'],
      }),
    ]);
    expect(spec.matchConditions[0]?.expression).toContain(":lathe-activator')");
    expect(spec.validations[0]?.expression).toContain('object.spec == oldObject.spec');
  });
});

describe('RBAC scope', () => {
  // A RoleBinding grants a ClusterRole's rules on namespaced resources only: a rule on a
  // cluster-scoped resource would silently do nothing once watchNamespaces is set. Such a rule
  // belongs in a separate ClusterRole with its own ClusterRoleBinding.
  it('every ClusterRole rule is on a namespaced resource, so the per-namespace RoleBindings grant all of it', () => {
    const namespaced = new Set(
      [...Object.values(builtin), ...Object.values(engineResources)]
        .filter((r) => r.namespaced)
        .map((r) => `${r.group}/${r.plural}`),
    );
    const unknownScope = resourcesWith(clusterRoleRules(), [...resourceVerbs]).filter(
      (r) => !r.startsWith('lathe.dev/') && !namespaced.has(r),
    );
    expect(unknownScope).toEqual([]);
  });

  it('the cluster-scoped ClusterRole, bound cluster-wide in every mode, only reads', () => {
    expect(clusterScopedRules().length).toBeGreaterThan(0);
    for (const rule of clusterScopedRules())
      expect(rule.verbs.filter((v) => !['get', 'list', 'watch'].includes(v))).toEqual([]);
  });
});

describe('values', () => {
  it('helm lint --strict passes', async () => {
    for (const values of [
      {},
      { replicaCount: 2, ...objectStore, 'metrics.serviceMonitor.enabled': true },
    ]) {
      const result = await runHelm(helm, ['lint', '--strict', chartDir, ...setArgs(values)]);
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    }
  });

  const bad: { set: Record<string, string | number | boolean>; message: RegExp }[] = [
    { set: { replicaCount: 0 }, message: /replicaCount.*minimum: got 0, want 1/ },
    {
      set: { logLevel: 'loud' },
      message: /logLevel.*must be one of 'trace', 'debug', 'info', 'warn', 'error', 'fatal'/,
    },
    { set: { replicaCuont: 2 }, message: /additional properties 'replicaCuont' not allowed/ },
    { set: { 'image.pullPolicy': 'Sometimes' }, message: /image\/pullPolicy.*must be one of/ },
    {
      set: { 'objectStore.endpoint': 'minio:9000' },
      message: /objectStore\/endpoint.*does not match pattern/,
    },
    {
      set: { 'watchNamespaces[0]': 'team-a', 'watchNamespaces[1]': 'kube-system' },
      message: /watchNamespaces contains kube-system, which is refused/,
    },
    {
      set: { 'watchNamespaces[0]': 'team-a', 'refusedNamespaces[0]': 'team-a' },
      message: /watchNamespaces contains team-a, which is refused/,
    },
    {
      set: { 'refusedNamespaces[0]': 'Ops' },
      message: /refusedNamespaces\/0.*does not match pattern/,
    },
    {
      set: { 'watchNamespaces[0]': 'Team_A' },
      message: /watchNamespaces\/0.*does not match pattern/,
    },
    { set: { 'resources.limits.memory': 'lots' }, message: /resources\/limits\/memory/ },
    {
      set: { replicaCount: 2, 'leaderElection.enabled': false },
      message: /replicaCount=2 needs leaderElection.enabled=true/,
    },
    {
      set: { 'objectStore.endpoint': 'http://minio:9000' },
      message: /objectStore.credentialsSecret.name is not/,
    },
    {
      set: { 'objectStore.credentialsSecret.name': 'creds' },
      message: /objectStore.endpoint is not/,
    },
    {
      set: { 'leaderElection.renewDeadlineSeconds': 15 },
      message:
        /renewDeadlineSeconds \(15\) must be less than leaderElection.leaseDurationSeconds \(15\)/,
    },
    { set: { 'health.port': 8080 }, message: /metrics.port and health.port must differ/ },
    {
      set: { 'ingestion.httpSource.denyCIDRs[0]': 'the cluster' },
      message: /ingestion\/httpSource\/denyCIDRs\/0.*does not match pattern/,
    },
  ];

  it.each(bad)('rejects $set with a message naming the value', async ({ set, message }) => {
    const result = await runHelm(helm, ['template', 'lathe', chartDir, ...setArgs(set)]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  it('documents every value in the schema, and the defaults validate against it', () => {
    const schema = JSON.parse(
      readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8'),
    ) as SchemaNode;
    const defaults = parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(undocumented(schema, defaults, '')).toEqual([]);
  });
});

interface SchemaNode {
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
}

/** Keys of `values` that the schema does not describe (with a description), as paths. */
function undocumented(schema: SchemaNode, values: unknown, at: string): string[] {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return [];
  return Object.entries(values).flatMap(([key, value]) => {
    const node = schema.properties?.[key];
    if (!node)
      return schema.additionalProperties === false ? [`${at}${key} (not in the schema)`] : [];
    return [
      ...(node.description ? [] : [`${at}${key} (no description)`]),
      ...undocumented(node, value, `${at}${key}.`),
    ];
  });
}

describe('the chart', () => {
  it('carries the same CRDs as crds/ (run scripts/sync-chart-crds.ts after regenerating them)', () => {
    const files = (dir: string) =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort();
    const source = path.join(repoRoot, 'crds');
    const copy = path.join(chartDir, 'crds');
    expect(files(copy)).toEqual(files(source));
    for (const file of files(source)) {
      expect(readFileSync(path.join(copy, file), 'utf8'), file).toBe(
        readFileSync(path.join(source, file), 'utf8'),
      );
    }
  });

  it('defaults the operator and runtime images to appVersion, which is the package version', async () => {
    const chart = parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as {
      appVersion: string;
    };
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(chart.appVersion).toBe(pkg.version);
    const container = operatorContainer(await render());
    expect(container.image).toBe(`ghcr.io/lathe-dev/lathe-operator:${pkg.version}`);
    for (const name of ['ingest', 'trainer', 'server', 'retrain', 'activator']) {
      expect(envOf(container, `LATHE_IMAGE_${name.toUpperCase()}`)?.value).toBe(
        `ghcr.io/lathe-dev/lathe-${name}:${pkg.version}`,
      );
    }
  });

  it('packages with its CRDs and without the test files', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'lathe-chart-package-'));
    const packaged = await runHelm(helm, ['package', chartDir, '--destination', out]);
    expect(packaged.code, packaged.stderr).toBe(0);
    const archive = readdirSync(out).find((f) => f.endsWith('.tgz')) ?? '';
    const entries = execFileSync('tar', ['-tzf', path.join(out, archive)], {
      encoding: 'utf8',
    }).split('\n');
    const crds = readdirSync(path.join(repoRoot, 'crds')).filter((f) => f.endsWith('.yaml'));
    expect(crds.length).toBeGreaterThan(0);
    for (const crd of crds) expect(entries).toContain(`lathe/crds/${crd}`);
    expect(entries.filter((e) => e.endsWith('.ts'))).toEqual([]);
  });

  it('renders a ServiceMonitor for the metrics port only when enabled', async () => {
    expect((await render()).some((m) => m.kind === 'ServiceMonitor')).toBe(false);
    const monitor = only(
      await render({
        'metrics.serviceMonitor.enabled': true,
        'metrics.serviceMonitor.labels.release': 'prom',
      }),
      'ServiceMonitor',
    );
    expect(monitor.metadata.labels?.release).toBe('prom');
    expect((monitor.spec as { endpoints: { port: string }[] }).endpoints[0]?.port).toBe('metrics');
  });
});
