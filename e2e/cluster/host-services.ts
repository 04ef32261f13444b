/**
 * Servers on the host that pods must reach, each exposed at ONE address that works from host
 * processes and from pods alike: a Service with a fixed ClusterIP whose EndpointSlice points at
 * the host forwarder on `hostAddress` (see `host-forwarder.ts`), which relays to the server on
 * 127.0.0.1. A pod resolves it by name too (`minio.lathe-system.svc.cluster.local`).
 *
 *   host process ─┐                              node netns                 host netns
 *   pod ──────────┴→ 10.96.4s.20:9000 ── kube-proxy DNAT ──→ 10.250.s.1:9000 (forwarder) ──→ 127.0.0.1:<minio port>
 *
 * To expose another host server (a PostgreSQL component, say), add one entry to
 * `hostServices` with its loopback port from the layout and an unused `clusterIpIndex`; `up`
 * creates the Service and its EndpointSlice, starts the relay, and records the address in
 * `ClusterInfo.hostServices[name]`. A test's own short-lived server needs none of this: bind it
 * to `ClusterInfo.hostAddress`, which pods reach directly.
 *
 * Also here (pure, like the rest of this file): the other objects the network needs in the API,
 * namely the `kubernetes` Service's endpoint, the `kube-dns` Service and CoreDNS's RBAC.
 */
import type { ClusterLayout } from './components.js';
import { addressIn, apiServerForwardPort, type NetworkPlan } from './network-plan.js';

/** A server on the host's loopback, exposed to pods and host processes by one ClusterIP. */
export interface HostService {
  /** The Service's name and namespace. */
  name: string;
  namespace: string;
  /** The Service's port, which is also the relay's port on `hostAddress`. */
  port: number;
  portName: string;
  /**
   * Which address of the service CIDR is its ClusterIP. Fixed, so the address is known before
   * the Service exists; 20..63 (the lower band, which the API server never hands out itself
   * while a static address is free), unique among entries; 1 and 10 are taken.
   */
  clusterIpIndex: number;
  /** The server's port on 127.0.0.1. */
  loopbackPort(layout: ClusterLayout): number;
}

export const objectStoreNamespace = 'lathe-system';

/** The host servers of the local cluster. */
export const hostServices: readonly HostService[] = [
  {
    name: 'minio',
    namespace: objectStoreNamespace,
    port: 9000,
    portName: 'http',
    clusterIpIndex: 20,
    loopbackPort: (layout) => layout.ports.minio,
  },
  {
    name: 'postgres',
    namespace: objectStoreNamespace,
    port: 5432,
    portName: 'postgres',
    clusterIpIndex: 21,
    loopbackPort: (layout) => layout.ports.postgres,
  },
];

/** Where a host service is reached, as recorded in `ClusterInfo.hostServices`. */
export interface ExposedHostService {
  namespace: string;
  clusterIP: string;
  port: number;
  /** `clusterIP:port`, from host processes and pods alike. */
  address: string;
  /** The in-cluster DNS name (pods only). */
  dnsName: string;
}

export function exposedHostService(plan: NetworkPlan, service: HostService): ExposedHostService {
  const clusterIP = addressIn(plan.serviceCidr, service.clusterIpIndex);
  return {
    namespace: service.namespace,
    clusterIP,
    port: service.port,
    address: `${clusterIP}:${service.port}`,
    dnsName: `${service.name}.${service.namespace}.svc.cluster.local`,
  };
}

/** Every host service by name. Throws when two entries share a name or a ClusterIP. */
export function exposedHostServices(
  plan: NetworkPlan,
  services: readonly HostService[] = hostServices,
): Record<string, ExposedHostService> {
  const byName: Record<string, ExposedHostService> = {};
  const indexes = new Set<number>();
  for (const service of services) {
    if (byName[service.name] || indexes.has(service.clusterIpIndex)) {
      throw new Error(`host service "${service.name}": name or clusterIpIndex used twice`);
    }
    if (service.clusterIpIndex < 20 || service.clusterIpIndex > 63) {
      throw new Error(`host service "${service.name}": clusterIpIndex must be in 20..63`);
    }
    indexes.add(service.clusterIpIndex);
    byName[service.name] = exposedHostService(plan, service);
  }
  return byName;
}

/** One relay of the host forwarder. */
export interface Forward {
  name: string;
  listen: string;
  target: string;
}

/** The host forwarder's relays: the API server, then each host service. */
export function forwardsOf(
  layout: ClusterLayout,
  services: readonly HostService[] = hostServices,
): Forward[] {
  const { hostAddress } = layout.network;
  return [
    {
      name: 'kube-apiserver',
      listen: `${hostAddress}:${apiServerForwardPort}`,
      target: `127.0.0.1:${layout.ports.apiServer}`,
    },
    ...services.map((s) => ({
      name: s.name,
      listen: `${hostAddress}:${s.port}`,
      target: `127.0.0.1:${s.loopbackPort(layout)}`,
    })),
  ];
}

/** Marks the EndpointSlices this file makes, so no controller mistakes them for its own. */
export const endpointSliceManager = 'local-cluster.lathe.dev';

type KubeObject = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<
  string,
  unknown
>;

function endpointSlice(
  namespace: string,
  service: string,
  address: string,
  ports: { name: string; port: number; protocol: 'TCP' | 'UDP' }[],
): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: service,
      namespace,
      labels: {
        'kubernetes.io/service-name': service,
        'endpointslice.kubernetes.io/managed-by': endpointSliceManager,
      },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports,
  };
}

function selectorlessService(
  namespace: string,
  name: string,
  clusterIP: string,
  ports: { name: string; port: number; protocol: 'TCP' | 'UDP' }[],
  labels: Record<string, string>,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      ports: ports.map((p) => ({ ...p, targetPort: p.port })),
    },
  };
}

/**
 * The API objects the cluster's network needs, in creation order:
 * - the `kubernetes` Service's EndpointSlice → the forwarder. The API server advertises
 *   127.0.0.1, which may not be an endpoint, so it runs with `--endpoint-reconciler-type=none`
 *   and this slice takes the reconciler's place;
 * - `kube-system/kube-dns` (the pods' nameserver) → CoreDNS on the node address;
 * - one Service and EndpointSlice per host service;
 * - the ClusterRole and binding CoreDNS reads Services, EndpointSlices and Pods with (what
 *   kubeadm creates as `system:coredns`).
 */
export function networkObjectsOf(
  plan: NetworkPlan,
  services: readonly HostService[] = hostServices,
): KubeObject[] {
  const dnsPorts = [
    { name: 'dns', port: 53, protocol: 'UDP' as const },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' as const },
  ];
  const exposed = exposedHostServices(plan, services);
  const namespaces = [...new Set(services.map((s) => s.namespace))].filter(
    (n) => n !== 'default' && n !== 'kube-system',
  );
  return [
    ...namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    endpointSlice('default', 'kubernetes', plan.hostAddress, [
      { name: 'https', port: apiServerForwardPort, protocol: 'TCP' },
    ]),
    selectorlessService('kube-system', 'kube-dns', plan.clusterDnsIP, dnsPorts, {
      'k8s-app': 'kube-dns',
      'kubernetes.io/name': 'CoreDNS',
    }),
    endpointSlice('kube-system', 'kube-dns', plan.nodeAddress, dnsPorts),
    ...services.flatMap((s) => {
      const ports = [{ name: s.portName, port: s.port, protocol: 'TCP' as const }];
      return [
        selectorlessService(s.namespace, s.name, exposed[s.name]!.clusterIP, ports, {
          'app.kubernetes.io/part-of': 'lathe',
          'lathe.dev/host-service': s.name,
        }),
        endpointSlice(s.namespace, s.name, plan.hostAddress, ports),
      ];
    }),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        {
          apiGroups: ['discovery.k8s.io'],
          resources: ['endpointslices'],
          verbs: ['list', 'watch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:coredns',
      },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'system:coredns' }],
    },
  ];
}
