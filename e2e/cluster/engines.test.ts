import { describe, expect, it } from 'vitest';
import {
  type EngineLayout,
  engineObjectsOf,
  engineSpec,
  engines,
  jobsetConfigurationOf,
  servingCertsPath,
  webhookConfigurationsOf,
} from './engines.js';

const layout: EngineLayout = {
  stateDir: '/repo/.lathe',
  binary: '/c/jobset-controller',
  moduleDir: '/mod/jobset',
  kubeconfig: '/repo/.lathe/kubeconfig',
  hostAddress: '10.250.3.1',
  webhookPort: 2101,
  healthPort: 2102,
};

/** The shape of controller-gen's webhook manifest, as both modules ship it. */
const generated = [
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'mutating-webhook-configuration' },
    webhooks: [
      {
        name: 'mjobset.kb.io',
        clientConfig: {
          service: { name: 'webhook-service', namespace: 'system', path: '/mutate-jobset' },
        },
        rules: [{ apiGroups: ['jobset.x-k8s.io'], resources: ['jobsets'] }],
      },
      {
        name: 'mpod.kb.io',
        clientConfig: {
          service: { name: 'webhook-service', namespace: 'system', path: '/mutate--v1-pod' },
        },
        rules: [{ apiGroups: [''], resources: ['pods'] }],
      },
    ],
  },
  {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'validating-webhook-configuration' },
    webhooks: [
      {
        name: 'vjobset.kb.io',
        clientConfig: {
          service: { name: 'webhook-service', namespace: 'system', path: '/validate-jobset' },
        },
        rules: [{ apiGroups: ['jobset.x-k8s.io'], resources: ['jobsets'] }],
      },
    ],
  },
];

describe('engine processes', () => {
  it('runs JobSet with a private /tmp whose serving-certs directory is its own', () => {
    const spec = engineSpec(engines.jobset, layout);
    expect(spec.command).toBe('bwrap');
    const bind = spec.args.indexOf('--bind');
    expect(spec.args.slice(bind, bind + 3)).toEqual([
      '--bind',
      '/repo/.lathe/engines/jobset/serving-certs',
      servingCertsPath,
    ]);
    expect(spec.args.indexOf('--tmpfs')).toBeLessThan(bind);
    expect(spec.args.slice(spec.args.indexOf('--') + 1)).toEqual([
      '/c/jobset-controller',
      '--config=/repo/.lathe/engines/jobset/config.yaml',
      '--kubeconfig=/repo/.lathe/kubeconfig',
    ]);
    expect(spec.healthUrl).toBe('http://127.0.0.1:2102/readyz');
    expect(spec.files?.[0]?.path).toBe('/repo/.lathe/engines/jobset/config.yaml');
  });

  it('binds back what it reads from under /tmp (a clone there), before its serving-certs directory', () => {
    const args = engineSpec(engines.jobset, {
      ...layout,
      stateDir: '/tmp/ci/.lathe',
      kubeconfig: '/tmp/ci/.lathe/kubeconfig',
    }).args;
    const tmpfs = args.indexOf('--tmpfs');
    expect(args.slice(tmpfs, tmpfs + 8)).toEqual([
      '--tmpfs',
      '/tmp',
      '--bind',
      '/tmp/ci/.lathe',
      '/tmp/ci/.lathe',
      '--bind',
      '/tmp/ci/.lathe/engines/jobset/serving-certs',
      servingCertsPath,
    ]);
  });

  it("serves JobSet's webhooks on the host address, its own certificates, no leader election", () => {
    const config = jobsetConfigurationOf(layout);
    expect(config).toContain('  host: 10.250.3.1\n  port: 2101');
    expect(config).toContain('internalCertManagement:\n  enable: true');
    expect(config).toContain('leaderElect: false');
    expect(config).toContain('healthProbeBindAddress: 127.0.0.1:2102');
    expect(config).toContain('bindAddress: "0"');
  });

  it("passes Trainer's ports as flags", () => {
    const args = engineSpec(engines.trainer, { ...layout, binary: '/c/trainer' }).args;
    expect(args).toEqual(
      expect.arrayContaining([
        '--webhook-server-port=2101',
        '--health-probe-bind-address=127.0.0.1:2102',
        '--metrics-bind-address=0',
        '--leader-elect=false',
      ]),
    );
    expect(engines.trainer.needs).toEqual(['jobset']);
  });
});

describe('engine objects', () => {
  it("leads the webhook Service to the host address and the webhook server's port", () => {
    const objects = engineObjectsOf(engines.jobset, layout);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/jobset-system',
      'Secret/jobset-webhook-server-cert',
      'Service/jobset-webhook-service',
      'EndpointSlice/jobset-webhook-service',
    ]);
    const service = objects[2] as unknown as { spec: { ports: { name: string; port: number }[] } };
    const slice = objects[3] as unknown as {
      metadata: { labels: Record<string, string> };
      endpoints: { addresses: string[] }[];
      ports: { name: string; port: number }[];
    };
    expect(service.spec).not.toHaveProperty('selector');
    expect(service.spec.ports[0]).toMatchObject({ name: 'webhook', port: 443 });
    expect(slice.metadata.labels['kubernetes.io/service-name']).toBe('jobset-webhook-service');
    expect(slice.endpoints[0]?.addresses).toEqual(['10.250.3.1']);
    expect(slice.ports).toEqual([{ name: 'webhook', port: 2101, protocol: 'TCP' }]);
  });

  it('names the configurations as the rotator expects and points them at the Service', () => {
    const [mutating, validating] = webhookConfigurationsOf(engines.jobset, generated);
    expect(mutating?.metadata.name).toBe('jobset-mutating-webhook-configuration');
    expect(validating?.metadata.name).toBe('jobset-validating-webhook-configuration');
    const hooks = mutating?.webhooks as Record<string, Record<string, unknown>>[];
    expect(hooks[0]?.clientConfig).toEqual({
      service: {
        name: 'jobset-webhook-service',
        namespace: 'jobset-system',
        path: '/mutate-jobset',
        port: 443,
      },
    });
    expect(hooks[0]).not.toHaveProperty('objectSelector');
    // Pod webhooks see JobSet's pods only: every other pod is admitted without it.
    expect(hooks[1]?.objectSelector).toEqual({
      matchExpressions: [{ key: 'jobset.sigs.k8s.io/jobset-name', operator: 'Exists' }],
    });
  });

  it('refuses a mutating configuration for an engine that has none', () => {
    expect(() => webhookConfigurationsOf(engines.trainer, generated)).toThrow(
      /trainer has no name for its MutatingWebhookConfiguration/,
    );
    const [validating] = webhookConfigurationsOf(engines.trainer, generated.slice(1));
    expect(validating?.metadata.name).toBe('validator.trainer.kubeflow.org');
  });
});
