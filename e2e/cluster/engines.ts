/**
 * The optional engines of the local cluster: JobSet's controller manager (sigs.k8s.io/jobset)
 * and Kubeflow Trainer's (github.com/kubeflow/trainer/v2), which the distributed-training
 * backends hand runs to. Built from their Go modules like every other component
 * (`build-components.sh --engine NAME`, cached), started only when asked (`cluster:up --jobset`,
 * `--trainer`, or a test's `startEngine`), so a cluster without them tests the built-in Indexed
 * Job backend and one with them tests the hand-off against the real controllers.
 *
 * Each runs as a host process, as shipped: its own webhook certificates (cert-controller's
 * rotator: a CA and a serving certificate for `<service>.<namespace>.svc`, kept in a Secret and
 * injected into its webhook configurations), its CRDs and webhook configurations read from its
 * module's own manifests in the Go module cache (never copied into this repository). What the
 * cluster adds is where the webhook Service leads: a selectorless Service whose EndpointSlice
 * is the host address, where the webhook server listens (the pattern of `host-services.ts`), so
 * the API server calls it by its Service name, exactly as in a real installation.
 *
 * The rotators keep the certificate in a Secret and expect the kubelet to mount it at a fixed
 * `/tmp/k8s-webhook-server/serving-certs`. Here each runs in a mount namespace with a private
 * `/tmp` (bubblewrap) where that path is the engine's own directory under the state directory,
 * and `engine-control.ts` writes the Secret's files there, as the kubelet's secret volume would:
 * two clusters on one machine, or JobSet beside Trainer, never share a certificate.
 *
 * Pure here (command lines, configuration files, the API objects); `engine-control.ts` starts
 * and stops them.
 */
import path from 'node:path';
import type { ComponentSpec } from './components.js';

/** The optional engines, in the order they must start (Trainer creates JobSets). */
export const engineNames = ['jobset', 'trainer'] as const;
export type EngineName = (typeof engineNames)[number];

/** What an engine's process and objects depend on in this cluster. */
export interface EngineLayout {
  stateDir: string;
  /** Its controller manager binary (the built component). */
  binary: string;
  /** The module's source directory in the Go module cache (its manifests). */
  moduleDir: string;
  /** The admin kubeconfig it acts with. */
  kubeconfig: string;
  /** Where pods and the API server reach host processes (`ClusterInfo.hostAddress`). */
  hostAddress: string;
  webhookPort: number;
  healthPort: number;
}

type KubeObject = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<
  string,
  unknown
>;

/** What is fixed about one engine: its names, its manifests, its command line. */
export interface Engine {
  name: EngineName;
  /** The process's name in the cluster's ledger and logs. */
  component: string;
  /** Engines that must run first. */
  needs: EngineName[];
  /** Its namespace (where its rotator keeps the certificate Secret), fixed by the binary. */
  namespace: string;
  webhookService: string;
  webhookSecret: string;
  /** The webhook configurations' names, which its rotator injects the CA into. */
  mutatingConfiguration?: string;
  validatingConfiguration: string;
  /** Its CRDs, relative to the module directory. */
  crdFiles: string[];
  /** The module's generated webhook manifests (controller-gen output), relative to it. */
  webhookManifest: string;
  /** Objects to apply once it serves (Trainer's torch runtime), relative to the module. */
  extraManifests: string[];
  /** The API resources it serves, which must answer before it counts as up. */
  resources: string[];
  args(layout: EngineLayout): string[];
  files?(layout: EngineLayout): { path: string; content: string }[];
}

function engineDir(layout: EngineLayout, engine: EngineName): string {
  return path.join(layout.stateDir, 'engines', engine);
}

export const engines: Record<EngineName, Engine> = {
  jobset: {
    name: 'jobset',
    component: 'jobset-controller',
    needs: [],
    namespace: 'jobset-system',
    webhookService: 'jobset-webhook-service',
    webhookSecret: 'jobset-webhook-server-cert',
    mutatingConfiguration: 'jobset-mutating-webhook-configuration',
    validatingConfiguration: 'jobset-validating-webhook-configuration',
    crdFiles: ['config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml'],
    webhookManifest: 'config/components/webhook/manifests.yaml',
    extraManifests: [],
    resources: ['jobsets.jobset.x-k8s.io'],
    args: (layout) => [
      `--config=${path.join(engineDir(layout, 'jobset'), 'config.yaml')}`,
      `--kubeconfig=${layout.kubeconfig}`,
    ],
    files: (layout) => [
      {
        path: path.join(engineDir(layout, 'jobset'), 'config.yaml'),
        content: jobsetConfigurationOf(layout),
      },
    ],
  },
  trainer: {
    name: 'trainer',
    component: 'trainer-controller',
    needs: ['jobset'],
    namespace: 'kubeflow-system',
    webhookService: 'kubeflow-trainer-controller-manager',
    webhookSecret: 'kubeflow-trainer-webhook-cert',
    validatingConfiguration: 'validator.trainer.kubeflow.org',
    crdFiles: [
      'manifests/base/crds/trainer.kubeflow.org_clustertrainingruntimes.yaml',
      'manifests/base/crds/trainer.kubeflow.org_trainingruntimes.yaml',
      'manifests/base/crds/trainer.kubeflow.org_trainjobs.yaml',
    ],
    webhookManifest: 'manifests/base/webhook/manifests.yaml',
    extraManifests: ['manifests/base/runtimes/torch_distributed.yaml'],
    resources: [
      'trainjobs.trainer.kubeflow.org',
      'clustertrainingruntimes.trainer.kubeflow.org',
      'trainingruntimes.trainer.kubeflow.org',
    ],
    args: (layout) => [
      `--kubeconfig=${layout.kubeconfig}`,
      `--webhook-server-port=${layout.webhookPort}`,
      `--health-probe-bind-address=127.0.0.1:${layout.healthPort}`,
      '--metrics-bind-address=0',
      '--leader-elect=false',
    ],
  },
};

/**
 * JobSet's `Configuration` (config.jobset.x-k8s.io/v1alpha1): its own certificate management,
 * the webhook server on the host address, no metrics server, no leader election.
 */
export function jobsetConfigurationOf(layout: EngineLayout): string {
  return [
    'apiVersion: config.jobset.x-k8s.io/v1alpha1',
    'kind: Configuration',
    'leaderElection:',
    '  leaderElect: false',
    'internalCertManagement:',
    '  enable: true',
    'webhook:',
    `  host: ${layout.hostAddress}`,
    `  port: ${layout.webhookPort}`,
    'metrics:',
    '  bindAddress: "0"',
    'health:',
    `  healthProbeBindAddress: 127.0.0.1:${layout.healthPort}`,
    '',
  ].join('\n');
}

/** Where the rotator expects its Secret mounted (cert-controller's and both binaries' default). */
export const servingCertsPath = '/tmp/k8s-webhook-server/serving-certs';

/** The host directory standing in for the engine's mounted certificate Secret. */
export function servingCertsDir(layout: EngineLayout, engine: EngineName): string {
  return path.join(engineDir(layout, engine), 'serving-certs');
}

/**
 * What the engine reads that a private `/tmp` would hide: the state directory (its kubeconfig
 * and configuration), its binary's and its module's directories, when they lie under `/tmp`
 * (a clone under /tmp, as CI may make), each bound back at its own path.
 */
function pathsUnderTmp(layout: EngineLayout): string[] {
  const candidates = [
    layout.stateDir,
    path.dirname(layout.kubeconfig),
    path.dirname(layout.binary),
    layout.moduleDir,
  ].filter((p) => p === '/tmp' || p.startsWith('/tmp/'));
  const unique = [...new Set(candidates)].sort();
  return unique.filter((p) => !unique.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/**
 * The engine's process: its binary in a mount namespace with a private `/tmp`, where
 * `servingCertsPath` is its `servingCertsDir` (what it needs from under the host's `/tmp`
 * bound back first).
 */
export function engineSpec(engine: Engine, layout: EngineLayout): ComponentSpec {
  return {
    name: engine.component,
    command: 'bwrap',
    args: [
      '--dev-bind',
      '/',
      '/',
      '--tmpfs',
      '/tmp',
      ...pathsUnderTmp(layout).flatMap((p) => ['--bind', p, p]),
      '--bind',
      servingCertsDir(layout, engine.name),
      servingCertsPath,
      '--',
      layout.binary,
      ...engine.args(layout),
    ],
    healthUrl: `http://127.0.0.1:${layout.healthPort}/readyz`,
    ...(engine.files ? { files: engine.files(layout) } : {}),
  };
}

/** Its namespace, the empty Secret its rotator fills, and the webhook Service to the host. */
export function engineObjectsOf(engine: Engine, layout: EngineLayout): KubeObject[] {
  const labels = { 'app.kubernetes.io/part-of': 'lathe-local-cluster' };
  const port = { name: 'webhook', port: layout.webhookPort, protocol: 'TCP' };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: engine.namespace, labels } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: engine.webhookSecret, namespace: engine.namespace, labels },
      type: 'Opaque',
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: engine.webhookService, namespace: engine.namespace, labels },
      spec: { type: 'ClusterIP', ports: [{ name: 'webhook', port: 443, targetPort: port.port }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: engine.webhookService,
        namespace: engine.namespace,
        labels: {
          ...labels,
          'kubernetes.io/service-name': engine.webhookService,
          'endpointslice.kubernetes.io/managed-by': 'local-cluster.lathe.dev',
        },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [layout.hostAddress], conditions: { ready: true } }],
      ports: [port],
    },
  ];
}

/** Pods an engine's pod webhooks see: its own (as its kustomize patches select them). */
const podSelectors: Partial<Record<EngineName, Record<string, unknown>>> = {
  jobset: {
    matchExpressions: [{ key: 'jobset.sigs.k8s.io/jobset-name', operator: 'Exists' }],
  },
};

/**
 * The engine's webhook configurations from its module's generated manifest (controller-gen's
 * `webhook-service` in `system`), named and pointed at its Service as its kustomization does.
 * The rotator fills in `caBundle`.
 */
export function webhookConfigurationsOf(engine: Engine, generated: KubeObject[]): KubeObject[] {
  return generated.map((configuration) => {
    const mutating = configuration.kind === 'MutatingWebhookConfiguration';
    const name = mutating ? engine.mutatingConfiguration : engine.validatingConfiguration;
    if (!name) throw new Error(`${engine.name} has no name for its ${configuration.kind}`);
    const webhooks = (configuration.webhooks as Record<string, unknown>[]).map((webhook) => {
      const clientConfig = webhook.clientConfig as { service: { path: string } };
      const rules = webhook.rules as { resources: string[] }[];
      const selector = podSelectors[engine.name];
      const onPods = rules.some((r) => r.resources.includes('pods'));
      return {
        ...webhook,
        clientConfig: {
          service: {
            name: engine.webhookService,
            namespace: engine.namespace,
            path: clientConfig.service.path,
            port: 443,
          },
        },
        ...(onPods && selector ? { objectSelector: selector } : {}),
      };
    });
    return {
      apiVersion: configuration.apiVersion,
      kind: configuration.kind,
      metadata: { name, labels: { 'app.kubernetes.io/part-of': 'lathe-local-cluster' } },
      webhooks,
    };
  });
}
