/**
 * The chart's ValidatingAdmissionPolicy on the local cluster's API server (Kubernetes 1.33),
 * enforced on the operator's service account, impersonated. The policy and its binding are
 * rendered from the chart as `helm install` would on this cluster, for a release in a fresh
 * namespace, and applied alone: what is tested is the API server's verdict on each request, not
 * the operator. The account is granted the Secret permissions by RBAC first, so every refusal
 * seen here is the policy's (each is checked by its message).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  kubectl,
  kubectlOrThrow,
} from '../../e2e/cluster/testenv.js';
import { chartDir, helmBinary, type Manifest, parseManifests, runHelm } from './chart-testing.js';

const release = 'lathe';
let namespace = '';
let policyName = '';
let operator = '';

const managedBy = { 'app.kubernetes.io/managed-by': 'lathe' };

const secret = (name: string, labels: Record<string, string>, inNamespace = namespace) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: inNamespace, labels },
    stringData: { value: 'x' },
  });

/** Runs kubectl as the operator's service account. */
const asOperator = (args: string[], input?: string) =>
  kubectl([`--as=${operator}`, ...args], input === undefined ? undefined : { input });

beforeAll(async () => {
  namespace = await createTestNamespace('admission-policy');
  operator = `system:serviceaccount:${namespace}:${release}`;
  const rendered = await runHelm(helmBinary(), [
    'template',
    release,
    chartDir,
    '--namespace',
    namespace,
    '--api-versions',
    'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy',
    '--show-only',
    'templates/admission-policy.yaml',
  ]);
  if (rendered.code !== 0) throw new Error(`helm template failed:\n${rendered.stderr}`);
  const manifests: Manifest[] = parseManifests(rendered.stdout);
  policyName = manifests[0]?.metadata.name ?? '';
  await kubectlOrThrow(['apply', '-f', '-'], { input: rendered.stdout });

  // RBAC lets the account write Secrets here, and create them anywhere (for the kube-system
  // check, which only ever runs as a server-side dry run).
  await kubectlOrThrow(['-n', namespace, 'create', 'serviceaccount', release]);
  await kubectlOrThrow([
    '-n',
    namespace,
    'create',
    'role',
    'secrets',
    '--verb=create,get,update,patch,delete',
    '--resource=secrets',
  ]);
  await kubectlOrThrow([
    '-n',
    namespace,
    'create',
    'rolebinding',
    'secrets',
    '--role=secrets',
    `--serviceaccount=${namespace}:${release}`,
  ]);
  await kubectlOrThrow([
    'create',
    'clusterrole',
    `${policyName}-itest`,
    '--verb=create',
    '--resource=secrets',
  ]);
  await kubectlOrThrow([
    'create',
    'clusterrolebinding',
    `${policyName}-itest`,
    `--clusterrole=${policyName}-itest`,
    `--serviceaccount=${namespace}:${release}`,
  ]);
});

afterAll(async () => {
  if (!namespace) return;
  await kubectl([
    'delete',
    'validatingadmissionpolicybinding,validatingadmissionpolicy',
    policyName,
    `${policyName}-activator`,
    '--ignore-not-found',
  ]);
  await kubectl([
    'delete',
    'clusterrolebinding,clusterrole',
    `${policyName}-itest`,
    '--ignore-not-found',
  ]);
  await deleteTestNamespace(namespace);
});

describe('the chart’s admission policy, for the operator’s service account', () => {
  it('refuses an unlabelled Secret and admits a labelled one', async () => {
    // The API server picks a new policy up within seconds; until then a dry run would pass.
    await eventually(
      async () => {
        const probe = await asOperator(
          ['create', '--dry-run=server', '-f', '-'],
          secret('probe', {}),
        );
        expect(probe.code).not.toBe(0);
        expect(probe.stderr).toContain(
          'the Lathe operator may only write objects labelled app.kubernetes.io/managed-by=lathe',
        );
      },
      { what: 'the policy to be enforced' },
    );

    const unlabelled = await asOperator(['create', '-f', '-'], secret('unlabelled', {}));
    expect(unlabelled.code).not.toBe(0);
    expect(unlabelled.stderr).toContain('ValidatingAdmissionPolicy');
    expect(unlabelled.stderr).toContain(`secrets ${namespace}/unlabelled would not be`);
    const other = await asOperator(['create', '-f', '-'], secret('other', { team: 'a' }));
    expect(other.stderr).toContain('would not be');

    const labelled = await asOperator(['create', '-f', '-'], secret('labelled', managedBy));
    expect(labelled.code, labelled.stderr).toBe(0);
    expect(await kubectlOrThrow(['-n', namespace, 'get', 'secret', 'labelled', '-o', 'name'])).toBe(
      'secret/labelled\n',
    );
    // And it may change and delete what it labelled.
    const patched = await asOperator([
      '-n',
      namespace,
      'patch',
      'secret',
      'labelled',
      '--type=merge',
      '-p',
      '{"stringData":{"value":"y"}}',
    ]);
    expect(patched.code, patched.stderr).toBe(0);
    const deleted = await asOperator(['-n', namespace, 'delete', 'secret', 'labelled']);
    expect(deleted.code, deleted.stderr).toBe(0);
  });

  it('cannot take over, strip or delete a user’s Secret', async () => {
    // The user's own Secret, written by the cluster admin: the policy does not apply to them.
    await kubectlOrThrow(['create', '-f', '-'], { input: secret('users', { team: 'a' }) });
    const takeOver = await asOperator([
      '-n',
      namespace,
      'label',
      'secret',
      'users',
      'app.kubernetes.io/managed-by=lathe',
    ]);
    expect(takeOver.code).not.toBe(0);
    expect(takeOver.stderr).toContain(
      'may only change or delete objects labelled app.kubernetes.io/managed-by=lathe',
    );
    const removed = await asOperator(['-n', namespace, 'delete', 'secret', 'users']);
    expect(removed.code).not.toBe(0);
    expect(removed.stderr).toContain(`secrets ${namespace}/users is not`);
    expect(await kubectlOrThrow(['-n', namespace, 'get', 'secret', 'users', '-o', 'name'])).toBe(
      'secret/users\n',
    );

    // Nor strip the label from one of Lathe's and keep writing it.
    await kubectlOrThrow(['create', '-f', '-'], { input: secret('lathes', managedBy) });
    const stripped = await asOperator([
      '-n',
      namespace,
      'label',
      'secret',
      'lathes',
      'app.kubernetes.io/managed-by-',
    ]);
    expect(stripped.code).not.toBe(0);
    expect(stripped.stderr).toContain(`secrets ${namespace}/lathes would not be`);
  });

  it('refuses anything in kube-system, labelled or not', async () => {
    const inKubeSystem = await asOperator(
      ['create', '--dry-run=server', '-f', '-'],
      secret('lathe-probe', managedBy, 'kube-system'),
    );
    expect(inKubeSystem.code).not.toBe(0);
    expect(inKubeSystem.stderr).toContain('Lathe never acts in namespace kube-system');
  });
});

describe('the chart’s admission policy, for an activator’s service account', () => {
  const activator = () => `system:serviceaccount:${namespace}:lathe-activator`;
  const asActivator = (args: string[]) =>
    kubectl([`--as=${activator()}`, '-n', namespace, ...args]);

  beforeAll(async () => {
    await installCrds();
    // RBAC can only give it patch on the whole object, as the operator's Role does.
    await kubectlOrThrow(['-n', namespace, 'create', 'serviceaccount', 'lathe-activator']);
    await kubectlOrThrow([
      '-n',
      namespace,
      'create',
      'role',
      'activation',
      '--verb=get,patch',
      '--resource=inferenceservices.lathe.dev',
    ]);
    await kubectlOrThrow([
      '-n',
      namespace,
      'create',
      'rolebinding',
      'activation',
      '--role=activation',
      `--serviceaccount=${namespace}:lathe-activator`,
    ]);
    await kubectlOrThrow(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'lathe.dev/v1alpha1',
        kind: 'InferenceService',
        metadata: { name: 'cold', namespace },
        spec: { model: { name: 'iris' }, replicas: { min: 0, max: 1 } },
      }),
    });
  });

  it('may set the activation annotation, and change nothing else', async () => {
    await eventually(
      async () => {
        const spec = await asActivator([
          'patch',
          'inferenceservice',
          'cold',
          '--type=merge',
          '-p',
          '{"spec":{"model":{"name":"other"}}}',
        ]);
        expect(spec.code).not.toBe(0);
        expect(spec.stderr).toContain(
          'the Lathe activator may only set the annotation lathe.dev/activation-requested-at',
        );
      },
      { what: 'the activator policy to be enforced' },
    );
    const annotated = await asActivator([
      'annotate',
      'inferenceservice',
      'cold',
      'lathe.dev/activation-requested-at=2026-12-07T00:00:00Z',
      '--overwrite',
    ]);
    expect(annotated.code, annotated.stderr).toBe(0);
    const other = await asActivator(['annotate', 'inferenceservice', 'cold', 'team=a']);
    expect(other.code).not.toBe(0);
    const label = await asActivator(['label', 'inferenceservice', 'cold', 'team=a']);
    expect(label.code).not.toBe(0);
    const got = await kubectlOrThrow([
      '-n',
      namespace,
      'get',
      'inferenceservice',
      'cold',
      '-o',
      'jsonpath={.spec.model.name} {.metadata.annotations}',
    ]);
    expect(got).toContain('iris ');
    expect(got).toContain('lathe.dev/activation-requested-at');
    expect(got).not.toContain('"team"');
  });
});
