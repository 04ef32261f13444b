import { describe, expect, it } from 'vitest';
import type { ClusterLayout } from './components.js';
import {
  endpointSliceManager,
  exposedHostServices,
  forwardsOf,
  type HostService,
  hostServices,
  networkObjectsOf,
} from './host-services.js';
import { networkPlanOf } from './network-plan.js';

const plan = networkPlanOf(3);
const postgres: HostService = {
  name: 'postgres',
  namespace: 'lathe-system',
  port: 5432,
  portName: 'postgres',
  clusterIpIndex: 21,
  loopbackPort: () => 15432,
};

describe('exposedHostServices', () => {
  it('gives MinIO a fixed ClusterIP that host processes and pods both use', () => {
    expect(exposedHostServices(plan).minio).toEqual({
      namespace: 'lathe-system',
      clusterIP: '10.96.12.20',
      port: 9000,
      address: '10.96.12.20:9000',
      dnsName: 'minio.lathe-system.svc.cluster.local',
    });
  });

  it('exposes PostgreSQL the same way, at the next fixed ClusterIP', () => {
    expect(exposedHostServices(plan).postgres?.address).toBe('10.96.12.21:5432');
  });

  it('takes another host service from one more table entry', () => {
    const exposed = exposedHostServices(plan, [
      ...hostServices,
      { ...postgres, name: 'redis', port: 6379, clusterIpIndex: 22 },
    ]);
    expect(exposed.redis?.address).toBe('10.96.12.22:6379');
  });

  it.each([
    [[postgres, { ...postgres, name: 'other' }], 'used twice'],
    [[postgres, { ...postgres, clusterIpIndex: 22 }], 'used twice'],
    [[{ ...postgres, clusterIpIndex: 10 }], 'must be in 20..63'],
  ])('refuses a clash: %#', (services, message) => {
    expect(() => exposedHostServices(plan, services)).toThrow(message);
  });
});

describe('forwardsOf', () => {
  it('relays the API server and each host service from the host address to loopback', () => {
    const layout = {
      network: plan,
      ports: { apiServer: 40001, minio: 40002, postgres: 40003 },
    } as ClusterLayout;
    expect(forwardsOf(layout)).toEqual([
      { name: 'kube-apiserver', listen: '10.250.3.1:6443', target: '127.0.0.1:40001' },
      { name: 'minio', listen: '10.250.3.1:9000', target: '127.0.0.1:40002' },
      { name: 'postgres', listen: '10.250.3.1:5432', target: '127.0.0.1:40003' },
    ]);
  });
});

describe('networkObjectsOf', () => {
  const objects = networkObjectsOf(plan);
  const find = (kind: string, namespace: string | undefined, name: string) =>
    objects.find(
      (o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace,
    );

  it('points the `kubernetes` Service at the forwarder, port name https', () => {
    expect(find('EndpointSlice', 'default', 'kubernetes')).toMatchObject({
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.250.3.1'], conditions: { ready: true } }],
      ports: [{ name: 'https', port: 6443, protocol: 'TCP' }],
      metadata: {
        labels: {
          'kubernetes.io/service-name': 'kubernetes',
          'endpointslice.kubernetes.io/managed-by': endpointSliceManager,
        },
      },
    });
  });

  it('serves kube-dns on UDP and TCP 53 from CoreDNS on the node address', () => {
    expect(find('Service', 'kube-system', 'kube-dns')).toMatchObject({
      spec: { clusterIP: '10.96.12.10' },
    });
    expect(find('EndpointSlice', 'kube-system', 'kube-dns')).toMatchObject({
      endpoints: [{ addresses: ['10.250.3.2'] }],
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
    });
  });

  it('makes a selector-less Service and an EndpointSlice for MinIO, after its namespace', () => {
    const service = find('Service', 'lathe-system', 'minio');
    expect(service).toMatchObject({
      spec: { clusterIP: '10.96.12.20', ports: [{ port: 9000, targetPort: 9000 }] },
    });
    expect(service?.spec).not.toHaveProperty('selector');
    expect(find('EndpointSlice', 'lathe-system', 'minio')).toMatchObject({
      endpoints: [{ addresses: ['10.250.3.1'] }],
    });
    const order = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(order.indexOf('Namespace/lathe-system')).toBeLessThan(order.indexOf('Service/minio'));
  });

  it('lets CoreDNS list and watch what its kubernetes plugin reads', () => {
    expect(find('ClusterRoleBinding', undefined, 'system:coredns')).toMatchObject({
      subjects: [{ kind: 'User', name: 'system:coredns' }],
    });
  });
});
