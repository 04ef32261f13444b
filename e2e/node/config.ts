/**
 * The process node's configuration, read once from the environment at start-up.
 *
 * The node runs in a network namespace of its own, made by the cluster (`e2e/cluster/
 * network.ts`) with a bridge for the pods; it gives each pod a network namespace and an
 * address from the pod CIDR.
 *
 * The cluster script (`e2e/cluster/components.ts`) starts the node with exactly these variables;
 * anything malformed is a start-up error that names the variable, never a half-working node.
 */
import { z } from 'zod';

/** Default capacity: a mid-sized GPU box, so scheduling tests can ask for GPUs. */
export const defaultCapacity: Record<string, string> = {
  cpu: '8',
  memory: '16Gi',
  pods: '110',
  'nvidia.com/gpu': '2',
  'ephemeral-storage': '50Gi',
};

const quantity = z
  .string()
  .regex(/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[munk])?$/, 'not a resource quantity');

/** A JSON object in an environment variable, validated by `inner`. */
function jsonObject<T extends z.ZodType>(inner: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `not valid JSON (${(error as Error).message})` });
        return z.NEVER;
      }
    })
    .pipe(inner);
}

const ipv4 = z.ipv4({ error: 'must be an IPv4 address' });
const podCidr = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3}){3}\/(1[6-9]|2[0-8])$/, 'must be an IPv4 CIDR of length 16 to 28')
  .refine(
    (c) =>
      c
        .split('/')[0]!
        .split('.')
        .every((o) => Number(o) <= 255),
    'octets must be at most 255',
  );
/** Network namespace names are file names under /run/netns; a pod's adds its UID (36). */
const netnsPrefix = z
  .string()
  .regex(/^[a-z0-9][-a-z0-9]{0,63}$/, 'must be lowercase letters, digits and dashes');

const envSchema = z.object({
  LATHE_NODE_KUBECONFIG: z.string().min(1),
  LATHE_NODE_NAME: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a DNS subdomain')
    .default('lathe-node'),
  LATHE_NODE_DIR: z.string().min(1),
  LATHE_NODE_CAPACITY: jsonObject(z.record(z.string(), quantity)).optional(),
  LATHE_NODE_LABELS: jsonObject(z.record(z.string(), z.string())).optional(),
  LATHE_NODE_IP: ipv4,
  LATHE_NODE_POD_CIDR: podCidr,
  LATHE_NODE_POD_NETNS_PREFIX: netnsPrefix,
  LATHE_NODE_BRIDGE: z
    .string()
    .regex(/^[a-z0-9]{1,15}$/, 'must be a link name')
    .default('cbr0'),
  LATHE_CLUSTER_DNS: ipv4,
  LATHE_CLUSTER_DOMAIN: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS domain')
    .default('cluster.local'),
  LATHE_API_SERVER_HOST: z.string().min(1),
  LATHE_API_SERVER_PORT: z.coerce.number().int().min(1).max(65535),
  LATHE_NODE_LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info'),
  LATHE_NODE_IMAGES: z.string().min(1).optional(),
});

/** The validated configuration of one process node. */
export interface NodeConfig {
  kubeconfigPath: string;
  nodeName: string;
  nodeDir: string;
  capacity: Record<string, string>;
  extraLabels: Record<string, string>;
  /** The node's address: its InternalIP, every pod's hostIP, hostNetwork pods' podIP. */
  nodeIP: string;
  /** Pods' addresses come from here; its first address is the bridge, the pods' gateway. */
  podCidr: string;
  /** Each pod's network namespace is `<podNetnsPrefix><pod uid>`. */
  podNetnsPrefix: string;
  /** The bridge in this node's network namespace that pods' veths join. */
  bridge: string;
  /** The cluster DNS Service's address: pods' nameserver. */
  clusterDns: string;
  clusterDomain: string;
  /** Given to pods as KUBERNETES_SERVICE_HOST/PORT: the `kubernetes` Service. */
  apiServerHost: string;
  apiServerPort: number;
  logLevel: string;
  /** Path of a JSON file with extra image map entries, if any. */
  imagesFile: string | undefined;
}

/**
 * Parses the node's configuration from `env`. Returns the errors as one readable message
 * (one line per bad variable) rather than throwing, so `main` decides how to exit.
 */
export function parseNodeConfig(
  env: Record<string, string | undefined>,
): { ok: true; config: NodeConfig } | { ok: false; message: string } {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = issue.path[0] === undefined ? 'environment' : String(issue.path[0]);
      return `  ${name}: ${issue.message}`;
    });
    return { ok: false, message: `Invalid process node configuration:\n${lines.join('\n')}` };
  }
  const e = parsed.data;
  return {
    ok: true,
    config: {
      kubeconfigPath: e.LATHE_NODE_KUBECONFIG,
      nodeName: e.LATHE_NODE_NAME,
      nodeDir: e.LATHE_NODE_DIR,
      capacity: e.LATHE_NODE_CAPACITY ?? defaultCapacity,
      extraLabels: e.LATHE_NODE_LABELS ?? {},
      nodeIP: e.LATHE_NODE_IP,
      podCidr: e.LATHE_NODE_POD_CIDR,
      podNetnsPrefix: e.LATHE_NODE_POD_NETNS_PREFIX,
      bridge: e.LATHE_NODE_BRIDGE,
      clusterDns: e.LATHE_CLUSTER_DNS,
      clusterDomain: e.LATHE_CLUSTER_DOMAIN,
      apiServerHost: e.LATHE_API_SERVER_HOST,
      apiServerPort: e.LATHE_API_SERVER_PORT,
      logLevel: e.LATHE_NODE_LOG_LEVEL,
      imagesFile: e.LATHE_NODE_IMAGES,
    },
  };
}
