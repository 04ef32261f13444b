/**
 * The chart's web console (templates/console-*.yaml): a Deployment and a Service
 * `<release>-console` with a port named `http`, least-privilege RBAC generated from
 * `console/permissions.ts`, an optional Ingress, and pods the operator's selectors never pick.
 */
import type * as k8s from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConsoleConfig } from '../../console/config.js';
import { consoleReadPermissions, consoleReviewPermissions } from '../../console/permissions.js';
import { normaliseRules } from '../../operator/src/rbac/permissions.js';
import {
  chartDir,
  helmBinary,
  isConsoleManifest,
  type Manifest,
  parseManifests,
  podSpecOf,
  restrictedViolations,
  runHelm,
  setArgs,
} from './chart-testing.js';

const namespace = 'lathe-system';
let helm: string;
beforeAll(() => {
  helm = helmBinary();
}, 30 * 60_000);

async function render(values: Record<string, string | number | boolean> = {}): Promise<Manifest[]> {
  const result = await runHelm(helm, [
    'template',
    'lathe',
    chartDir,
    '--namespace',
    namespace,
    ...setArgs(values),
  ]);
  if (result.code !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

const consoleOf = (manifests: Manifest[], kind: string) =>
  manifests.filter((m) => m.kind === kind && isConsoleManifest(m));

function consoleContainer(manifests: Manifest[]): k8s.V1Container {
  const [deployment] = consoleOf(manifests, 'Deployment');
  const container = podSpecOf(deployment!)?.containers[0];
  if (!container) throw new Error('no console container');
  return container;
}

/** The container's env as the process would see it (literal values only). */
const literalEnv = (c: k8s.V1Container) =>
  Object.fromEntries(
    (c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]),
  );

describe('the console', () => {
  it('runs the operator image with `console`, restricted, probed on its http port', async () => {
    const manifests = await render();
    const [deployment] = consoleOf(manifests, 'Deployment');
    expect(deployment?.metadata.name).toBe('lathe-console');
    const spec = podSpecOf(deployment!)!;
    expect(restrictedViolations(spec)).toEqual([]);
    expect(spec.serviceAccountName).toBe('lathe-console');
    const container = consoleContainer(manifests);
    expect(container.image).toBe('ghcr.io/lathe-dev/lathe-operator:0.1.0');
    expect(container.args).toEqual(['console']);
    expect(container.command).toBeUndefined();
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.resources?.limits?.memory).toBe('256Mi');
    expect(literalEnv(container).NODE_OPTIONS).toBe('--max-old-space-size=192');
  });

  it('sets an environment the console configuration accepts', async () => {
    const manifests = await render({
      'objectStore.endpoint': 'http://minio.minio.svc:9000',
      'objectStore.credentialsSecret.name': 'lathe-object-store',
      'watchNamespaces[0]': 'team-a',
    });
    const container = consoleContainer(manifests);
    const config = loadConsoleConfig({
      ...literalEnv(container),
      LATHE_OBJECT_STORE_ACCESS_KEY: 'a',
      LATHE_OBJECT_STORE_SECRET_KEY: 's',
    });
    expect(config.port).toBe(8080);
    expect(config.watchNamespaces).toEqual(['team-a']);
    expect(config.objectStore?.endpoint).toBe('http://minio.minio.svc:9000');
    const keys = (container.env ?? []).filter(
      (e) => e.valueFrom?.secretKeyRef?.name === 'lathe-object-store',
    );
    expect(keys.map((e) => e.name)).toEqual([
      'LATHE_OBJECT_STORE_ACCESS_KEY',
      'LATHE_OBJECT_STORE_SECRET_KEY',
    ]);
    const defaults = literalEnv(consoleContainer(await render()));
    expect(() => loadConsoleConfig(defaults)).not.toThrow();
  });

  it('is reached through the Service <release>-console, port http, which selects only its pods', async () => {
    const manifests = await render();
    const [service] = consoleOf(manifests, 'Service');
    const spec = service?.spec as k8s.V1ServiceSpec;
    expect(service?.metadata.name).toBe('lathe-console');
    expect(spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    const deployment = consoleOf(manifests, 'Deployment')[0]?.spec as k8s.V1DeploymentSpec;
    const podLabels = (deployment.template.metadata?.labels ?? {}) as Record<string, string>;
    const selects = (selector: Record<string, string> | undefined) =>
      Object.entries(selector ?? {}).every(([k, v]) => podLabels[k] === v);
    expect(selects(spec.selector)).toBe(true);
    // Neither the operator's Deployment nor its metrics Service may select the console's pods.
    const operator = manifests.find((m) => m.kind === 'Deployment' && !isConsoleManifest(m))!;
    expect(selects((operator.spec as k8s.V1DeploymentSpec).selector.matchLabels)).toBe(false);
    const metrics = manifests.find((m) => m.kind === 'Service' && !isConsoleManifest(m))!;
    expect(selects((metrics.spec as k8s.V1ServiceSpec).selector)).toBe(false);
  });

  it('grants exactly the declared reads and reviews, cluster-wide or per watched namespace', async () => {
    const manifests = await render();
    const roles = consoleOf(manifests, 'ClusterRole');
    expect(roles.map((r) => r.rules)).toEqual([
      normaliseRules(consoleReadPermissions),
      normaliseRules(consoleReviewPermissions),
    ]);
    const verbs = roles.flatMap((r) =>
      (r.rules as k8s.V1PolicyRule[]).flatMap((rule) => rule.verbs),
    );
    expect(new Set(verbs)).toEqual(new Set(['list', 'watch', 'create']));
    const refs = (ms: Manifest[], kind: string) =>
      consoleOf(ms, kind)
        .map((b) => `${b.metadata.namespace ?? ''}:${(b.roleRef as k8s.V1RoleRef).name}`)
        .sort();
    expect(refs(manifests, 'ClusterRoleBinding')).toEqual([
      `:lathe-console-${namespace}`,
      `:lathe-console-${namespace}-reviews`,
    ]);
    const scoped = await render({ 'watchNamespaces[0]': 'team-a', 'watchNamespaces[1]': 'team-b' });
    expect(refs(scoped, 'ClusterRoleBinding')).toEqual([`:lathe-console-${namespace}-reviews`]);
    expect(refs(scoped, 'RoleBinding')).toEqual([
      `team-a:lathe-console-${namespace}`,
      `team-b:lathe-console-${namespace}`,
    ]);
  });

  it('renders nothing of the console when disabled, and no Ingress unless asked', async () => {
    expect((await render({ 'console.enabled': false })).filter(isConsoleManifest)).toEqual([]);
    expect(consoleOf(await render(), 'Ingress')).toEqual([]);
    const [ingress] = consoleOf(
      await render({
        'console.ingress.enabled': true,
        'console.ingress.host': 'lathe.example.com',
        'console.ingress.className': 'nginx',
        'console.ingress.tls[0].secretName': 'lathe-console-tls',
        'console.ingress.tls[0].hosts[0]': 'lathe.example.com',
      }),
      'Ingress',
    );
    const spec = ingress?.spec as k8s.V1IngressSpec;
    expect(spec.ingressClassName).toBe('nginx');
    expect(spec.tls).toEqual([{ secretName: 'lathe-console-tls', hosts: ['lathe.example.com'] }]);
    expect(spec.rules?.[0]?.host).toBe('lathe.example.com');
    expect(spec.rules?.[0]?.http?.paths[0]?.backend.service).toEqual({
      name: 'lathe-console',
      port: { name: 'http' },
    });
  });

  it('refuses a value the schema does not know', async () => {
    const result = await runHelm(helm, [
      'template',
      'lathe',
      chartDir,
      ...setArgs({ 'console.colour': 'blue' }),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('colour');
  });
});
