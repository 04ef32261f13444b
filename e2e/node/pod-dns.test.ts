import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  formatResolvConf,
  hostsFileOf,
  parseResolvConf,
  podHostnameOf,
  resolvConfOf,
} from './pod-dns.js';

const cluster = { server: '10.96.12.10', domain: 'cluster.local' };
const node = parseResolvConf(
  '# the node\nnameserver 192.0.2.53\nnameserver 192.0.2.54 ; second\nsearch corp.example\noptions edns0\n',
);

function pod(spec: Partial<k8s.V1PodSpec> = {}, name = 'web-1'): k8s.V1Pod {
  return { metadata: { name, namespace: 'shop' }, spec: { containers: [], ...spec } };
}

describe('parseResolvConf', () => {
  it('reads nameservers, the search path and options, skipping comments', () => {
    expect(node).toEqual({
      nameservers: ['192.0.2.53', '192.0.2.54'],
      searches: ['corp.example'],
      options: ['edns0'],
    });
  });
});

describe('resolvConfOf', () => {
  it('ClusterFirst: cluster DNS, the namespace search path then the node’s, ndots:5', () => {
    expect(formatResolvConf(resolvConfOf(pod(), cluster, node))).toBe(
      [
        'search shop.svc.cluster.local svc.cluster.local cluster.local corp.example',
        'nameserver 10.96.12.10',
        'options ndots:5',
        '',
      ].join('\n'),
    );
  });

  it.each([
    ['Default', false, node.nameservers],
    ['ClusterFirst', true, node.nameservers],
    ['ClusterFirstWithHostNet', true, ['10.96.12.10']],
    ['None', false, []],
  ])('%s (hostNetwork %s) uses nameservers %o', (dnsPolicy, hostNetwork, nameservers) => {
    expect(resolvConfOf(pod({ dnsPolicy, hostNetwork }), cluster, node).nameservers).toEqual(
      nameservers,
    );
  });

  it('merges dnsConfig: appended servers and searches, options overridden by name', () => {
    const conf = resolvConfOf(
      pod({
        dnsConfig: {
          nameservers: ['10.96.12.10', '1.1.1.1', '8.8.8.8', '9.9.9.9'],
          searches: ['extra.example', 'svc.cluster.local'],
          options: [{ name: 'ndots', value: '2' }, { name: 'single-request' }],
        },
      }),
      cluster,
      node,
    );
    expect(conf.nameservers).toEqual(['10.96.12.10', '1.1.1.1', '8.8.8.8']);
    expect(conf.searches.at(-1)).toBe('extra.example');
    expect(conf.searches.filter((s) => s === 'svc.cluster.local')).toHaveLength(1);
    expect(conf.options).toEqual(['ndots:2', 'single-request']);
  });

  it('None takes only dnsConfig', () => {
    const conf = resolvConfOf(
      pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['10.0.0.53'], searches: ['a.b'] } }),
      cluster,
      node,
    );
    expect(formatResolvConf(conf)).toBe('search a.b\nnameserver 10.0.0.53\n');
  });
});

describe('hostsFileOf', () => {
  it('maps the pod IP to its hostname, after localhost', () => {
    const lines = hostsFileOf(pod(), '10.244.3.7', 'cluster.local').split('\n');
    expect(lines[0]).toBe('# Kubernetes-managed hosts file.');
    expect(lines).toContain('127.0.0.1\tlocalhost');
    expect(lines).toContain('10.244.3.7\tweb-1');
  });

  it('adds the subdomain FQDN and the host aliases', () => {
    const text = hostsFileOf(
      pod({
        hostname: 'db-0',
        subdomain: 'db',
        hostAliases: [{ ip: '10.250.3.1', hostnames: ['host.lathe', 'minio.local'] }],
      }),
      '10.244.3.8',
      'cluster.local',
    );
    expect(text).toContain('10.244.3.8\tdb-0.db.shop.svc.cluster.local\tdb-0\n');
    expect(text).toContain(
      '# Entries added by HostAliases.\n10.250.3.1\thost.lathe\tminio.local\n',
    );
  });
});

describe('podHostnameOf', () => {
  it('cuts a long pod name to 63 characters without a trailing dash', () => {
    const name = `${'a'.repeat(62)}-b`;
    expect(podHostnameOf(pod({}, name))).toBe('a'.repeat(62));
    expect(podHostnameOf(pod({ hostname: 'h' }))).toBe('h');
  });
});
