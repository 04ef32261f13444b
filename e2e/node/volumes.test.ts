import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ContainerConfigError } from './pod-fields.js';
import type { PodSources } from './pod-sources.js';
import {
  containerMounts,
  serviceAccountMountPath,
  volumeContentOf,
  withServiceAccountVolume,
} from './volumes.js';

const pod: k8s.V1Pod = {
  metadata: { name: 'p', namespace: 'ml', uid: 'u' },
  spec: { containers: [{ name: 'main', image: 'x' }] },
};
const sources: PodSources = {
  secrets: new Map([['db', { password: Buffer.from('pw'), user: Buffer.from('me') }]]),
  configMaps: new Map([
    ['kube-root-ca.crt', { 'ca.crt': Buffer.from('CA') }],
    ['gone', null],
  ]),
  tokens: new Map([['/3607', { token: 'jwt', expiresAt: new Date(0) }]]),
};
const ips = { podIP: '127.244.0.2', hostIP: '127.0.0.1' };

const filesOf = (volume: Omit<k8s.V1Volume, 'name'>) => {
  const content = volumeContentOf(pod, { name: 'v', ...volume }, sources, ips);
  if (content.kind !== 'files') throw new Error(`expected files, got ${content.kind}`);
  return Object.fromEntries(content.files.map((f) => [f.path, f.data.toString()]));
};

describe('volumeContentOf', () => {
  it.each<[string, Omit<k8s.V1Volume, 'name'>, Record<string, string>]>([
    ['a secret', { secret: { secretName: 'db' } }, { password: 'pw', user: 'me' }],
    [
      'secret items',
      { secret: { secretName: 'db', items: [{ key: 'user', path: 'conf/user' }] } },
      { 'conf/user': 'me' },
    ],
    ['an optional missing config map', { configMap: { name: 'gone', optional: true } }, {}],
    [
      'a downward API volume',
      { downwardAPI: { items: [{ path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
      { ns: 'ml' },
    ],
    [
      'the service account volume',
      withServiceAccountVolume(pod).spec!.volumes![0]!,
      { token: 'jwt', 'ca.crt': 'CA', namespace: 'ml' },
    ],
  ])('writes %s', (_, volume, expected) => {
    expect(filesOf(volume)).toEqual(expected);
  });

  it.each<[string, Omit<k8s.V1Volume, 'name'>, string]>([
    ['a missing secret', { secret: { secretName: 'nope' } }, 'secret "nope" not found'],
    [
      'a missing key',
      { secret: { secretName: 'db', items: [{ key: 'token', path: 't' }] } },
      'secret "db" has no key "token"',
    ],
    ['a missing config map', { configMap: { name: 'gone' } }, 'configmap "gone" not found'],
    [
      'an unsupported type',
      { persistentVolumeClaim: { claimName: 'c' } },
      'type persistentVolumeClaim is not supported',
    ],
  ])('fails on %s', (_, volume, message) => {
    expect(() => volumeContentOf(pod, { name: 'v', ...volume }, sources, ips)).toThrow(
      ContainerConfigError,
    );
    expect(() => volumeContentOf(pod, { name: 'v', ...volume }, sources, ips)).toThrow(message);
  });

  it('passes emptyDir and hostPath through', () => {
    expect(volumeContentOf(pod, { name: 'v', emptyDir: {} }, sources, ips)).toEqual({
      kind: 'emptyDir',
    });
    expect(
      volumeContentOf(
        pod,
        { name: 'v', hostPath: { path: '/srv', type: 'DirectoryOrCreate' } },
        sources,
        ips,
      ),
    ).toEqual({ kind: 'hostPath', path: '/srv', create: true });
  });
});

describe('withServiceAccountVolume', () => {
  it('adds the token volume to every container when admission did not', () => {
    const spec = withServiceAccountVolume({
      ...pod,
      spec: { initContainers: [{ name: 'i' }], containers: [{ name: 'main' }] },
    }).spec!;
    expect(spec.volumes?.map((v) => v.name)).toEqual(['kube-api-access-lathe']);
    for (const c of [...spec.initContainers!, ...spec.containers]) {
      expect(c.volumeMounts).toEqual([
        { name: 'kube-api-access-lathe', mountPath: serviceAccountMountPath, readOnly: true },
      ]);
    }
  });

  it.each<[string, k8s.V1PodSpec]>([
    [
      'automounting is off',
      { automountServiceAccountToken: false, containers: [{ name: 'main' }] },
    ],
    [
      'admission already mounted it',
      {
        containers: [
          {
            name: 'main',
            volumeMounts: [{ name: 'kube-api-access-x', mountPath: `${serviceAccountMountPath}/` }],
          },
        ],
      },
    ],
  ])('leaves the pod alone when %s', (_, spec) => {
    const p = { ...pod, spec };
    expect(withServiceAccountVolume(p)).toBe(p);
  });
});

describe('containerMounts', () => {
  const volumes: k8s.V1Volume[] = [
    { name: 'data', emptyDir: {} },
    { name: 'creds', secret: { secretName: 'db' } },
  ];
  const hostPathOf = (v: k8s.V1Volume) => `/node/p/volumes/${v.name}`;

  it('binds volumes, subPaths and the termination log, read-only where due', () => {
    expect(
      containerMounts({
        container: {
          name: 'main',
          terminationMessagePath: '/tmp/msg',
          volumeMounts: [
            { name: 'data', mountPath: '/data' },
            { name: 'data', mountPath: '/cache', subPath: 'cache', readOnly: true },
            { name: 'creds', mountPath: '/etc/creds' },
          ],
        },
        volumes,
        hostPathOf,
        terminationLogPath: '/node/p/main.termination-log',
      }),
    ).toEqual([
      { hostPath: '/node/p/volumes/data', containerPath: '/data', readOnly: false },
      { hostPath: '/node/p/volumes/data/cache', containerPath: '/cache', readOnly: true },
      { hostPath: '/node/p/volumes/creds', containerPath: '/etc/creds', readOnly: true },
      { hostPath: '/node/p/main.termination-log', containerPath: '/tmp/msg', readOnly: false },
    ]);
  });

  it.each([
    [{ name: 'nope', mountPath: '/x' }, 'refers to no volume'],
    [{ name: 'data', mountPath: '/x', subPath: '../../etc' }, 'leaves the volume'],
  ])('rejects %o', (mount, message) => {
    expect(() =>
      containerMounts({
        container: { name: 'main', volumeMounts: [mount] },
        volumes,
        hostPathOf,
        terminationLogPath: '/t',
      }),
    ).toThrow(message);
  });
});
