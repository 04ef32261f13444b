import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { containerEnv, type EnvContext } from './env.js';
import { ContainerConfigError } from './pod-fields.js';
import type { PodSources } from './pod-sources.js';

const pod: k8s.V1Pod = {
  metadata: { name: 'web-1', namespace: 'ml', uid: 'u-1', labels: { app: 'web' } },
  spec: { nodeName: 'lathe-node', serviceAccountName: 'trainer', containers: [] },
};

const sources: PodSources = {
  secrets: new Map([
    ['db', { password: Buffer.from('s3cret'), user: Buffer.from('admin') }],
    ['gone', null],
  ]),
  configMaps: new Map([['settings', { mode: Buffer.from('fast'), 'bad key': Buffer.from('x') }]]),
  tokens: new Map(),
};

function envOf(container: Partial<k8s.V1Container>): Map<string, string> {
  const ctx: EnvContext = {
    pod,
    container: { name: 'main', ...container },
    sources,
    podIP: '127.244.0.2',
    hostIP: '127.0.0.1',
    baseEnv: { PATH: '/usr/bin' },
    imageEnv: { MODE: 'image', PORT: '80' },
    serviceEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443' },
  };
  return containerEnv(ctx);
}

describe('containerEnv', () => {
  it('layers base, hostname, image and service variables', () => {
    expect(Object.fromEntries(envOf({}))).toEqual({
      PATH: '/usr/bin',
      HOSTNAME: 'web-1',
      MODE: 'image',
      PORT: '80',
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: '6443',
    });
  });

  it.each<[string, k8s.V1EnvVar, string | undefined]>([
    ['a literal value', { name: 'X', value: 'v' }, 'v'],
    ['an expansion of an earlier variable', { name: 'X', value: 'port=$(PORT)' }, 'port=80'],
    ['an unknown reference verbatim', { name: 'X', value: '$(NOPE)' }, '$(NOPE)'],
    [
      'a secret key',
      { name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      's3cret',
    ],
    [
      'a config map key',
      { name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
      'fast',
    ],
    [
      'an optional missing key',
      { name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'nope', optional: true } } },
      undefined,
    ],
    [
      'an optional missing secret',
      { name: 'X', valueFrom: { secretKeyRef: { name: 'gone', key: 'k', optional: true } } },
      undefined,
    ],
    [
      'metadata.name',
      { name: 'X', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      'web-1',
    ],
    [
      'metadata.namespace',
      { name: 'X', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      'ml',
    ],
    [
      "metadata.labels['app']",
      { name: 'X', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      'web',
    ],
    [
      'status.podIP',
      { name: 'X', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      '127.244.0.2',
    ],
    [
      'status.hostIP',
      { name: 'X', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      '127.0.0.1',
    ],
    [
      'spec.nodeName',
      { name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      'lathe-node',
    ],
    [
      'spec.serviceAccountName',
      { name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
      'trainer',
    ],
    [
      'a resource limit',
      { name: 'X', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
      '0',
    ],
  ])('resolves %s', (_, entry, expected) => {
    expect(envOf({ env: [entry] }).get('X')).toBe(expected);
  });

  it('lets env override image variables and expands in order', () => {
    const env = envOf({
      env: [
        { name: 'MODE', value: 'pod' },
        { name: 'LABEL', value: '$(MODE)-$(LATER)' },
        { name: 'LATER', value: 'x' },
      ],
    });
    expect(env.get('MODE')).toBe('pod');
    expect(env.get('LABEL')).toBe('pod-$(LATER)');
  });

  it('imports envFrom with a prefix and skips invalid names', () => {
    const env = envOf({
      envFrom: [
        { secretRef: { name: 'db' }, prefix: 'DB_' },
        { configMapRef: { name: 'settings' } },
      ],
    });
    expect(env.get('DB_password')).toBe('s3cret');
    expect(env.get('DB_user')).toBe('admin');
    expect(env.get('mode')).toBe('fast');
    expect(env.has('bad key')).toBe(false);
  });

  it.each<[string, Partial<k8s.V1Container>, string]>([
    [
      'a missing secret',
      { env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }] },
      'secret "gone" not found',
    ],
    [
      'an unread secret',
      { env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'other', key: 'k' } } }] },
      'secret "other" not found',
    ],
    [
      'a missing key',
      { env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'db', key: 'token' } } }] },
      "couldn't find key token in Secret ml/db",
    ],
    [
      'a missing config map key',
      { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k' } } }] },
      "couldn't find key k in ConfigMap ml/settings",
    ],
    [
      'a missing envFrom config map',
      { envFrom: [{ configMapRef: { name: 'nope' } }] },
      'configmap "nope" not found',
    ],
    [
      'an unsupported field',
      { env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.priority' } } }] },
      'unsupported fieldRef',
    ],
  ])('fails on %s', (_, container, message) => {
    expect(() => envOf(container)).toThrow(ContainerConfigError);
    expect(() => envOf(container)).toThrow(message);
  });
});
