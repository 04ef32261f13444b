/**
 * A pod's /etc/resolv.conf and /etc/hosts, computed as the kubelet does (pure; see
 * pkg/kubelet/network/dns and the kubelet's managed hosts file).
 *
 * resolv.conf by `dnsPolicy`:
 * - `ClusterFirst` (the default): the cluster DNS Service as nameserver, the search path
 *   `<ns>.svc.<domain> svc.<domain> <domain>` followed by the node's own search domains, and
 *   `options ndots:5`. A hostNetwork pod with `ClusterFirst` gets the node's file instead.
 * - `ClusterFirstWithHostNet`: as `ClusterFirst`, for hostNetwork pods too.
 * - `Default`: the node's resolv.conf.
 * - `None`: only what `dnsConfig` says.
 * `dnsConfig` is then merged in: nameservers and searches appended (without duplicates),
 * options overriding by name. At most 3 nameservers and 32 search domains are kept.
 */
import type * as k8s from '@kubernetes/client-node';

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  /** `name` or `name:value`, in order. */
  options: string[];
}

export interface ClusterDns {
  /** The `kube-dns` Service's ClusterIP. */
  server: string;
  domain: string;
}

const maxNameservers = 3;
const maxSearches = 32;

/** Parses a resolv.conf (the node's). Unknown lines are ignored, as the resolver does. */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...fields] = line.split(/\s+/);
    if (keyword === 'nameserver' && fields[0]) conf.nameservers.push(fields[0]);
    // The last search (or domain) line wins.
    if (keyword === 'search' || keyword === 'domain') conf.searches = fields;
    if (keyword === 'options') conf.options.push(...fields);
  }
  return conf;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function mergeOptions(base: string[], extra: k8s.V1PodDNSConfigOption[]): string[] {
  const byName = new Map<string, string>();
  for (const option of base) byName.set(option.split(':')[0]!, option);
  for (const option of extra) {
    if (!option.name) continue;
    byName.set(option.name, option.value ? `${option.name}:${option.value}` : option.name);
  }
  return [...byName.values()];
}

/** The pod's resolver configuration. */
export function resolvConfOf(pod: k8s.V1Pod, cluster: ClusterDns, node: ResolvConf): ResolvConf {
  const policy = pod.spec?.dnsPolicy ?? 'ClusterFirst';
  const hostNetwork = pod.spec?.hostNetwork === true;
  const namespace = pod.metadata?.namespace ?? 'default';
  let base: ResolvConf;
  if (policy === 'None') {
    base = { nameservers: [], searches: [], options: [] };
  } else if (policy === 'ClusterFirstWithHostNet' || (policy === 'ClusterFirst' && !hostNetwork)) {
    const d = cluster.domain;
    base = {
      nameservers: [cluster.server],
      searches: unique([`${namespace}.svc.${d}`, `svc.${d}`, d, ...node.searches]),
      options: ['ndots:5'],
    };
  } else {
    base = node;
  }
  const extra = pod.spec?.dnsConfig;
  return {
    nameservers: unique([...base.nameservers, ...(extra?.nameservers ?? [])]).slice(
      0,
      maxNameservers,
    ),
    searches: unique([...base.searches, ...(extra?.searches ?? [])]).slice(0, maxSearches),
    options: mergeOptions(base.options, extra?.options ?? []),
  };
}

export function formatResolvConf(conf: ResolvConf): string {
  const lines: string[] = [];
  if (conf.searches.length) lines.push(`search ${conf.searches.join(' ')}`);
  for (const server of conf.nameservers) lines.push(`nameserver ${server}`);
  if (conf.options.length) lines.push(`options ${conf.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** The pod's hostname: `spec.hostname`, else its name, cut to 63 characters as the kubelet does. */
export function podHostnameOf(pod: k8s.V1Pod): string {
  const name = pod.spec?.hostname || pod.metadata?.name || 'pod';
  return name.slice(0, 63).replace(/[-.]+$/, '');
}

/** The kubelet-managed /etc/hosts of a pod with its own network namespace. */
export function hostsFileOf(pod: k8s.V1Pod, podIP: string, domain: string): string {
  const hostname = podHostnameOf(pod);
  const subdomain = pod.spec?.subdomain;
  const namespace = pod.metadata?.namespace ?? 'default';
  const lines = [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    subdomain
      ? `${podIP}\t${hostname}.${subdomain}.${namespace}.svc.${domain}\t${hostname}`
      : `${podIP}\t${hostname}`,
  ];
  const aliases = pod.spec?.hostAliases ?? [];
  if (aliases.length) {
    lines.push('', '# Entries added by HostAliases.');
    for (const alias of aliases) {
      if (alias.ip && alias.hostnames?.length)
        lines.push(`${alias.ip}\t${alias.hostnames.join('\t')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
